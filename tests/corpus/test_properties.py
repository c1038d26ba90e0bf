"""Arbitrary cell values never crash validation: read → prepare → suite → split puts every
row in exactly one place, accepted or quarantined, and the ledger balances (SPEC §3)."""

from __future__ import annotations

from datetime import date

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from returnstats.config import Limits
from returnstats.reports.package import read_file
from returnstats.validation.prepare import FileContext, prepare
from returnstats.validation.quarantine import split_file
from returnstats.validation.suites import run_suite

from tests.builders import ENTERPRISE_HEADERS, WORKER_HEADERS, csv_bytes, enterprise_row, worker_row

HEADERS = {"workers": WORKER_HEADERS, "enterprises": ENTERPRISE_HEADERS}
VALID = {"workers": worker_row, "enterprises": enterprise_row}

cell = st.one_of(
    st.just(""),
    st.text(max_size=24),                                     # any unicode, CJK, controls
    st.integers(min_value=-10**20, max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["2020-03-01", "2020/2/30", "20200301", "2020年3月1日", "男", "女", "高",
                     "包车", "broadcast", "44", "广东", "360426", "1e309", "-0", "　", "=1+1"]),
)


@st.composite
def files(draw):
    kind = draw(st.sampled_from(sorted(HEADERS)))
    headers = HEADERS[kind]
    n = draw(st.integers(min_value=1, max_value=12))
    rows = []
    for _ in range(n):
        row = VALID[kind]()
        changed = draw(st.lists(st.sampled_from(headers), max_size=len(headers), unique=True))
        row.update({column: draw(cell) for column in changed})
        rows.append(row)
    return kind, csv_bytes(headers, rows)


@settings(max_examples=25, deadline=None)
@given(files())
def test_arbitrary_rows_end_accepted_or_quarantined(kind_and_data):
    kind, data = kind_and_data
    name = f"{kind}.csv"
    try:
        raw = read_file(kind, name, data, Limits())
    except Exception as exc:  # text the reader refuses (NUL, a lone surrogate…) is a reason
        assert getattr(exc, "reason", "").startswith("package."), exc
        return
    ctx = FileContext("44_20200301_v1", "44", date(2020, 3, 1), 1, name, date(2020, 2, 10))
    prepared = prepare(kind, raw.table, ctx)
    run = run_suite(kind, prepared)
    outcome = split_file(kind, prepared, run.findings, ctx)

    assert outcome.rows_received == raw.rows_received
    assert outcome.rows_accepted + outcome.rows_quarantined == outcome.rows_received
    accepted = set(outcome.accepted["row_number"])
    errors = set(outcome.quarantine.loc[outcome.quarantine["severity"] == "error", "row_number"])
    assert accepted.isdisjoint(errors)
    assert accepted | errors == set(np.asarray(raw.table["row_number"]))
