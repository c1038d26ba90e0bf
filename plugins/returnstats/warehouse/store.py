"""Atomic partition writes and reads for the Parquet warehouse of SPEC §6.

A partition is `<root>/<table>/as_of=YYYY-MM-DD/part-0.parquet`: exactly one file, so
replacing a partition is replacing one file, which both kinds of storage do atomically.
The root is a local directory (a path) or an object-store URL (`s3://…`, `gs://…`,
`memory://…`, or a `UPath`/Airflow `ObjectStoragePath`), resolved once by `locate`.

- Local: the new file is written and fsynced under `<root>/.tmp/<id>/`, then `os.replace`d
  over the old one. The slot is never empty: a reader opens the old file or the new one,
  never a partial one, even if the writer is SIGKILLed at any instruction. Writers on one
  root serialise on the file lock `<root>/.lock`; readers never lock. `recover` removes
  what a killed writer left in `.tmp/` (and puts back partitions trashed by the two-rename
  directory swap of earlier versions).
- Object store: the file is uploaded with one PUT of the whole object to its final key;
  the store makes the new object visible only once complete, and the old one stays
  readable until then. There is no `.tmp/`, no lock (one writer per root is the
  orchestrator's job: the DAG has `max_active_runs=1`), and `recover` has nothing to do.

Neither storage makes a *vintage* (the six tables of one as_of) atomic: each table's
partition is replaced on its own. See docs/warehouse.md.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Union

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from returnstats.warehouse.schema import TABLES, Table

log = logging.getLogger(__name__)

PART_FILE = "part-0.parquet"
TMP_DIR = ".tmp"
TRASH_DIR = ".trash"
LOCK_FILE = ".lock"

Root = Union[str, "os.PathLike[str]", "Location"]
"""A warehouse root: a local path, an fsspec URL, a UPath/ObjectStoragePath, or a Location."""


class SchemaMismatch(ValueError):
    """A frame does not have exactly the columns of its warehouse table."""


@dataclass(frozen=True)
class Location:
    """A resolved warehouse root: an fsspec filesystem and the root's path within it."""

    fs: Any  # fsspec.AbstractFileSystem
    path: str

    @property
    def is_local(self) -> bool:
        return "file" in _protocols(self.fs)

    @property
    def local_path(self) -> Path:
        if not self.is_local:
            raise ValueError(f"{self.url} is not a local directory")
        return Path(self.path)

    @property
    def url(self) -> str:
        return self.path if self.is_local else self.fs.unstrip_protocol(self.path)

    def join(self, *parts: str) -> str:
        return "/".join([self.path.rstrip("/"), *parts])


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def locate(root: Root) -> Location:
    """Resolve a warehouse root. A plain path (or `file://` URL) is local; anything with a
    scheme goes through fsspec. UPath and Airflow's ObjectStoragePath carry their own
    filesystem (credentials included), which is used as is."""
    import fsspec

    if isinstance(root, Location):
        return root
    if hasattr(root, "fs") and hasattr(root, "path") and not isinstance(root, Path):
        location = Location(root.fs, str(root.path))
    elif "://" in str(root):
        fs, path = fsspec.core.url_to_fs(str(root))
        location = Location(fs, path)
    else:
        location = Location(fsspec.filesystem("file"), str(Path(root)))
    if location.is_local:
        return Location(location.fs, str(Path(location.path)))
    return location


def is_local(root: Root) -> bool:
    return locate(root).is_local


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


def _unique_id() -> str:
    # Time first, so the newest trash entry of a slot sorts last.
    return f"{time.time_ns():020d}-{uuid.uuid4().hex}"


def write_partition(
    root: Root, table: Table, as_of: date, frame: pd.DataFrame | pa.Table
) -> Path | str:
    """Replace the partition `as_of` of `table` atomically; returns the partition file
    (a Path on local storage, a URL on an object store).

    The file is written even with zero rows, so every published partition is readable.
    Other partitions are never touched.
    """
    location = locate(root)
    arrow = conform(table, frame)
    if location.is_local:
        written: Path | str = _write_local(location.local_path, table, as_of, arrow)
    else:
        written = _write_object(location, table, as_of, arrow)
    log.info("wrote %s (%d rows)", written, arrow.num_rows)
    return written


def _write_local(root: Path, table: Table, as_of: date, arrow: pa.Table) -> Path:
    with writer_lock(root):
        staging = root / TMP_DIR / _unique_id()
        staging.mkdir(parents=True)
        target = partition_dir(root, table.name, as_of)
        try:
            pq.write_table(arrow, staging / PART_FILE)
            _fsync_path(staging / PART_FILE)
            target.mkdir(parents=True, exist_ok=True)
            # One rename over the old file: the slot always holds a complete file.
            os.replace(staging / PART_FILE, target / PART_FILE)
            _fsync_path(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target / PART_FILE


def _write_object(location: Location, table: Table, as_of: date, arrow: pa.Table) -> str:
    buffer = io.BytesIO()
    pq.write_table(arrow, buffer)
    key = location.join(table.name, partition_name(as_of), PART_FILE)
    # One PUT of the whole object: visible only once complete, the old one until then.
    location.fs.pipe_file(key, buffer.getvalue())
    return location.fs.unstrip_protocol(key)


def recover(root: Root) -> list[Path]:
    """Remove what a killed writer left behind; returns the partitions restored.

    Temporary files in `.tmp/` are deleted (readers never look there). Partitions trashed
    by the directory swap of earlier versions are put back when their slot is empty, and
    their trash deleted otherwise. Safe to call at any time: it holds the writer lock, so
    it never sees a write in progress. Object stores leave nothing behind: a no-op there.
    """
    location = locate(root)
    restored: list[Path] = []
    if not location.is_local or not location.local_path.exists():
        return restored
    root = location.local_path
    with writer_lock(root):
        trash = root / TRASH_DIR
        # Newest first, so of several trashed copies of one slot the newest goes back.
        for entry in sorted(trash.iterdir(), reverse=True) if trash.exists() else ():
            for part in sorted(entry.glob("*/as_of=*")):
                table_name, slot_name = part.parent.name, part.name
                slot = root / table_name / slot_name
                if table_name in TABLES and not (slot / PART_FILE).exists():
                    slot.parent.mkdir(parents=True, exist_ok=True)
                    if slot.exists():
                        slot.rmdir()
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


def partition_files(root: Root, table_name: str, as_of: date | None = None) -> list[tuple[date, str]]:
    """(as_of, path within the root's filesystem) of each published partition file."""
    location = locate(root)
    slot = partition_name(as_of) if as_of is not None else "as_of=*"
    found = location.fs.glob(location.join(table_name, slot, "*.parquet"))
    return sorted(
        (date.fromisoformat(path.rstrip("/").split("/")[-2].removeprefix("as_of=")), path)
        for path in found
    )


def read_table(root: Root, table_name: str, as_of: date | None = None) -> pd.DataFrame:
    """A warehouse table as a DataFrame, `as_of` first as a date column (all vintages, or one),
    rows in grain order.

    Reads the Parquet files directly, local or object store (no catalog needed). Date
    columns come back as `datetime.date` objects, counts as int64.
    """
    table = TABLES[table_name]
    location = locate(root)
    schema = pa.schema([pa.field("as_of", pa.date32()), *table.schema])
    parts = []
    for part_as_of, path in partition_files(location, table_name, as_of):
        with location.fs.open(path, "rb") as handle:
            arrow = conform(table, pq.read_table(handle))
        parts.append(arrow.add_column(0, "as_of", pa.array([part_as_of] * arrow.num_rows,
                                                             pa.date32())))
    if not parts:
        return schema.empty_table().to_pandas()
    arrow = pa.concat_tables(parts).cast(schema)
    arrow = arrow.sort_by([(name, "ascending") for name in table.grain])
    return arrow.to_pandas()
