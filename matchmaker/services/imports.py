"""Bulk import of providers and solutions (批量导入), e.g. the providers already on the district's record.

Two tables, each an XLSX sheet or a CSV file with Chinese headers: 服务商 (keyed by 统一社会信用代码)
and 方案 (keyed by the provider's 统一社会信用代码 plus the solution's name). Every row is validated
with the schemas the web forms use; domains, industries, tags, sizes and deployment may be written as
names or synonyms as well as codes. Any error anywhere means nothing is written, and the caller gets
every error with its table, row, column and a Chinese message.

Rows are upserted, so importing the same file again changes nothing:
- a new provider gets the status given in the file (default 已入库, "already on record"), a whitelist
  history entry and an audit entry naming the admin and the reason; it gets no login account (the
  district keeps its record; the provider can ask the platform's admin for an account later, as the
  registration page says when the credit code is already on record);
- an existing provider's record is updated, but never its whitelist status or term: those change only
  through the review workflow, so a re-import cannot undo a suspension; a provider that has its own
  account keeps its record and solutions as it maintains them (the rows are skipped, with a notice);
- a new solution is published at once; an existing one (same provider, same name) is updated and keeps
  its status (a solution its provider withdrew stays withdrawn); an empty 能力标签 cell means "suggest
  from the text" for a new solution and "keep the current tags" for an existing one.
Created and updated solutions are stamped (`changes.mark_solutions`) in the same transaction, so every
worker's search index picks them up; the caller then refreshes its own index.
"""

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from matchmaker.matching.search_index import read_taxonomy
from matchmaker.matching.tagging import suggest
from matchmaker.matching.taxonomy import SIZE_LABELS, SIZE_ORDER, Taxonomy, resolve_sizes
from matchmaker.services import audit, changes
from matchmaker.services.errors import ServiceError
from matchmaker.services.exports import Sheet
from matchmaker.services.labels import DEPLOYMENT_LABELS, PROVIDER_STATUS_LABELS
from matchmaker.services.tabular import Table, TabularError, read_tables
from matchmaker.services.whitelist import MAX_REASON, one_year_after
from models import (
    ChangeCounter,
    Provider,
    ProviderStatus,
    Solution,
    SolutionStatus,
    WhitelistEvent,
    begin_write,
    utcnow,
)
from models.schemas import ProviderProfile, SolutionWrite, error_messages
from models.validation import credit_code_check_char, credit_code_error

MAX_ROWS = 5000  # data rows per table
MAX_ERRORS = 2000  # errors reported; validation goes on counting past it
MAX_TAGS = 30  # as SolutionWrite allows
MAX_VALUE_SHOWN = 80  # characters of a bad value repeated in the report
PROVIDERS, SOLUTIONS = "providers", "solutions"
SHEET_NAMES = {PROVIDERS: "服务商", SOLUTIONS: "方案"}
IMPORT_STATUSES = (ProviderStatus.approved, ProviderStatus.draft, ProviderStatus.applied)
ANY_SIZE = ("不限", "全部", "所有规模")
EXAMPLE_CODE = "91440300MA5G00001" + credit_code_check_char("91440300MA5G00001")
_LIST_BREAK = re.compile(r"[\n\r,，;；|｜]+")
_LINE_BREAK = re.compile(r"[\n\r;；]+")
_SIZE_RUN = re.compile(r"^[大中小微]+型?(企业)?$")
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")


@dataclass(frozen=True)
class Column:
    header: str
    field: str
    required: bool = False
    example: str = ""
    note: str = ""  # how to fill it, shown on the import page


PROVIDER_COLUMNS = (
    Column("服务商名称", "name", True, "深圳市示例数字科技有限公司"),
    Column(
        "统一社会信用代码",
        "credit_code",
        True,
        EXAMPLE_CODE,
        "18位，按营业执照填写；用于识别服务商，重复导入时据此更新",
    ),
    Column("服务领域", "domains", True, "数据采集、工业软件与APP服务", "六大领域的名称，多个用顿号或逗号分隔"),
    Column("联系人", "contact_name", True, "李经理"),
    Column("联系电话", "phone", True, "13900139000", "手机号或固定电话（如 0755-12345678）"),
    Column("联系邮箱", "email", True, "contact@example.com"),
    Column("服务内容", "service_content", False, "为家具、五金企业提供设备联网与生产数据看板"),
    Column("技术能力", "capabilities", False, "PLC 数据采集、边缘网关、MES 实施"),
    Column("资质认证", "qualifications", False, "ISO 9001；高新技术企业"),
    Column("网站", "website", False, "https://www.example.com"),
    Column("在深圳经营年限", "years_in_shenzhen", False, "5", "整数"),
    Column("入库状态", "status", False, "已入库", "已入库、待审核 或 未申请；不填为“已入库”。只对新导入的服务商生效"),
    Column("入库有效期至", "approved_until", False, "", "如 2027-06-30；只用于“已入库”，不填为导入之日起一年"),
)
SOLUTION_COLUMNS = (
    Column("服务商统一社会信用代码", "credit_code", True, EXAMPLE_CODE, "须是服务商表中或平台上已有的服务商"),
    Column("方案名称", "title", True, "封边机设备联网与产量看板", "同一服务商的方案名称不重复；重复导入时据此更新"),
    Column("一句话简介", "summary", False, "给家具厂的开料机、封边机加装数采网关"),
    Column("方案介绍", "description", True, "PLC 与传感器数据采集，设备联网后实时看板展示每台机器的运行时长和产量。"),
    Column("所属领域", "domain", True, "数据采集", "一个领域，须是该服务商的服务领域之一"),
    Column("适配行业", "industries", True, "家具、通用", "行业名称、同义词或代码（如 C21），多个用顿号或逗号分隔"),
    Column("适配企业规模", "sizes", True, "小型、中型", "大型、中型、小型、微型，或“不限”"),
    Column("核心功能模块", "modules", True, "设备数据采集网关；产量看板；故障报警推送", "多个用分号或换行分隔"),
    Column("能力标签", "tags", False, "设备联网", "不填则按方案文字自动识别"),
    Column("部署方式", "deployment", False, "SaaS 云服务", "SaaS 云服务、私有化部署、混合部署 或 现场实施"),
    Column("价格区间", "price_range", False, "5-20万元"),
    Column("交付周期（周）", "delivery_weeks", False, "4", "整数"),
)
COLUMNS = {PROVIDERS: PROVIDER_COLUMNS, SOLUTIONS: SOLUTION_COLUMNS}
# Columns of the platform's own solution export that an import reads past (so that file imports as is).
IGNORED = {PROVIDERS: frozenset({"编号"}), SOLUTIONS: frozenset({"编号", "服务商名称", "状态", "更新时间"})}


@dataclass(frozen=True)
class RowError:
    """A problem (or, for notices, a remark) at one cell; row 0 and column "" mean the whole table."""

    table: str  # 服务商 | 方案 | 文件
    row: int
    column: str
    value: str
    message: str

    def as_list(self) -> list:
        return [self.table, self.row or "", self.column, self.value, self.message]


REPORT_HEADERS = ("表", "行号", "列", "内容", "问题")


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged, "skipped": self.skipped}


@dataclass
class ImportResult:
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0  # all errors found, also those past MAX_ERRORS
    notices: list[RowError] = field(default_factory=list)
    providers: Counts = field(default_factory=Counts)
    solutions: Counts = field(default_factory=Counts)
    written: bool = False

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def error(self, table: str, row: int, column: str, value: Any, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(table, row, column, _shown(value), message))


@dataclass(frozen=True)
class Upload:
    """One uploaded file and the table its form field is for (PROVIDERS or SOLUTIONS)."""

    kind: str
    filename: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def _shown(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_VALUE_SHOWN else text[: MAX_VALUE_SHOWN - 1] + "…"


# --- reading the uploaded files into the two tables -----------------------------------------------


def tables_of(uploads: Sequence[Upload], result: ImportResult) -> dict[str, Table]:
    """The providers and solutions tables in the uploads. A workbook's sheets named 服务商 / 方案 are
    those tables (so one workbook may hold both); otherwise its first sheet, or the CSV, is the table
    of the field it was uploaded in."""
    found: dict[str, tuple[Table, str]] = {}
    for upload in uploads:
        try:
            tables = read_tables(upload.filename, upload.content, MAX_ROWS)
        except TabularError as error:
            result.error("文件", 0, "", upload.filename, error.message)
            continue
        named = {kind: t for kind, name in SHEET_NAMES.items() for t in tables if t.name.strip() == name}
        if upload.kind not in named:
            unnamed = [t for t in tables if t.name.strip() not in SHEET_NAMES.values()]
            if unnamed:
                named[upload.kind] = unnamed[0]
        for kind, table in named.items():
            if kind in found:
                message = f"两个文件都含有{SHEET_NAMES[kind]}表（{found[kind][1]}、{upload.filename}），请只上传一份"
                result.error("文件", 0, "", upload.filename, message)
            else:
                found[kind] = (table, upload.filename)
    if not found and result.ok:
        result.error("文件", 0, "", "", "没有找到可导入的服务商表或方案表")
    return {kind: table for kind, (table, _) in found.items()}


def _header_key(text: str) -> str:
    """A header as typed, without required-marks: "服务商名称*" and "服务商名称（必填）" read "服务商名称"."""
    return re.sub(r"[*＊]|[（(]必填[）)]", "", text).strip()


def _columns_of(kind: str, table: Table, result: ImportResult) -> dict[int, Column] | None:
    """Cell index -> column, or None (with errors) when a required column is missing or one is unknown."""
    label = SHEET_NAMES[kind]
    by_header = {column.header: column for column in COLUMNS[kind]}
    mapping: dict[int, Column] = {}
    ok = True
    for index, header in enumerate(table.headers):
        key = _header_key(header)
        if not key or key in IGNORED[kind]:
            continue
        column = by_header.get(key)
        if column is None:
            result.error(label, 1, header, header, "无法识别的列名，请使用模板中的列名")
            ok = False
        elif column in mapping.values():
            result.error(label, 1, header, header, "列名重复")
            ok = False
        else:
            mapping[index] = column
    for column in COLUMNS[kind]:
        if column.required and column not in mapping.values():
            result.error(label, 1, column.header, "", "缺少必填列，请使用模板中的列名")
            ok = False
    return mapping if ok else None


def _cells(row: list[str], mapping: dict[int, Column]) -> dict[str, str]:
    return {column.field: (row[index] if index < len(row) else "").strip() for index, column in mapping.items()}


# --- names, synonyms and codes -> codes -----------------------------------------------------------


class Vocabulary:
    """Taxonomy lookups that accept what a person writes in a spreadsheet; None means "not known"."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.sizes = {code: code for code in SIZE_LABELS}
        for code, label in SIZE_LABELS.items():
            self.sizes.update({label: code, label[0]: code, f"{label}企业": code})
        self.deployments = {code: code for code in DEPLOYMENT_LABELS}
        self.deployments.update({label.lower(): code for code, label in DEPLOYMENT_LABELS.items()})
        self.deployments.update(
            {"saas": "saas", "云服务": "saas", "私有化": "private", "混合": "hybrid", "现场": "onsite"}
        )
        self.statuses = {s.value: s for s in IMPORT_STATUSES} | {PROVIDER_STATUS_LABELS[s]: s for s in IMPORT_STATUSES}

    def domain(self, text: str) -> str | None:
        return self.taxonomy.domain_code(text)

    def industry(self, text: str) -> str | None:
        """By code (C21, c21), name or synonym, or "C21 家具制造业" as the forms show it; never guessed
        from a longer text."""
        for candidate in (text, text.upper(), text.split()[0] if text.split() else ""):
            if self.taxonomy.industry(candidate) is not None:
                return candidate
        if self.taxonomy.industry_matcher.lookup(text):
            return self.taxonomy.resolve_industry(text)
        return None

    def tags(self, text: str) -> tuple[str, ...]:
        return self.taxonomy.tag_matcher.lookup(text)


def _items(text: str, known: Callable[[str], Any] | None = None) -> list[str]:
    """A list cell split on line breaks, commas, semicolons and bars; a part that `known` does not
    recognise whole is split again on 、 (industry names such as "计算机、通信和其他电子设备制造业"
    contain one, and the platform's exports join lists with it)."""
    out: list[str] = []
    for part in _LIST_BREAK.split(text):
        part = part.strip()
        if not part:
            continue
        if known is not None and known(part):
            out.append(part)
        else:
            out.extend(piece.strip() for piece in part.split("、") if piece.strip())
    return out


def _date(text: str) -> date | None:
    match = _DATE.match(text)
    if not match:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


class RowCheck:
    """The checks of one data row: each problem is reported at its column, once per column, so a row
    with an unknown domain does not also get "too short" for the domain that was dropped."""

    def __init__(self, result: ImportResult, kind: str, number: int, cells: dict[str, str]) -> None:
        self.result, self.label, self.number, self.cells = result, SHEET_NAMES[kind], number, cells
        self.headers = {column.field: column.header for column in COLUMNS[kind]}
        self.reported: set[str] = set()
        for column in COLUMNS[kind]:
            if column.required and not cells.get(column.field):
                self.error(column.field, "", "此项为必填项")

    @property
    def ok(self) -> bool:
        return not self.reported

    def error(self, name: str, value: Any, message: str) -> None:
        if name not in self.reported:
            self.reported.add(name)
            self.result.error(self.label, self.number, self.headers.get(name, ""), value, message)

    def codes(self, name: str, lookup: Callable[[str], Any], label: str) -> list[str]:
        """Codes for the list cell `name`; every unknown item is reported."""
        codes: list[str] = []
        for item in _items(self.cells.get(name, ""), lookup):
            code = lookup(item)
            if not code:
                self.result.error(self.label, self.number, self.headers[name], item, f"未知的{label}“{item}”")
                self.reported.add(name)
            for one in code if isinstance(code, tuple) else (code,) if code else ():
                if one not in codes:
                    codes.append(one)
        return codes

    def validated(self, schema: type[SQLModel], data: dict[str, Any]) -> Any:
        """`schema` validated, or None with each new problem reported at its column."""
        try:
            return schema.model_validate(data)
        except ValidationError as exc:
            for name, message in error_messages(exc).items():
                self.error(name, self.cells.get(name, ""), message)
            return None


# --- validation: the plan of what to write ----------------------------------------------------------


@dataclass
class ProviderRow:
    row: int
    profile: ProviderProfile
    status: ProviderStatus
    approved_until: date | None
    existing: Provider | None


@dataclass
class SolutionRow:
    row: int
    provider_code: str
    data: SolutionWrite
    existing: Solution | None


@dataclass
class Plan:
    providers: list[ProviderRow] = field(default_factory=list)
    solutions: list[SolutionRow] = field(default_factory=list)


def _provider_rows(
    session: Session, table: Table, vocabulary: Vocabulary, today: date, result: ImportResult
) -> list[ProviderRow]:
    mapping = _columns_of(PROVIDERS, table, result)
    if mapping is None:
        return []
    rows: list[ProviderRow] = []
    seen: dict[str, int] = {}
    for number, values in table.rows:
        cells = _cells(values, mapping)
        check = RowCheck(result, PROVIDERS, number, cells)
        domains = check.codes("domains", vocabulary.domain, "服务领域")
        status = vocabulary.statuses.get(cells.get("status") or ProviderStatus.approved.value)
        if status is None:
            check.error("status", cells["status"], "入库状态只能是 已入库、待审核 或 未申请")
        until_text = cells.get("approved_until", "")
        until = _date(until_text) if until_text else None
        if until_text and until is None:
            check.error("approved_until", until_text, "日期格式应为 年-月-日，例如 2027-06-30")
        elif until is not None and status is not None and status != ProviderStatus.approved:
            check.error("approved_until", until_text, "只有“已入库”的服务商可以填写入库有效期")
        elif until is not None and until <= today:
            check.error("approved_until", until_text, "入库有效期须晚于今天；已到期的服务商请走续期流程")
        data = {key: value for key, value in cells.items() if key in ProviderProfile.model_fields and value != ""}
        profile = check.validated(ProviderProfile, data | {"domains": domains})
        if profile is not None and profile.credit_code == EXAMPLE_CODE:
            check.error("credit_code", profile.credit_code, "这是模板中的示例行，请删除后再导入")
        elif profile is not None and profile.credit_code in seen:
            check.error(
                "credit_code", profile.credit_code, f"与第 {seen[profile.credit_code]} 行的统一社会信用代码重复"
            )
        if profile is None or not check.ok:
            continue
        seen[profile.credit_code] = number
        approved_until = (until or one_year_after(today)) if status == ProviderStatus.approved else None
        rows.append(ProviderRow(number, profile, status, approved_until, None))
    existing = _providers_by_code(session, [row.profile.credit_code for row in rows])
    for row in rows:
        row.existing = existing.get(row.profile.credit_code)
    return rows


def _providers_by_code(session: Session, codes: Iterable[str]) -> dict[str, Provider]:
    codes = sorted(set(codes))
    if not codes:
        return {}
    return {p.credit_code: p for p in session.exec(select(Provider).where(col(Provider.credit_code).in_(codes)))}


def _solution_cells(check: RowCheck, vocabulary: Vocabulary) -> tuple[str, dict[str, Any]]:
    """The provider's credit code and the SolutionWrite fields of one row, names turned into codes."""
    cells = check.cells
    code = cells.get("credit_code", "").upper()
    error = credit_code_error(code) if code else None
    if error:
        check.error("credit_code", code, error)
    elif code == EXAMPLE_CODE:
        check.error("credit_code", code, "这是模板中的示例行，请删除后再导入")
    domain = vocabulary.domain(cells["domain"]) if cells.get("domain") else ""
    if domain is None:
        check.error("domain", cells["domain"], f"未知的服务领域“{cells['domain']}”")
    deployment = (
        vocabulary.deployments.get(cells.get("deployment", "").lower(), None) if cells.get("deployment") else ""
    )
    if deployment is None:
        check.error("deployment", cells["deployment"], "部署方式只能是 SaaS 云服务、私有化部署、混合部署 或 现场实施")
    data = {key: value for key, value in cells.items() if key in SolutionWrite.model_fields and value != ""}
    return code, data | {
        "domain": domain or "",
        "deployment": deployment or "",
        "sizes": _sizes(check, vocabulary),
        "industries": check.codes("industries", vocabulary.industry, "行业"),
        "modules": [line.strip() for line in _LINE_BREAK.split(cells.get("modules", "")) if line.strip()],
        "tags": check.codes("tags", vocabulary.tags, "能力标签"),
    }


def _solution_rows(
    session: Session, table: Table, vocabulary: Vocabulary, providers: list[ProviderRow], result: ImportResult
) -> list[SolutionRow]:
    mapping = _columns_of(SOLUTIONS, table, result)
    if mapping is None:
        return []
    checked = []
    for number, values in table.rows:
        check = RowCheck(result, SOLUTIONS, number, _cells(values, mapping))
        code, data = _solution_cells(check, vocabulary)
        if check.ok:
            checked.append((check, code, data))
        else:  # the remaining columns are still checked, so the report lists every problem of the row
            check.validated(SolutionWrite, data)
    in_file = {row.profile.credit_code: row for row in providers}
    on_platform = _providers_by_code(session, [code for _, code, _ in checked])
    existing_solutions = _solutions_by_key(session, [p.id for p in on_platform.values()])
    rows: list[SolutionRow] = []
    seen: dict[tuple[str, str], int] = {}
    for check, code, data in checked:
        file_row = in_file.get(code)
        provider = on_platform.get(code)
        if file_row is None and provider is None:
            check.error("credit_code", code, "找不到该统一社会信用代码的服务商：请在服务商表中加入该服务商，或核对代码")
            continue
        existing = existing_solutions.get((provider.id, data["title"])) if provider is not None else None
        if existing is _AMBIGUOUS:
            check.error(
                "title", data["title"], "该服务商在平台上已有多个同名方案，无法确定更新哪一个，请先在平台上改名"
            )
            continue
        if not data["tags"] and existing is not None:  # an empty cell keeps the solution's tags
            data["tags"] = list(existing.tags)
        elif not data["tags"]:
            text = "\n".join([data["title"], data.get("summary", ""), data["description"], *data["modules"]])
            data["tags"] = list(suggest(text, vocabulary.taxonomy).tags)[:MAX_TAGS]
        solution = check.validated(SolutionWrite, data)
        if solution is None:
            continue
        own_record = file_row is not None and not _has_account(provider)
        domains = file_row.profile.domains if own_record else provider.domains
        if solution.domain not in domains:
            source = f"服务商表第 {file_row.row} 行" if own_record else "平台上已登记"
            names = "、".join(vocabulary.taxonomy.domain_name(d) for d in domains) or "无"
            message = f"所属领域须是该服务商的服务领域之一（{source}的服务领域：{names}）"
            check.error("domain", vocabulary.taxonomy.domain_name(solution.domain), message)
            continue
        key = (code, solution.title)
        if key in seen:
            check.error("title", solution.title, f"与第 {seen[key]} 行是同一服务商的同名方案")
            continue
        seen[key] = check.number
        rows.append(SolutionRow(check.number, code, solution, existing))
    return rows


_AMBIGUOUS = Solution(provider_id=0, title="", domain="")  # marks a (provider, title) held by several rows


def _solutions_by_key(session: Session, provider_ids: list[int]) -> dict[tuple[int, str], Solution]:
    found: dict[tuple[int, str], Solution] = {}
    if provider_ids:
        for solution in session.exec(select(Solution).where(col(Solution.provider_id).in_(provider_ids))):
            key = (solution.provider_id, solution.title.strip())
            found[key] = _AMBIGUOUS if key in found else solution
    return found


def _sizes(check: RowCheck, vocabulary: Vocabulary) -> list[str]:
    """Size codes from 大型 / 中型 / 小型 / 微型 (or 大 / 中, codes, "中小型"), or all four for 不限."""
    items = _items(check.cells.get("sizes", ""))
    if any(item in ANY_SIZE for item in items):
        return list(SIZE_ORDER)
    codes: list[str] = []
    for item in items:
        found = vocabulary.sizes.get(item.lower())
        named = (found,) if found else resolve_sizes(item) if _SIZE_RUN.match(item) else ()
        if not named:
            check.error("sizes", item, "企业规模只能是 大型、中型、小型、微型 或 不限")
        codes.extend(code for code in named if code not in codes)
    return codes


def _has_account(provider: Provider | None) -> bool:
    return provider is not None and provider.user_id is not None


# --- writing ------------------------------------------------------------------------------------------


def _differs(row: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The fields of `values` whose value differs from `row`'s (the changed fields, with new values)."""
    return {name: value for name, value in values.items() if getattr(row, name) != value}


def _write_providers(
    session: Session, plan: Plan, actor_id: int, reason: str, result: ImportResult, ids: dict[str, list[int]]
) -> dict[str, Provider]:
    """Create or update the providers; the providers of the file by credit code."""
    label = SHEET_NAMES[PROVIDERS]
    by_code: dict[str, Provider] = {}
    for row in plan.providers:
        provider = row.existing
        if _has_account(provider):
            result.providers.skipped += 1
            result.notices.append(
                RowError(
                    label, row.row, "", provider.name, "该服务商已有自己的账号并自行维护资料和方案，本行及其方案未导入"
                )
            )
            by_code[row.profile.credit_code] = provider
            continue
        values = row.profile.model_dump()
        if provider is None:
            provider = Provider.model_validate(values | {"status": row.status, "approved_until": row.approved_until})
            session.add(provider)
            session.flush()
            _record_creation(session, provider, actor_id, reason)
            result.providers.created += 1
            ids["providers_created"].append(provider.id)
        else:
            changed = _differs(provider, values)
            if changed:
                provider.sqlmodel_update(changed)
                provider.updated_at = utcnow()
                session.add(provider)
                result.providers.updated += 1
                ids["providers_updated"].append(provider.id)
            else:
                result.providers.unchanged += 1
            if row.status != provider.status:
                result.notices.append(
                    RowError(
                        label,
                        row.row,
                        "入库状态",
                        PROVIDER_STATUS_LABELS[row.status],
                        f"服务商已在平台上，当前状态为“{PROVIDER_STATUS_LABELS[provider.status]}”，导入不改变入库状态",
                    )
                )
        by_code[row.profile.credit_code] = provider
    return by_code


def _record_creation(session: Session, provider: Provider, actor_id: int, reason: str) -> None:
    """The whitelist history and the audit log of an imported provider: who put it on record, when, why."""
    session.add(
        WhitelistEvent(
            provider_id=provider.id,
            action="import",
            from_status=ProviderStatus.draft,
            to_status=provider.status,
            actor_id=actor_id,
            reason=reason,
        )
    )
    detail = {"to_status": provider.status.value}
    if provider.approved_until is not None:
        detail["approved_until"] = provider.approved_until.isoformat()
    audit.record(session, actor_id, "whitelist.import", "provider", provider.id, reason, **detail)


def _write_solutions(
    session: Session, plan: Plan, providers: dict[str, Provider], result: ImportResult, ids: dict[str, list[int]]
) -> None:
    label = SHEET_NAMES[SOLUTIONS]
    for row in plan.solutions:
        provider = providers.get(row.provider_code)
        if provider is None:  # a provider of the platform that the file does not list
            provider = _providers_by_code(session, [row.provider_code])[row.provider_code]
            providers[row.provider_code] = provider
        if _has_account(provider):
            result.solutions.skipped += 1
            result.notices.append(
                RowError(label, row.row, "", row.data.title, "该服务商已有自己的账号并自行维护方案，本行未导入")
            )
            continue
        values = row.data.model_dump()
        if row.existing is None:
            solution = Solution.model_validate(
                values | {"provider_id": provider.id, "status": SolutionStatus.published}
            )
            session.add(solution)
            session.flush()
            result.solutions.created += 1
            ids["solutions_created"].append(solution.id)
            continue
        changed = _differs(row.existing, values)
        if changed:
            row.existing.sqlmodel_update(changed)
            row.existing.updated_at = utcnow()
            session.add(row.existing)
            result.solutions.updated += 1
            ids["solutions_updated"].append(row.existing.id)
        else:
            result.solutions.unchanged += 1


def clean_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("请填写导入理由（将记入审计日志和服务商的入库记录）", field="reason")
    if len(reason) > MAX_REASON:
        raise ServiceError(f"理由不能超过{MAX_REASON}字", field="reason")
    return reason


def run(
    session: Session,
    uploads: Sequence[Upload],
    actor_id: int,
    reason: str,
    today: date,
    dry_run: bool = False,
) -> ImportResult:
    """Validate the uploads and, when every row is valid and `dry_run` is off, write them in one
    transaction with the audit entries and change stamps; commit. Nothing is written otherwise.

    The change counter row is locked first (PostgreSQL), so two imports, or an import and a provider's
    edit, cannot interleave between reading the current rows and writing the new ones."""
    reason = clean_reason(reason)
    result = ImportResult()
    tables = tables_of(uploads, result)
    begin_write(session)  # SQLite: the same serialisation, one writer from the first read on
    session.exec(select(ChangeCounter).where(ChangeCounter.id == 1).with_for_update()).one()
    taxonomy = read_taxonomy(session)
    vocabulary = Vocabulary(taxonomy)
    plan = Plan()
    if PROVIDERS in tables:
        plan.providers = _provider_rows(session, tables[PROVIDERS], vocabulary, today, result)
    if SOLUTIONS in tables:
        plan.solutions = _solution_rows(session, tables[SOLUTIONS], vocabulary, plan.providers, result)
    if not result.ok:
        session.rollback()
        return result
    ids: dict[str, list[int]] = {
        key: [] for key in ("providers_created", "providers_updated", "solutions_created", "solutions_updated")
    }
    try:
        providers = _write_providers(session, plan, actor_id, reason, result, ids)
        _write_solutions(session, plan, providers, result, ids)
        changes.mark_solutions(session, ids["solutions_created"] + ids["solutions_updated"])
        if dry_run:
            session.rollback()
            return result
        audit.record(
            session,
            actor_id,
            "import.catalogue",
            "import",
            None,
            reason,
            files=[{"name": u.filename, "table": u.kind, "sha256": u.sha256, "bytes": len(u.content)} for u in uploads],
            providers=result.providers.as_dict(),
            solutions=result.solutions.as_dict(),
            **ids,
        )
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ServiceError("导入时数据被他人同时修改（如同一服务商刚刚注册），未写入任何数据，请重新导入") from None
    result.written = True
    return result


# --- templates and the error report -----------------------------------------------------------------


def template_sheet(kind: str) -> Sheet:
    """The import template of one table: required columns marked *, and one example row."""
    columns = COLUMNS[kind]
    headers = [column.header + ("*" if column.required else "") for column in columns]
    widths = [max(12, min(40, len(column.example) * 2)) for column in columns]
    return Sheet(SHEET_NAMES[kind], headers, widths, iter([[column.example for column in columns]]))


def report_sheet(errors: Sequence[RowError], name: str = "导入错误报告") -> Sheet:
    return Sheet(name, REPORT_HEADERS, (8, 8, 22, 30, 70), iter([error.as_list() for error in errors]))
