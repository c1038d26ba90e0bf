"""A data engineer adds a rule by editing a suite file: no code names rule ids."""

from __future__ import annotations

import json
import shutil

import pytest
from returnstats.validation import suites

from tests.builders import worker_row
from tests.validation.test_rules import validate


@pytest.fixture
def edited_suites(tmp_path, monkeypatch):
    folder = tmp_path / "expectations"
    shutil.copytree(suites.EXPECTATIONS_DIR, folder)
    path = folder / "returnstats" / "workers.json"
    suite = json.loads(path.read_text(encoding="utf-8"))
    suite["expectations"] += [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "trip_ref"},
         "meta": {"rule_id": "worker.trip_ref.missing", "severity": "warning",
                  "detail": "trip_ref is empty"}},
        {"type": "expect_column_value_lengths_to_be_between",
         "kwargs": {"column": "record_id", "max_value": 4},
         "meta": {"rule_id": "worker.record_id.too_long", "severity": "error",
                  "detail": "record_id longer than 4 characters"}},
    ]
    path.write_text(json.dumps(suite, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setattr(suites, "EXPECTATIONS_DIR", folder)
    suites.reload_suites()
    yield
    monkeypatch.undo()
    suites.reload_suites()


def test_an_expectation_added_to_a_suite_file_flags_and_quarantines_rows(edited_suites):
    rows = [worker_row(record_id="W1", trip_ref="G123"), worker_row(record_id="W2", trip_ref=""),
            worker_row(record_id="W3-long", trip_ref="G124")]
    _, outcome = validate("workers", rows)
    found = set(zip(outcome.quarantine["row_number"], outcome.quarantine["rule"],
                    outcome.quarantine["severity"], strict=True))
    assert found == {(2, "worker.trip_ref.missing", "warning"),
                     (3, "worker.record_id.too_long", "error")}
    assert outcome.accepted["row_number"].tolist() == [1, 2]
    assert outcome.rows_quarantined == 1
