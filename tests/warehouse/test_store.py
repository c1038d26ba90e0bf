"""Data files and commit records of SPEC §6: a vintage is visible only once its record is
written, a rerun replaces its date and no other, what no record names is removed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from returnstats.warehouse.commits import current_commit, history
from returnstats.warehouse.location import locate
from returnstats.warehouse.schema import NATIONAL_SUMMARY, PERSON_RETURNS, RETURNS_DAILY, TABLES
from returnstats.warehouse.store import (
    RETENTION,
    SchemaMismatch,
    Segments,
    read_table,
    recover,
    write_segments,
)

from tests.warehouse.conftest import commit, summary

REPO = Path(__file__).resolve().parents[2]
D1, D2 = date(2020, 2, 10), date(2020, 2, 11)


def test_a_commit_names_its_files_and_the_table_reads_back_with_its_exact_schema(
        tmp_path: Path) -> None:
    record = commit(tmp_path, D1, national_summary=summary([(D1, 5, 0)]))
    assert record.paths("national_summary") == [
        f"national_summary/as_of=2020-02-10/part-{record.id}.parquet"]
    assert (tmp_path / record.paths("national_summary")[0]).is_file()
    frame = read_table(tmp_path, "national_summary")
    assert list(frame.columns) == ["as_of", *NATIONAL_SUMMARY.column_names]
    assert frame.loc[0, "as_of"] == D1 and frame.loc[0, "date"] == D1
    assert frame["returns_new"].dtype == "int64"
    vintages = read_table(tmp_path, "vintages")
    assert vintages[["as_of", "status", "provinces_reporting"]].values.tolist() == [
        [D1, "approved", 31]]


def test_missing_or_extra_column_fails_loudly_and_commits_nothing(tmp_path: Path) -> None:
    with pytest.raises(SchemaMismatch, match="missing columns \\['returns_new'\\]"):
        commit(tmp_path, D1, national_summary=summary([(D1, 1, 0)]).drop(columns="returns_new"))
    with pytest.raises(SchemaMismatch, match="extra columns \\['surprise'\\]"):
        commit(tmp_path, D1, national_summary=summary([(D1, 1, 0)]).assign(surprise=1))
    assert current_commit(locate(tmp_path), D1) is None


def test_value_that_does_not_fit_its_type_fails(tmp_path: Path) -> None:
    with pytest.raises(pa.ArrowInvalid):
        commit(tmp_path, D1, national_summary=summary([(D1, 1, 0)]).assign(returns_new=1.5))


def test_zero_rows_still_write_a_readable_file(tmp_path: Path) -> None:
    commit(tmp_path, D1, returns_daily=pd.DataFrame({c: [] for c in RETURNS_DAILY.column_names}))
    frame = read_table(tmp_path, "returns_daily", D1)
    assert frame.empty and list(frame.columns) == ["as_of", *RETURNS_DAILY.column_names]


def test_a_rerun_replaces_its_date_and_leaves_other_dates_untouched(tmp_path: Path) -> None:
    commit(tmp_path, D1, national_summary=summary([(D1, 1, 0)]))
    other = commit(tmp_path, D2, national_summary=summary([(D2, 2, 0)]))
    other_file = tmp_path / other.paths("national_summary")[0]
    other_stat = other_file.stat()
    rerun = commit(tmp_path, D1, national_summary=summary([(D1, 7, 0)]))
    assert rerun.seq == 2
    frame = read_table(tmp_path, "national_summary")
    assert frame[["as_of", "returns_new"]].values.tolist() == [[D1, 7], [D2, 2]]
    assert other_file.stat().st_mtime_ns == other_stat.st_mtime_ns
    assert [c.seq for c in history(locate(tmp_path), D1)] == [1, 2]


def test_recover_keeps_recent_records_and_removes_what_no_record_names(tmp_path: Path) -> None:
    first = commit(tmp_path, D1, national_summary=summary([(D1, 1, 0)]))
    second = commit(tmp_path, D1, national_summary=summary([(D1, 2, 0)]))
    orphan = tmp_path / "national_summary" / "as_of=2020-02-10" / "part-killed-before-commit.parquet"
    orphan.write_bytes(b"half")
    (tmp_path / ".tmp" / "half-written").mkdir(parents=True)
    old_file = tmp_path / first.paths("national_summary")[0]

    assert recover(tmp_path) == [str(orphan.relative_to(tmp_path))]
    assert old_file.is_file(), "a record younger than the retention keeps its files"
    later = datetime.now(UTC) + RETENTION + timedelta(minutes=1)
    removed = recover(tmp_path, now=later)
    assert not old_file.exists() and first.paths("national_summary")[0] in removed
    assert (tmp_path / second.paths("national_summary")[0]).is_file()
    assert read_table(tmp_path, "national_summary", D1)["returns_new"].tolist() == [2]
    assert not (tmp_path / ".tmp").exists()


def test_recover_clears_every_layout_earlier_versions_and_killed_writers_left(
        tmp_path: Path) -> None:
    """Earlier versions kept partitions as directories exchanged whole (a segmented
    person_returns with `_vintage.json`) and, where the filesystem could not exchange, a
    two-rename swap through `.trash/`; a killed publish of this version leaves data files
    and a half-written record in `.tmp/`. None of it is named by a record: all goes, the
    committed vintage stays, and the next publish works."""
    kept = commit(tmp_path, D1, national_summary=summary([(D1, 1, 0)]))
    segmented = tmp_path / "person_returns" / "as_of=2020-02-11"
    segmented.mkdir(parents=True)
    for name in ("part-00000-aaaa.parquet", "part-00001-aaaa.parquet", "_vintage.json"):
        (segmented / name).write_bytes(b"old")
    (segmented / "nested").mkdir()  # a directory where this version keeps only files
    (segmented / "nested" / "part-0.parquet").write_bytes(b"old")
    (tmp_path / "national_summary" / "as_of=2020-02-11").mkdir()
    (tmp_path / "national_summary" / "as_of=2020-02-11" / "part-0.parquet").write_bytes(b"old")
    trashed = tmp_path / ".trash" / "20200211-x" / "person_returns" / "as_of=2020-02-11"
    trashed.mkdir(parents=True)
    (trashed / "part-00000-0000.parquet").write_bytes(b"old")
    killed = tmp_path / "ledger" / "as_of=2020-02-10" / "part-00000002-deadbeef0000.parquet"
    killed.parent.mkdir(parents=True)
    killed.write_bytes(b"killed before its record")
    (tmp_path / ".tmp").mkdir(exist_ok=True)
    (tmp_path / ".tmp" / "0123-00000002.json").write_bytes(b'{"format": 1, "as_of": "20')

    removed = recover(tmp_path)
    assert sorted(removed) == sorted([
        "person_returns/as_of=2020-02-11/part-00000-aaaa.parquet",
        "person_returns/as_of=2020-02-11/part-00001-aaaa.parquet",
        "person_returns/as_of=2020-02-11/_vintage.json",
        "person_returns/as_of=2020-02-11/nested",
        "national_summary/as_of=2020-02-11/part-0.parquet",
        "ledger/as_of=2020-02-10/part-00000002-deadbeef0000.parquet"])
    assert not (tmp_path / ".trash").exists() and not (tmp_path / ".tmp").exists()
    assert (tmp_path / kept.paths("national_summary")[0]).is_file()
    assert recover(tmp_path) == []
    after = commit(tmp_path, D2, national_summary=summary([(D2, 3, 0)]))
    assert after.seq == 1
    assert read_table(tmp_path, "national_summary")["returns_new"].tolist() == [1, 3]


def test_segments_are_linked_from_their_base_and_written_once(tmp_path: Path) -> None:
    def persons(keys: list[str]) -> pa.Table:
        rows = [{c.name: None for c in PERSON_RETURNS.columns} | {
            "person_key": k, "return_date": D1, "n_records": 1, "source_records": []}
            for k in keys]
        return pa.Table.from_pylist(rows, schema=PERSON_RETURNS.schema)

    location = locate(tmp_path)
    base = Segments("a" * 32, written={0: persons(["k1", "k2"]), 1: persons(["k3"])})
    assert write_segments(location, PERSON_RETURNS, D1, base) == 3
    base_dir = f"person_returns/as_of={D1}"
    kept = Segments("b" * 32, written={2: persons(["k4"])}, kept={0: base.file_name(0)},
                    base=base_dir)
    assert write_segments(location, PERSON_RETURNS, D2, kept) == 3
    linked = tmp_path / f"person_returns/as_of={D2}" / base.file_name(0)
    assert linked.stat().st_ino == (tmp_path / base_dir / base.file_name(0)).stat().st_ino
    assert sorted(kept.files()) == [0, 2]


_KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from datetime import date
    from pathlib import Path
    import pandas as pd
    from returnstats.warehouse import commits, vintages
    from returnstats.warehouse.schema import NATIONAL_SUMMARY

    root, ready = Path(sys.argv[1]), Path(sys.argv[2])

    def hang_instead_of_committing(location, commit):
        ready.touch()  # every file is written, the record is not
        time.sleep(60)

    vintages.write_commit = hang_instead_of_committing
    row = dict.fromkeys(NATIONAL_SUMMARY.column_names, 0)
    row.update(date=date(2020, 2, 10), returns_new=999)
    import pyarrow as pa
    vintages.commit_vintage(root, date(2020, 2, 10),
                            {"national_summary": pa.Table.from_pylist([row])},
                            status="approved", reason=None, provinces_reporting=31,
                            key_fingerprint=None)
    """
)


def test_a_writer_killed_before_its_record_leaves_the_previous_vintage(tmp_path: Path) -> None:
    commit(tmp_path, D1, national_summary=summary([(D1, 4, 0)]))
    ready = tmp_path / "ready"
    env = {**os.environ, "PYTHONPATH": str(REPO / "plugins")}
    writer = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(tmp_path), str(ready)], env=env)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert writer.poll() is None, "writer exited before reaching the commit"
            assert time.monotonic() < deadline, "writer never reached the commit"
            time.sleep(0.05)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
    finally:
        if writer.poll() is None:
            writer.kill()
    partition = tmp_path / "national_summary" / "as_of=2020-02-10"
    assert len(list(partition.glob("*.parquet"))) == 2  # the killed writer's file is there
    assert read_table(tmp_path, "national_summary", D1)["returns_new"].tolist() == [4]
    commit(tmp_path, D1, national_summary=summary([(D1, 5, 0)]))  # the lock is free again
    assert read_table(tmp_path, "national_summary", D1)["returns_new"].tolist() == [5]
    assert len(list(partition.glob("*.parquet"))) == 2, "the next writer removed the orphan"


def test_read_table_of_an_unpublished_table_is_empty_with_its_columns(tmp_path: Path) -> None:
    frame = read_table(tmp_path, "ledger")
    assert frame.empty and list(frame.columns) == ["as_of", *TABLES["ledger"].column_names]
