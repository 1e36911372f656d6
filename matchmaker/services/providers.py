"""The provider side: record, success cases and solutions (the whitelist is in `whitelist`)."""

from collections.abc import Sequence

from sqlmodel import Session, col, select

from matchmaker.services import audit, changes, taxonomy
from matchmaker.services.errors import ServiceError
from models import (
    IdentityChange,
    Provider,
    ProviderStatus,
    Solution,
    SolutionStatus,
    SuccessCase,
    WhitelistEvent,
    begin_write,
    utcnow,
)
from models.schemas import ProviderProfile, SolutionWrite, SuccessCaseCreate

# What the whitelist review vouches for: changed while applied for or listed, it waits for an admin.
IDENTITY = ("name", "credit_code", "domains")
IDENTITY_LABELS = {"name": "服务商名称", "credit_code": "统一社会信用代码", "domains": "服务领域"}
IDENTITY_LOCKED = frozenset(
    {ProviderStatus.applied, ProviderStatus.approved, ProviderStatus.suspended, ProviderStatus.expired}
)


def get(session: Session, provider_id: int) -> Provider:
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise ServiceError("服务商信息不存在")
    return provider


def check_credit_code_free(session: Session, provider_id: int, credit_code: str) -> None:
    clash = session.exec(
        select(Provider.id).where(Provider.credit_code == credit_code, Provider.id != provider_id)
    ).first()
    if clash is not None:
        raise ServiceError("该统一社会信用代码已被其他服务商登记", field="credit_code")


def pending_identity_change(session: Session, provider_id: int) -> IdentityChange | None:
    return session.exec(
        select(IdentityChange).where(IdentityChange.provider_id == provider_id, col(IdentityChange.approved).is_(None))
    ).first()


def _differs(field: str, old: object, new: object) -> bool:
    return sorted(old) != sorted(new) if field == "domains" else old != new


def update_profile(
    session: Session, provider_id: int, profile: ProviderProfile, actor_id: int | None
) -> IdentityChange | None:
    """Save the provider's record, audited field by field. While the record is applied for or listed
    (`IDENTITY_LOCKED`), a new name, credit code or set of domains is not applied: it is filed as an
    `IdentityChange` for an admin to approve, and returned; the rest of the record is saved at once."""
    begin_write(session)  # one pending change at most, even when two saves race
    provider = session.get(Provider, provider_id, with_for_update=True, populate_existing=True)
    if provider is None:
        raise ServiceError("服务商信息不存在")
    taxonomy.check_codes(session, domains=profile.domains)
    check_credit_code_free(session, provider.id, profile.credit_code)
    values = profile.model_dump()
    data = dict(values)
    changed = sorted(name for name, value in values.items() if _differs(name, getattr(provider, name), value))
    identity = {name: data.pop(name) for name in IDENTITY}
    request = None
    if provider.status in IDENTITY_LOCKED and set(changed) & set(IDENTITY):
        if pending_identity_change(session, provider.id) is not None:
            raise ServiceError("已有待审核的名称、信用代码或服务领域变更申请，审核结果出来前不能再次修改")
        request = IdentityChange(provider_id=provider.id, requested_by=actor_id, **identity)
        session.add(request)
        session.flush()
        whitelist_event = WhitelistEvent(
            provider_id=provider.id,
            action="identity_change",
            from_status=provider.status,
            to_status=provider.status,
            actor_id=actor_id,
            reason="、".join(IDENTITY_LABELS[name] for name in IDENTITY if name in changed),
        )
        session.add(whitelist_event)
    else:
        data |= identity
    before = {name: getattr(provider, name) for name in changed}
    provider.sqlmodel_update(data)
    if changed:
        provider.updated_at = utcnow()
        session.add(provider)
        audit.record(
            session,
            actor_id,
            "provider.profile",
            "provider",
            provider.id,
            "变更申请待审核" if request is not None else "",
            fields=changed,
            before=before,
            after={name: values[name] for name in changed},
            identity_change_id=request.id if request is not None else None,
        )
    session.commit()
    return request


def cases(session: Session, provider_id: int) -> list[SuccessCase]:
    query = select(SuccessCase).where(SuccessCase.provider_id == provider_id)
    return list(session.exec(query.order_by(SuccessCase.id)))


def add_case(session: Session, provider_id: int, data: SuccessCaseCreate) -> SuccessCase:
    taxonomy.check_codes(session, industries=[data.industry])
    case = SuccessCase.model_validate(data.model_dump() | {"provider_id": get(session, provider_id).id})
    session.add(case)
    session.commit()
    return case


def delete_case(session: Session, provider_id: int, case_id: int) -> None:
    case = session.get(SuccessCase, case_id)
    if case is None or case.provider_id != provider_id:
        raise ServiceError("案例不存在")
    session.delete(case)
    session.commit()


# --- solutions -------------------------------------------------------------------------------


def solutions(session: Session, provider_id: int) -> list[Solution]:
    return list(session.exec(select(Solution).where(Solution.provider_id == provider_id).order_by(Solution.id.desc())))


def own_solution(session: Session, provider_id: int, solution_id: int) -> Solution:
    solution = session.get(Solution, solution_id)
    if solution is None or solution.provider_id != provider_id:
        raise ServiceError("方案不存在")
    return solution


def _check_solution(session: Session, provider: Provider, data: SolutionWrite) -> None:
    taxonomy.check_codes(session, industries=data.industries, domains=[data.domain], tags=data.tags)
    if data.domain not in provider.domains:
        raise ServiceError("方案所属领域须是本服务商登记的服务领域之一，请先在服务商资料中添加该领域", field="domain")


def _with_tags(data: SolutionWrite, suggested_tags: Sequence[str]) -> SolutionWrite:
    """The provider's tags, or the ones suggested from the text when none were chosen."""
    return data if data.tags else data.model_copy(update={"tags": list(suggested_tags)})


def create_solution(
    session: Session, provider_id: int, data: SolutionWrite, publish: bool, suggested_tags: Sequence[str] = ()
) -> Solution:
    provider = get(session, provider_id)
    data = _with_tags(data, suggested_tags)
    _check_solution(session, provider, data)
    status = SolutionStatus.published if publish else SolutionStatus.draft
    solution = Solution.model_validate(data.model_dump() | {"provider_id": provider.id, "status": status})
    session.add(solution)
    session.flush()
    changes.mark_solutions(session, [solution.id])
    session.commit()
    return solution


def update_solution(
    session: Session, provider_id: int, solution_id: int, data: SolutionWrite, suggested_tags: Sequence[str] = ()
) -> Solution:
    solution = own_solution(session, provider_id, solution_id)
    data = _with_tags(data, suggested_tags)
    _check_solution(session, get(session, provider_id), data)
    solution.sqlmodel_update(data.model_dump())
    solution.updated_at = utcnow()
    session.add(solution)
    changes.mark_solutions(session, [solution.id])
    session.commit()
    return solution


def set_solution_status(session: Session, provider_id: int, solution_id: int, status: SolutionStatus) -> Solution:
    solution = own_solution(session, provider_id, solution_id)
    solution.status = status
    solution.updated_at = utcnow()
    session.add(solution)
    changes.mark_solutions(session, [solution.id])
    session.commit()
    return solution
