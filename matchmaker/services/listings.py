"""The admin's lists of all solutions and all dockings, paged on screen and exported as XLSX or CSV.

The solutions export has the import template's columns (plus 编号, 服务商名称, 状态 and 更新时间, which an
import reads past), so an admin can export, correct and import the file again. Files are written by
`services.exports` (formula neutralising, UTF-8 BOM CSV) and audited with `exports.record`.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from matchmaker.services.dockings import STATUS_LABELS as DOCKING_STATUS_LABELS
from matchmaker.services.exports import BATCH, Sheet
from matchmaker.services.imports import SOLUTION_COLUMNS
from matchmaker.services.labels import DEPLOYMENT_LABELS, SOLUTION_STATUS_LABELS
from matchmaker.services.stats import LOCAL_OFFSET
from models import Docking, DockingStatus, Domain, Enterprise, Industry, Need, Provider, Solution, SolutionStatus
from models.validation import SIZE_LABELS

MAX_QUERY = 60


def local_time(moment: datetime | None) -> str:
    """A stored UTC time as Beijing time, to the minute."""
    return (moment.replace(tzinfo=None) + LOCAL_OFFSET).strftime("%Y-%m-%d %H:%M") if moment else ""


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


@dataclass(frozen=True)
class SolutionFilters:
    status: SolutionStatus | None = None
    domain: str | None = None
    query: str = ""  # in the solution's name or the provider's name or credit code

    def as_dict(self) -> dict[str, str]:
        return {"status": self.status or "", "domain": self.domain or "", "q": self.query}


def _solutions(filters: SolutionFilters) -> Select:
    query = select(Solution, Provider).join(Provider, col(Provider.id) == Solution.provider_id)
    if filters.status is not None:
        query = query.where(Solution.status == filters.status)
    if filters.domain:
        query = query.where(Solution.domain == filters.domain)
    text = filters.query.strip()[:MAX_QUERY]
    if text:
        pattern = _like(text)
        query = query.where(
            or_(
                func.lower(Solution.title).like(pattern, escape="\\"),
                func.lower(Provider.name).like(pattern, escape="\\"),
                func.lower(Provider.credit_code).like(pattern, escape="\\"),
            )
        )
    return query


def solutions_page(
    session: Session, filters: SolutionFilters, page: int, per_page: int
) -> tuple[list[tuple[Solution, Provider]], int]:
    query = _solutions(filters)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(Solution.id).desc()).offset((page - 1) * per_page).limit(per_page))
    return [(solution, provider) for solution, provider in rows], total


def _names(session: Session) -> tuple[dict[str, str], dict[str, str]]:
    return (
        dict(session.exec(select(Industry.code, Industry.name)).all()),
        dict(session.exec(select(Domain.code, Domain.name)).all()),
    )


def solutions_sheet(session: Session, filters: SolutionFilters) -> Sheet:
    """方案清单: the import template's columns with names for codes, oldest first."""
    industries, domains = _names(session)
    query = _solutions(filters).order_by(col(Solution.id)).execution_options(yield_per=BATCH)

    def rows() -> Iterator[list[Any]]:
        for solution, provider in session.exec(query):
            values = {
                "credit_code": provider.credit_code,
                "title": solution.title,
                "summary": solution.summary,
                "description": solution.description,
                "domain": domains.get(solution.domain, solution.domain),
                "industries": "、".join(industries.get(code, code) for code in solution.industries),
                "sizes": "、".join(SIZE_LABELS.get(code, code) for code in solution.sizes),
                "modules": "\n".join(solution.modules),
                "tags": "、".join(solution.tags),
                "deployment": DEPLOYMENT_LABELS.get(solution.deployment, solution.deployment),
                "price_range": solution.price_range,
                "delivery_weeks": solution.delivery_weeks if solution.delivery_weeks is not None else "",
            }
            yield [
                solution.id,
                provider.name,
                *(values[column.field] for column in SOLUTION_COLUMNS),
                SOLUTION_STATUS_LABELS.get(solution.status, solution.status),
                local_time(solution.updated_at),
            ]

    headers = ["编号", "服务商名称", *(column.header for column in SOLUTION_COLUMNS), "状态", "更新时间"]
    widths = [8, 30, 22, 30, 30, 60, 20, 24, 16, 30, 20, 14, 14, 12, 10, 18]
    return Sheet("方案清单", headers, widths, rows())


def _dockings(status: DockingStatus | None) -> Select:
    query = (
        select(Docking, Need.title, Enterprise.name, Solution.title, Provider.name)
        .join(Need, col(Need.id) == Docking.need_id)
        .join(Enterprise, col(Enterprise.id) == Docking.enterprise_id)
        .join(Solution, col(Solution.id) == Docking.solution_id)
        .join(Provider, col(Provider.id) == Docking.provider_id)
    )
    return query.where(Docking.status == status) if status is not None else query


@dataclass(frozen=True)
class DockingRow:
    docking: Docking
    need_title: str
    enterprise: str
    solution_title: str
    provider: str


def dockings_page(
    session: Session, status: DockingStatus | None, page: int, per_page: int
) -> tuple[list[DockingRow], int]:
    query = _dockings(status)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(Docking.id).desc()).offset((page - 1) * per_page).limit(per_page))
    return [DockingRow(*row) for row in rows], total


def dockings_sheet(session: Session, status: DockingStatus | None) -> Sheet:
    """对接记录: one row per docking, oldest first, with its outcome (contract, acceptance)."""
    query = _dockings(status).order_by(col(Docking.id)).execution_options(yield_per=BATCH)

    def rows() -> Iterator[list[Any]]:
        for docking, need_title, enterprise, solution_title, provider in session.exec(query):
            yield [
                docking.id,
                enterprise,
                need_title,
                provider,
                solution_title,
                DOCKING_STATUS_LABELS.get(docking.status, docking.status),
                local_time(docking.created_at),
                local_time(docking.updated_at),
                docking.contract_amount if docking.contract_amount is not None else "",
                docking.contract_date.isoformat() if docking.contract_date else "",
                docking.satisfaction if docking.satisfaction is not None else "",
                docking.acceptance_comment,
            ]

    headers = ("编号", "企业", "需求", "服务商", "方案", "状态", "申请时间", "最近更新")
    headers += ("合同金额（万元）", "签约日期", "满意度（1-5）", "验收评价")
    return Sheet("对接记录", headers, (8, 30, 30, 30, 30, 14, 18, 18, 14, 12, 12, 40), rows())
