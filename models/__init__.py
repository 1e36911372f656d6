"""SQLModel tables and database session handling. No Flask here."""

from models.session import create_tables, make_engine
from models.tables import (
    AuditLog,
    CapabilityTag,
    Domain,
    Enterprise,
    Industry,
    Need,
    NeedStatus,
    Provider,
    ProviderStatus,
    Role,
    Solution,
    SolutionStatus,
    SuccessCase,
    User,
    WhitelistEvent,
    utcnow,
)

__all__ = [
    "AuditLog",
    "CapabilityTag",
    "Domain",
    "Enterprise",
    "Industry",
    "Need",
    "NeedStatus",
    "Provider",
    "ProviderStatus",
    "Role",
    "Solution",
    "SolutionStatus",
    "SuccessCase",
    "User",
    "WhitelistEvent",
    "create_tables",
    "make_engine",
    "utcnow",
]
