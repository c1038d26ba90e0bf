"""The bad-input corpus: one crafted package per case, built on the fly (SPEC §3.1, §3.2).

Each case writes one package through a `PackageBuilder` already set to the province and
report date the corpus gives it, so that every case is a package of its own in one
shared landing zone. `expected` is the package reason, the record rule, or `ACCEPTED`
for hostile input that must be taken in as harmless text.
"""

from __future__ import annotations

import json
import os
import stat
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tests.builders import (
    ENTERPRISE_HEADERS,
    VALID_ID,
    WORKER_HEADERS,
    PackageBuilder,
    csv_bytes,
    enterprise_row,
    json_bytes,
    make_uscc,
    worker_row,
)
from tests.corpus import hostile

ACCEPTED = "accepted"
FORMULA = "=cmd|' /C calc'!A0"
PERSONAL = ("张三", VALID_ID, "13800138000")
"""Values planted in every crafted row: no detail or log line may repeat them."""
GIB = 1 << 30
CAMPAIGN_START = date(2020, 2, 10)


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[PackageBuilder, Path], None]
    """Writes the package; the Path is a scratch folder outside the landing zone."""
    expected: str
    detail_names: tuple[str, ...] = ()
    """Texts the rejection detail must contain: the file, the row where known."""
    resubmit: Callable[[PackageBuilder], None] | None = None
    """Run after a first ingest pass, before the second (a resubmission)."""
    check: Callable[[Any, str], None] | None = None
    """Extra assertions on (StagedData, staged package name)."""


# ---------------------------------------------------------------- rows relative to the date

def workers(pkg: PackageBuilder, n: int = 2, **overrides: Any) -> list[dict[str, Any]]:
    """n valid worker rows for the package's report date; overrides go to the last row."""
    rd = pkg.report_date
    rows = [worker_row(record_id=f"W{i}", arrival_date=rd.isoformat(),
                       departure_date=(rd - timedelta(days=2)).isoformat())
            for i in range(1, n + 1)]
    rows[-1].update(overrides)
    return rows


def enterprises(pkg: PackageBuilder, n: int = 2, **overrides: Any) -> list[dict[str, Any]]:
    rows = [enterprise_row(enterprise_uscc=make_uscc(f"{pkg.province}0100", f"MA5ABC{i:02d}"),
                           status_date=pkg.report_date.isoformat()) for i in range(1, n + 1)]
    rows[-1].update(overrides)
    return rows


def workers_csv(pkg: PackageBuilder, n: int = 2, **overrides: Any) -> bytes:
    return csv_bytes(WORKER_HEADERS, workers(pkg, n, **overrides))


def with_workers(data: bytes, name: str = "workers.csv", **options: Any):
    def build(pkg: PackageBuilder, _: Path) -> None:
        pkg.add("workers", name, data, **options)
        pkg.write()
    return build


def good_then(mutate: Callable[[PackageBuilder, Path], None]):
    """A valid workers package, written, then changed by `mutate(pkg, path)`."""
    def build(pkg: PackageBuilder, _: Path) -> None:
        pkg.add("workers", "workers.csv", workers_csv(pkg))
        mutate(pkg, pkg.write())
    return build


def zipped(entries: Callable[[PackageBuilder], list[tuple[zipfile.ZipInfo | str, bytes]]]):
    """A .zip package whose entries are given as they are (no safety applied)."""
    def build(pkg: PackageBuilder, _: Path) -> None:
        pkg.add("workers", "workers.csv", workers_csv(pkg))
        folder = pkg.landing / pkg.province
        folder.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(folder / f"{pkg.name}.zip", "w", zipfile.ZIP_DEFLATED) as archive, \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a duplicate name is the point of one case
            for info, data in entries(pkg):
                archive.writestr(info, data)
    return build


def _package_entries(pkg: PackageBuilder) -> list[tuple[str, bytes]]:
    return list(pkg.contents().items())


# ---------------------------------------------------------------- package-level cases

def _manifest_too_large(pkg: PackageBuilder, _: Path) -> None:
    pkg.add("workers", "workers.csv", workers_csv(pkg))
    pkg.manifest_overrides["padding"] = "x" * ((1 << 20) + 1)
    pkg.write()


def _replace_manifest(data: bytes):
    def build(pkg: PackageBuilder, _: Path) -> None:
        pkg.add("workers", "workers.csv", workers_csv(pkg))
        pkg.write(contents={**pkg.contents(), "manifest.json": data})
    return build


def _without_manifest(pkg: PackageBuilder, _: Path) -> None:
    pkg.add("workers", "workers.csv", workers_csv(pkg))
    contents = pkg.contents()
    del contents["manifest.json"]
    pkg.write(contents=contents)


def _manifest_override(**override: Any):
    def build(pkg: PackageBuilder, _: Path) -> None:
        pkg.add("workers", "workers.csv", workers_csv(pkg))
        pkg.manifest_overrides.update(override)
        pkg.write()
    return build


def _mixed_encodings(pkg: PackageBuilder) -> bytes:
    """Header and one row in UTF-8, one row in GB18030. The UTF-8 part is chosen so that
    the whole file still decodes as GB18030 (to mojibake): only the per-line check sees it."""
    rows = workers(pkg, 2, name="李四")
    # Chinese cells of two characters (six UTF-8 bytes) pair up as GB18030 characters.
    rows[0].update(name="张三", sex="M", destination_city="深圳", employer_name="",
                   mode="bus", origin_risk="low")
    utf8 = csv_bytes(WORKER_HEADERS, rows[:1])
    gb = csv_bytes(WORKER_HEADERS, rows[1:]).split(b"\n", 1)[1].decode().encode("gb18030")
    data = utf8 + gb
    data.decode("gb18030")  # the premise: GB18030 alone would take this file
    return data


def _ten_mb_field(pkg: PackageBuilder) -> bytes:
    return csv_bytes(WORKER_HEADERS, workers(pkg, 1, name="张" * (10 * 1024 * 1024 // 3)))


def _duplicate_header(pkg: PackageBuilder) -> bytes:
    rows = [[*[r[h] for h in WORKER_HEADERS], "again"] for r in workers(pkg)]
    return csv_bytes([*WORKER_HEADERS, "name"], rows)


def _alias_and_canonical(pkg: PackageBuilder) -> bytes:
    rows = [[*[r[h] for h in WORKER_HEADERS], r["name"]] for r in workers(pkg)]
    return csv_bytes([*WORKER_HEADERS, "姓名"], rows)


def _no_mode_column(pkg: PackageBuilder) -> bytes:
    headers = [h for h in WORKER_HEADERS if h != "mode"]
    return csv_bytes(headers, workers(pkg))


def _json_duplicate_key(pkg: PackageBuilder) -> bytes:
    row = json.dumps(workers(pkg, 1)[0], ensure_ascii=False)
    return f'[{row[:-1]}, "name": "李四"}}]'.encode()


def _json_too_deep(pkg: PackageBuilder) -> bytes:
    row = workers(pkg, 1)[0]
    nested: Any = "x"
    for _ in range(40):
        nested = [nested]
    row["destination_city"] = nested
    return json_bytes([row])


def _crafted(pkg: PackageBuilder, name: str, data: bytes, rows: int):
    pkg.add("workers", name, data, rows=rows)
    pkg.write()


def _zip_symlink_entry(pkg: PackageBuilder) -> list[tuple[zipfile.ZipInfo | str, bytes]]:
    link = zipfile.ZipInfo("enterprises.csv")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    return [*_package_entries(pkg), (link, b"/etc/passwd")]


def _deflated_zeros(size: int, chunk: int = 1 << 20) -> tuple[bytes, int]:
    """A raw deflate stream of `size` zero bytes and its CRC-32, built without compressing
    `size` bytes: after a full flush every chunk compresses to the same bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(chunk)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    count = size // chunk
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(zeros, crc)
    return first + block * (count - 1) + compressor.flush(zlib.Z_FINISH), crc


def raw_zip(entries: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip from (name, deflate stream, crc, declared size, compression method) as given:
    the sizes in the headers are whatever the caller declares."""
    local, central = bytearray(), bytearray()
    for name, data, crc, size, method in entries:
        encoded = name.encode()
        offset = len(local)
        local += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc,
                             len(data), size, len(encoded), 0) + encoded + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21,
                               crc, len(data), size, len(encoded), 0, 0, 0, 0, 0o644 << 16,
                               offset) + encoded
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries),
                      len(central), len(local), 0)
    return bytes(local + central + end)


def _stored(name: str, data: bytes) -> tuple[str, bytes, int, int, int]:
    return name, data, zlib.crc32(data), len(data), 0


def _zip_bomb(declared: int | None, size: int):
    """workers.csv as `size` zero bytes deflated (declared in the headers as `declared`,
    the true size when None), beside a manifest that lists it."""
    def build(pkg: PackageBuilder, _: Path) -> None:
        stream, crc = _deflated_zeros(size)
        manifest = {"province": pkg.province, "report_date": pkg.report_date.isoformat(),
                    "version": pkg.version,
                    "submitted_at": f"{pkg.report_date.isoformat()}T18:00:00+08:00",
                    "files": [{"kind": "workers", "name": "workers.csv", "rows": 1,
                               "sha256": "0" * 64}]}
        folder = pkg.landing / pkg.province
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{pkg.name}.zip").write_bytes(raw_zip([
            _stored("manifest.json", json.dumps(manifest).encode()),
            ("workers.csv", stream, crc, size if declared is None else declared, 8),
        ]))
    return build


def _xlsx_bomb(pkg: PackageBuilder) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b" " * (20 << 20))
    return buffer.getvalue()


def _symlinked_package(target: Callable[[PackageBuilder, Path], Path], zip_: bool = False):
    def build(pkg: PackageBuilder, outside: Path) -> None:
        folder = pkg.landing / pkg.province
        folder.mkdir(parents=True, exist_ok=True)
        link = folder / (f"{pkg.name}.zip" if zip_ else pkg.name)
        link.symlink_to(target(pkg, outside), target_is_directory=not zip_)
    return build


def _valid_package_outside(pkg: PackageBuilder, outside: Path, as_zip: bool = False) -> Path:
    """A valid package of the same name outside the landing zone: never to be read."""
    elsewhere = replace(pkg, landing=outside / "not-landing", files=[], manifest_overrides={})
    elsewhere.add("workers", "workers.csv", workers_csv(pkg))
    return elsewhere.write(as_zip=as_zip)


def _file_symlink_to_etc(pkg: PackageBuilder, path: Path) -> None:
    (path / "enterprises.csv").symlink_to("/etc/passwd")


def _also_as_zip(pkg: PackageBuilder, path: Path) -> None:
    pkg.write(as_zip=True, contents={**pkg.contents(), "workers.csv": workers_csv(pkg, 1)})


def _resubmit_different(pkg: PackageBuilder) -> None:
    import shutil

    shutil.rmtree(pkg.landing / pkg.province / pkg.name)
    pkg.files.clear()
    pkg.add("workers", "workers.csv", workers_csv(pkg, 3))
    pkg.write()


def _named_pipe(pkg: PackageBuilder, _: Path) -> None:
    """workers.csv is a fifo nobody writes to: opening it to read would block forever."""
    pkg.add("workers", "workers.csv", workers_csv(pkg), present=False)
    os.mkfifo(pkg.write() / "workers.csv")


def _header_only(staged: Any, package: str) -> None:
    ledger = staged.ledger[staged.ledger["package"] == package]
    assert ledger[["rows_received", "rows_accepted"]].values.tolist() == [[0, 0]]


def _formula_kept_as_text(column: str, value: str | None):
    def check(staged: Any, package: str) -> None:
        mine = staged.workers[staged.workers["package"] == package]
        assert mine[column].tolist()[-1] == value
    return check


def _formula_xlsx(pkg: PackageBuilder) -> bytes:
    import io

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "workers"
    sheet.append(WORKER_HEADERS)
    for row in workers(pkg):
        sheet.append([row[h] for h in WORKER_HEADERS])
    sheet.cell(3, WORKER_HEADERS.index("employer_name") + 1).value = "=HYPERLINK(\"http://x\",1+1)"
    text = sheet.cell(3, WORKER_HEADERS.index("trip_ref") + 1)
    text.value, text.data_type = FORMULA, "s"  # a text cell that looks like a formula
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _formula_xlsx_checks(staged: Any, package: str) -> None:
    row = staged.workers[staged.workers["package"] == package].iloc[-1]
    assert row["employer_name"] is None or row["employer_name"] != row["employer_name"]  # never computed
    assert row["trip_ref"] == FORMULA


def _lazy(make: Callable[[PackageBuilder], bytes], name: str = "workers.csv", **options: Any):
    def build(pkg: PackageBuilder, outside: Path) -> None:
        with_workers(make(pkg), name, **options)(pkg, outside)
    return build


PACKAGE_CASES = [
    Case("manifest_absent_rejects_the_package", _without_manifest, "package.manifest.missing"),
    Case("manifest_not_json_is_invalid", _replace_manifest(b'{"province": "44",'),
         "package.manifest.invalid", ("manifest.json",)),
    Case("manifest_version_zero_is_invalid", _manifest_override(version=0),
         "package.manifest.invalid", ("version",)),
    Case("manifest_over_one_mib_is_invalid", _manifest_too_large, "package.manifest.invalid"),
    Case("manifest_naming_another_date_is_a_name_mismatch",
         _manifest_override(report_date="2019-12-31"), "package.name_mismatch"),
    Case("listed_file_absent_is_missing",
         lambda pkg, _: (pkg.add("workers", "workers.csv", workers_csv(pkg), present=False),
                         pkg.write()), "package.file.missing", ("workers.csv",)),
    Case("file_changed_after_the_manifest_fails_its_checksum",
         lambda pkg, o: with_workers(workers_csv(pkg), sha256="0" * 64)(pkg, o),
         "package.file.checksum", ("workers.csv",)),
    Case("truncated_upload_fails_the_row_count",
         lambda pkg, o: with_workers(workers_csv(pkg), rows=5)(pkg, o),
         "package.file.row_count", ("workers.csv", "5")),
    Case("utf8_and_gb18030_lines_in_one_file_is_an_encoding_error", _lazy(_mixed_encodings, rows=2),
         "package.file.encoding", ("workers.csv", "line 2")),
    Case("latin1_bytes_are_an_encoding_error",
         _lazy(lambda pkg: workers_csv(pkg).replace(b"W2", b"W\xff\xfe2"), rows=2),
         "package.file.encoding", ("workers.csv",)),
    Case("nul_bytes_reject_the_file", _lazy(lambda pkg: workers_csv(pkg).replace(b"W2", b"W\x002"), rows=2),
         "package.file.nul_bytes", ("workers.csv",)),
    Case("ten_mb_field_is_too_long", _lazy(_ten_mb_field, rows=1), "package.file.field_too_long",
         ("workers.csv", "row 1", "name")),
    Case("same_header_twice_is_a_duplicate_column", _lazy(_duplicate_header),
         "package.file.duplicate_column", ("workers.csv", "name")),
    Case("chinese_alias_beside_its_canonical_name_is_a_duplicate_column",
         _lazy(_alias_and_canonical), "package.file.duplicate_column", ("workers.csv", "姓名")),
    Case("json_key_twice_in_an_object_is_a_duplicate_column",
         _lazy(_json_duplicate_key, "workers.json", rows=1), "package.file.duplicate_column",
         ("workers.json",)),
    Case("required_column_absent_is_missing", _lazy(_no_mode_column),
         "package.file.missing_column", ("workers.csv", "mode")),
    Case("json_nested_forty_deep_is_too_deep", _lazy(_json_too_deep, "workers.json"),
         "package.file.json_too_deep", ("workers.json",)),
    Case("empty_file_of_zero_bytes_is_unparseable",
         lambda pkg, _: _crafted(pkg, "workers.csv", b"", 0), "package.file.unparseable",
         ("workers.csv",)),
    Case("unclosed_quote_is_unparseable",
         _lazy(lambda pkg: workers_csv(pkg) + b'W9,"unclosed\n', rows=2),
         "package.file.unparseable", ("workers.csv",)),
    Case("unknown_extension_is_unparseable",
         lambda pkg, _: _crafted(pkg, "workers.exe", b"MZ\x90\x00", 0),
         "package.file.unparseable", ("workers.exe",)),
    Case("xlsx_that_is_no_zip_is_unparseable",
         lambda pkg, _: _crafted(pkg, "workers.xlsx", b"not a workbook", 0),
         "package.file.unparseable", ("workers.xlsx",)),
    Case("xlsx_part_expanding_past_the_ratio_is_too_large",
         lambda pkg, _: _crafted(pkg, "workers.xlsx", _xlsx_bomb(pkg), 0),
         "package.zip.too_large", ("workers.xlsx",)),
    Case("garbage_zip_is_unparseable",
         lambda pkg, _: ((pkg.landing / pkg.province).mkdir(parents=True, exist_ok=True),
                         (pkg.landing / pkg.province / f"{pkg.name}.zip").write_bytes(b"PK\x03\x04junk")),
         "package.file.unparseable"),
    Case("zip_entry_climbing_out_is_unsafe",
         zipped(lambda pkg: [*_package_entries(pkg), ("../../escape.csv", b"x")]),
         "package.zip.unsafe_path", ("../../escape.csv",)),
    Case("zip_entry_with_absolute_path_is_unsafe",
         zipped(lambda pkg: [*_package_entries(pkg), ("/etc/cron.d/x", b"x")]),
         "package.zip.unsafe_path"),
    Case("zip_entry_twice_is_a_duplicate_entry",
         zipped(lambda pkg: [*_package_entries(pkg), ("workers.csv", workers_csv(pkg, 3))]),
         "package.zip.duplicate_entry", ("workers.csv",)),
    Case("zip_symlink_entry_is_rejected", zipped(_zip_symlink_entry), "package.zip.symlink",
         ("enterprises.csv",)),
    Case("zip_with_seventeen_entries_has_too_many",
         zipped(lambda pkg: [*_package_entries(pkg), *((f"extra{i}.txt", b"x") for i in range(15))]),
         "package.zip.too_many_entries"),
    Case("zip_bomb_of_one_gib_is_too_large_before_expanding", _zip_bomb(None, GIB),
         "package.zip.too_large", ("workers.csv",)),
    # zipfile stops at the declared size, then the CRC fails: nothing past it is inflated.
    Case("zip_entry_understating_its_size_is_unreadable", _zip_bomb(64 << 10, 64 << 20),
         "package.file.unparseable", ("workers.csv",)),
    Case("package_symlink_to_etc_is_never_followed",
         _symlinked_package(lambda pkg, outside: Path("/etc")), "package.symlink"),
    Case("package_symlink_to_a_valid_package_outside_landing_is_never_followed",
         _symlinked_package(_valid_package_outside), "package.symlink"),
    Case("zip_package_symlink_outside_landing_is_never_followed",
         _symlinked_package(lambda pkg, outside: _valid_package_outside(pkg, outside, True),
                            zip_=True), "package.symlink"),
    Case("symlink_inside_a_package_to_etc_passwd_is_never_followed",
         good_then(_file_symlink_to_etc), "package.symlink", ("enterprises.csv",)),
    Case("directory_and_zip_of_one_name_conflict", good_then(_also_as_zip),
         "package.version.conflict"),
    Case("different_content_under_an_accepted_name_conflicts",
         lambda pkg, o: with_workers(workers_csv(pkg))(pkg, o), "package.version.conflict",
         resubmit=_resubmit_different),
    # Shapes that asked a reader for gigabytes (issue 17): refused before any table is built.
    Case("xlsx_cell_at_XFD1048576_is_too_wide",
         _lazy(lambda pkg: hostile.sparse_columns_xlsx(workers(pkg)), "workers.xlsx", rows=2),
         "package.file.too_many_columns", ("workers.xlsx", "range")),
    Case("xlsx_cell_at_A1048576_is_a_sparse_range",
         _lazy(lambda pkg: hostile.sparse_rows_xlsx(workers(pkg)), "workers.xlsx", rows=2),
         "package.file.sparse_range", ("workers.xlsx", "1048576 rows")),
    Case("xlsx_cells_repeating_a_long_shared_string_expand_too_much",
         _lazy(lambda pkg: hostile.shared_string_bomb_xlsx(), "workers.xlsx", rows=50_000),
         "package.file.text_too_large", ("workers.xlsx",)),
    Case("csv_header_of_six_thousand_columns_is_too_wide",
         _lazy(lambda pkg: hostile.wide_csv(), rows=hostile.WIDE),
         "package.file.too_many_columns", ("workers.csv", "header")),
    Case("json_records_each_adding_a_key_are_too_wide",
         _lazy(lambda pkg: hostile.wide_json(), "workers.json", rows=hostile.WIDE),
         "package.file.too_many_columns", ("workers.json", "keys")),
    Case("named_pipe_in_a_package_is_never_opened", _named_pipe, "package.file.not_regular",
         ("workers.csv", "named pipe")),
    Case("header_only_file_is_accepted_with_no_rows",
         _lazy(lambda pkg: csv_bytes(WORKER_HEADERS, [])), ACCEPTED, check=_header_only),
    Case("csv_formula_cell_is_kept_as_text",
         _lazy(lambda pkg: workers_csv(pkg, 2, name=FORMULA)), ACCEPTED,
         check=_formula_kept_as_text("name", FORMULA)),
    Case("xlsx_formula_is_never_evaluated", _lazy(_formula_xlsx, "workers.xlsx"), ACCEPTED,
         check=_formula_xlsx_checks),
]


# ---------------------------------------------------------------- record-level cases

def _other_uscc() -> str:
    good = make_uscc()
    return good[:-1] + ("0" if good[-1] != "0" else "1")


def _days(pkg: PackageBuilder, n: int) -> str:
    return (pkg.report_date + timedelta(days=n)).isoformat()


WORKER_RULES: dict[str, Callable[[PackageBuilder], dict[str, Any]]] = {
    "worker.record_id.missing": lambda pkg: {"record_id": ""},
    "worker.name.missing": lambda pkg: {"name": ""},
    "worker.origin_county.missing": lambda pkg: {"origin_county": ""},
    "worker.destination_province.missing": lambda pkg: {"destination_province": ""},
    "worker.mode.missing": lambda pkg: {"mode": ""},
    "worker.arrival_date.missing": lambda pkg: {"arrival_date": ""},
    "worker.mode.unknown": lambda pkg: {"mode": "步行"},
    "worker.arrival_date.unparseable": lambda pkg: {"arrival_date": "not a date"},
    "worker.arrival_date.after_report": lambda pkg: {"arrival_date": _days(pkg, 1)},
    "worker.arrival_date.before_campaign": lambda pkg: {"arrival_date": "2020/2/9",
                                                        "departure_date": "20200208"},
    "worker.destination_province.unknown": lambda pkg: {"destination_province": "火星"},
    "worker.origin_county.not_county": lambda pkg: {"origin_county": "360400"},
    "worker.record_id.duplicate": lambda pkg: {"record_id": "W1"},
    "worker.id_number.invalid": lambda pkg: {"id_number": VALID_ID[:-1] + "2"},
    "worker.sex.mismatch_id": lambda pkg: {"sex": "女"},
    "worker.birth_date.mismatch_id": lambda pkg: {"birth_date": "1991年1月2日"},
    "worker.phone.invalid": lambda pkg: {"phone": "12345"},
    "worker.birth_date.unparseable": lambda pkg: {"birth_date": "long ago"},
    "worker.departure_date.unparseable": lambda pkg: {"departure_date": "soon"},
    "worker.departure_date.after_arrival": lambda pkg: {"departure_date": _days(pkg, 0),
                                                        "arrival_date": _days(pkg, -1)},
    "worker.origin_risk.elevated": lambda pkg: {"origin_risk": "高"},
    "worker.origin_risk.unknown": lambda pkg: {"origin_risk": "紫"},
    "worker.sex.unknown": lambda pkg: {"sex": "X"},
    "worker.employer_uscc.invalid": lambda pkg: {"employer_uscc": _other_uscc()},
}

ENTERPRISE_RULES: dict[str, Callable[[PackageBuilder], dict[str, Any]]] = {
    "enterprise.enterprise_uscc.missing": lambda pkg: {"enterprise_uscc": ""},
    "enterprise.enterprise_name.missing": lambda pkg: {"enterprise_name": ""},
    "enterprise.key_enterprise.missing": lambda pkg: {"key_enterprise": ""},
    "enterprise.labour_gap.missing": lambda pkg: {"labour_gap": ""},
    "enterprise.workers_supplied.missing": lambda pkg: {"workers_supplied": ""},
    "enterprise.status_date.missing": lambda pkg: {"status_date": ""},
    "enterprise.key_enterprise.invalid": lambda pkg: {"key_enterprise": "也许"},
    "enterprise.labour_gap.invalid": lambda pkg: {"labour_gap": "0"},
    "enterprise.workers_supplied.invalid": lambda pkg: {"workers_supplied": "-1"},
    "enterprise.status_date.unparseable": lambda pkg: {"status_date": "2020-02-30"},
    "enterprise.status_date.after_report": lambda pkg: {"status_date": _days(pkg, 1)},
    "enterprise.enterprise_uscc.invalid": lambda pkg: {
        "enterprise_uscc": make_uscc(f"{pkg.province}0100", "MA5ABC09")[:-1] + "I"},
    "enterprise.enterprise_uscc.other_province": lambda pkg: {
        "enterprise_uscc": make_uscc("650100" if pkg.province != "65" else "110105")},
    "enterprise.channel.unknown": lambda pkg: {"channel": "其他"},
}


def _record_case(rule_id: str, overrides: Callable[[PackageBuilder], dict[str, Any]]) -> Case:
    kind = "workers" if rule_id.startswith("worker.") else "enterprises"
    rows = workers if kind == "workers" else enterprises
    headers = WORKER_HEADERS if kind == "workers" else ENTERPRISE_HEADERS

    def build(pkg: PackageBuilder, _: Path) -> None:
        pkg.add(kind, f"{kind}.csv", csv_bytes(headers, rows(pkg, 3, **overrides(pkg))))
        pkg.write()
    return Case(rule_id.replace(".", "_") + "_row_is_flagged", build, rule_id)


RECORD_CASES = [_record_case(rule, make) for rule, make in {**WORKER_RULES,
                                                             **ENTERPRISE_RULES}.items()]
CASES = PACKAGE_CASES + RECORD_CASES

