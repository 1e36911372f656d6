"""Bulk import of providers and solutions, and the solution and docking exports.

Files are built here the way an admin's spreadsheet program would write them (openpyxl for XLSX,
UTF-8 with BOM or GBK for CSV), uploaded through the web form, and checked against the database.
"""

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func
from sqlmodel import select

from matchmaker.plumbing.config import build_config
from matchmaker.plumbing.db import engine
from matchmaker.plumbing.extensions import search_index
from matchmaker.services import matching, whitelist
from matchmaker.services.imports import EXAMPLE_CODE, PROVIDER_COLUMNS, SOLUTION_COLUMNS
from models import (
    AuditLog,
    Docking,
    DockingStatus,
    Enterprise,
    Need,
    Provider,
    ProviderStatus,
    Solution,
    SolutionStatus,
    WhitelistEvent,
)
from tests.conftest import PASSWORD, credit_code, csrf_token, enterprise_form, login, post, provider_form, register

REASON = "录入区工信局已认定的数字化转型服务商名录"
PROVIDER_HEADERS = [c.header + ("*" if c.required else "") for c in PROVIDER_COLUMNS]
SOLUTION_HEADERS = [c.header + ("*" if c.required else "") for c in SOLUTION_COLUMNS]


def provider_row(serial: int, **cells: str) -> list[str]:
    values = {
        "服务商名称": f"坪山导入数字科技{serial}",
        "统一社会信用代码": credit_code(serial),
        "服务领域": "数据采集、工业软件与APP服务",
        "联系人": "张工",
        "联系电话": "0755-12345678",
        "联系邮箱": f"import{serial}@example.com",
        "服务内容": "设备联网与生产看板",
        "在深圳经营年限": "6",
    }
    values.update(cells)
    return [values.get(c.header, "") for c in PROVIDER_COLUMNS]


def solution_row(serial: int, title: str, **cells: str) -> list[str]:
    values = {
        "服务商统一社会信用代码": credit_code(serial),
        "方案名称": title,
        "一句话简介": "给家具厂的开料机、封边机加装数采网关",
        "方案介绍": "PLC 与传感器数据采集，设备联网后实时看板展示每台机器的运行时长、产量和故障。",
        "所属领域": "数据采集",
        "适配行业": "家具、通用",
        "适配企业规模": "小型、中型",
        "核心功能模块": "设备数据采集网关；产量看板；故障报警推送",
        "能力标签": "数采",
        "部署方式": "SaaS 云服务",
        "价格区间": "5-20万元",
        "交付周期（周）": "4",
    }
    values.update(cells)
    return [values.get(c.header, "") for c in SOLUTION_COLUMNS]


PROVIDERS = [provider_row(701), provider_row(702, 服务领域="工业软件与APP服务", 入库状态="待审核")]
SOLUTIONS = [
    solution_row(701, "封边机设备联网与产量看板"),
    solution_row(
        701,
        "汽配厂 MES 生产执行系统",
        所属领域="工业软件与APP服务",
        适配行业="汽配、C21 家具制造业",
        适配企业规模="不限",
        能力标签="",
        一句话简介="面向汽车零部件工厂的制造执行系统",
        方案介绍="面向汽车零部件工厂的制造执行系统：工单排产、质量追溯、批次管理。",
        部署方式="私有化部署",
    ),
    solution_row(702, "家具厂 MES", 所属领域="software", 适配行业="furniture", 能力标签="MES"),
]


def workbook(sheets: dict[str, list[list]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def catalogue_xlsx(providers=PROVIDERS, solutions=SOLUTIONS) -> bytes:
    return workbook({"服务商": [PROVIDER_HEADERS, *providers], "方案": [SOLUTION_HEADERS, *solutions]})


def csv_file(headers: list[str], rows: list[list], encoding: str = "utf-8-sig") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([headers, *rows])
    return buffer.getvalue().encode(encoding)


def upload(client, providers=None, solutions=None, reason=REASON, check_only=False):
    """POST the import form like a browser: files as (name, bytes)."""
    data = {"reason": reason, "csrf_token": csrf_token(client, "/admin/import")}
    data["check_only" if check_only else "submit"] = "1"
    for field, file in (("providers", providers), ("solutions", solutions)):
        if file is not None:
            data[field] = (io.BytesIO(file[1]), file[0])
    return client.post("/admin/import", data=data, content_type="multipart/form-data")


def count(db, table, *where) -> int:
    return db.exec(select(func.count()).select_from(table).where(*where)).one()


def beijing_today() -> date:
    return (datetime.now(UTC) + timedelta(hours=8)).date()


def admin_id(db) -> int:
    from models import User

    return db.exec(select(User.id).where(User.email == "admin@example.com")).one()


# --- a valid file ----------------------------------------------------------------------------------


def test_a_valid_workbook_imports_providers_and_solutions_that_match_at_once(app, admin_client, db):
    need = matching.need_profile(
        Need(
            title="设备联网",
            description="家具厂想做设备联网，看每台封边机的产量",
            industry="furniture",
            size_class="small",
            enterprise_id=0,
        )
    )
    with app.app_context():
        assert search_index().match(engine(), need) == []  # the index exists in this process, empty

    response = upload(admin_client, providers=("名录.xlsx", catalogue_xlsx()))
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert "导入完成" in html and "已写入，并已更新匹配索引" in html

    providers = {p.credit_code: p for p in db.exec(select(Provider))}
    first, second = providers[credit_code(701)], providers[credit_code(702)]
    assert first.status == ProviderStatus.approved and first.user_id is None
    assert first.approved_until == whitelist.one_year_after(beijing_today())
    assert first.domains == ["data_collection", "software"] and first.years_in_shenzhen == 6
    assert second.status == ProviderStatus.applied and second.approved_until is None

    solutions = {s.title: s for s in db.exec(select(Solution))}
    assert len(solutions) == 3
    assert all(s.status == SolutionStatus.published and s.change_seq > 0 for s in solutions.values())
    iot, mes = solutions["封边机设备联网与产量看板"], solutions["汽配厂 MES 生产执行系统"]
    assert iot.tags == ["设备联网"] and iot.industries == ["furniture", "general"] and iot.sizes == ["small", "medium"]
    assert iot.modules == ["设备数据采集网关", "产量看板", "故障报警推送"] and iot.deployment == "saas"
    assert mes.industries == ["auto_parts", "C21"] and mes.sizes == ["micro", "small", "medium", "large"]
    assert mes.tags == ["MES"]  # suggested from the text: the cell was empty
    assert mes.domain == "software" and mes.deployment == "private"

    with app.app_context():
        ranked = [m.solution_id for m in search_index().match(engine(), need)]
    assert ranked[0] == iot.id  # the approved provider's solution, found through the refreshed index
    assert solutions["家具厂 MES"].id not in ranked  # its provider is only 待审核: not matchable


def test_the_same_file_imported_again_changes_nothing(admin_client, db):
    content = catalogue_xlsx()
    assert upload(admin_client, providers=("名录.xlsx", content)).status_code == 200
    before = {s.id: (s.updated_at, s.change_seq) for s in db.exec(select(Solution))}
    providers_before = {p.id: p.updated_at for p in db.exec(select(Provider))}
    events = count(db, WhitelistEvent)

    html = upload(admin_client, providers=("名录.xlsx", content)).get_data(as_text=True)
    assert '<tr><th scope="row">服务商</th><td>0</td><td>0</td><td>2</td><td>0</td></tr>' in html
    assert '<tr><th scope="row">方案</th><td>0</td><td>0</td><td>3</td><td>0</td></tr>' in html
    db.expire_all()
    assert {s.id: (s.updated_at, s.change_seq) for s in db.exec(select(Solution))} == before
    assert {p.id: p.updated_at for p in db.exec(select(Provider))} == providers_before
    assert count(db, WhitelistEvent) == events
    last = db.exec(select(AuditLog).where(AuditLog.action == "import.catalogue").order_by(AuditLog.id.desc())).first()
    assert last.detail["providers"] == {"created": 0, "updated": 0, "unchanged": 2, "skipped": 0}


def test_a_changed_row_updates_only_that_row(admin_client, db):
    upload(admin_client, providers=("名录.xlsx", catalogue_xlsx()))
    changed = [SOLUTIONS[0][:2] + ["新的一句话简介"] + SOLUTIONS[0][3:], *SOLUTIONS[1:]]
    html = upload(admin_client, providers=("名录.xlsx", catalogue_xlsx(solutions=changed))).get_data(as_text=True)
    assert '<tr><th scope="row">方案</th><td>0</td><td>1</td><td>2</td><td>0</td></tr>' in html
    db.expire_all()
    assert (
        db.exec(select(Solution).where(Solution.title == "封边机设备联网与产量看板")).one().summary == "新的一句话简介"
    )


def test_csv_files_import_like_the_workbook_also_in_gbk(admin_client, db):
    response = upload(
        admin_client,
        providers=("providers.csv", csv_file(PROVIDER_HEADERS, PROVIDERS, "gb18030")),
        solutions=("solutions.csv", csv_file(SOLUTION_HEADERS, SOLUTIONS)),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert count(db, Provider) == 2 and count(db, Solution, Solution.status == SolutionStatus.published) == 3
    assert db.exec(select(Provider).where(Provider.credit_code == credit_code(701))).one().name == "坪山导入数字科技701"
    again = upload(admin_client, solutions=("solutions.csv", csv_file(SOLUTION_HEADERS, SOLUTIONS)))
    assert '<tr><th scope="row">方案</th><td>0</td><td>0</td><td>3</td><td>0</td></tr>' in again.get_data(as_text=True)


def test_solutions_may_reference_providers_already_on_the_platform(admin_client, db):
    upload(admin_client, providers=("p.csv", csv_file(PROVIDER_HEADERS, PROVIDERS)))
    response = upload(admin_client, solutions=("s.csv", csv_file(SOLUTION_HEADERS, SOLUTIONS[:1])))
    assert response.status_code == 200
    assert count(db, Solution) == 1


def test_check_only_reports_what_would_happen_and_writes_nothing(admin_client, db):
    html = upload(admin_client, providers=("名录.xlsx", catalogue_xlsx()), check_only=True).get_data(as_text=True)
    assert "校验通过（未写入）" in html
    assert '<tr><th scope="row">方案</th><td>3</td><td>0</td><td>0</td><td>0</td></tr>' in html
    assert count(db, Provider) == 0 and count(db, Solution) == 0 and count(db, AuditLog) == 0


# --- errors: nothing written, every problem reported -------------------------------------------------


def test_one_bad_row_writes_nothing_and_is_reported_with_row_and_column(admin_client, db):
    bad_code = credit_code(703)[:-1] + ("0" if credit_code(703)[-1] != "0" else "1")
    providers = [*PROVIDERS, provider_row(703, 统一社会信用代码=bad_code)]
    solutions = [*SOLUTIONS, solution_row(701, "钟表厂数采", 适配行业="钟表行业", 适配企业规模="巨型")]
    response = upload(admin_client, providers=("名录.xlsx", catalogue_xlsx(providers, solutions)))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "发现 3 处错误，未写入任何数据" in html
    assert "<td>服务商</td><td>4</td><td>统一社会信用代码</td>" in html and "校验位不正确" in html
    assert "<td>方案</td><td>5</td><td>适配行业</td><td>钟表行业</td><td>未知的行业“钟表行业”</td>" in html
    assert "<td>方案</td><td>5</td><td>适配企业规模</td><td>巨型</td>" in html
    assert count(db, Provider) == 0 and count(db, Solution) == 0
    assert count(db, AuditLog) == 0 and count(db, WhitelistEvent) == 0


def test_the_error_report_downloads_as_xlsx_and_csv(admin_client):
    providers = [provider_row(701, 联系电话="12345", 服务领域="区块链")]
    html = upload(admin_client, providers=("p.csv", csv_file(PROVIDER_HEADERS, providers))).get_data(as_text=True)
    token = html.split('name="report" value="')[1].split('"')[0]
    for fmt in ("xlsx", "csv"):
        response = post(admin_client, "/admin/import/report", {"report": token, "format": fmt}, page="/admin/import")
        assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
        if fmt == "xlsx":
            rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
        else:
            assert response.data.startswith(b"\xef\xbb\xbf")
            rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
        assert list(rows[0]) == ["表", "行号", "列", "内容", "问题"]
        found = {(str(r[1]), r[2]) for r in rows[1:]}
        assert found == {("2", "联系电话"), ("2", "服务领域")}
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    response = post(admin_client, "/admin/import/report", {"report": tampered}, page="/admin/import")
    assert response.status_code == 400


def test_a_long_error_report_pages(admin_client):
    providers = [provider_row(800 + i, 联系邮箱="不是邮箱") for i in range(60)]
    html = upload(admin_client, providers=("p.csv", csv_file(PROVIDER_HEADERS, providers))).get_data(as_text=True)
    assert "发现 60 处错误" in html and "第 1 / 2 页" in html
    token = html.split('name="report" value="')[1].split('"')[0]
    page = post(admin_client, "/admin/import/report", {"report": token, "page": "2"}, page="/admin/import")
    text = page.get_data(as_text=True)
    assert "第 2 / 2 页" in text and "<td>服务商</td><td>61</td><td>联系邮箱</td>" in text
    assert "<td>服务商</td><td>2</td>" not in text


@pytest.mark.parametrize(
    ("rows", "column", "message"),
    [
        ([provider_row(701), provider_row(701)], "统一社会信用代码", "与第 2 行的统一社会信用代码重复"),
        ([provider_row(701, 服务商名称="")], "服务商名称", "此项为必填项"),
        ([provider_row(701, 入库状态="已暂停")], "入库状态", "入库状态只能是"),
        ([provider_row(701, 入库有效期至="2020-01-01")], "入库有效期至", "须晚于今天"),
        ([provider_row(701, 入库状态="待审核", 入库有效期至="2099-01-01")], "入库有效期至", "只有“已入库”"),
        ([provider_row(701, 网站="www.example.com")], "网站", "http://"),
        ([provider_row(701, 在深圳经营年限="五年")], "在深圳经营年限", "请输入整数"),
    ],
)
def test_provider_rows_are_checked(admin_client, db, rows, column, message):
    html = upload(admin_client, providers=("p.csv", csv_file(PROVIDER_HEADERS, rows))).get_data(as_text=True)
    assert f"<td>{column}</td>" in html and message in html
    assert count(db, Provider) == 0


@pytest.mark.parametrize(
    ("row", "column", "message"),
    [
        (solution_row(701, "数采", 所属领域="工业互联网安全服务"), "所属领域", "须是该服务商的服务领域之一"),
        (solution_row(799, "数采"), "服务商统一社会信用代码", "找不到该统一社会信用代码的服务商"),
        (solution_row(701, "数采", 能力标签="区块链"), "能力标签", "未知的能力标签“区块链”"),
        (solution_row(701, "数采", 部署方式="混合云"), "部署方式", "部署方式只能是"),
        (solution_row(701, "数采", 方案介绍="太短"), "方案介绍", "至少需要10个字符"),
        (solution_row(701, "数采", 核心功能模块=""), "核心功能模块", "此项为必填项"),
    ],
)
def test_solution_rows_are_checked(admin_client, db, row, column, message):
    response = upload(admin_client, providers=("名录.xlsx", catalogue_xlsx(solutions=[row])))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f"<td>方案</td><td>2</td><td>{column}</td>" in html and message in html
    assert count(db, Provider) == 0 and count(db, Solution) == 0


def test_headers_must_be_the_templates(admin_client, db):
    headers = [h if h != "联系邮箱*" else "邮箱地址" for h in PROVIDER_HEADERS]
    html = upload(admin_client, providers=("p.csv", csv_file(headers, PROVIDERS))).get_data(as_text=True)
    assert "<td>服务商</td><td>1</td><td>邮箱地址</td><td>邮箱地址</td><td>无法识别的列名" in html
    assert "<td>联系邮箱</td><td></td><td>缺少必填列" in html
    assert count(db, Provider) == 0


def test_the_untouched_template_is_refused_as_an_example(admin_client, db):
    for kind in ("providers", "solutions"):
        response = admin_client.get(f"/admin/import/template/{kind}.xlsx")
        assert response.status_code == 200
        rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
        assert rows[0][0] in ("服务商名称*", "服务商统一社会信用代码*") and len(rows) == 2
    providers = admin_client.get("/admin/import/template/providers.csv").data
    solutions = admin_client.get("/admin/import/template/solutions.xlsx").data
    html = upload(admin_client, ("p.csv", providers), ("s.xlsx", solutions)).get_data(as_text=True)
    assert html.count("这是模板中的示例行，请删除后再导入") == 2 and EXAMPLE_CODE in html
    assert count(db, Provider) == 0


def test_formulas_are_never_evaluated(admin_client, db):
    row = provider_row(701, 服务商名称="=1+1")
    content = workbook({"服务商": [PROVIDER_HEADERS, row]})  # openpyxl stores a formula, no cached value
    html = upload(admin_client, providers=("p.xlsx", content)).get_data(as_text=True)
    assert "<td>服务商名称</td><td></td><td>此项为必填项</td>" in html
    assert count(db, Provider) == 0


# --- file type and size ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("p.xlsx", "服务商名称,统一社会信用代码\n".encode(), "文件扩展名是 .xlsx，但内容是文本（CSV）"),
        ("p.csv", b"PK\x03\x04" + b"\x00" * 40, "文件扩展名是 .csv，但内容是XLSX 工作簿"),
        ("p.xlsx", b"PK\x03\x04" + b"\x00" * 40, "XLSX 文件已损坏"),
        ("p.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "不是文本格式的 CSV"),
        ("p.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40, "不支持旧版 Excel（.xls）"),
        ("p.xls", b"\xd0\xcf\x11\xe0", "只支持 .xlsx 或 .csv 文件"),
        ("p.csv", b"", "文件是空的"),
    ],
)
def test_wrong_file_types_are_refused_in_chinese(admin_client, db, name, content, message):
    response = upload(admin_client, providers=(name, content))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count(db, Provider) == 0


def test_an_oversized_upload_gets_the_chinese_error_page(admin_client, db):
    big = b"a," * (3 * 1024 * 1024)  # 6 MB, over the default 5 MB
    response = upload(admin_client, providers=("p.csv", big))
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "文件过大" in html and "Traceback" not in html
    assert count(db, Provider) == 0


def test_the_upload_limit_comes_from_matchmaker_max_upload_mb(tmp_path, monkeypatch):
    assert build_config(str(tmp_path), {"SECRET_KEY": "x"})["MAX_CONTENT_LENGTH"] == 5 * 1024 * 1024
    monkeypatch.setenv("MATCHMAKER_MAX_UPLOAD_MB", "12")
    assert build_config(str(tmp_path), {"SECRET_KEY": "x"})["MAX_CONTENT_LENGTH"] == 12 * 1024 * 1024


def test_no_file_or_no_reason_is_refused(admin_client, db):
    assert "请至少选择一个文件" in upload(admin_client).get_data(as_text=True)
    response = upload(admin_client, providers=("名录.xlsx", catalogue_xlsx()), reason="  ")
    assert response.status_code == 400 and "请填写导入理由" in response.get_data(as_text=True)
    assert count(db, Provider) == 0


# --- whitelist status, accounts and the audit trail --------------------------------------------------


def test_the_import_is_on_record_as_the_admins_action(admin_client, db):
    upload(admin_client, providers=("名录.xlsx", catalogue_xlsx()))
    provider = db.exec(select(Provider).where(Provider.credit_code == credit_code(701))).one()
    event = db.exec(select(WhitelistEvent).where(WhitelistEvent.provider_id == provider.id)).one()
    assert (event.action, event.from_status, event.to_status) == ("import", "draft", "approved")
    assert event.actor_id == admin_id(db) and event.reason == REASON
    entries = list(db.exec(select(AuditLog).order_by(AuditLog.id)))
    per_provider = [e for e in entries if e.action == "whitelist.import"]
    assert {e.target_id for e in per_provider} == {p.id for p in db.exec(select(Provider))}
    assert all(e.actor_id == admin_id(db) and e.reason == REASON for e in per_provider)
    batch = [e for e in entries if e.action == "import.catalogue"]
    assert len(batch) == 1 and batch[0].actor_id == admin_id(db) and batch[0].reason == REASON
    assert batch[0].detail["solutions"] == {"created": 3, "updated": 0, "unchanged": 0, "skipped": 0}
    assert batch[0].detail["files"][0]["name"] == "名录.xlsx" and len(batch[0].detail["files"][0]["sha256"]) == 64
    assert sorted(batch[0].detail["solutions_created"]) == sorted(s.id for s in db.exec(select(Solution)))
    history = admin_client.get(f"/admin/providers/{provider.id}").get_data(as_text=True)
    assert REASON in history and "管理员" in history


def test_a_reimport_never_changes_a_whitelist_decision(admin_client, db):
    upload(admin_client, providers=("名录.xlsx", catalogue_xlsx()))
    provider = db.exec(select(Provider).where(Provider.credit_code == credit_code(701))).one()
    whitelist.decide(db, provider.id, "suspend", admin_id(db), "资质过期，暂停")
    html = upload(admin_client, providers=("名录.xlsx", catalogue_xlsx())).get_data(as_text=True)
    assert "导入不改变入库状态" in html and "已暂停" in html
    db.expire_all()
    assert db.get(Provider, provider.id).status == ProviderStatus.suspended


def test_a_provider_with_its_own_account_is_skipped(client, app, db):
    assert register(client, "provider", provider_form(701, domains=["data_collection"])).status_code == 302
    own = db.exec(select(Provider).where(Provider.credit_code == credit_code(701))).one()
    app.test_cli_runner().invoke(
        args=["create-admin", "--email", "admin@example.com", "--name", "管理员", "--password", PASSWORD]
    )
    assert login(client, "admin@example.com").status_code == 302
    html = upload(client, providers=("名录.xlsx", catalogue_xlsx(solutions=SOLUTIONS[:1] + SOLUTIONS[2:]))).get_data(
        as_text=True
    )
    assert "该服务商已有自己的账号并自行维护资料和方案" in html
    assert '<tr><th scope="row">服务商</th><td>1</td><td>0</td><td>0</td><td>1</td></tr>' in html
    assert '<tr><th scope="row">方案</th><td>1</td><td>0</td><td>0</td><td>1</td></tr>' in html
    db.expire_all()
    assert db.get(Provider, own.id).name == provider_form(701)["name"]
    assert count(db, Solution, Solution.provider_id == own.id) == 0


# --- exports of solutions and dockings ---------------------------------------------------------------


def test_the_solutions_export_imports_again_unchanged(admin_client, db):
    upload(admin_client, providers=("名录.xlsx", catalogue_xlsx()))
    page = admin_client.get("/admin/solutions?q=MES").get_data(as_text=True)
    assert "汽配厂 MES 生产执行系统" in page and "封边机设备联网" not in page
    for fmt in ("xlsx", "csv"):
        response = post(admin_client, "/admin/solutions/export", {"format": fmt}, page="/admin/solutions")
        assert response.status_code == 200
        kind = "solutions"
        html = upload(admin_client, **{kind: (f"export.{fmt}", response.data)}).get_data(as_text=True)
        assert '<tr><th scope="row">方案</th><td>0</td><td>0</td><td>3</td><td>0</td></tr>' in html, html
    assert count(db, AuditLog, AuditLog.action == "export.solutions") == 2


def test_exports_neutralise_formulas_and_round_trip_them(admin_client, db):
    row = solution_row(701, '=HYPERLINK("http://evil")', 一句话简介="-20% 能耗")
    response = upload(
        admin_client,
        providers=("p.csv", csv_file(PROVIDER_HEADERS, PROVIDERS)),
        solutions=("s.csv", csv_file(SOLUTION_HEADERS, [row])),  # CSV holds a formula-like text as text
    )
    assert response.status_code == 200
    response = post(admin_client, "/admin/solutions/export", {"format": "xlsx"}, page="/admin/solutions")
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = [cell.value for cell in next(sheet.iter_rows(min_row=2, max_row=2))]
    assert '\'=HYPERLINK("http://evil")' in values and "'-20% 能耗" in values
    assert all(cell.data_type != "f" for cell in next(sheet.iter_rows(min_row=2, max_row=2)))
    html = upload(admin_client, solutions=("export.xlsx", response.data)).get_data(as_text=True)
    assert '<tr><th scope="row">方案</th><td>0</td><td>0</td><td>1</td><td>0</td></tr>' in html


def test_dockings_list_and_export(admin_client, db):
    upload(admin_client, providers=("名录.xlsx", catalogue_xlsx()))
    enterprise = Enterprise.model_validate(
        {k: v for k, v in enterprise_form(5).items() if k not in {"password", "password_confirm"}}
        | {"size_class": "small", "employees": 120, "revenue": 3500.0}
    )
    db.add(enterprise)
    db.commit()
    need = Need(
        enterprise_id=enterprise.id,
        title="设备联网",
        description="家具厂设备联网需求",
        industry="furniture",
        size_class="small",
    )
    db.add(need)
    db.commit()
    solution = db.exec(select(Solution).where(Solution.title == "封边机设备联网与产量看板")).one()
    db.add(
        Docking(
            need_id=need.id,
            solution_id=solution.id,
            enterprise_id=enterprise.id,
            provider_id=solution.provider_id,
            status=DockingStatus.contracted,
            contract_amount=12.5,
        )
    )
    db.commit()

    page = admin_client.get("/admin/dockings?status=contracted").get_data(as_text=True)
    assert "测试家具厂5" in page and "已签约" in page and "12.5" in page
    assert "测试家具厂5" not in admin_client.get("/admin/dockings?status=requested").get_data(as_text=True)
    response = post(
        admin_client, "/admin/dockings/export", {"format": "csv", "status": "contracted"}, page="/admin/dockings"
    )
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:6] == ["编号", "企业", "需求", "服务商", "方案", "状态"]
    assert rows[1][1] == "测试家具厂5" and rows[1][5] == "已签约" and rows[1][8] == "12.5"
    entry = db.exec(select(AuditLog).where(AuditLog.action == "export.dockings")).one()
    assert entry.detail["rows"] == 1 and entry.detail["filters"] == {"status": "contracted"}


# --- only admins ---------------------------------------------------------------------------------------

GETS = ["/admin/import", "/admin/import/template/providers.xlsx", "/admin/solutions", "/admin/dockings"]
POSTS = ["/admin/import", "/admin/import/report", "/admin/solutions/export", "/admin/dockings/export"]


def test_anonymous_users_are_sent_to_login(client):
    for url in GETS:
        response = client.get(url)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"], url
    for url in POSTS:
        assert client.post(url).status_code in (302, 400), url  # CSRF or login first: never the action


@pytest.mark.parametrize("who", ["enterprise_client", "provider_client"])
def test_enterprises_and_providers_are_forbidden(request, db, who):
    client = request.getfixturevalue(who)
    home = "/enterprise/" if who == "enterprise_client" else "/provider/"
    for url in GETS:
        assert client.get(url).status_code == 403, url
    for url in POSTS:
        data = {"csrf_token": csrf_token(client, home), "format": "csv", "reason": REASON}
        data["providers"] = (io.BytesIO(catalogue_xlsx()), "名录.xlsx")
        assert client.post(url, data=data, content_type="multipart/form-data").status_code == 403, url
    assert count(db, Provider, Provider.credit_code == credit_code(701)) == 0


def test_admins_see_every_page(admin_client):
    for url in GETS:
        assert admin_client.get(url).status_code == 200, url
    assert admin_client.get("/admin/import/template/other.xlsx").status_code == 404
    assert admin_client.get("/admin/import/template/providers.txt").status_code == 404
