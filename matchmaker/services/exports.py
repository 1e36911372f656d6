"""The admin's exports: the needs list (需求清单) and the provider directory (服务商名录), as XLSX or CSV.

Every text cell goes through `safe_cell`, so a value a user typed can never run as a spreadsheet
formula; CSV is UTF-8 with a byte-order mark, which is what makes Excel read Chinese correctly. Each
export is recorded in the audit log (who, when, which export, how many rows, with which filters).
"""

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from sqlalchemy import func
from sqlmodel import Session, col, select

from matchmaker.matching.explanation import split_points
from matchmaker.services import audit
from matchmaker.services.labels import NEED_STATUS_LABELS, PROVIDER_STATUS_LABELS
from matchmaker.services.stats import LOCAL_OFFSET, Period
from models import (
    Docking,
    DockingStatus,
    Domain,
    Enterprise,
    Industry,
    MatchResult,
    Need,
    NeedStatus,
    Provider,
    ProviderStatus,
    Solution,
    SolutionStatus,
)
from models.validation import CONTROL_CHARACTERS, SIZE_LABELS

FORMATS = ("xlsx", "csv")
# Characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection"), with the
# full-width forms that Excel under a Chinese input method also accepts as a formula's start.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv; charset=utf-8"
BATCH = 500


def safe_cell(value: Any) -> Any:
    """A text loses the control characters openpyxl cannot store (rows written before every door
    refused them, and an import's error report quotes the refused value), and one that a spreadsheet
    would take for a formula gets a leading single quote; numbers, dates and empty cells stay as they are."""
    if not isinstance(value, str):
        return value
    value = CONTROL_CHARACTERS.sub("", value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


@dataclass
class Sheet:
    """A table to export: a name, the column headers and their widths, and rows produced on demand."""

    name: str
    headers: Sequence[str]
    widths: Sequence[int]
    rows: Iterator[list[Any]]
    written: int = field(default=0, init=False)

    def safe_rows(self) -> Iterator[list[Any]]:
        for row in self.rows:
            self.written += 1
            yield [safe_cell(value) for value in row]


def to_xlsx(sheet: Sheet) -> bytes:
    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet.name)
    for index, width in enumerate(sheet.widths):
        worksheet.column_dimensions[chr(ord("A") + index)].width = width
    worksheet.freeze_panes = "A2"
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    header = []
    for title in sheet.headers:
        cell = WriteOnlyCell(worksheet, value=title)
        cell.font = bold
        header.append(cell)
    worksheet.append(header)
    for row in sheet.safe_rows():
        cells = []
        for value in row:
            cell = WriteOnlyCell(worksheet, value=value)
            if isinstance(value, str) and "\n" in value:
                cell.alignment = wrap
            cells.append(cell)
        worksheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def to_csv(sheet: Sheet) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(sheet.headers)
    writer.writerows(sheet.safe_rows())
    return buffer.getvalue().encode("utf-8-sig")


def render(sheet: Sheet, fmt: str) -> tuple[bytes, str]:
    """(file content, MIME type) of `sheet` in `fmt` (xlsx or csv)."""
    return (to_xlsx(sheet), XLSX_MIME) if fmt == "xlsx" else (to_csv(sheet), CSV_MIME)


def _local(moment) -> str:
    return (moment.replace(tzinfo=None) + LOCAL_OFFSET).strftime("%Y-%m-%d %H:%M") if moment else ""


def _names(session: Session) -> tuple[dict[str, str], dict[str, str]]:
    industries = dict(session.exec(select(Industry.code, Industry.name)).all())
    domains = dict(session.exec(select(Domain.code, Domain.name)).all())
    return industries, domains


def _matchable_best():
    return (
        select(MatchResult.need_id, func.max(MatchResult.score).label("best"))
        .join(Solution, col(Solution.id) == MatchResult.solution_id)
        .join(Provider, col(Provider.id) == Solution.provider_id)
        .where(Solution.status == SolutionStatus.published, Provider.status == ProviderStatus.approved)
        .group_by(MatchResult.need_id)
        .subquery()
    )


def need_points(description: str) -> str:
    """The need's points (its clauses), one per line; the whole text when it has no longer clause."""
    points = split_points(description) or (description.strip(),)
    return "\n".join(points)


def needs_sheet(session: Session, period: Period | None = None, status: NeedStatus | None = None) -> Sheet:
    """需求清单: one row per need, oldest first, with its company, dockings and best live match."""
    industries, domains = _names(session)
    dockings = select(Docking.need_id, func.count().label("n")).group_by(Docking.need_id).subquery()
    best = _matchable_best()
    query = (
        select(Need, Enterprise.name, dockings.c.n, best.c.best)
        .join(Enterprise, col(Enterprise.id) == Need.enterprise_id)
        .outerjoin(dockings, dockings.c.need_id == Need.id)
        .outerjoin(best, best.c.need_id == Need.id)
        .order_by(Need.id)
    )
    if period is not None:
        query = query.where(period.holds(Need.created_at))
    if status is not None:
        query = query.where(Need.status == status)

    def rows() -> Iterator[list[Any]]:
        for need, company, docking_count, best_score in session.exec(query.execution_options(yield_per=BATCH)):
            yield [
                need.id,
                company,
                industries.get(need.industry, need.industry),
                SIZE_LABELS.get(need.size_class, need.size_class),
                need.title,
                "、".join(domains.get(code, code) for code in need.domains),
                need_points(need.description),
                NEED_STATUS_LABELS.get(need.status, need.status),
                int(docking_count or 0),
                round(float(best_score), 3) if best_score is not None else "",
                _local(need.created_at),
            ]

    headers = ("编号", "企业", "行业", "企业规模", "需求标题", "服务领域", "需求要点", "状态", "对接数")
    headers += ("最佳匹配分", "发布时间")
    return Sheet("需求清单", headers, (8, 30, 16, 10, 30, 24, 60, 10, 8, 12, 18), rows())


def providers_sheet(session: Session, status: ProviderStatus | None = None) -> Sheet:
    """服务商名录: one row per provider with its whitelist status, solutions and completed dockings."""
    _, domains = _names(session)
    solutions = (
        select(Solution.provider_id, func.count().label("n"))
        .where(Solution.status == SolutionStatus.published)
        .group_by(Solution.provider_id)
        .subquery()
    )
    completed = (
        select(Docking.provider_id, func.count().label("n"))
        .where(Docking.status == DockingStatus.completed)
        .group_by(Docking.provider_id)
        .subquery()
    )
    query = (
        select(Provider, solutions.c.n, completed.c.n)
        .outerjoin(solutions, solutions.c.provider_id == Provider.id)
        .outerjoin(completed, completed.c.provider_id == Provider.id)
        .order_by(Provider.id)
    )
    if status is not None:
        query = query.where(Provider.status == status)

    def rows() -> Iterator[list[Any]]:
        for provider, solution_count, completed_count in session.exec(query.execution_options(yield_per=BATCH)):
            yield [
                provider.name,
                provider.credit_code,
                "、".join(domains.get(code, code) for code in provider.domains),
                PROVIDER_STATUS_LABELS.get(provider.status, provider.status),
                provider.approved_until.isoformat() if provider.approved_until else "",
                int(solution_count or 0),
                int(completed_count or 0),
            ]

    headers = ("服务商", "统一社会信用代码", "服务领域", "状态", "入库有效期至", "已发布方案数", "完成对接数")
    return Sheet("服务商名录", headers, (34, 22, 40, 10, 14, 12, 12), rows())


def record(session: Session, actor_id: int, kind: str, fmt: str, sheet: Sheet, **filters: str) -> None:
    """Audit one export after its file was produced, and commit."""
    audit.record(
        session, actor_id, f"export.{kind}", "export", None, "", format=fmt, rows=sheet.written, filters=filters
    )
    session.commit()
