"""The provider side: record, success cases and solutions (the whitelist is in `whitelist`)."""

from collections.abc import Sequence

from sqlmodel import Session, select

from matchmaker.services import changes, taxonomy
from matchmaker.services.errors import ServiceError
from models import Provider, Solution, SolutionStatus, SuccessCase, utcnow
from models.schemas import ProviderProfile, SolutionWrite, SuccessCaseCreate


def get(session: Session, provider_id: int) -> Provider:
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise ServiceError("服务商信息不存在")
    return provider


def update_profile(session: Session, provider_id: int, profile: ProviderProfile) -> Provider:
    provider = get(session, provider_id)
    taxonomy.check_codes(session, domains=profile.domains)
    clash = session.exec(
        select(Provider.id).where(Provider.credit_code == profile.credit_code, Provider.id != provider_id)
    ).first()
    if clash is not None:
        raise ServiceError("该统一社会信用代码已被其他服务商登记", field="credit_code")
    provider.sqlmodel_update(profile.model_dump())
    provider.updated_at = utcnow()
    session.add(provider)
    session.commit()
    return provider


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
