"""Bound an xlsx before any grid is built (SPEC §3.1 limits).

The xlsx library allocates the whole rectangle between a sheet's first and last cell and
copies a shared string into every cell that refers to it: one cell at XFD1048576 asks for
512 GiB, and 70 KB of cells repeating one long shared string become 1.5 GB. So the parts
are streamed first (expat, no tree is kept, no DTD admitted) and the workbook is rejected
when a declared or used range is wider than the column limit, much larger than the cells
it holds, or when its cells would expand to far more text than the sheet's bytes.
"""

from __future__ import annotations

import re
import zipfile
from array import array
from dataclasses import dataclass, field
from xml.parsers import expat

from returnstats.config import Limits
from returnstats.reports.errors import PackageRejected

TOO_MANY_COLUMNS = "package.file.too_many_columns"
SPARSE_RANGE = "package.file.sparse_range"
TEXT_TOO_LARGE = "package.file.text_too_large"

_REF = re.compile(r"^\$?([A-Za-z]{1,3})\$?([0-9]{1,7})$")
_CHUNK = 1 << 16


class _Stop(Exception):
    """Raised inside an expat handler: the part is rejected, parsing ends at once."""

    def __init__(self, rejection: PackageRejected) -> None:
        self.rejection = rejection


def _column_number(letters: str) -> int:
    number = 0
    for char in letters.upper():
        number = number * 26 + ord(char) - 64
    return number


def _cell(ref: str) -> tuple[int, int] | None:
    """(row, column) of an A1 reference, 1-based, or None if it is none."""
    match = _REF.match(ref)
    return (int(match[2]), _column_number(match[1])) if match else None


def _local(name: str) -> str:
    return name.rpartition(":")[2]


@dataclass
class _Sheet:
    """What a worksheet part holds, gathered while streaming it."""

    declared: tuple[int, int, int, int] | None = None
    """(first row, first column, last row, last column) of `<dimension ref>`."""
    cells: int = 0
    rows: tuple[int, int] = (0, 0)
    columns: tuple[int, int] = (0, 0)
    shared_text: int = 0
    """Bytes of shared-string text its cells refer to (each reference counted)."""
    _row: int = 0
    _column: int = 0
    _shared_cell: bool = False
    _value: list[str] = field(default_factory=list)
    _in_value: bool = False


def _parser(start, end=None, text=None) -> expat.XMLParserType:
    parser = expat.ParserCreate()
    parser.buffer_text = True

    def no_doctype(*_: object) -> None:  # no DTD, hence no entity expansion
        raise ValueError("a DTD is not admitted")

    parser.StartDoctypeDeclHandler = no_doctype
    parser.EntityDeclHandler = no_doctype
    parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    if text is not None:
        parser.CharacterDataHandler = text
    return parser


def _feed(parser: expat.XMLParserType, archive: zipfile.ZipFile, info: zipfile.ZipInfo,
          file: str) -> None:
    try:
        with archive.open(info) as handle:
            while chunk := handle.read(_CHUNK):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except _Stop as stop:
        raise stop.rejection from None
    except Exception as exc:  # expat, zlib, CRC on untrusted bytes: the part is unreadable
        raise PackageRejected("package.file.unparseable",
                              f"{file}: xlsx part '{info.filename[:60]}' is not readable XML "
                              f"({type(exc).__name__})", file) from None


def _shared_string_sizes(archive: zipfile.ZipFile, info: zipfile.ZipInfo, file: str) -> array:
    """The UTF-8 byte length of each shared string, in order (8 bytes kept per string)."""
    sizes = array("Q")
    depth = {"si": 0}
    current = [0]

    def start(name: str, attrs: dict) -> None:
        if _local(name) == "sst":
            declared = attrs.get("uniqueCount") or "0"
            # `<si/>` takes at least 5 bytes: a larger count is a lie that would size a buffer.
            if not declared.isdigit() or int(declared) > info.file_size // 5 + 1:
                raise _Stop(PackageRejected(
                    TEXT_TOO_LARGE, f"{file}: the shared strings declare more strings "
                    "than they hold", file))
        elif _local(name) == "si":
            depth["si"] += 1
            current[0] = 0

    def end(name: str) -> None:
        if _local(name) == "si":
            depth["si"] -= 1
            sizes.append(current[0])

    def text(data: str) -> None:
        if depth["si"]:
            current[0] += len(data.encode("utf-8"))

    _feed(_parser(start, end, text), archive, info, file)
    return sizes


def _scan_sheet(archive: zipfile.ZipFile, info: zipfile.ZipInfo, shared: array,
                file: str, limits: Limits) -> _Sheet:
    sheet = _Sheet()
    allowed_text = limits.xlsx_text_ratio * info.file_size + limits.xlsx_text_allowance
    part = info.filename[:60]

    def start(name: str, attrs: dict) -> None:
        local = _local(name)
        if local == "c":
            ref = attrs.get("r")
            position = _cell(ref) if ref else (sheet._row, sheet._column + 1)
            if position is None:
                raise _Stop(PackageRejected("package.file.unparseable",
                                            f"{file}: cell reference '{ref[:20]}' in '{part}'",
                                            file))
            row, column = position
            sheet._column = column
            if sheet.cells == 0:
                sheet.rows, sheet.columns = (row, row), (column, column)
            else:
                sheet.rows = (min(sheet.rows[0], row), max(sheet.rows[1], row))
                sheet.columns = (min(sheet.columns[0], column), max(sheet.columns[1], column))
            sheet.cells += 1
            if sheet.columns[1] - sheet.columns[0] + 1 > limits.max_columns:
                raise _Stop(_too_many_columns(file, part, "used"))
            sheet._shared_cell = attrs.get("t") == "s"
        elif local == "row":
            ref = attrs.get("r")
            sheet._row = int(ref) if ref and ref.isdigit() else sheet._row + 1
            sheet._column = 0
        elif local == "v" and sheet._shared_cell:
            sheet._in_value, sheet._value = True, []
        elif local == "dimension":
            sheet.declared = _declared_range(attrs.get("ref", ""))
            if sheet.declared and sheet.declared[3] - sheet.declared[1] + 1 > limits.max_columns:
                raise _Stop(_too_many_columns(file, part, "declared"))

    def end(name: str) -> None:
        if sheet._in_value and _local(name) == "v":
            sheet._in_value = False
            index = "".join(sheet._value).strip()
            if index.isdigit() and int(index) < len(shared):
                sheet.shared_text += shared[int(index)]
                if sheet.shared_text > allowed_text:
                    raise _Stop(PackageRejected(
                        TEXT_TOO_LARGE, f"{file}: the cells of '{part}' expand to more than "
                        f"{allowed_text} bytes of shared-string text", file))

    def text(data: str) -> None:
        if sheet._in_value:
            sheet._value.append(data)

    _feed(_parser(start, end, text), archive, info, file)
    return sheet


def _declared_range(ref: str) -> tuple[int, int, int, int] | None:
    first, _, last = ref.partition(":")
    a, b = _cell(first), _cell(last or first)
    if a is None or b is None:
        return None
    return min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1])


def _too_many_columns(file: str, part: str, which: str) -> PackageRejected:
    return PackageRejected(TOO_MANY_COLUMNS, f"{file}: the {which} range of '{part}' is wider "
                           "than the column limit", file)


def _check_area(sheet: _Sheet, file: str, part: str, limits: Limits) -> None:
    allowed = limits.xlsx_sparsity * sheet.cells + limits.xlsx_sparse_allowance
    spans = []
    if sheet.cells:
        spans.append(("used", sheet.rows[1] - sheet.rows[0] + 1,
                      sheet.columns[1] - sheet.columns[0] + 1))
    if sheet.declared:
        first_row, first_column, last_row, last_column = sheet.declared
        spans.append(("declared", last_row - first_row + 1, last_column - first_column + 1))
    for which, rows, columns in spans:
        if rows * columns > allowed:
            raise PackageRejected(
                SPARSE_RANGE, f"{file}: the {which} range of '{part}' spans {rows} rows × "
                f"{columns} columns for {sheet.cells} cells", file)


def check_xlsx_bounds(archive: zipfile.ZipFile, file: str, limits: Limits) -> None:
    """Reject the workbook if any sheet breaks a limit; reads each XML part once."""
    infos = archive.infolist()
    names = {info.filename for info in infos}
    if "xl/workbook.xml" not in names:
        # Another zip format the xlsx library would also open (xlsb, ods): not admitted.
        raise PackageRejected("package.file.unparseable", f"{file}: not an xlsx workbook", file)
    shared = array("Q")
    for info in infos:
        if info.filename.lower().endswith("sharedstrings.xml"):
            shared.extend(_shared_string_sizes(archive, info, file))
    for info in infos:
        # Every XML part: a worksheet may sit at any path the workbook's relations name.
        name = info.filename.lower()
        if name.endswith(".xml") and not name.endswith("sharedstrings.xml"):
            sheet = _scan_sheet(archive, info, shared, file, limits)
            _check_area(sheet, file, info.filename[:60], limits)
