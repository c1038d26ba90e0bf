"""The sample generator: reproducible, well-formed packages, every planted item listed,
and a truth that is consistent with itself."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile

import openpyxl
import pandas as pd
import pytest
from returnstats.sample import deliver, generate
from returnstats.sample.generate import ENTERPRISE_ERRORS, WORKER_ERRORS, WORKER_WARNINGS
from stdnum.cn import ric, uscc

START, DAYS, PERSONS, SEED = "2020-02-17", 3, 500, 11


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    began = time.perf_counter()
    info = generate(out, START, DAYS, PERSONS, SEED, "2020-02-10")
    return info, time.perf_counter() - began


def _packages(info) -> dict[str, dict[str, bytes]]:
    """package name → {entry name: bytes}, for every package under arrivals/."""
    found = {}
    for path in sorted(info.arrivals.glob("*/*/*")):
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                found[path.stem] = {n: archive.read(n) for n in archive.namelist()}
        else:
            found[path.name] = {p.name: p.read_bytes() for p in path.iterdir()}
    return found


def _truth(info, name: str) -> pd.DataFrame:
    return pd.read_csv(info.truth / f"{name}.csv", dtype=str, keep_default_na=False)


def test_small_sample_is_generated_fast(sample):
    info, seconds = sample
    assert seconds < 10
    assert (info.truth / "national_summary.csv").exists()


def test_same_seed_gives_the_same_bytes(sample, tmp_path):
    info, _ = sample
    again = generate(tmp_path / "again", START, DAYS, PERSONS, SEED, "2020-02-10")
    first = {p.relative_to(info.out): p.read_bytes() for p in info.out.rglob("*") if p.is_file()}
    second = {p.relative_to(again.out): p.read_bytes() for p in again.out.rglob("*") if p.is_file()}
    assert first == second


def test_manifests_of_sound_packages_match_their_files(sample):
    info, _ = sample
    faults = set(_truth(info, "planted_package_faults")["package"])
    checked = 0
    for name, entries in _packages(info).items():
        if name in faults:
            continue
        manifest = json.loads(entries["manifest.json"])
        province, ymd, version = name.split("_")
        assert (manifest["province"], manifest["report_date"].replace("-", ""), f"v{manifest['version']}") \
            == (province, ymd, version)
        for listed in manifest["files"]:
            data = entries[listed["name"]]
            assert hashlib.sha256(data).hexdigest() == listed["sha256"]
            assert _data_rows(listed["name"], data, listed["kind"]) == listed["rows"]
            checked += 1
    assert checked > 100


def _data_rows(name: str, data: bytes, kind: str) -> int:
    if name.endswith(".csv"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("gb18030")
        return len(pd.read_csv(io.StringIO(text), dtype=str))
    if name.endswith(".jsonl"):
        return len(data.decode().splitlines())
    if name.endswith(".json"):
        return len(json.loads(data))
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return book[kind].max_row - 1


def test_every_planted_package_fault_is_present_and_listed(sample):
    info, _ = sample
    faults = dict(_truth(info, "planted_package_faults").itertuples(index=False))
    assert set(faults.values()) == {"package.file.checksum", "package.manifest.missing",
                                    "package.name_mismatch", "package.zip.unsafe_path"}
    packages = _packages(info)
    for name, reason in faults.items():
        entries = packages[name]
        if reason == "package.manifest.missing":
            assert "manifest.json" not in entries
        elif reason == "package.zip.unsafe_path":
            assert any(".." in entry.split("/") for entry in entries)
        elif reason == "package.name_mismatch":
            assert json.loads(entries["manifest.json"])["province"] != name[:2]
        elif reason == "package.file.checksum":
            listed = json.loads(entries["manifest.json"])["files"]
            assert any(hashlib.sha256(entries[f["name"]]).hexdigest() != f["sha256"] for f in listed)
    ledger = _truth(info, "ledger")
    assert set(ledger.loc[ledger["status"] == "rejected", "package"]) == set(faults)


def test_resubmission_late_missing_and_stray_items_are_in_place(sample):
    info, _ = sample
    meta = json.loads((info.truth / "sample.json").read_text(encoding="utf-8"))
    (resubmitted,) = meta["resubmitted"]
    assert list(info.arrivals.glob(f"{resubmitted['visible_on']}/*/{resubmitted['replacement']}*"))
    ledger = _truth(info, "ledger")
    assert set(ledger.loc[ledger["package"] == resubmitted["superseded"], "status"]) == {"superseded"}
    for late in meta["late_packages"]:
        assert list(info.arrivals.glob(f"{late['visible_on']}/*/{late['package']}*"))
    missing = _truth(info, "provinces_missing")
    for row in missing.itertuples(index=False):
        assert not list(info.arrivals.glob(f"*/{row.province}/{row.province}_{row.report_date.replace('-', '')}_*"))
    assert (info.arrivals / START / "README.txt").is_file()
    assert not (len(missing) == 0)


def test_truth_is_internally_consistent(sample):
    info, _ = sample
    summary = pd.read_csv(info.truth / "national_summary.csv")
    assert summary["as_of"].nunique() == DAYS
    modes = [c for c in summary.columns if c.startswith("returns_cumulative_")]
    for _, by_as_of in summary.groupby("as_of"):
        assert (by_as_of["returns_new"].cumsum() == by_as_of["returns_cumulative"]).all()
        assert (by_as_of["cross_province_new"].cumsum() == by_as_of["cross_province_cumulative"]).all()
        assert (by_as_of[modes].sum(axis=1) == by_as_of["returns_cumulative"]).all()
        assert by_as_of["key_enterprises_resolved_cumulative"].is_monotonic_increasing
    assert summary["provinces_reporting"].between(0, 31).all()
    last = summary[summary["as_of"] == summary["as_of"].max()]
    assert 0.7 < last["cross_province_cumulative"].iloc[-1] / last["returns_cumulative"].iloc[-1] < 0.9
    records = _truth(info, "records")
    assert last["returns_cumulative"].iloc[-1] <= records["person_id"].nunique() <= DAYS * PERSONS
    ledger = _truth(info, "ledger").astype({"rows_received": int, "rows_accepted": int, "rows_quarantined": int})
    accepted = ledger[ledger["status"] == "accepted"]
    assert (accepted["rows_received"] == accepted["rows_accepted"] + accepted["rows_quarantined"]).all()


def test_planted_record_rules_are_known_and_one_per_row(sample):
    info, _ = sample
    planted = _truth(info, "planted_record_errors")
    assert set(planted["rule"]) <= set(WORKER_ERRORS + WORKER_WARNINGS + ENTERPRISE_ERRORS)
    assert set(WORKER_ERRORS) <= set(planted["rule"])
    assert not planted.duplicated(["package", "file", "row_number"]).any()
    errors = planted[planted["severity"] == "error"]
    ledger = _truth(info, "ledger")
    accepted = ledger[ledger["status"] == "accepted"].astype({"rows_quarantined": int})
    per_file = errors.groupby(["package", "file"]).size()
    expected = accepted.set_index(["package", "file"])["rows_quarantined"]
    assert per_file.reindex(expected.index, fill_value=0).equals(expected)


def test_identities_are_valid_gb_numbers(sample):
    info, _ = sample
    workers = pd.read_csv(next(info.arrivals.glob("*/44/44_*_v1/workers.csv")), dtype=str,
                          keep_default_na=False)
    ids = [i for i in workers["id_number"] if len(i) == 18 and i.isdigit() or i.endswith("X")]
    assert sum(ric.is_valid(i) for i in ids) >= 0.9 * len(ids) > 0
    usccs = [u for u in workers["employer_uscc"] if u]
    assert sum(uscc.is_valid(u) for u in usccs) >= 0.9 * len(usccs) > 0
    assert workers["origin_county"].str.fullmatch(r"\d{4}(?!00)\d{2}").mean() > 0.95


def test_deliver_copies_arrivals_through_a_date_idempotently(sample, tmp_path):
    info, _ = sample
    landing = tmp_path / "landing"
    first = deliver(info.out, landing, START)
    assert first and (landing / "README.txt").is_file()
    assert not list(landing.glob("*/*_20200218_*"))
    assert deliver(info.out, landing, START) == []
    deliver(info.out, landing, "2020-02-19")
    assert list(landing.glob("45/45_20200217_v1*"))  # the two-day-late package
    symlinked = info.arrivals / "2020-02-19" / "link_test"
    symlinked.symlink_to("../elsewhere")
    try:
        deliver(info.out, landing, "2020-02-19")
        assert (landing / "link_test").is_symlink()
    finally:
        symlinked.unlink()
