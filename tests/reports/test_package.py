"""One test per package-level reason id of docs/rules.md, plus the happy paths."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import zipfile
from datetime import date

import pytest
from returnstats.config import Limits
from returnstats.reports.errors import PackageRejected
from returnstats.reports.landing import PackageRef
from returnstats.reports.package import read_package

from tests.builders import (
    ENTERPRISE_HEADERS,
    WORKER_HEADERS,
    PackageBuilder,
    csv_bytes,
    enterprise_row,
    worker_row,
)
from tests.reports.conftest import read_only_package


def rejected(landing, limits: Limits | None = None) -> PackageRejected:
    with pytest.raises(PackageRejected) as caught:
        read_only_package(landing, limits)
    return caught.value


# ---------------------------------------------------------------- accepted

def test_valid_directory_package_is_read(builder, landing):
    builder.write()
    package = read_only_package(landing)
    workers = package.files["workers"]
    assert workers.rows_received == 2
    assert workers.table["record_id"].tolist() == ["W1", "W2"]
    assert workers.table["row_number"].tolist() == [1, 2]
    assert str(workers.table["row_number"].dtype) == "int64"
    assert package.files["enterprises"].table["key_enterprise"].tolist() == ["是"]
    assert package.manifest["province"] == "44"
    manifest = (landing / "44" / builder.name / "manifest.json").read_bytes()
    files = [(landing / "44" / builder.name / n).read_bytes()
             for n in ("workers.csv", "enterprises.csv")]
    assert package.content_sha256 == hashlib.sha256(manifest + b"".join(files)).hexdigest()


@pytest.mark.parametrize("top_folder", [False, True])
def test_zip_package_is_read_at_root_or_in_a_top_folder(builder, landing, top_folder):
    builder.write(as_zip=True, top_folder=top_folder)
    package = read_only_package(landing)
    assert package.ref.is_zip
    assert package.files["workers"].rows_received == 2


def test_same_content_gives_same_sha_and_different_content_differs(builder, landing, tmp_path):
    builder.write()
    first = read_only_package(landing).content_sha256
    other = PackageBuilder(tmp_path / "other")
    other.add("workers", "workers.csv", csv_bytes(WORKER_HEADERS, [worker_row(name="李四")]))
    other.write()
    assert read_only_package(tmp_path / "other").content_sha256 != first
    again = PackageBuilder(tmp_path / "again", files=builder.files)
    again.write(as_zip=True)
    assert read_only_package(tmp_path / "again").content_sha256 == first


def test_unknown_columns_are_dropped_and_listed(landing):
    pkg = PackageBuilder(landing)
    pkg.add("workers", "workers.csv",
            csv_bytes([*WORKER_HEADERS, "备注", "Notes"], [worker_row(备注="x", Notes="y")]))
    pkg.write()
    workers = read_only_package(landing).files["workers"]
    assert workers.extra_columns == ["备注", "Notes"]
    assert "备注" not in workers.table.columns


def test_cells_are_trimmed_and_blank_cells_are_none(landing):
    pkg = PackageBuilder(landing)
    pkg.add("workers", "workers.csv", csv_bytes(WORKER_HEADERS, [
        worker_row(name="\u3000张三 ", phone="   ", trip_ref="")]))
    pkg.write()
    table = read_only_package(landing).files["workers"].table
    assert table.loc[0, "name"] == "张三"
    assert table.loc[0, "phone"] is None and table.loc[0, "trip_ref"] is None
    assert table["name"].dtype == object


# ---------------------------------------------------------------- manifest

def test_package_without_manifest_is_rejected(builder, landing):
    path = builder.write()
    (path / "manifest.json").unlink()
    assert rejected(landing).reason == "package.manifest.missing"


@pytest.mark.parametrize("manifest", [
    b"{not json",
    b'{"province": "44"}',
    json.dumps({"province": "44", "report_date": "2020-03-01", "version": 0,
                "submitted_at": "2020-03-01T18:00:00+08:00", "files": []}).encode(),
    b"[" * 100 + b"]" * 100,
])
def test_invalid_manifest_is_rejected(builder, landing, manifest):
    builder.write(contents={**builder.contents(), "manifest.json": manifest})
    assert rejected(landing).reason == "package.manifest.invalid"


@pytest.mark.parametrize("override", [
    {"version": 1.0}, {"version": "1"}, {"report_date": "2020-02-30"},
    {"files": [{"kind": "workers", "name": "a.csv", "rows": -1, "sha256": "0" * 64}]},
    {"files": [{"kind": "workers", "name": "a.csv", "rows": 1, "sha256": "0" * 64},
               {"kind": "workers", "name": "b.csv", "rows": 1, "sha256": "0" * 64}]},
    {"files": [{"kind": "visitors", "name": "a.csv", "rows": 1, "sha256": "0" * 64}]},
    {"files": [{"kind": "workers", "name": "../a.csv", "rows": 1, "sha256": "0" * 64}]},
])
def test_manifest_not_of_the_schema_is_rejected(builder, landing, override):
    builder.manifest_overrides = override
    builder.write()
    assert rejected(landing).reason == "package.manifest.invalid"


@pytest.mark.parametrize("name", ["work\ners.csv", "workers .csv", "职工.csv", "a;b.csv", "..",
                                  "x" * 256 + ".csv"])
def test_manifest_file_name_outside_the_safe_set_is_invalid(builder, landing, name):
    """`^[A-Za-z0-9._-]{1,255}$`: a name reaches logs and ledger reasons, so no newline,
    no space, no other script (the detail shows it escaped)."""
    builder.manifest_overrides = {"files": [{"kind": "workers", "name": name, "rows": 1,
                                             "sha256": "0" * 64}]}
    builder.write()
    rejection = rejected(landing)
    assert rejection.reason == "package.manifest.invalid"
    assert "\n" not in rejection.detail


def test_oversized_manifest_is_rejected(builder, landing):
    builder.manifest_overrides = {"padding": "x" * 2000}
    builder.write()
    assert rejected(landing, Limits(manifest_max_bytes=1000)).reason == "package.manifest.invalid"


@pytest.mark.parametrize("override", [
    {"province": "11"}, {"report_date": "2020-03-02"}, {"version": 2}])
def test_manifest_disagreeing_with_package_name_is_rejected(builder, landing, override):
    builder.manifest_overrides = override
    builder.write()
    assert rejected(landing).reason == "package.name_mismatch"


# ---------------------------------------------------------------- files

def test_listed_file_absent_is_rejected(builder, landing):
    builder.files[1].present = False
    builder.write()
    error = rejected(landing)
    assert (error.reason, error.file) == ("package.file.missing", "enterprises.csv")


def test_file_with_wrong_sha256_is_rejected(builder, landing):
    builder.files[0].sha256 = "ab" * 32
    builder.write()
    assert rejected(landing).reason == "package.file.checksum"


def test_truncated_upload_is_rejected_on_row_count(builder, landing):
    builder.files[0].rows = 3
    builder.write()
    error = rejected(landing)
    assert error.reason == "package.file.row_count"
    assert "workers.csv" in error.detail


def test_file_neither_utf8_nor_gb18030_is_rejected(landing):
    pkg = PackageBuilder(landing)
    pkg.add("workers", "workers.csv", b"record_id\n\xff\xfe\xff\n", rows=1)
    pkg.write()
    assert rejected(landing).reason == "package.file.encoding"


def test_nul_bytes_are_rejected(landing):
    pkg = PackageBuilder(landing)
    pkg.add("workers", "workers.csv",
            csv_bytes(WORKER_HEADERS, [worker_row(name="张\x00三")]), rows=1)
    pkg.write()
    assert rejected(landing).reason == "package.file.nul_bytes"


@pytest.mark.parametrize("name,data", [
    ("workers.txt", b"record_id\nW1\n"),
    ("workers.csv", b""),
    ("workers.csv", b'record_id,name\n"W1,x\n'),
    ("workers.csv", b"record_id,name\nW1,x,extra,more\n"),
    ("workers.json", b'{"record_id": "W1"}'),
    ("workers.json", b"[1, 2]"),
    ("workers.jsonl", b'{"record_id": "W1"}\nnot json\n'),
    ("workers.xlsx", b"PK\x03\x04 not really a zip"),
])
def test_unparseable_file_is_rejected(landing, name, data):
    pkg = PackageBuilder(landing)
    pkg.add("workers", name, data, rows=1)
    pkg.write()
    assert rejected(landing).reason == "package.file.unparseable"


def test_field_longer_than_limit_is_rejected_naming_row_and_column(landing):
    pkg = PackageBuilder(landing)
    rows = [worker_row(), worker_row(record_id="W2", employer_name="厂" * 400)]
    pkg.add("workers", "workers.csv", csv_bytes(WORKER_HEADERS, rows))
    pkg.write()
    error = rejected(landing, Limits(field_max_bytes=1000))
    assert error.reason == "package.file.field_too_long"
    assert "row 2" in error.detail and "employer_name" in error.detail
    assert "厂" not in error.detail


def test_quoted_field_with_newlines_longer_than_limit_is_rejected(landing):
    pkg = PackageBuilder(landing)
    long_name = "a\n" * 600
    pkg.add("workers", "workers.csv", csv_bytes(WORKER_HEADERS, [worker_row(name=long_name)]))
    pkg.write()
    assert rejected(landing, Limits(field_max_bytes=1000)).reason == "package.file.field_too_long"


def test_field_too_long_in_json_is_rejected(landing):
    pkg = PackageBuilder(landing)
    pkg.add("workers", "workers.json",
            json.dumps([worker_row(name="x" * 2000)]).encode())
    pkg.write()
    assert rejected(landing, Limits(field_max_bytes=1000)).reason == "package.file.field_too_long"


@pytest.mark.parametrize("headers", [
    [*WORKER_HEADERS, "name"],
    [*WORKER_HEADERS, "姓名"],
    [*WORKER_HEADERS, " ＮＡＭＥ "],
])
def test_column_present_twice_is_rejected(landing, headers):
    pkg = PackageBuilder(landing)
    pkg.add("workers", "workers.csv", csv_bytes(headers, [list(worker_row().values()) + ["x"]]))
    pkg.write()
    assert rejected(landing).reason == "package.file.duplicate_column"


def test_duplicate_key_in_a_json_object_is_a_duplicate_column(landing):
    pkg = PackageBuilder(landing)
    pkg.add("workers", "workers.jsonl", b'{"record_id": "W1", "record_id": "W2"}\n', rows=1)
    pkg.write()
    assert rejected(landing).reason == "package.file.duplicate_column"


@pytest.mark.parametrize("kind,headers,row", [
    ("workers", [h for h in WORKER_HEADERS if h != "mode"], worker_row()),
    ("enterprises", [h for h in ENTERPRISE_HEADERS if h != "status_date"], enterprise_row()),
])
def test_required_column_missing_is_rejected(landing, kind, headers, row):
    pkg = PackageBuilder(landing)
    pkg.add(kind, f"{kind}.csv", csv_bytes(headers, [row]))
    pkg.write()
    error = rejected(landing)
    assert error.reason == "package.file.missing_column"
    assert ("mode" if kind == "workers" else "status_date") in error.detail


def test_json_nested_deeper_than_limit_is_rejected_without_recursion(landing):
    deep = b'[{"record_id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]"
    pkg = PackageBuilder(landing)
    pkg.add("workers", "workers.json", deep, rows=1)
    pkg.write()
    assert rejected(landing).reason == "package.file.json_too_deep"


def test_brackets_inside_json_strings_do_not_count_as_nesting(landing):
    pkg = PackageBuilder(landing)
    pkg.add("workers", "workers.json", json.dumps([worker_row(name="[" * 50 + '\\"{')]).encode())
    pkg.write()
    assert read_only_package(landing).files["workers"].rows_received == 1


def test_symlink_inside_a_package_directory_is_rejected(builder, landing, tmp_path):
    path = builder.write()
    secret = tmp_path / "secret.csv"
    secret.write_text("x")
    os.symlink(secret, path / "extra.csv")
    assert rejected(landing).reason == "package.symlink"


def test_symlinked_data_file_is_rejected_not_read(builder, landing, tmp_path):
    path = builder.write()
    target = tmp_path / "real.csv"
    os.replace(path / "workers.csv", target)
    os.symlink(target, path / "workers.csv")
    assert rejected(landing).reason == "package.symlink"


# ---------------------------------------------------------------- zip

def _zip(landing, entries, name="44_20200301_v1"):
    """Write a raw zip from (ZipInfo or name, bytes) pairs; return its PackageRef."""
    folder = landing / "44"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in entries:
            archive.writestr(info, data)
    return PackageRef(name, "44", date(2020, 3, 1), 1, path, True)


def _zip_reason(ref, limits=None):
    with pytest.raises(PackageRejected) as caught:
        read_package(ref, limits or Limits())
    return caught.value.reason


@pytest.mark.parametrize("entry", ["../evil.csv", "/etc/evil.csv", "a/../../evil.csv",
                                   "..\\evil.csv", "C:/evil.csv"])
def test_zip_entry_with_unsafe_path_is_rejected(builder, landing, entry):
    ref = _zip(landing, [*builder.contents().items(), (entry, b"x")])
    assert _zip_reason(ref) == "package.zip.unsafe_path"


def test_zip_with_duplicate_entry_is_rejected(builder, landing):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns "Duplicate name"
        ref = _zip(landing, [*builder.contents().items(), ("workers.csv", b"other")])
    assert _zip_reason(ref) == "package.zip.duplicate_entry"


def test_zip_with_symlink_entry_is_rejected(builder, landing):
    link = zipfile.ZipInfo("workers_link.csv")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    ref = _zip(landing, [*builder.contents().items(), (link, b"/etc/passwd")])
    assert _zip_reason(ref) == "package.zip.symlink"


def test_zip_with_too_many_entries_is_rejected(builder, landing):
    extra = [(f"extra_{i}.txt", b"x") for i in range(20)]
    ref = _zip(landing, [*builder.contents().items(), *extra])
    assert _zip_reason(ref) == "package.zip.too_many_entries"


def test_zip_whose_total_size_exceeds_limit_is_rejected(builder, landing):
    ref = _zip(landing, list(builder.contents().items()))
    assert _zip_reason(ref, Limits(zip_max_total_bytes=100)) == "package.zip.too_large"


def _zip_with_zero_bomb(path, size: int) -> None:
    """A zip holding `size` bytes of zeros, compressed while streaming (never in memory)."""
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("manifest.json", b"{}")
        with archive.open("workers.csv", "w", force_zip64=True) as entry:
            for _ in range(size // len(chunk)):
                entry.write(chunk)


def test_zip_bomb_is_rejected_before_expansion(landing, tmp_path):
    """A 1 GiB entry of zeros compresses ~1000:1: rejected from the central directory."""
    (landing / "44").mkdir()
    path = landing / "44" / "44_20200301_v1.zip"
    _zip_with_zero_bomb(path, 1 << 30)
    assert path.stat().st_size < 5 << 20
    ref = PackageRef("44_20200301_v1", "44", date(2020, 3, 1), 1, path, True)
    assert _zip_reason(ref) == "package.zip.too_large"


def test_zip_entry_lying_about_its_size_is_read_bounded(builder, landing):
    """Headers saying 'small' do not make the reader expand more than the limits allow."""
    ref = _zip(landing, list(builder.contents().items()))
    raw = bytearray(ref.path.read_bytes())
    # Shrink every declared uncompressed size of workers.csv in the central directory to 1.
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as archive:
        info = archive.getinfo("workers.csv")
    central = raw.rfind(b"PK\x01\x02", 0, raw.rfind(b"workers.csv"))
    raw[central + 24: central + 28] = (1).to_bytes(4, "little")
    ref.path.write_bytes(bytes(raw))
    with pytest.raises(PackageRejected) as caught:
        read_package(ref, Limits())
    assert info.file_size > 1
    assert caught.value.reason in {"package.file.unparseable", "package.zip.too_large",
                                   "package.file.checksum"}


def test_corrupt_zip_is_rejected(landing):
    (landing / "44").mkdir()
    path = landing / "44" / "44_20200301_v1.zip"
    path.write_bytes(b"PK\x03\x04garbage")
    ref = PackageRef("44_20200301_v1", "44", date(2020, 3, 1), 1, path, True)
    assert _zip_reason(ref) == "package.file.unparseable"


def test_named_pipe_in_a_package_is_rejected_without_opening_it(builder, landing):
    path = builder.write()
    os.mkfifo(path / "notes.txt")  # not even listed: any non-regular entry rejects
    rejection = rejected(landing)
    assert (rejection.reason, rejection.file) == ("package.file.not_regular", "notes.txt")
    assert "named pipe" in rejection.detail


def test_named_pipe_as_a_zip_package_is_rejected_without_opening_it(landing):
    (landing / "44").mkdir()
    os.mkfifo(landing / "44" / "44_20200301_v1.zip")
    ref = PackageRef("44_20200301_v1", "44", date(2020, 3, 1), 1,
                     landing / "44" / "44_20200301_v1.zip", True)
    with pytest.raises(PackageRejected) as caught:
        read_package(ref, Limits())
    assert caught.value.reason == "package.file.not_regular"
