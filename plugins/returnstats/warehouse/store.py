"""Data files of the Parquet warehouse (SPEC §6): written under names never reused, made
visible only by a commit record (`commits.py`), removed once no recent record names them.

A table's partition is `<root>/<table>/as_of=YYYY-MM-DD/`. Each publish writes its files
there as `part-<commit id>.parquet`; `person_returns` holds one file per linkage delta
(`Segments`), so that a day's publish writes only the segments that changed and links
(local) or copies (object store) the others from the previous vintage (docs/warehouse.md).
A file name always means the same bytes. Until the commit record names them, new files
are invisible to every reader that goes through the records (the DuckDB catalog, the
bulletin, `read_table`); a directory listing may show files of a publish still running or
of one killed, which `recover` removes.

Local roots serialise their writers on the file lock `<root>/.lock` (readers never lock);
an object store has one writer per root by the DAG's `max_active_runs=1`.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from returnstats.warehouse.commits import Commit, current_commits, history, partition_path
from returnstats.warehouse.location import TMP_DIR, Location, Root, locate, put_atomic
from returnstats.warehouse.schema import TABLES, Table

log = logging.getLogger(__name__)

LOCK_FILE = ".lock"
RETENTION = timedelta(hours=1)
"""How long files of a superseded record stay for readers that resolved it (a query that
started before the next record): `recover` keeps what any record this young names."""


class SchemaMismatch(ValueError):
    """A frame does not have exactly the columns of its warehouse table."""


def data_file(commit_id: str) -> str:
    """The name of a table's one file in the vintage of commit `commit_id`."""
    return f"part-{commit_id}.parquet"


def conform(table: Table, frame: pd.DataFrame | pa.Table) -> pa.Table:
    """`frame` cast to the table's exact schema, columns in schema order.

    A missing or an extra column raises `SchemaMismatch`; a value that does not fit its
    type raises pyarrow's cast error (safe casts only: no silent truncation).
    """
    if isinstance(frame, pd.DataFrame):
        arrow = pa.Table.from_pandas(frame, preserve_index=False)
    else:
        arrow = frame
    have, want = set(arrow.column_names), set(table.column_names)
    if have != want or len(arrow.column_names) != len(want):
        raise SchemaMismatch(
            f"{table.name}: missing columns {sorted(want - have)}, extra columns "
            f"{sorted(have - want)}"
            + (", duplicate columns" if len(arrow.column_names) != len(have) else "")
        )
    if arrow.num_rows == 0:
        # An empty pandas column has no real type (float64/object): the schema decides.
        return table.schema.empty_table()
    return arrow.select(table.column_names).cast(table.schema)


@contextlib.contextmanager
def writer_lock(root: Root) -> Iterator[None]:
    """Exclusive lock of the writers of one local warehouse root (released by the kernel
    on death). Object stores have no lock: it is a no-op there."""
    location = locate(root)
    if not location.is_local:
        yield
        return
    path = location.local_path
    path.mkdir(parents=True, exist_ok=True)
    with open(path / LOCK_FILE, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_table_file(location: Location, table: Table, as_of: date,
                     frame: pd.DataFrame | pa.Table, name: str) -> str:
    """Write one file of `table`'s partition `as_of` (cast to its schema, even with zero
    rows, so every committed partition is readable); returns its path within the root."""
    arrow = conform(table, frame)
    relative = f"{partition_path(table.name, as_of)}/{name}"
    written = put_atomic(location, relative, lambda handle: pq.write_table(arrow, handle))
    log.info("wrote %s (%d rows)", written, arrow.num_rows)
    return relative


@dataclass(frozen=True)
class Segments:
    """A partition made of one file per linkage delta (`seq`: its position in the chain).

    `kept` names files of the `base` partition (a path relative to the root) that are
    taken over unchanged; `written` holds the rows of the others. Each file is named by
    its `seq` and by the `identity` of the vintage that first wrote it, so a name always
    means the same bytes."""

    identity: str
    written: Mapping[int, pa.Table] = field(default_factory=dict)
    kept: Mapping[int, str] = field(default_factory=dict)
    base: str | None = None

    def file_name(self, seq: int) -> str:
        return self.kept.get(seq) or f"part-{seq:05d}-{self.identity[:16]}.parquet"

    def files(self) -> dict[int, str]:
        return {seq: self.file_name(seq) for seq in sorted({*self.written, *self.kept})}


def write_segments(location: Location, table: Table, as_of: date, segments: Segments) -> int:
    """Put every file of `segments` in `table`'s partition `as_of`; returns its rows.

    Kept files are hard-linked (local) or copied by the store (object store) from the base
    partition; a file already in place has the same bytes by its name and is left as is."""
    directory = partition_path(table.name, as_of)
    rows = 0
    for seq, name in segments.kept.items():
        if segments.base is None:
            raise ValueError(f"segment {seq} is kept from no base partition")
        source, target = f"{segments.base}/{name}", f"{directory}/{name}"
        rows += _rows(location, source)
        if source == target or location.exists(target):
            continue
        if location.is_local:
            os.makedirs(location.local_path / directory, exist_ok=True)
            os.link(location.local_path / source, location.local_path / target)  # durable
        else:
            location.fs.copy(location.join(source), location.join(target))
    for seq, frame in segments.written.items():
        name = segments.file_name(seq)
        if not location.exists(f"{directory}/{name}"):
            write_table_file(location, table, as_of, frame, name)
        rows += frame.num_rows
    return rows


def _rows(location: Location, relative: str) -> int:
    with location.fs.open(location.join(relative), "rb") as handle:
        return pq.read_metadata(handle).num_rows


def recover(root: Root, now: datetime | None = None) -> list[str]:
    """Remove what no recent commit record names; returns the files removed (relative).

    Kept: every file named by a date's current record, or by any record younger than
    `RETENTION`. Removed: files of superseded records, and files of a publish killed
    before its record (named by none) with the half-written record in `.tmp/`, and every
    file of the layouts of earlier versions (`part-0.parquet`, the segmented
    `person_returns` partition with its `_vintage.json`, and the `.trash/` of their
    two-rename directory swap, which this version never makes). Call it holding the writer
    lock, as publish does: it must not run while a publish writes."""
    location = locate(root)
    if not location.fs.exists(location.path):
        return []
    now = now or datetime.now(UTC)
    keep: set[str] = set()
    for commit in history(location):
        keep |= commit.all_paths() if now - commit.created_at < RETENTION else set()
    for commit in current_commits(location).values():
        keep |= commit.all_paths()
    removed = []
    root_prefix = location.path.rstrip("/") + "/"
    for table_name in TABLES:
        for path in location.glob(table_name, "as_of=*", "*"):
            relative = path.removeprefix(root_prefix)
            if relative not in keep:
                # A directory is no layout of this version: a leftover, removed whole.
                location.fs.rm(path, recursive=location.fs.isdir(path))
                removed.append(relative)
    if location.is_local:
        for leftover in (TMP_DIR, ".trash"):
            shutil.rmtree(location.local_path / leftover, ignore_errors=True)
    if removed:
        log.info("recover: removed %d files no commit record names", len(removed))
    return removed


def read_table(root: Root, table_name: str, as_of: date | None = None) -> pd.DataFrame:
    """A warehouse table as a DataFrame, `as_of` first as a date column (every committed
    vintage, or one), rows in grain order. Reads the files the current commit records name
    (no catalog needed); dates as `datetime.date`, counts as int64."""
    table = TABLES[table_name]
    location = locate(root)
    schema = pa.schema([pa.field("as_of", pa.date32()), *table.schema])
    parts = []
    for part_as_of, commit in current_commits(location).items():
        if as_of is not None and part_as_of != as_of:
            continue
        for relative in commit.paths(table_name):
            with location.fs.open(location.join(relative), "rb") as handle:
                arrow = conform(table, pq.read_table(handle))
            parts.append(arrow.add_column(0, "as_of", pa.array([part_as_of] * arrow.num_rows,
                                                                 pa.date32())))
    if not parts:
        return schema.empty_table().to_pandas()
    arrow = pa.concat_tables(parts).cast(schema)
    arrow = arrow.sort_by([(name, "ascending") for name in table.grain])
    return arrow.to_pandas()


def committed_files(location: Location, commit: Commit, table_name: str) -> list[str]:
    """The table's files of a commit as paths within the root's filesystem."""
    return [location.join(relative) for relative in commit.paths(table_name)]
