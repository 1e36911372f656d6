"""All tables of the platform.

List-valued attributes (domains, industries, sizes, modules, tags) are JSON columns: they are
read whole, never joined on, and the same code runs on SQLite and PostgreSQL.
"""

from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, LargeBinary, Text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Timezone-aware UTC now (SQLModel refuses naive datetimes)."""
    return datetime.now(UTC)


def _json_list() -> Column:
    return Column(JSON, nullable=False, default=list)


def _text() -> Column:
    return Column(Text, nullable=False, default="")


class Role(StrEnum):
    enterprise = "enterprise"
    provider = "provider"
    admin = "admin"


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    password_hash: str = Field(max_length=255)
    role: Role = Field(max_length=20)
    display_name: str = Field(max_length=100)
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    # Copied into the signed session cookie at login and compared on every request: raising it (logout,
    # a password change or reset, an admin disabling the account) ends every session issued before.
    session_version: int = 0


# --- taxonomies (data, not code) -------------------------------------------------------------


class Domain(SQLModel, table=True):
    """One of the six provider domains (六大领域)."""

    code: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=60, unique=True)
    description: str = Field(default="", sa_column=_text())
    position: int = 0


class Industry(SQLModel, table=True):
    """A GB/T 4754-2017 division, a plan cluster mapped onto divisions, or 通用 (kind general)."""

    code: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=100)
    kind: str = Field(max_length=20)  # division | cluster | general
    gbt: list[str] = Field(default_factory=list, sa_column=_json_list())
    synonyms: list[str] = Field(default_factory=list, sa_column=_json_list())
    position: int = 0


class CapabilityTag(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=60, unique=True)
    domain: str = Field(foreign_key="domain.code", max_length=40)
    synonyms: list[str] = Field(default_factory=list, sa_column=_json_list())


# --- the two sides of the market -------------------------------------------------------------


class Enterprise(SQLModel, table=True):
    """A manufacturer (制造业企业)."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="user.id", unique=True)
    name: str = Field(max_length=120)
    credit_code: str = Field(max_length=18, unique=True, index=True)
    industry: str = Field(foreign_key="industry.code", max_length=40)
    employees: int
    revenue: float  # 营业收入, 万元
    size_class: str = Field(max_length=10)  # derived: large | medium | small | micro
    maturity_level: int = 0  # 智能制造能力成熟度 1-5, 0 = not assessed
    maturity_source: str = Field(default="", max_length=10)  # see MATURITY_SOURCES; "" when level is 0
    maturity_assessed_on: date | None = None  # assessment date, when assessed
    maturity_certificate: str = Field(default="", max_length=60)  # certificate number, when assessed
    factory_tier: str = Field(default="", max_length=10)  # 智能工厂 tier, see FACTORY_TIERS
    factory_tier_year: int | None = None  # the year the tier was recognised
    street: str = Field(max_length=20)
    address: str = Field(default="", max_length=200)
    contact_name: str = Field(max_length=40)
    phone: str = Field(max_length=20)
    email: str = Field(max_length=254)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def full_address(self) -> str:
        """The postal address: district and street before the detail, unless the detail already has them."""
        district = f"深圳市坪山区{self.street}"
        return self.address if self.address.startswith(("深圳", "坪山")) else f"{district}{self.address}"


class ProviderStatus(StrEnum):
    draft = "draft"  # registered, not yet applied for the whitelist
    applied = "applied"
    approved = "approved"
    rejected = "rejected"
    suspended = "suspended"
    revoked = "revoked"
    expired = "expired"  # the 12-month approval lapsed (到期): not matchable until renewed


class Provider(SQLModel, table=True):
    """A digital-service provider (数字服务商) and its whitelist status."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="user.id", unique=True)
    name: str = Field(max_length=120)
    credit_code: str = Field(max_length=18, unique=True, index=True)
    domains: list[str] = Field(default_factory=list, sa_column=_json_list())
    service_content: str = Field(default="", sa_column=_text())
    capabilities: str = Field(default="", sa_column=_text())
    qualifications: str = Field(default="", sa_column=_text())
    contact_name: str = Field(max_length=40)
    phone: str = Field(max_length=20)
    email: str = Field(max_length=254)
    website: str = Field(default="", max_length=200)
    years_in_shenzhen: int = 0
    status: ProviderStatus = Field(default=ProviderStatus.draft, max_length=20, index=True)
    approved_until: date | None = None
    expiry_reminded_for: date | None = None  # the approved_until date a reminder was sent for
    rectify_by: date | None = None  # set by a warning (警告): rectify by this date or be revoked
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class SuccessCase(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    title: str = Field(max_length=120)
    client: str = Field(default="", max_length=120)
    industry: str = Field(default="general", max_length=40)
    year: int | None = None
    description: str = Field(default="", sa_column=_text())
    ai_scenarios: list[str] = Field(default_factory=list, sa_column=_json_list())  # see AI_SCENARIOS


class WhitelistEvent(SQLModel, table=True):
    """One step in a provider's whitelist history: who moved it where, when and why."""

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    action: str = Field(max_length=20)  # see matchmaker.services.whitelist.ACTION_LABELS
    from_status: str = Field(max_length=20)
    to_status: str = Field(max_length=20)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    reason: str = Field(default="", sa_column=_text())
    created_at: datetime = Field(default_factory=utcnow)


class SolutionStatus(StrEnum):
    draft = "draft"
    published = "published"
    withdrawn = "withdrawn"


class Solution(SQLModel, table=True):
    """A provider's solution: the thing that is matched to needs."""

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    title: str = Field(max_length=120)
    summary: str = Field(default="", max_length=300)
    description: str = Field(default="", sa_column=_text())
    domain: str = Field(foreign_key="domain.code", max_length=40)
    industries: list[str] = Field(default_factory=list, sa_column=_json_list())
    sizes: list[str] = Field(default_factory=list, sa_column=_json_list())
    modules: list[str] = Field(default_factory=list, sa_column=_json_list())
    tags: list[str] = Field(default_factory=list, sa_column=_json_list())
    deployment: str = Field(default="", max_length=20)  # saas | private | hybrid | onsite
    price_range: str = Field(default="", max_length=60)
    delivery_weeks: int | None = None
    maturity_band: str = Field(default="", max_length=5)  # maturity levels served, see MATURITY_BANDS
    status: SolutionStatus = Field(default=SolutionStatus.draft, max_length=20, index=True)
    change_seq: int = Field(default=0, index=True)  # see ChangeCounter
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ChangeCounter(SQLModel, table=True):
    """One row whose value grows with every change that can alter what is matchable.

    A change stamps the affected solutions with the new value in the same transaction; the
    update takes a row lock, so stamps follow commit order and each worker can apply "rows
    with change_seq > the last one I applied" with one indexed query.
    """

    id: int = Field(default=1, primary_key=True)
    value: int = 0


class SolutionVector(SQLModel, table=True):
    """A solution's embedding for one model, with the hash of the text that was encoded."""

    solution_id: int = Field(foreign_key="solution.id", primary_key=True)
    model: str = Field(primary_key=True, max_length=120)
    text_hash: str = Field(max_length=64)
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # float32, L2-normalised


class NeedStatus(StrEnum):
    open = "open"
    closed = "closed"


class Need(SQLModel, table=True):
    """A manufacturer's digitisation need (需求)."""

    id: int | None = Field(default=None, primary_key=True)
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    title: str = Field(max_length=120)
    description: str = Field(sa_column=Column(Text, nullable=False))
    industry: str = Field(max_length=40)
    size_class: str = Field(max_length=10)
    domains: list[str] = Field(default_factory=list, sa_column=_json_list())
    tags: list[str] = Field(default_factory=list, sa_column=_json_list())
    budget_range: str = Field(default="", max_length=60)
    expected_start: str = Field(default="", max_length=7)  # YYYY-MM
    target_maturity: int = 0  # the maturity level the need aims for, 0 = not stated
    status: NeedStatus = Field(default=NeedStatus.open, max_length=20, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class MatchResult(SQLModel, table=True):
    """The ranking shown for a need, kept as a snapshot: rank, score, signal parts and explanation."""

    id: int | None = Field(default=None, primary_key=True)
    need_id: int = Field(foreign_key="need.id", index=True)
    solution_id: int = Field(foreign_key="solution.id", index=True)
    rank: int
    score: float
    parts: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, default=dict))
    explanation: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, default=dict))
    created_at: datetime = Field(default_factory=utcnow)


class AuditLog(SQLModel, table=True):
    """Every state change an admin (or the system on an admin's behalf) makes."""

    id: int | None = Field(default=None, primary_key=True)
    actor_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    action: str = Field(max_length=40)
    target_type: str = Field(max_length=40)
    target_id: int | None = None
    reason: str = Field(default="", sa_column=_text())
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, default=dict))
    created_at: datetime = Field(default_factory=utcnow, index=True)
