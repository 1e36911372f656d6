"""Reading uploaded spreadsheets (XLSX or CSV) safely into plain rows of text.

The type is decided by the file's content, and must agree with its extension: an XLSX is a ZIP
holding `xl/workbook.xml`; anything else must decode as text (UTF-8, or GB18030, which is what
Excel on a Chinese Windows writes for "CSV"). Workbooks are opened read-only with `data_only`, so a
formula is never evaluated: its cell reads as the value Excel saved with it (empty if none). A ZIP
whose contents would unpack past `MAX_UNPACKED` is refused before it is parsed (a "ZIP bomb"), and
openpyxl parses the XML through defusedxml (no entity expansion, no external entities). At most
`MAX_SCANNED_ROWS` rows are read from a file, blank ones included: a few hundred bytes of XML can
number a row 2,147,483,647, and openpyxl yields an empty row for every one skipped before it. A CSV the
csv module cannot parse (a cell over its size limit, say) is refused in Chinese like any other bad file.

Writing goes through `matchmaker.services.exports` (one writer and one formula neutraliser for the
whole app); `restore` undoes that neutraliser, so a file the platform exported imports unchanged.
"""

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import PurePath

from openpyxl import load_workbook

from matchmaker.services.exports import FORMULA_STARTS

MAX_UNPACKED = 100 * 1024 * 1024  # bytes an XLSX may unpack to
MAX_COLUMNS = 60
MAX_SCANNED_ROWS = 50_000  # rows read from one file, blank and skipped ones included
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the pre-2007 .xls (and other Office binary) format
EXTENSIONS = {".xlsx": "xlsx", ".csv": "csv"}


class TabularError(Exception):
    """The file cannot be read as a table; `message` says why, in Chinese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Table:
    """A sheet as text: the header row and the data rows, each with its spreadsheet row number."""

    name: str
    headers: list[str]
    rows: list[tuple[int, list[str]]]


def file_type(filename: str, content: bytes) -> str:
    """ "xlsx" or "csv", from the content, checked against the extension."""
    extension = EXTENSIONS.get(PurePath(filename or "").suffix.lower())
    if extension is None:
        raise TabularError("只支持 .xlsx 或 .csv 文件")
    if content.startswith(_OLE_MAGIC):
        raise TabularError("不支持旧版 Excel（.xls）等二进制文件，请在 Excel 中另存为 .xlsx 或 CSV 后上传")
    found = "xlsx" if content.startswith(_ZIP_MAGIC) else "csv"
    if found != extension:
        what = "XLSX 工作簿" if found == "xlsx" else "文本（CSV）"
        raise TabularError(f"文件扩展名是 .{extension}，但内容是{what}，请确认文件类型")
    return found


def read_tables(filename: str, content: bytes, max_rows: int) -> list[Table]:
    """Every sheet of an XLSX (in order), or the one table of a CSV, with at most `max_rows` data rows
    each (blank rows skipped)."""
    if not content:
        raise TabularError("文件是空的")
    budget = _RowBudget(MAX_SCANNED_ROWS)
    if file_type(filename, content) == "xlsx":
        return _read_xlsx(content, max_rows, budget)
    reader = csv.reader(io.StringIO(_decode(content), newline=""))  # "": a lone CR ends a line, as in old Mac files
    try:
        return [_table("CSV", budget.rows("CSV", reader), max_rows)]
    except csv.Error:
        raise TabularError(
            f"CSV 文件第 {reader.line_num} 行格式有误（如单元格内容过长），无法读取；"
            "请在 Excel 中另存为 CSV 或 .xlsx 后重新上传"
        ) from None


class _RowBudget:
    """Counts the rows read from one file, across its sheets, and stops past the limit."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def rows(self, name: str, rows: Iterable) -> Iterator:
        for row in rows:
            if self.left <= 0:
                raise TabularError(f"工作表“{name}”的行数过多（含空行），请删除多余的空行后重新上传，或分批导入")
            self.left -= 1
            yield row


def _decode(content: bytes) -> str:
    if b"\x00" in content:  # anywhere: PostgreSQL cannot store it, so a NUL late in the file was a 500
        raise TabularError("文件不是文本格式的 CSV，请上传 .xlsx 或 CSV 文件")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TabularError("无法识别 CSV 文件的编码，请以 UTF-8 或 GBK 编码保存")


def _read_xlsx(content: bytes, max_rows: int, budget: _RowBudget) -> list[Table]:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise TabularError("XLSX 文件已损坏，无法打开") from None
    if "xl/workbook.xml" not in names:
        raise TabularError("文件不是 Excel 工作簿（.xlsx）")
    if unpacked > MAX_UNPACKED:
        raise TabularError("XLSX 文件解压后过大，请删除多余的内容或分批导入")
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True, keep_links=False)
        try:
            return [
                _table(
                    sheet.title,
                    budget.rows(sheet.title, sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True)),
                    max_rows,
                )
                for sheet in workbook.worksheets
            ]
        finally:
            workbook.close()
    except TabularError:
        raise
    except Exception:  # openpyxl raises many kinds of error on a damaged or hostile file: all mean "unreadable"
        raise TabularError("无法读取 XLSX 文件，文件可能已损坏或不是有效的 Excel 工作簿") from None


def _table(name: str, rows, max_rows: int) -> Table:
    headers: list[str] | None = None
    data: list[tuple[int, list[str]]] = []
    for number, row in enumerate(rows, start=1):
        values = [cell_text(value) for value in row[:MAX_COLUMNS]]
        if not any(values):
            continue
        if headers is None:
            headers = values
            continue
        if len(data) == max_rows:
            raise TabularError(f"工作表“{name}”超过 {max_rows} 行数据，请分批导入")
        data.append((number, values))
    return Table(name, headers or [], data)


def cell_text(value) -> str:
    """A cell as the text a person would read in it; numbers lose a trailing ".0" (a phone number or a
    year typed into Excel arrives as a float), dates are written YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return restore(str(value).strip())


def restore(text: str) -> str:
    """Undo the exports' formula neutraliser: "'=x" (as the platform exports "=x") reads as "=x"."""
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
        return text[1:]
    return text
