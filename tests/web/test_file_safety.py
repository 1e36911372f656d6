"""Files in and out, as an attacker would craft them.

In: the bulk import is the platform's only upload. Hostile workbooks (rows numbered into the billions,
a ZIP bomb, sizes that lie, entity expansion, external entities, a ZIP that is no workbook, a picture
renamed .xlsx) and malformed CSV (a cell past the csv module's limit, NUL bytes, old Mac line ends)
each get a Chinese message within seconds, and nothing is written. (The size cap, the renamed CSV and
the damaged ZIP are in test_import.)

Out: every export the platform serves (found by its view calling `send_file`, so a new one without a
row here fails) is requested in XLSX and CSV over data whose every text field starts with a formula
character (= + - @, also behind a leading tab or CR, also full-width): no cell comes back as a formula
or starting with one, and each export shows the neutralised values.
"""

import csv
import inspect
import io
import re
import signal
import struct
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from datetime import time as time_of_day

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from matchmaker.plumbing.db import engine
from matchmaker.services.exports import FORMULA_STARTS
from models import (
    AuditLog,
    Docking,
    DockingStatus,
    Enterprise,
    Event,
    EventMeeting,
    MatchResult,
    Need,
    Provider,
    ProviderStatus,
    Solution,
    SolutionStatus,
)
from tests.conftest import credit_code, post
from tests.services.test_import import (
    PROVIDER_HEADERS,
    PROVIDERS,
    count,
    csv_file,
    provider_row,
    upload,
    workbook,
)

QUICK = 10  # seconds: a refused file must not hold a worker (gunicorn's timeout is 60)


def _rewritten(content: bytes, member: str, change) -> bytes:
    """The XLSX `content` with `member`'s bytes replaced by `change(bytes)`."""
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            target.writestr(info.filename, change(data) if info.filename == member else data)
    return out.getvalue()


def _sheet(change) -> bytes:
    """A one-sheet 服务商 workbook, its sheet XML passed through `change(str) -> str`."""
    content = workbook({"服务商": [PROVIDER_HEADERS, provider_row(701)]})
    return _rewritten(content, "xl/worksheets/sheet1.xml", lambda data: change(data.decode()).encode())


def _far_row(number: int, keep_dimension: bool = False):
    def change(xml: str) -> str:
        if not keep_dimension:
            xml = re.sub(r"<dimension [^>]*/>", "", xml)
        else:
            xml = re.sub(r'<dimension ref="[^"]*"', f'<dimension ref="A1:BH{number}"', xml)
        return xml.replace('<row r="2"', f'<row r="{number}"').replace('r="A2"', f'r="A{number}"')

    return _sheet(change)


def _blank_rows(how_many: int) -> bytes:
    rows = "".join(f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t> </t></is></c></row>' for n in range(3, how_many))
    return _sheet(lambda xml: re.sub(r"<dimension [^>]*/>", "", xml).replace("</sheetData>", rows + "</sheetData>"))


def _zip_bomb() -> bytes:
    """A real workbook plus 101 MB of zeros that deflate to about 100 KB."""
    content = workbook({"服务商": [PROVIDER_HEADERS, provider_row(701)]})
    out = io.BytesIO(content)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/padding.bin", b"\0" * (101 * 1024 * 1024))
    return out.getvalue()


def _lying_sizes() -> bytes:
    """The sheet inflates to 20 MB, but the archive says it is 100 bytes (local and central headers)."""
    padding = " " * (20 * 1024 * 1024)
    content = bytearray(_sheet(lambda xml: xml.replace("<sheetData>", padding + "<sheetData>")))
    name = b"xl/worksheets/sheet1.xml"
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := content.find(signature, start)) != -1:
            name_at = start + (30 if signature == b"PK\x03\x04" else 46)
            if content[name_at : name_at + len(name)] == name:
                content[start + size_at : start + size_at + 4] = struct.pack("<I", 100)
            start += 4
    return bytes(content)


LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + "]>"
)


def _billion_laughs() -> bytes:
    return _sheet(lambda xml: LAUGHS + xml.replace("<t>坪山导入数字科技701</t>", "<t>&lol9;</t>"))


def _external_entity() -> bytes:
    doctype = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY leak SYSTEM "file:///etc/passwd">]>'
    return _sheet(lambda xml: doctype + xml.replace("<t>坪山导入数字科技701</t>", "<t>&leak;</t>"))


def _not_a_workbook() -> bytes:
    """A Word document (a ZIP too) renamed .xlsx."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    return out.getvalue()


HOSTILE_WORKBOOKS = {
    "row numbered 2147483647, no dimension": (lambda: _far_row(2_147_483_647), "行数过多"),
    "dimension claiming 1048576 rows": (lambda: _far_row(1_048_576, keep_dimension=True), "行数过多"),
    "60000 blank rows": (lambda: _blank_rows(60_000), "行数过多"),
    "ZIP bomb": (_zip_bomb, "解压后过大"),
    "sizes that lie": (_lying_sizes, "无法读取 XLSX 文件"),
    "billion laughs": (_billion_laughs, "无法读取 XLSX 文件"),
    "external entity": (_external_entity, "无法读取 XLSX 文件"),
    "Word document renamed": (_not_a_workbook, "文件不是 Excel 工作簿"),
    "PNG renamed": (lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64, "请确认文件类型"),
}


class TooSlow(Exception):
    pass


@contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    """Fail instead of hanging: a file that held the worker for hours must not hold the test run."""

    def expired(signum, frame):
        raise TooSlow(f"still reading the file after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _refused_quickly(admin_client, db, filename: str, content: bytes, message: str) -> str:
    started = time.monotonic()
    with _deadline(3 * QUICK):
        response = upload(admin_client, providers=(filename, content))
    elapsed = time.monotonic() - started
    html = response.get_data(as_text=True)
    assert response.status_code == 400, html[:500]
    assert message in html and "未写入任何数据" in html
    assert elapsed < QUICK, f"{elapsed:.1f} s"
    assert count(db, Provider) == 0 and count(db, AuditLog) == 0
    return html


@pytest.mark.parametrize("name", list(HOSTILE_WORKBOOKS))
def test_a_hostile_workbook_is_refused_quickly_in_chinese_and_writes_nothing(admin_client, db, name):
    build, message = HOSTILE_WORKBOOKS[name]
    html = _refused_quickly(admin_client, db, "名录.xlsx", build(), message)
    assert "root:" not in html and "lollol" not in html


def test_a_workbook_with_a_few_blank_rows_still_imports(admin_client, db):
    """The row budget counts blank rows, but leaves room for the blank rows real sheets have."""
    sheets = {"服务商": [PROVIDER_HEADERS, *PROVIDERS, *[[""] * 3] * 500, provider_row(703)]}
    response = upload(admin_client, providers=("名录.xlsx", workbook(sheets)))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert count(db, Provider) == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (csv_file(PROVIDER_HEADERS, [provider_row(701, 服务内容="长" * 200_000)]), "CSV 文件第 2 行格式有误"),
        (
            # 400 good rows, then a NUL: PostgreSQL cannot store it (it was a 500 there, stored on SQLite)
            csv_file(
                PROVIDER_HEADERS,
                [*(provider_row(701 + i) for i in range(400)), provider_row(1200, 服务商名称="坪山\x00科技")],
            ),
            "不是文本格式的 CSV",
        ),
    ],
    ids=["cell over the csv limit", "NUL byte past the first 64 KB"],
)
def test_a_malformed_csv_is_refused_in_chinese_and_writes_nothing(admin_client, db, content, message):
    _refused_quickly(admin_client, db, "p.csv", content, message)


def test_a_csv_with_old_mac_line_ends_imports(admin_client, db):
    content = csv_file(PROVIDER_HEADERS, PROVIDERS).replace(b"\r\n", b"\r")
    response = upload(admin_client, providers=("p.csv", content))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert count(db, Provider) == 2


# --- exports ---------------------------------------------------------------------------------------

EVIL = [
    '=HYPERLINK("http://evil.example","点我")',
    "+1+2",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "＝1+1",
    "=cmd|' /C calc'!A0",
]


@pytest.fixture
def evil(db: Session) -> None:
    """One of everything an export shows, every text a formula."""
    enterprise = Enterprise(
        name=EVIL[0],
        credit_code=credit_code(31),
        industry="furniture",
        employees=120,
        revenue=3500,
        size_class="small",
        street="坪山街道",
        contact_name=EVIL[1],
        phone="13800138000",
        email="e1@example.com",
    )
    provider = Provider(
        name=EVIL[2],
        credit_code=credit_code(801),
        contact_name=EVIL[3],
        phone="13900139000",
        email="p801@example.com",
        domains=["data_collection"],
        status=ProviderStatus.approved,
        approved_until=date(2027, 5, 1),
    )
    db.add_all([enterprise, provider])
    db.flush()
    solution = Solution(
        provider_id=provider.id,
        title=EVIL[4],
        summary=EVIL[5],
        description=EVIL[6] + "：设备联网与数据采集",
        domain="data_collection",
        industries=["furniture"],
        sizes=["small"],
        modules=[EVIL[7], "看板"],
        tags=["设备联网"],
        price_range=EVIL[1],
        status=SolutionStatus.published,
    )
    need = Need(
        enterprise_id=enterprise.id,
        title=EVIL[3],
        description=EVIL[0] + "。开料机和封边机都是单机，想做设备联网。",
        industry="furniture",
        size_class="small",
        budget_range=EVIL[2],
        created_at=datetime(2026, 3, 2, tzinfo=UTC),
    )
    db.add_all([solution, need])
    db.flush()
    db.add_all(
        [
            MatchResult(need_id=need.id, solution_id=solution.id, rank=1, score=0.6),
            Docking(
                need_id=need.id,
                solution_id=solution.id,
                enterprise_id=enterprise.id,
                provider_id=provider.id,
                status=DockingStatus.completed,
                message=EVIL[4],
                satisfaction=5,
                acceptance_comment=EVIL[5],
            ),
        ]
    )
    db.flush()
    event = Event(
        title=EVIL[5],
        event_date=date(2026, 3, 20),
        venue=EVIL[6],
        start_time=time_of_day(14, 0),
        slot_minutes=20,
        slot_count=6,
        tables=4,
        registration_deadline=datetime(2026, 3, 15, tzinfo=UTC),
        meeting_cap=5,
        status="closed",
    )
    db.add(event)
    db.flush()
    db.add(
        EventMeeting(
            event_id=event.id,
            need_id=need.id,
            solution_id=solution.id,
            enterprise_id=enterprise.id,
            provider_id=provider.id,
            requested_by="enterprise",
            message=EVIL[7],
            status="accepted",
        )
    )
    db.commit()


def _event_report(client) -> str:
    """The export address of the evil fixture's event."""
    with client.application.app_context(), Session(engine()) as session:
        return f"/admin/events/{session.exec(select(Event.id)).one()}/report/export"


def _import_report_token(client) -> str:
    """An import refused for values that are formulas: the error report repeats them."""
    rows = [provider_row(701, 联系电话=EVIL[7], 联系邮箱=EVIL[0], 网站=EVIL[4], 在深圳经营年限=EVIL[2])]
    html = upload(client, providers=("p.csv", csv_file(PROVIDER_HEADERS, rows))).get_data(as_text=True)
    return html.split('name="report" value="')[1].split('"')[0]


# endpoint -> (page the form is on, address, form) per request; fmt is filled in
EXPORTS = {
    "admin.export": [
        ("/admin/dashboard", "/admin/exports/needs", {"status": "", "period": "all"}),
        ("/admin/dashboard", "/admin/exports/providers", {"status": ""}),
    ],
    "admin.export_solutions": [("/admin/solutions", "/admin/solutions/export", {})],
    "admin.export_dockings": [("/admin/dockings", "/admin/dockings/export", {})],
    "admin.import_report": [("/admin/import", "/admin/import/report", {"report": _import_report_token})],
    "admin.event_report_export": [  # the summary sheet holds figures only; the meetings sheet names people
        ("/admin/dashboard", _event_report, {"kind": "meetings"}),
    ],
    "admin.import_template": [
        (None, "/admin/import/template/providers.{fmt}", {}),
        (None, "/admin/import/template/solutions.{fmt}", {}),
    ],
}
CONSTANT = {"admin.import_template"}  # the platform's own example rows: nothing of a user's in them


def test_every_file_the_platform_serves_has_a_row(app):
    serving = {
        endpoint
        for endpoint, view in app.view_functions.items()
        if re.search(r"\b(send_file|_download)\(", inspect.getsource(view))
    }
    assert serving - {"embed.widget_js"} == set(EXPORTS)


def _unsafe(text: str) -> bool:
    return text.startswith(FORMULA_STARTS) and not re.fullmatch(r"-?\d+(\.\d+)?", text)


def _cells(content: bytes, fmt: str) -> list[str]:
    if fmt == "csv":
        assert content.startswith(b"\xef\xbb\xbf")
        return [cell for row in csv.reader(io.StringIO(content.decode("utf-8-sig"))) for cell in row]
    book = load_workbook(io.BytesIO(content))  # not data_only: a formula would read as one
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    return [cell.value for cell in cells if isinstance(cell.value, str)]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
@pytest.mark.parametrize("endpoint", list(EXPORTS))
def test_no_export_carries_a_formula(admin_client, evil, endpoint, fmt):
    for page, url, form in EXPORTS[endpoint]:
        values = {name: value(admin_client) if callable(value) else value for name, value in form.items()}
        url = url(admin_client) if callable(url) else url
        if page is None:
            response = admin_client.get(url.format(fmt=fmt))
        else:
            response = post(admin_client, url, values | {"format": fmt}, page=page)
        assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"], url
        cells = _cells(response.data, fmt)
        assert [cell for cell in cells if _unsafe(cell)] == [], url
        if endpoint not in CONSTANT:
            shown = {cell for cell in cells if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS)}
            assert shown, f"{url}: the evil values were not exported at all"
