"""Back test (RAP manner): the frozen landing set of tests/backtests/inputs/, run through
ingest -> link -> publish for 2020-02-17 and 2020-02-18, must publish exactly the tables
frozen in tests/backtests/expected/. A difference is a decision: if it is intended,
`python -m tests.backtests.refreeze` and commit the diff of expected/ on its own."""

from __future__ import annotations

from pathlib import Path

import backtest_run as bt
import pytest

REFREEZE = "if intended: .venv/bin/python -m tests.backtests.refreeze, review and commit"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bt.run_pipeline(tmp_path_factory.mktemp("backtest")).warehouse


@pytest.mark.parametrize("table_name", bt.FROZEN_TABLES)
def test_published_table_equals_the_frozen_one(warehouse: Path, table_name: str) -> None:
    expected = bt.read_frozen(bt.EXPECTED / f"{table_name}.csv")
    problems = bt.differences(table_name, expected, bt.published(warehouse, table_name))
    assert not problems, "\n".join([*problems, REFREEZE])


def test_exact_figures_equal_the_generator_truth(warehouse: Path) -> None:
    # Anchors the frozen files to the generator, not to whatever the code produced.
    problems = bt.truth_differences(bt.published(warehouse, "national_summary"))
    assert not problems, "\n".join(problems)


def test_frozen_national_summary_equals_the_generator_truth() -> None:
    problems = bt.truth_differences(bt.read_frozen(bt.EXPECTED / "national_summary.csv"))
    assert not problems, "\n".join(problems)


def test_a_difference_names_table_key_and_column() -> None:
    expected = bt.read_frozen(bt.EXPECTED / "ledger.csv")
    changed = expected.copy()
    changed.loc[0, "rows_accepted"] = "999"
    problems = bt.differences("ledger", expected, changed.drop(index=1))
    row0, row1 = expected.iloc[0], expected.iloc[1]
    assert problems == [
        f"ledger (as_of={row0.as_of}, package={row0.package}, file={row0.file}) rows_accepted:"
        f" frozen {row0.rows_accepted!r}, published '999'",
        f"ledger (as_of={row1.as_of}, package={row1.package}, file={row1.file}):"
        " frozen row not published",
    ]
