"""Record rules (SPEC §3.2): each rule id fires with its severity on a crafted row, and
only there; the suites and docs/rules.md name the same rules."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd
import pytest
from returnstats.config import REPO_ROOT
from returnstats.validation.prepare import FileContext, prepare
from returnstats.validation.quarantine import split_file
from returnstats.validation.suites import run_suite, suite_rules

from tests.builders import VALID_ID, enterprise_row, make_uscc, worker_row

REPORT_DATE = date(2020, 3, 1)
CAMPAIGN_START = date(2020, 2, 10)


def validate(kind: str, rows: list[dict], province: str = "44"):
    table = pd.DataFrame(rows, dtype=object)
    table = table.where(table != "", None)
    table["row_number"] = np.arange(1, len(rows) + 1, dtype="int64")
    ctx = FileContext(f"{province}_20200301_v1", province, REPORT_DATE, 1, f"{kind}.csv",
                      CAMPAIGN_START)
    prepared = prepare(kind, table, ctx)
    run = run_suite(kind, prepared)
    return prepared, split_file(kind, prepared, run.findings, ctx)


def bad_uscc() -> str:
    good = make_uscc()
    return good[:-1] + ("0" if good[-1] != "0" else "1")


WORKER_CASES = {
    "worker.record_id.missing": ("error", {"record_id": ""}),
    "worker.name.missing": ("error", {"name": ""}),
    "worker.origin_county.missing": ("error", {"origin_county": ""}),
    "worker.destination_province.missing": ("error", {"destination_province": ""}),
    "worker.mode.missing": ("error", {"mode": ""}),
    "worker.arrival_date.missing": ("error", {"arrival_date": ""}),
    "worker.mode.unknown": ("error", {"mode": "步行"}),
    "worker.arrival_date.unparseable": ("error", {"arrival_date": "not a date"}),
    "worker.arrival_date.after_report": ("error", {"arrival_date": "2020-03-02"}),
    "worker.arrival_date.before_campaign": ("error", {"arrival_date": "2020/2/9",
                                                      "departure_date": "20200208"}),
    "worker.destination_province.unknown": ("error", {"destination_province": "火星"}),
    "worker.origin_county.not_county": ("error", {"origin_county": "360400"}),
    "worker.record_id.duplicate": ("error", {"record_id": "W1"}),
    "worker.id_number.invalid": ("warning", {"id_number": VALID_ID[:-1] + "2"}),
    "worker.sex.mismatch_id": ("warning", {"sex": "女"}),
    "worker.birth_date.mismatch_id": ("warning", {"birth_date": "1991年1月2日"}),
    "worker.phone.invalid": ("warning", {"phone": "12345"}),
    "worker.birth_date.unparseable": ("warning", {"birth_date": "long ago"}),
    "worker.departure_date.unparseable": ("warning", {"departure_date": "soon"}),
    "worker.departure_date.after_arrival": ("warning", {"departure_date": "2020-03-01",
                                                        "arrival_date": "2020-02-29"}),
    "worker.origin_risk.elevated": ("warning", {"origin_risk": "高"}),
    "worker.origin_risk.unknown": ("warning", {"origin_risk": "紫"}),
    "worker.sex.unknown": ("warning", {"sex": "X"}),
    "worker.employer_uscc.invalid": ("warning", {"employer_uscc": bad_uscc()}),
}

ENTERPRISE_CASES = {
    "enterprise.enterprise_uscc.missing": ("error", {"enterprise_uscc": ""}),
    "enterprise.enterprise_name.missing": ("error", {"enterprise_name": ""}),
    "enterprise.key_enterprise.missing": ("error", {"key_enterprise": ""}),
    "enterprise.labour_gap.missing": ("error", {"labour_gap": ""}),
    "enterprise.workers_supplied.missing": ("error", {"workers_supplied": ""}),
    "enterprise.status_date.missing": ("error", {"status_date": ""}),
    "enterprise.key_enterprise.invalid": ("error", {"key_enterprise": "也许"}),
    "enterprise.labour_gap.invalid": ("error", {"labour_gap": "0"}),
    "enterprise.workers_supplied.invalid": ("error", {"workers_supplied": "-1"}),
    "enterprise.status_date.unparseable": ("error", {"status_date": "2020-02-30"}),
    "enterprise.status_date.after_report": ("error", {"status_date": "2020-03-02"}),
    "enterprise.enterprise_uscc.invalid": ("warning", {"enterprise_uscc": bad_uscc()}),
    "enterprise.enterprise_uscc.other_province": ("warning",
                                                  {"enterprise_uscc": make_uscc("110105")}),
    "enterprise.channel.unknown": ("warning", {"channel": "其他"}),
}


def _check_only_rule(kind, rows, rule_id, severity):
    prepared, outcome = validate(kind, rows)
    q = outcome.quarantine
    crafted = len(rows)
    assert set(zip(q["row_number"], q["rule"], q["severity"], strict=True)) == {(crafted, rule_id, severity)}
    accepted = set(outcome.accepted["row_number"])
    expected = set(range(1, crafted)) | ({crafted} if severity == "warning" else set())
    assert accepted == expected
    assert outcome.rows_accepted + outcome.rows_quarantined == outcome.rows_received == crafted
    return prepared, outcome


@pytest.mark.parametrize("rule_id", sorted(WORKER_CASES))
def test_worker_rule_flags_only_the_crafted_row(rule_id):
    severity, overrides = WORKER_CASES[rule_id]
    rows = [worker_row(record_id="W1"), worker_row(record_id="W2"),
            worker_row(**{"record_id": "W3", **overrides})]
    _check_only_rule("workers", rows, rule_id, severity)


@pytest.mark.parametrize("rule_id", sorted(ENTERPRISE_CASES))
def test_enterprise_rule_flags_only_the_crafted_row(rule_id):
    severity, overrides = ENTERPRISE_CASES[rule_id]
    rows = [enterprise_row(), enterprise_row(enterprise_uscc=make_uscc(serial="MA5XYW99")),
            enterprise_row(**overrides)]
    _, outcome = _check_only_rule("enterprises", rows, rule_id, severity)
    # For enterprise rows the quarantine names the USCC as given.
    assert outcome.quarantine["record_id"].iloc[0] == (overrides.get("enterprise_uscc",
                                                       make_uscc()) or None)


def test_labour_gap_that_is_not_an_integer_is_invalid():
    _check_only_rule("enterprises", [enterprise_row(), enterprise_row(labour_gap="12.5")],
                     "enterprise.labour_gap.invalid", "error")


def test_every_suite_rule_has_a_crafted_case():
    assert {r.rule_id for r in suite_rules("workers")} == set(WORKER_CASES)
    assert {r.rule_id for r in suite_rules("enterprises")} == set(ENTERPRISE_CASES)


def test_suites_and_rules_doc_agree_on_ids_and_severities():
    text = (REPO_ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `((?:worker|enterprise)\.[a-z_.]+)` \| (error|warning) \|",
                                text, flags=re.M))
    in_suites = {(r.rule_id, r.severity) for k in ("workers", "enterprises")
                 for r in suite_rules(k)}
    assert documented == in_suites


def test_row_breaking_several_error_rules_is_quarantined_once_per_rule_counted_once():
    rows = [worker_row(record_id="W1"), worker_row(record_id="W1", mode="步行", name="")]
    _, outcome = validate("workers", rows)
    assert set(outcome.quarantine["rule"]) == {
        "worker.record_id.duplicate", "worker.mode.unknown", "worker.name.missing"}
    assert outcome.rows_quarantined == 1 and outcome.rows_accepted == 1


def test_warned_values_are_treated_as_absent_but_the_row_is_kept():
    rows = [worker_row(phone="12345", id_number=VALID_ID[:-1] + "2", birth_date="long ago",
                       employer_uscc=bad_uscc())]
    _, outcome = validate("workers", rows)
    kept = outcome.accepted.iloc[0]
    assert pd.isna(kept["phone"]) and pd.isna(kept["id_number"])
    assert pd.isna(kept["employer_uscc"])
    assert pd.isna(kept["birth_date"])
    assert kept["id_number_raw"] == VALID_ID[:-1] + "2"
    assert set(outcome.quarantine["severity"]) == {"warning"}
    assert outcome.rows_quarantined == 0


def test_quarantine_detail_holds_no_personal_data():
    rows = [worker_row(name="王小明", phone="999", id_number="123", mode="步行")]
    _, outcome = validate("workers", rows)
    text = " ".join(outcome.quarantine["detail"])
    assert "王小明" not in text and "999" not in text and "步行" not in text


def test_normalised_values_are_typed():
    rows = [worker_row(id_number=" " + VALID_ID.lower().replace("1", "１", 1), sex="M",
                       phone="+86 138-0013-8000", origin_county="３６０４２６",
                       destination_province="广东", mode="Special Train", origin_risk="中")]
    prepared, outcome = validate("workers", rows)
    row = outcome.accepted.iloc[0]
    assert row["id_number"] == VALID_ID and row["phone"] == "13800138000"
    assert row["origin_county"] == "360426" and row["origin_province"] == "36"
    assert row["destination_province"] == "44" and row["mode"] == "special_train"
    assert row["origin_risk"] == "medium" and row["sex"] == "M"
    assert row["arrival_date"] == pd.Timestamp("2020-03-01")


@pytest.mark.parametrize("package_province,origin,destination,role", [
    ("36", "360426", "44", "sending"),
    ("44", "360426", "44", "receiving"),
    ("44", "440106", "44", "sending"),
    ("11", "360426", "44", "other"),
])
def test_role_follows_from_the_package_province(package_province, origin, destination, role):
    prepared, _ = validate("workers", [worker_row(origin_county=origin,
                                                  destination_province=destination)],
                           province=package_province)
    assert prepared["role"].tolist() == [role]


def test_header_only_file_has_no_findings():
    table = pd.DataFrame({"record_id": pd.Series(dtype=object),
                          "row_number": pd.Series(dtype="int64")})
    ctx = FileContext("44_20200301_v1", "44", REPORT_DATE, 1, "w.csv", CAMPAIGN_START)
    prepared = prepare("workers", table, ctx)
    run = run_suite("workers", prepared)
    assert all(f.row_numbers.size == 0 for f in run.findings)


def test_findings_stay_exact_at_a_million_rows():
    """Correctness at scale; the speed of this step is measured by `make bench`."""
    base = [worker_row(record_id=f"W{i}") for i in range(1000)]
    base[7]["mode"] = "步行"
    base[8]["phone"] = "1"
    prepared, _ = validate("workers", base)
    big = pd.concat([prepared] * 1000, ignore_index=True)
    big["row_number"] = np.arange(1, len(big) + 1, dtype="int64")
    big["record_id"] = "W" + big["row_number"].astype(str)
    run = run_suite("workers", big)
    found = {f.rule.rule_id: f.row_numbers.size for f in run.findings if f.row_numbers.size}
    assert found == {"worker.mode.unknown": 1000, "worker.phone.invalid": 1000}


def test_an_expectation_that_cannot_run_fails_loudly():
    prepared, _ = validate("workers", [worker_row()])
    prepared["arrival_date"] = "soon"  # text where the rule compares dates
    with pytest.raises(RuntimeError, match="worker.arrival_date.after_report"):
        run_suite("workers", prepared)


def test_rules_doc_tables_are_generated_from_the_current_suites():
    from returnstats.validation import rules_doc

    text = rules_doc.DOC.read_text(encoding="utf-8")
    assert rules_doc.BEGIN in text and rules_doc.current(text) == text, \
        "run python -m returnstats.validation.rules_doc"
