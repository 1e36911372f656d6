"""Exports of the needs list and the provider directory: contents read back from the XLSX and CSV files,
formula neutralisation, the audit entry of every export, and who may export."""

import csv
import io
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from matchmaker.matching.explanation import split_points
from matchmaker.services import exports
from models import (
    AuditLog,
    Docking,
    DockingStatus,
    Enterprise,
    MatchResult,
    Need,
    NeedStatus,
    Provider,
    ProviderStatus,
    Solution,
    SolutionStatus,
    User,
)
from tests.conftest import credit_code, post

DASHBOARD = "/admin/dashboard"
EVIL = ['=HYPERLINK("http://evil.example","点我")', "+1+2", "-2+3", "@SUM(A1:A9)", "\tTAB", "\rCR", "＝1+1"]
DESCRIPTION = "开料机和封边机都是单机，想做设备联网；在手机上看到每台机器的开机率和产量。老板要每天的报表。"


def provider(db: Session, serial: int, name: str, status: ProviderStatus, until: date | None = None) -> Provider:
    row = Provider(
        name=name,
        credit_code=credit_code(serial),
        contact_name="李经理",
        phone="13900139000",
        email=f"p{serial}@example.com",
        domains=["data_collection", "software"],
        status=status,
        approved_until=until,
    )
    db.add(row)
    db.flush()
    return row


@pytest.fixture
def data(db: Session) -> dict:
    enterprise = Enterprise(
        name=EVIL[1] + "家具厂",
        credit_code=credit_code(31),
        industry="furniture",
        employees=120,
        revenue=3500,
        size_class="small",
        street="坪山街道",
        contact_name="王",
        phone="13800138000",
        email="e1@example.com",
    )
    db.add(enterprise)
    db.flush()
    approved = provider(db, 801, "数采科技", ProviderStatus.approved, date(2027, 5, 1))
    suspended = provider(db, 802, EVIL[0], ProviderStatus.suspended, date(2027, 1, 1))
    solutions = [
        Solution(provider_id=approved.id, title="数采", description="x" * 10, domain="data_collection"),
        Solution(provider_id=approved.id, title="MES", description="x" * 10, domain="software"),
        Solution(provider_id=approved.id, title="草稿", description="x" * 10, domain="software"),
        Solution(provider_id=suspended.id, title="暂停者的方案", description="x" * 10, domain="software"),
    ]
    for solution, status in zip(solutions, ["published", "published", "draft", "published"], strict=True):
        solution.status = SolutionStatus(status)
        db.add(solution)
    db.flush()
    needs = [
        Need(
            enterprise_id=enterprise.id,
            title=EVIL[2] + "设备联网",
            description=DESCRIPTION,
            industry="furniture",
            size_class="small",
            domains=["data_collection", "software"],
            created_at=datetime(2026, 3, 2, tzinfo=UTC),
        ),
        Need(
            enterprise_id=enterprise.id,
            title="等保测评",
            description=EVIL[3] + "：旧系统导出的公式",
            industry="general",
            size_class="small",
            domains=[],
            status=NeedStatus.closed,
            created_at=datetime(2026, 7, 2, tzinfo=UTC),
        ),
    ]
    db.add_all(needs)
    db.flush()
    db.add_all(
        [
            MatchResult(need_id=needs[0].id, solution_id=solutions[0].id, rank=2, score=0.52),
            MatchResult(need_id=needs[0].id, solution_id=solutions[3].id, rank=1, score=0.9),  # suspended: not best
            Docking(
                need_id=needs[0].id,
                solution_id=solutions[0].id,
                enterprise_id=enterprise.id,
                provider_id=approved.id,
                status=DockingStatus.completed,
                satisfaction=5,
            ),
            Docking(
                need_id=needs[0].id,
                solution_id=solutions[1].id,
                enterprise_id=enterprise.id,
                provider_id=approved.id,
                status=DockingStatus.requested,
            ),
        ]
    )
    db.commit()
    return {"needs": needs, "approved": approved, "suspended": suspended}


def export(client, kind: str, **form) -> bytes:
    response = post(client, f"/admin/exports/{kind}", form, page=DASHBOARD)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert "attachment" in response.headers["Content-Disposition"]
    return response.data


def xlsx_rows(content: bytes) -> list[list]:
    sheet = load_workbook(io.BytesIO(content)).active
    return [[cell if cell is not None else "" for cell in row] for row in sheet.iter_rows(values_only=True)]


def csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # the BOM that makes Excel read UTF-8
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_needs_list_as_xlsx(admin_client, data):
    rows = xlsx_rows(export(admin_client, "needs", format="xlsx", status="", period="all"))
    header, first, second = rows
    assert header[:9] == ["编号", "企业", "行业", "企业规模", "需求标题", "服务领域", "需求要点", "状态", "对接数"]
    assert header[9] == "最佳匹配分"
    need = data["needs"][0]
    assert first[:6] == [need.id, "'+1+2家具厂", "家具", "小型", "'-2+3设备联网", "数据采集、工业软件与APP服务"]
    assert first[6] == "\n".join(split_points(DESCRIPTION)) and first[6].count("\n") >= 2
    assert first[7:10] == ["对接中", 2, 0.52]  # the suspended provider's 0.9 is not a live match
    assert first[10] == "2026-03-02 08:00"  # Beijing time
    assert second[6] == "'" + exports.need_points(EVIL[3] + "：旧系统导出的公式") and second[6].startswith("'@SUM")
    assert second[7] == "已关闭" and second[8:10] == [0, ""]


def test_needs_list_as_csv_with_filters(admin_client, data):
    rows = csv_rows(
        export(admin_client, "needs", format="csv", status="open", period="period", start="2026-01", end="2026-06")
    )
    assert len(rows) == 2 and rows[1][0] == str(data["needs"][0].id)
    assert rows[1][4] == "'-2+3设备联网" and rows[1][9] == "0.52"
    # the closed need and the need posted in July are both left out, by status and by period
    assert (
        len(
            csv_rows(
                export(admin_client, "needs", format="csv", status="", period="period", start="2026-07", end="2026-07")
            )
        )
        == 2
    )


def test_provider_directory(admin_client, data):
    rows = xlsx_rows(export(admin_client, "providers", format="xlsx", status=""))
    assert rows[0] == ["服务商", "统一社会信用代码", "服务领域", "状态", "入库有效期至", "已发布方案数", "完成对接数"]
    approved, suspended = data["approved"], data["suspended"]
    assert rows[1] == [approved.name, approved.credit_code, "数据采集、工业软件与APP服务", "已入库", "2027-05-01", 2, 1]
    assert rows[2][0] == "'" + suspended.name and rows[2][3:] == ["已暂停", "2027-01-01", 1, 0]
    only_suspended = csv_rows(export(admin_client, "providers", format="csv", status="suspended"))
    assert [row[0] for row in only_suspended[1:]] == ["'" + suspended.name]


def test_every_formula_start_is_neutralised():
    for value in EVIL:
        assert exports.safe_cell(value) == "'" + value
    for value in ("设备联网", "C21", "", "1+1", "e=mc2"):
        assert exports.safe_cell(value) == value
    assert exports.safe_cell(-5) == -5 and exports.safe_cell(0.5) == 0.5 and exports.safe_cell(None) is None
    sheet = exports.Sheet("t", ["a"], [10], iter([[value] for value in EVIL]))
    workbook = load_workbook(io.BytesIO(exports.to_xlsx(sheet)))
    cells = [row[0] for row in workbook.active.iter_rows(min_row=2, values_only=True)]
    assert cells == ["'" + value.replace("\r", "\n") for value in EVIL]  # XML reads a lone CR as LF
    assert all(cell.data_type == "s" for cell in workbook.active["A"][1:])  # text, never a formula


def test_every_export_is_audited(admin_client, db, data):
    export(admin_client, "needs", format="csv", status="open", period="all")
    export(admin_client, "providers", format="xlsx", status="")
    admin = db.exec(select(User).where(User.email == "admin@example.com")).one()
    entries = db.exec(select(AuditLog).where(AuditLog.target_type == "export").order_by(AuditLog.id)).all()
    assert [(e.action, e.actor_id, e.detail["format"], e.detail["rows"]) for e in entries] == [
        ("export.needs", admin.id, "csv", 1),
        ("export.providers", admin.id, "xlsx", 2),
    ]
    assert entries[0].detail["filters"] == {"status": "open", "period": "all"}
    assert entries[0].created_at is not None


def test_bad_export_requests_write_nothing(admin_client, db, data):
    for kind, form in [
        ("needs", {"format": "pdf", "status": "", "period": "all"}),
        ("needs", {"format": "csv", "status": "lost", "period": "all"}),
        ("needs", {"format": "csv", "status": "", "period": "period", "start": "2026-13", "end": "2026-01"}),
        ("providers", {"format": "csv", "status": "nobody"}),
    ]:
        assert post(admin_client, f"/admin/exports/{kind}", form, page=DASHBOARD).status_code == 400
    assert post(admin_client, "/admin/exports/users", {"format": "csv"}, page=DASHBOARD).status_code == 404
    assert admin_client.post("/admin/exports/needs", data={"format": "csv"}).status_code == 400  # no CSRF token
    assert db.exec(select(AuditLog).where(AuditLog.target_type == "export")).all() == []


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2026-01", "", "请按“年-月”填写起止月份"),
        ("", "2026-03", "请按“年-月”填写起止月份"),
        ("2026-05", "2026-02", "起始月份不能晚于结束月份"),
    ],
)
def test_an_export_period_without_both_months_in_order_is_refused_in_chinese(
    admin_client, db, data, start, end, message
):
    form = {"format": "xlsx", "status": "", "period": "period", "start": start, "end": end}
    response = post(admin_client, "/admin/exports/needs", form, page=DASHBOARD)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True) and "导出区间无效" in response.get_data(as_text=True)
    assert db.exec(select(AuditLog).where(AuditLog.target_type == "export")).all() == []


@pytest.mark.parametrize("who", ["enterprise_client", "provider_client"])
def test_only_admins_export(request, who, data):
    client = request.getfixturevalue(who)
    page = "/enterprise/" if who == "enterprise_client" else "/provider/"
    response = post(client, "/admin/exports/needs", {"format": "csv", "status": "", "period": "all"}, page=page)
    assert response.status_code == 403
