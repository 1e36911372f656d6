"""Demo data from seed_data/: taxonomy, providers with cases and solutions, enterprises with needs.

Idempotent: rows are matched by natural keys (codes, 统一社会信用代码, titles), so loading twice
creates nothing new.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, select
from werkzeug.security import generate_password_hash

from matchmaker.commands import seed_funding
from matchmaker.commands.seed_events import load_events
from matchmaker.services import audit, changes
from models import (
    CapabilityTag,
    Domain,
    Enterprise,
    Industry,
    Need,
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
from models.validation import size_class

SEED_DIR = Path(__file__).resolve().parents[2] / "seed_data"
DEMO_PASSWORD = "Pingshan2026"
DEMO_ADMIN_EMAIL = "admin@demo-pingshan.example"
SEED_REASON = "演示数据导入"

# The whitelist history a seeded provider of each status has been through.
_HISTORY = {
    "applied": [("apply", "draft", "applied")],
    "approved": [("apply", "draft", "applied"), ("approve", "applied", "approved")],
    "rejected": [("apply", "draft", "applied"), ("reject", "applied", "rejected")],
    "suspended": [
        ("apply", "draft", "applied"),
        ("approve", "applied", "approved"),
        ("suspend", "approved", "suspended"),
    ],
}


@dataclass
class SeedReport:
    created: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str) -> None:
        self.created[kind] = self.created.get(kind, 0) + 1


def _read(name: str, seed_dir: Path) -> object:
    return json.loads((seed_dir / name).read_text(encoding="utf-8"))


def load_taxonomy(session: Session, data: dict, report: SeedReport) -> None:
    for position, row in enumerate(data["domains"]):
        if session.get(Domain, row["code"]) is None:
            session.add(Domain(position=position, **row))
            report.count("domains")
    for position, row in enumerate(data["industries"]):
        if session.get(Industry, row["code"]) is None:
            session.add(Industry(position=position, **row))
            report.count("industries")
    session.flush()
    known_tags = set(session.exec(select(CapabilityTag.name)))
    for row in data["tags"]:
        if row["name"] not in known_tags:
            session.add(CapabilityTag(**row))
            report.count("tags")


def _user(session: Session, email: str, role: Role, name: str, report: SeedReport) -> User:
    user = session.exec(select(User).where(User.email == email)).first()
    if user is None:
        user = User(email=email, password_hash=generate_password_hash(DEMO_PASSWORD), role=role, display_name=name)
        session.add(user)
        session.flush()
        report.count("users")
    return user


def _provider(session: Session, row: dict, admin: User, report: SeedReport) -> None:
    provider = session.exec(select(Provider).where(Provider.credit_code == row["credit_code"])).first()
    if provider is None:
        user = _user(session, row["email"], Role.provider, row["contact_name"], report)
        fields = {k: v for k, v in row.items() if k not in {"cases", "solutions", "status"}}
        provider = Provider.model_validate(fields | {"user_id": user.id, "status": row["status"]})
        session.add(provider)
        session.flush()
        report.count("providers")
        for action, source, target in _HISTORY.get(row["status"], []):
            actor = user.id if action == "apply" else admin.id
            session.add(
                WhitelistEvent(
                    provider_id=provider.id,
                    action=action,
                    from_status=source,
                    to_status=target,
                    actor_id=actor,
                    reason=SEED_REASON,
                )
            )
            if action != "apply":
                audit.record(
                    session,
                    admin.id,
                    f"whitelist.{action}",
                    "provider",
                    provider.id,
                    SEED_REASON,
                    from_status=source,
                    to_status=target,
                )
        if row["status"] in {"approved", "suspended"}:
            provider.approved_until = date.today() + timedelta(days=365)
    known_cases = set(session.exec(select(SuccessCase.title).where(SuccessCase.provider_id == provider.id)))
    for case in row.get("cases", []):
        if case["title"] not in known_cases:
            session.add(SuccessCase.model_validate(case | {"provider_id": provider.id}))
            report.count("cases")
    known_solutions = set(session.exec(select(Solution.title).where(Solution.provider_id == provider.id)))
    added = [
        Solution.model_validate(solution | {"provider_id": provider.id, "status": SolutionStatus.published})
        for solution in row.get("solutions", [])
        if solution["title"] not in known_solutions
    ]
    if added:
        session.add_all(added)
        session.flush()
        changes.mark_solutions(session, [solution.id for solution in added])
        report.created["solutions"] = report.created.get("solutions", 0) + len(added)


DEMO_HISTORY_DAYS = 180


def _demo_posting_time(title: str) -> datetime:
    """A posting time within the last six months, fixed per need title, so that the dashboard's
    monthly charts have a history to show (real needs get the time they are posted)."""
    spread = int(hashlib.sha256(title.encode("utf-8")).hexdigest()[:8], 16)
    return utcnow() - timedelta(days=spread % DEMO_HISTORY_DAYS, minutes=spread % 600)


def _enterprise(session: Session, row: dict, report: SeedReport) -> None:
    enterprise = session.exec(select(Enterprise).where(Enterprise.credit_code == row["credit_code"])).first()
    if enterprise is None:
        user = _user(session, row["email"], Role.enterprise, row["contact_name"], report)
        fields = {k: v for k, v in row.items() if k != "needs"}
        enterprise = Enterprise.model_validate(
            fields | {"user_id": user.id, "size_class": size_class(row["employees"], row["revenue"])}
        )
        session.add(enterprise)
        session.flush()
        report.count("enterprises")
    known_needs = set(session.exec(select(Need.title).where(Need.enterprise_id == enterprise.id)))
    for need in row.get("needs", []):
        if need["title"] not in known_needs:
            posted = _demo_posting_time(need["title"])
            session.add(
                Need.model_validate(
                    need
                    | {
                        "enterprise_id": enterprise.id,
                        "industry": need.get("industry", enterprise.industry),
                        "size_class": enterprise.size_class,
                        "created_at": posted,
                        "updated_at": posted,
                    }
                )
            )
            report.count("needs")


def load_demo(session: Session, seed_dir: Path = SEED_DIR) -> SeedReport:
    """Load everything in one transaction: either all of the demo data is there, or none of it."""
    report = SeedReport()
    load_taxonomy(session, _read("taxonomy.json", seed_dir), report)
    admin = _user(session, DEMO_ADMIN_EMAIL, Role.admin, "对接服务中心管理员", report)
    for row in _read("providers.json", seed_dir):
        _provider(session, row, admin, report)
    for row in _read("enterprises.json", seed_dir):
        _enterprise(session, row, report)
    seed_funding.load(session)
    load_events(session, admin, report)
    session.commit()
    return report


def demo_logins(session: Session) -> list[tuple[str, str]]:
    """(role label, email) of one demo account per role, for the README and the run command."""
    enterprise_email = session.exec(select(User.email).where(User.role == Role.enterprise).order_by(User.id)).first()
    provider_email = session.exec(
        select(User.email)
        .join(Provider, Provider.user_id == User.id)
        .where(Provider.status == ProviderStatus.approved)
        .order_by(User.id)
    ).first()
    return [("企业", enterprise_email or ""), ("服务商", provider_email or ""), ("管理员", DEMO_ADMIN_EMAIL)]
