"""Atomic partition writes of SPEC §6: replace one as_of, never touch another, survive a crash."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from returnstats.warehouse import store
from returnstats.warehouse.schema import NATIONAL_SUMMARY, RETURNS_DAILY, TABLES
from returnstats.warehouse.store import (
    SchemaMismatch,
    partition_dir,
    read_table,
    recover,
    write_partition,
)

REPO = Path(__file__).resolve().parents[2]
D1, D2 = date(2020, 2, 10), date(2020, 2, 11)


def summary(as_of: date, returns_new: int) -> pd.DataFrame:
    row = {c: 0 for c in NATIONAL_SUMMARY.column_names}
    row.update(date=as_of, returns_new=returns_new, returns_cumulative=returns_new)
    return pd.DataFrame([row])


def test_partition_path_and_exact_schema(tmp_path: Path) -> None:
    path = write_partition(tmp_path, NATIONAL_SUMMARY, D1, summary(D1, 5))
    assert path == tmp_path / "national_summary" / "as_of=2020-02-10" / "part-0.parquet"
    frame = read_table(tmp_path, "national_summary")
    assert list(frame.columns) == ["as_of", *NATIONAL_SUMMARY.column_names]
    assert frame.loc[0, "as_of"] == D1 and frame.loc[0, "date"] == D1
    assert frame["returns_new"].dtype == "int64"


def test_missing_or_extra_column_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(SchemaMismatch, match="missing columns \\['returns_new'\\]"):
        write_partition(tmp_path, NATIONAL_SUMMARY, D1, summary(D1, 1).drop(columns="returns_new"))
    with pytest.raises(SchemaMismatch, match="extra columns \\['surprise'\\]"):
        write_partition(tmp_path, NATIONAL_SUMMARY, D1, summary(D1, 1).assign(surprise=1))
    assert not (tmp_path / "national_summary").exists()


def test_value_that_does_not_fit_its_type_fails(tmp_path: Path) -> None:
    with pytest.raises(pa.ArrowInvalid):
        write_partition(tmp_path, NATIONAL_SUMMARY, D1, summary(D1, 1).assign(returns_new=1.5))


def test_zero_rows_still_write_a_readable_file(tmp_path: Path) -> None:
    empty = pd.DataFrame({c: [] for c in RETURNS_DAILY.column_names})
    path = write_partition(tmp_path, RETURNS_DAILY, D1, empty)
    assert path.exists()
    frame = read_table(tmp_path, "returns_daily", D1)
    assert frame.empty and list(frame.columns) == ["as_of", *RETURNS_DAILY.column_names]


def test_rewrite_replaces_its_partition_and_leaves_others_untouched(tmp_path: Path) -> None:
    write_partition(tmp_path, NATIONAL_SUMMARY, D1, summary(D1, 1))
    other = write_partition(tmp_path, NATIONAL_SUMMARY, D2, summary(D2, 2))
    other_stat = other.stat()
    write_partition(tmp_path, NATIONAL_SUMMARY, D1, summary(D1, 7))
    frame = read_table(tmp_path, "national_summary")
    assert frame[["as_of", "returns_new"]].values.tolist() == [[D1, 7], [D2, 2]]
    assert other.stat().st_ino == other_stat.st_ino and other.stat().st_mtime_ns == other_stat.st_mtime_ns
    assert not (tmp_path / ".trash").exists()
    assert not any((tmp_path / ".tmp").iterdir())


def test_recover_restores_a_trashed_partition_whose_slot_is_empty(tmp_path: Path) -> None:
    write_partition(tmp_path, NATIONAL_SUMMARY, D1, summary(D1, 3))
    slot = partition_dir(tmp_path, "national_summary", D1)
    # A crash of the directory swap of earlier versions: the old partition renamed
    # aside, the new one not yet renamed in.
    trashed = tmp_path / ".trash" / "00000000000000000001-x" / "national_summary" / slot.name
    trashed.parent.mkdir(parents=True)
    os.rename(slot, trashed)
    (tmp_path / ".tmp" / "half-written").mkdir(parents=True)
    assert recover(tmp_path) == [slot]
    assert read_table(tmp_path, "national_summary", D1)["returns_new"].tolist() == [3]
    assert not any((tmp_path / ".trash").iterdir()) and not any((tmp_path / ".tmp").iterdir())


def test_recover_drops_trash_of_a_completed_swap(tmp_path: Path) -> None:
    write_partition(tmp_path, NATIONAL_SUMMARY, D1, summary(D1, 9))
    stale = tmp_path / ".trash" / "00000000000000000001-x" / "national_summary" / "as_of=2020-02-10"
    stale.mkdir(parents=True)
    assert recover(tmp_path) == []
    assert read_table(tmp_path, "national_summary", D1)["returns_new"].tolist() == [9]
    assert not stale.exists()


_KILLED_WRITER = textwrap.dedent(
    """
    import os, sys, time
    from datetime import date
    from pathlib import Path
    import pandas as pd
    from returnstats.warehouse import store
    from returnstats.warehouse.schema import NATIONAL_SUMMARY

    root, ready = Path(sys.argv[1]), Path(sys.argv[2])

    def hang_instead_of_replacing(built, slot, root):
        ready.touch()  # the new partition is complete in .tmp/, the old one still in its slot
        time.sleep(60)

    store.exchange = hang_instead_of_replacing
    row = {c: 0 for c in NATIONAL_SUMMARY.column_names}
    row.update(date=date(2020, 2, 10), returns_new=999)
    store.write_partition(root, NATIONAL_SUMMARY, date(2020, 2, 10), pd.DataFrame([row]))
    """
)


def test_writer_killed_before_the_replace_leaves_the_previous_partition_in_place(
    tmp_path: Path,
) -> None:
    write_partition(tmp_path, NATIONAL_SUMMARY, D1, summary(D1, 4))
    ready = tmp_path / "ready"
    env = {**os.environ, "PYTHONPATH": str(REPO / "plugins")}
    writer = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(tmp_path), str(ready)], env=env
    )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert writer.poll() is None, "writer exited before reaching the replace"
            assert time.monotonic() < deadline, "writer never reached the replace"
            time.sleep(0.05)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
    finally:
        if writer.poll() is None:
            writer.kill()
    # No recover needed to read: the slot was never empty.
    assert read_table(tmp_path, "national_summary", D1)["returns_new"].tolist() == [4]
    assert list((tmp_path / ".tmp").rglob("*.parquet"))  # the killed writer's leftovers
    recover(tmp_path)  # the lock the killed writer held is free again
    assert not any((tmp_path / ".tmp").iterdir())
    write_partition(tmp_path, NATIONAL_SUMMARY, D1, summary(D1, 5))
    assert read_table(tmp_path, "national_summary", D1)["returns_new"].tolist() == [5]


def test_read_table_of_an_unpublished_table_is_empty_with_its_columns(tmp_path: Path) -> None:
    frame = read_table(tmp_path, "ledger")
    assert frame.empty and list(frame.columns) == ["as_of", *TABLES["ledger"].column_names]


def test_where_directories_cannot_be_exchanged_the_partition_is_replaced_in_two_renames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ext4 here can exchange; NFS answers EINVAL, which this stands in for.
    monkeypatch.setattr(store, "_renameat2_exchange", lambda a, b: errno.EINVAL)
    write_partition(tmp_path, NATIONAL_SUMMARY, D1, summary(D1, 1))
    write_partition(tmp_path, NATIONAL_SUMMARY, D1, summary(D1, 2))
    assert read_table(tmp_path, "national_summary", D1)["returns_new"].tolist() == [2]
    assert not any((tmp_path / ".trash").iterdir()) and not any((tmp_path / ".tmp").iterdir())


def test_an_exchange_that_fails_otherwise_fails_loudly_and_keeps_the_partition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_partition(tmp_path, NATIONAL_SUMMARY, D1, summary(D1, 1))
    monkeypatch.setattr(store, "_renameat2_exchange", lambda a, b: errno.EACCES)
    with pytest.raises(OSError, match="cannot put .* in place of .*national_summary"):
        write_partition(tmp_path, NATIONAL_SUMMARY, D1, summary(D1, 2))
    assert read_table(tmp_path, "national_summary", D1)["returns_new"].tolist() == [1]
    assert not any((tmp_path / ".tmp").iterdir())
