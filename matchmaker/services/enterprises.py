"""The enterprise side: company profile and needs (需求)."""

import re

from sqlalchemy import func
from sqlmodel import Session, select

from matchmaker.matching.tagging import Suggestion
from matchmaker.services import taxonomy
from matchmaker.services.errors import ServiceError
from models import Enterprise, MaturityChange, Need, NeedStatus, utcnow
from models.schemas import EnterpriseProfile, NeedCreate
from models.validation import size_class

TITLE_CHARS = 30
_FIRST_CLAUSE = re.compile(r"[。；;！？!?\n]")


def get(session: Session, enterprise_id: int) -> Enterprise:
    enterprise = session.get(Enterprise, enterprise_id)
    if enterprise is None:
        raise ServiceError("企业信息不存在")
    return enterprise


MaturityState = tuple[int, str, str]  # level, how it is known, 智能工厂 tier
UNSTATED: MaturityState = (0, "", "")


def maturity_state(enterprise: Enterprise) -> MaturityState:
    return enterprise.maturity_level, enterprise.maturity_source, enterprise.factory_tier


def record_maturity(session: Session, enterprise: Enterprise, before: MaturityState, actor_id: int | None) -> None:
    """Add a history row when the level, its source or the tier differs from `before` (the dashboard's
    change in level over time); the enterprise must have its id."""
    if maturity_state(enterprise) == before:
        return
    session.add(
        MaturityChange(
            enterprise_id=enterprise.id,
            from_level=before[0],
            to_level=enterprise.maturity_level,
            maturity_source=enterprise.maturity_source,
            factory_tier=enterprise.factory_tier,
            actor_id=actor_id,
        )
    )


def update_profile(
    session: Session, enterprise_id: int, profile: EnterpriseProfile, actor_id: int | None = None
) -> Enterprise:
    enterprise = get(session, enterprise_id)
    before = maturity_state(enterprise)
    taxonomy.check_codes(session, industries=[profile.industry])
    clash = session.exec(
        select(Enterprise.id).where(Enterprise.credit_code == profile.credit_code, Enterprise.id != enterprise_id)
    ).first()
    if clash is not None:
        raise ServiceError("该统一社会信用代码已被其他企业登记", field="credit_code")
    enterprise.sqlmodel_update(profile.model_dump())
    enterprise.size_class = size_class(profile.employees, profile.revenue)
    enterprise.updated_at = utcnow()
    session.add(enterprise)
    record_maturity(session, enterprise, before, actor_id)
    session.commit()
    return enterprise


def derived_title(description: str) -> str:
    """A title from the description's first clause, for needs posted as one paragraph."""
    first = _FIRST_CLAUSE.split(description.strip(), maxsplit=1)[0].strip()
    return first if len(first) <= TITLE_CHARS else first[: TITLE_CHARS - 1] + "…"


def new_need(session: Session, enterprise_id: int, data: NeedCreate, suggestion: Suggestion | None = None) -> Need:
    """A validated need (一键发布), not added to the session: the size class is the company's current one;
    an empty title comes from the description, and domains and tags the user left empty from the
    suggestion for its text (what the ranker would assume anyway; stored, they show on the need and
    feed the push). `services.publishing.publish_need` saves it with its ranking and pushes."""
    enterprise = get(session, enterprise_id)
    values = data.model_dump()
    values["title"] = data.title.strip() or derived_title(data.description)
    if suggestion is not None:
        values["domains"] = data.domains or list(suggestion.domains)
        values["tags"] = data.tags or list(suggestion.tags)
    taxonomy.check_codes(session, industries=[data.industry], domains=values["domains"], tags=values["tags"])
    return Need.model_validate(values | {"enterprise_id": enterprise.id, "size_class": enterprise.size_class})


def own_need(session: Session, enterprise_id: int, need_id: int) -> Need:
    """The need if it belongs to this enterprise; the same error otherwise, so ids reveal nothing."""
    need = session.get(Need, need_id)
    if need is None or need.enterprise_id != enterprise_id:
        raise ServiceError("需求不存在")
    return need


def set_need_status(session: Session, enterprise_id: int, need_id: int, status: NeedStatus) -> Need:
    need = own_need(session, enterprise_id, need_id)
    need.status = status
    need.updated_at = utcnow()
    session.add(need)
    session.commit()
    return need


def needs_page(session: Session, enterprise_id: int, page: int, per_page: int) -> tuple[list[Need], int]:
    query = select(Need).where(Need.enterprise_id == enterprise_id)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    newest_first = query.order_by(Need.created_at.desc(), Need.id.desc())
    rows = session.exec(newest_first.offset((page - 1) * per_page).limit(per_page))
    return list(rows), total
