"""Readers of the data-file formats (SPEC §2.2): bytes in, a table of raw text cells out.

One registry, `READERS`, by file extension. Every reader is bounded (field length, JSON
depth, xlsx uncompressed size), evaluates nothing (no formulas) and turns every failure
into a `PackageRejected`. Cells come out as text exactly as given; `package.py` maps the
headers and trims the cells.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
import pandas as pd

from returnstats.config import Limits
from returnstats.reports.columns import canonical_column
from returnstats.reports.errors import PackageRejected
from returnstats.reports.xlsx_bounds import TOO_MANY_COLUMNS, check_xlsx_bounds

_UTF8_BOM = b"\xef\xbb\xbf"
_MAX_FLOAT_INT = 2**53  # beyond this a float cannot hold every integer: Excel lost digits


@dataclass
class ParsedFile:
    """A file as parsed: header texts and one object array of cell texts per column.

    Cells are `str` ('' for empty) or None (key absent in a JSON object). `row_numbers`
    holds the row number of each data row (1-based, header excluded).
    """

    headers: list[str]
    columns: list[np.ndarray]
    row_numbers: np.ndarray


Reader = Callable[[bytes, str, str, Limits], ParsedFile]


def _reject(reason: str, file: str, detail: str) -> PackageRejected:
    return PackageRejected(reason, f"{file}: {detail}", file)


def _too_many_columns(file: str, what: str, limits: Limits) -> PackageRejected:
    return _reject(TOO_MANY_COLUMNS, file, f"{what} has more than {limits.max_columns} columns")


def _short(text: object, width: int = 60) -> str:
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def decode_text(data: bytes, file: str) -> bytes:
    """The file as UTF-8 bytes (without BOM): UTF-8, UTF-8 with BOM, else GB18030.

    Decoding is strict and of the whole buffer; NUL bytes reject the file.
    """
    if b"\x00" in data:
        raise _reject("package.file.nul_bytes", file, "contains NUL bytes")
    if data.startswith(_UTF8_BOM):
        body = data[len(_UTF8_BOM):]
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _reject("package.file.encoding", file,
                          f"UTF-8 BOM but invalid UTF-8 at byte {exc.start + 3}") from None
        return body
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        raise _reject("package.file.encoding", file,
                      "decodes neither as UTF-8 nor as GB18030") from None
    if (line := _utf8_line(data)) is not None:
        # Most UTF-8 Chinese also decodes as GB18030, to mojibake: one encoding per file.
        raise _reject("package.file.encoding", file,
                      f"mixes encodings: line {line} is UTF-8, other lines are not")
    return text.encode("utf-8")


def _utf8_line(data: bytes) -> int | None:
    """The first line of a non-UTF-8 buffer that is non-ASCII valid UTF-8, or None.

    A line of real GB18030 text is practically never valid UTF-8 (GB18030 trail bytes
    rarely continue a UTF-8 sequence), so such a line means the file mixes encodings.
    """
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            continue
        return number
    return None


# ---------------------------------------------------------------- field length

def _field_too_long(file: str, row: object, column: str, limit: int) -> PackageRejected:
    return _reject("package.file.field_too_long", file,
                   f"row {row}, {column} is longer than {limit} bytes")


def check_field_lengths(parsed: ParsedFile, file: str, kind: str, limit: int) -> None:
    """Reject the first header or cell whose UTF-8 encoding is longer than `limit` bytes.

    The detail names the column by its canonical name, or by position: a header text
    that is no known column may well be a data row of a file without header.
    """
    labels = [f"column '{canonical_column(kind, h)}'" if canonical_column(kind, h)
              else f"column {j + 1}" for j, h in enumerate(parsed.headers)]
    for label, header in zip(labels, parsed.headers, strict=True):
        if len(header.encode("utf-8")) > limit:
            raise _field_too_long(file, "header", label, limit)
    for label, column in zip(labels, parsed.columns, strict=True):
        chars = pd.Series(column, dtype=object).str.len().to_numpy(dtype=float, na_value=0)
        # A character is at most 4 bytes in UTF-8: only longer cells need encoding.
        for i in np.flatnonzero(chars * 4 > limit):
            if len(column[i].encode("utf-8")) > limit:
                raise _field_too_long(file, int(parsed.row_numbers[i]), label, limit)


def _no_field_can_be_too_long(body: bytes, limit: int) -> bool:
    """Whole-buffer test: without quotes a field never spans lines, so no field is longer
    than the longest line (lines end at LF or CR)."""
    if len(body) <= limit:
        return True
    if b'"' in body:
        return False
    # Hop from line end to line end: each window of limit + 1 bytes must hold one.
    start = 0
    while len(body) - start > limit:
        end = start + limit + 1
        cut = max(body.rfind(b"\n", start, end), body.rfind(b"\r", start, end))
        if cut < 0:
            return False
        start = cut + 1
    return True


# ---------------------------------------------------------------- CSV

def _check_csv_width(body: bytes, file: str, limits: Limits) -> None:
    """The first non-blank record (the header) within the column limit, read as a stream:
    the parser sizes every row to it, so a wide header would grow with rows × columns.
    Longer rows fail the parser afterwards."""
    text = io.TextIOWrapper(io.BytesIO(body), encoding="utf-8", newline="")
    try:
        header = next((row for row in csv.reader(text) if row), [])
    except csv.Error as exc:
        if "field limit" in str(exc):  # a header field past the csv module's 128 Ki characters
            raise _field_too_long(file, "header", "a column", _FIELD_LIMIT_CHARS) from None
        raise _reject("package.file.unparseable", file,
                      f"not a well-formed CSV ({_short(exc, 160)})") from None
    if len(header) > limits.max_columns:
        raise _too_many_columns(file, "the header", limits)


_FIELD_LIMIT_CHARS = csv.field_size_limit()


def read_csv(data: bytes, file: str, kind: str, limits: Limits) -> ParsedFile:
    body = decode_text(data, file)
    _check_csv_width(body, file, limits)
    try:
        # The C parser, everything as text, nothing turned into NaN: values stay as given.
        frame = pd.read_csv(io.BytesIO(body), header=None, dtype=object, na_filter=False,
                            encoding="utf-8", index_col=False, engine="c",
                            skip_blank_lines=True)
    except pd.errors.EmptyDataError:
        raise _reject("package.file.unparseable", file, "no header row") from None
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise _reject("package.file.unparseable", file,
                      f"not a well-formed CSV ({_short(exc, 160)})") from None
    headers = [str(h) for h in frame.iloc[0].tolist()]
    columns = [frame.iloc[1:, j].to_numpy(dtype=object) for j in range(frame.shape[1])]
    parsed = ParsedFile(headers, columns, np.arange(1, len(frame), dtype=np.int64))
    if not _no_field_can_be_too_long(body, limits.field_max_bytes):
        check_field_lengths(parsed, file, kind, limits.field_max_bytes)
    return parsed


# ---------------------------------------------------------------- XLSX

def _xlsx_cell(value: object) -> str:
    """A cell as text. No digits are invented: a float past 2**53 keeps its float repr."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < _MAX_FLOAT_INT:
            return str(int(value))
        return repr(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if value is None:
        return ""
    return str(value)


def _check_xlsx_container(data: bytes, file: str, limits: Limits) -> None:
    """An xlsx is a zip: bound its expansion, then its ranges and shared strings
    (`xlsx_bounds`), before the xlsx library inflates it."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
        raise _reject("package.file.unparseable", file, "not an xlsx (zip) file") from None
    with archive:
        _check_xlsx_sizes(infos, file, limits)
        check_xlsx_bounds(archive, file, limits)


def _check_xlsx_sizes(infos: list[zipfile.ZipInfo], file: str, limits: Limits) -> None:
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > limits.zip_max_ratio * max(info.compress_size, 1):
            raise _reject("package.zip.too_large", file,
                          f"xlsx part '{_short(info.filename)}' expands more than "
                          f"{limits.zip_max_ratio:g} times")
    if total > limits.zip_max_total_bytes:
        raise _reject("package.zip.too_large", file,
                      f"xlsx expands to more than {limits.zip_max_total_bytes} bytes")


def read_xlsx(data: bytes, file: str, kind: str, limits: Limits) -> ParsedFile:
    _check_xlsx_container(data, file, limits)
    from python_calamine import CalamineWorkbook

    try:
        with CalamineWorkbook.from_filelike(io.BytesIO(data)) as workbook:
            names = workbook.sheet_names
            wanted = [n for n in names if n.strip().lower() == kind]
            sheet = (workbook.get_sheet_by_name(wanted[0]) if wanted
                     else workbook.get_sheet_by_index(0))
            rows = sheet.to_python(skip_empty_area=True)
    except Exception as exc:  # a third-party parser of untrusted input: any failure is "unparseable"
        raise _reject("package.file.unparseable", file,
                      f"not a readable xlsx ({type(exc).__name__})") from None
    if not rows:
        raise _reject("package.file.unparseable", file, "sheet has no header row")
    headers = [_xlsx_cell(v) for v in rows[0]]
    width = len(headers)
    body = []
    for row in rows[1:]:
        cells = [_xlsx_cell(v) for v in row]
        if any(c.strip() for c in cells):  # an all-empty row is a blank line, not a record
            body.append(cells + [""] * (width - len(cells)))
    columns = [np.array([r[j] for r in body], dtype=object) for j in range(width)]
    parsed = ParsedFile(headers, columns, np.arange(1, len(body) + 1, dtype=np.int64))
    check_field_lengths(parsed, file, kind, limits.field_max_bytes)
    return parsed


# ---------------------------------------------------------------- JSON and JSON Lines

# A JSON string, unrolled so that the match is linear in its length.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)


def json_depth(body: bytes) -> int:
    """Deepest bracket nesting of a JSON text, computed without recursion."""
    skeleton = np.frombuffer(_JSON_STRING.sub(b'""', body), dtype=np.uint8)
    opens = (skeleton == 0x5B) | (skeleton == 0x7B)
    closes = (skeleton == 0x5D) | (skeleton == 0x7D)
    where = np.flatnonzero(opens | closes)
    if not len(where):
        return 0
    steps = np.where(opens[where], 1, -1)
    return int(np.cumsum(steps).max())


class _DuplicateKey(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def _loads(text: str) -> object:
    # Numbers stay as written ("4.10102E+17" stays that), keys may not repeat.
    return json.loads(text, parse_int=str, parse_float=str, parse_constant=str,
                      object_pairs_hook=_unique_keys)


def _json_cell(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def _json_records(objects: list[dict], row_numbers: list[int], file: str, kind: str,
                  limits: Limits) -> ParsedFile:
    headers: dict[str, None] = {}
    for obj in objects:
        for key in obj:
            if key not in headers:
                headers[key] = None
                if len(headers) > limits.max_columns:  # before any column is built
                    raise _too_many_columns(file, "the union of the objects' keys", limits)
    columns = [np.array([_json_cell(obj.get(key)) for obj in objects], dtype=object)
               for key in headers]
    parsed = ParsedFile(list(headers), columns, np.array(row_numbers, dtype=np.int64))
    check_field_lengths(parsed, file, kind, limits.field_max_bytes)
    return parsed


def _decode_json(data: bytes, file: str, limits: Limits) -> str:
    body = decode_text(data, file)
    if json_depth(body) > limits.json_max_depth:
        raise _reject("package.file.json_too_deep", file,
                      f"nested deeper than {limits.json_max_depth} levels")
    return body.decode("utf-8")


def _parse_json(text: str, file: str, where: str) -> object:
    try:
        return _loads(text)
    except _DuplicateKey as exc:
        raise _reject("package.file.duplicate_column", file,
                      f"{where}key '{_short(exc.args[0])}' appears twice in one object") from None
    except (ValueError, RecursionError) as exc:
        raise _reject("package.file.unparseable", file,
                      f"{where}not valid JSON ({_short(exc, 120)})") from None


def read_json(data: bytes, file: str, kind: str, limits: Limits) -> ParsedFile:
    document = _parse_json(_decode_json(data, file, limits), file, "")
    if not isinstance(document, list):
        raise _reject("package.file.unparseable", file, "not a JSON array of objects")
    for position, obj in enumerate(document, start=1):
        if not isinstance(obj, dict):
            raise _reject("package.file.unparseable", file, f"row {position} is not an object")
    return _json_records(document, list(range(1, len(document) + 1)), file, kind, limits)


def read_jsonl(data: bytes, file: str, kind: str, limits: Limits) -> ParsedFile:
    text = _decode_json(data, file, limits)
    objects, numbers = [], []
    for line_number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        obj = _parse_json(line, file, f"line {line_number}: ")
        if not isinstance(obj, dict):
            raise _reject("package.file.unparseable", file, f"line {line_number} is not an object")
        objects.append(obj)
        numbers.append(line_number)
    return _json_records(objects, numbers, file, kind, limits)


READERS: dict[str, Reader] = {
    ".csv": read_csv,
    ".xlsx": read_xlsx,
    ".json": read_json,
    ".jsonl": read_jsonl,
}


def parse_file(data: bytes, file: str, kind: str, limits: Limits) -> ParsedFile:
    """Parse `data` with the reader of the file's extension."""
    reader = READERS.get(PurePosixPath(file).suffix.lower())
    if reader is None:
        raise _reject("package.file.unparseable", file,
                      f"unknown file format (expected one of {', '.join(READERS)})")
    return reader(data, file, kind, limits)
