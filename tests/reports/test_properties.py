"""Arbitrary bytes as a data file: a Package or a PackageRejected, never another exception."""

from __future__ import annotations

import hashlib
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from returnstats.config import Limits
from returnstats.reports.errors import PackageRejected
from returnstats.reports.landing import scan_landing
from returnstats.reports.package import Package, read_file, read_package

LIMITS = Limits(field_max_bytes=64, json_max_depth=8)
REASONS = {
    "package.file.encoding", "package.file.unparseable", "package.file.nul_bytes",
    "package.file.field_too_long", "package.file.duplicate_column",
    "package.file.missing_column", "package.file.json_too_deep", "package.zip.too_large",
}

csv_like = st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from(list('ab,"\n\r 　记录号姓名\x00é') + ["record_id", "name,"]),
             max_size=80).map(lambda t: "".join(t).encode("utf-8")),
)
json_like = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=12), children, max_size=4)),
    max_leaves=20,
).map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8"))


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(csv_like, json_like, st.binary(max_size=200)),
       name=st.sampled_from(["w.csv", "w.json", "w.jsonl", "w.xlsx"]),
       kind=st.sampled_from(["workers", "enterprises"]))
def test_any_bytes_give_a_file_or_a_reason(data, name, kind):
    try:
        raw = read_file(kind, name, data, LIMITS)
    except PackageRejected as error:
        assert error.reason in REASONS, error.reason
        assert error.file == name
    else:
        assert raw.rows_received == len(raw.table)
        assert list(raw.table["row_number"]) == sorted(raw.table["row_number"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(csv_like, json_like))
def test_any_file_in_a_package_gives_a_package_or_a_rejection(tmp_path_factory, data):
    landing = tmp_path_factory.mktemp("landing")
    folder = landing / "44" / "44_20200301_v1"
    folder.mkdir(parents=True)
    (folder / "workers.csv").write_bytes(data)
    manifest = {"province": "44", "report_date": "2020-03-01", "version": 1,
                "submitted_at": "2020-03-01T18:00:00+08:00",
                "files": [{"kind": "workers", "name": "workers.csv", "rows": 1,
                           "sha256": hashlib.sha256(data).hexdigest()}]}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    ref = scan_landing(landing).packages[0]
    try:
        assert isinstance(read_package(ref, LIMITS), Package)
    except PackageRejected as error:
        assert error.reason.startswith("package.")


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_any_manifest_bytes_give_a_package_or_a_rejection(tmp_path_factory, data):
    landing = tmp_path_factory.mktemp("landing")
    folder = landing / "44" / "44_20200301_v1"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_bytes(data)
    try:
        read_package(scan_landing(landing).packages[0], LIMITS)
    except PackageRejected as error:
        assert error.reason in {"package.manifest.invalid", "package.name_mismatch",
                                "package.file.missing"}
