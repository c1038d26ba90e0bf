"""Atomic partition writes and reads for the Parquet warehouse of SPEC §6.

A partition is the directory `<root>/<table>/as_of=YYYY-MM-DD/` holding `part-0.parquet`.
A write builds the new partition under `<root>/.tmp/<id>/`, fsyncs it, then swaps it in
with two renames: the old partition aside into `<root>/.trash/<id>/<table>/as_of=…/`, the
new one into its slot. A crash between the two renames leaves the slot empty and the old
partition in the trash; `recover` puts it back. Writers on one root serialise on the file
lock `<root>/.lock`; readers never lock. A reader sees the old or the new file, never a
partial one, but a glob that runs between the two renames misses that one as_of.

Local file systems only (the swap relies on POSIX `rename`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from returnstats.warehouse.schema import TABLES, Table

log = logging.getLogger(__name__)

PART_FILE = "part-0.parquet"
TMP_DIR = ".tmp"
TRASH_DIR = ".trash"
LOCK_FILE = ".lock"


class SchemaMismatch(ValueError):
    """A frame does not have exactly the columns of its warehouse table."""


def partition_name(as_of: date) -> str:
    return f"as_of={as_of.isoformat()}"


def partition_dir(root: Path, table_name: str, as_of: date) -> Path:
    return Path(root) / table_name / partition_name(as_of)


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


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def writer_lock(root: Path) -> Iterator[None]:
    """Exclusive lock of the writers of one warehouse root (released by the kernel on death)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK_FILE, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _unique_id() -> str:
    # Time first, so the newest trash entry of a slot sorts last.
    return f"{time.time_ns():020d}-{uuid.uuid4().hex}"


def write_partition(
    root: Path, table: Table, as_of: date, frame: pd.DataFrame | pa.Table
) -> Path:
    """Replace the partition `as_of` of `table` atomically; returns the partition file.

    The file is written even with zero rows, so every published partition is readable.
    Other partitions are never touched.
    """
    root = Path(root)
    arrow = conform(table, frame)
    with writer_lock(root):
        staging = root / TMP_DIR / _unique_id()
        staging.mkdir(parents=True)
        target = partition_dir(root, table.name, as_of)
        trashed: Path | None = None
        try:
            pq.write_table(arrow, staging / PART_FILE)
            _fsync_path(staging / PART_FILE)
            _fsync_path(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                trashed = root / TRASH_DIR / _unique_id() / table.name / target.name
                trashed.parent.mkdir(parents=True)
                os.rename(target, trashed)
                # From here until the next rename the slot is empty: `recover` repairs it.
            os.rename(staging, target)
            _fsync_path(target.parent)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            if trashed is not None and trashed.exists() and not target.exists():
                os.rename(trashed, target)
            raise
        if trashed is not None:
            shutil.rmtree(trashed.parents[1], ignore_errors=True)
    log.info("wrote %s (%d rows)", target, arrow.num_rows)
    return target / PART_FILE


def recover(root: Path) -> list[Path]:
    """Undo interrupted swaps: put back trashed partitions whose slot is empty.

    Trash whose slot is filled (the swap completed) and leftover temporary directories are
    deleted. Returns the partitions restored. Safe to call at any time: it holds the writer
    lock, so it never sees a swap in progress.
    """
    root = Path(root)
    restored: list[Path] = []
    if not root.exists():
        return restored
    with writer_lock(root):
        trash = root / TRASH_DIR
        # Newest first, so of several trashed copies of one slot the newest goes back.
        for entry in sorted(trash.iterdir(), reverse=True) if trash.exists() else ():
            for part in sorted(entry.glob("*/as_of=*")):
                table_name, slot_name = part.parent.name, part.name
                slot = root / table_name / slot_name
                if table_name in TABLES and not slot.exists():
                    slot.parent.mkdir(parents=True, exist_ok=True)
                    os.rename(part, slot)
                    _fsync_path(slot.parent)
                    restored.append(slot)
                    log.warning("recovered partition %s from interrupted swap", slot)
            shutil.rmtree(entry, ignore_errors=True)
        tmp = root / TMP_DIR
        if tmp.exists():
            for leftover in tmp.iterdir():
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)
    return restored


def read_table(root: Path, table_name: str, as_of: date | None = None) -> pd.DataFrame:
    """A warehouse table as a DataFrame, `as_of` first as a date column (all vintages, or one).

    Reads the Parquet files directly (no catalog needed). Date columns come back as
    `datetime.date` objects, counts as int64.
    """
    import duckdb

    table = TABLES[table_name]
    pattern = (
        partition_dir(root, table_name, as_of) if as_of is not None else Path(root) / table_name / "*"
    )
    files = sorted(Path(pattern.parent).glob(f"{pattern.name}/*.parquet"))
    if not files:
        empty = pa.schema([pa.field("as_of", pa.date32()), *table.schema])
        return empty.empty_table().to_pandas()
    # Identifiers come from the schema, values are bound.
    order = ", ".join(f'"{name}"' for name in table.grain)
    con = duckdb.connect()
    try:
        arrow = con.sql(
            "SELECT * FROM read_parquet($files, hive_partitioning = true,"
            f" hive_types = {{'as_of': DATE}}) ORDER BY {order}",
            params={"files": [str(f) for f in files]},
        ).to_arrow_table()
    finally:
        con.close()
    arrow = arrow.select(["as_of", *table.column_names])
    return arrow.to_pandas()
