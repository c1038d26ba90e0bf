"""Atomic partition writes and reads for the Parquet warehouse of SPEC §6.

A partition is the directory `<root>/<table>/as_of=YYYY-MM-DD/`. Most tables hold one file
in it, `part-0.parquet`; `person_returns` holds one file per linkage delta (`Segments`),
so that a day's publish writes only the segments that changed and hard-links the others
from the previous vintage (docs/warehouse.md). A partition written by publish also holds
`_vintage.json`: what it was computed from (`identity`) and, when segmented, its files.
The root is a local directory (a path) or an object-store URL (`s3://…`, `gs://…`,
`memory://…`, or a `UPath`/Airflow `ObjectStoragePath`), resolved once by `locate`.

- Local: the new partition is built and fsynced under `<root>/.tmp/<id>/`, then put in
  its slot by one `renameat2(RENAME_EXCHANGE)` of the two directories (`exchange`). The
  slot is never empty: a reader opens the old partition or the new one, never a partial
  one, even if the writer is SIGKILLed at any instruction. File names are never reused
  for other content, so a reader that listed the old partition and opens its files after
  the exchange reads the same bytes or finds a file gone (an error, never a mix).
  Writers on one root serialise on the file lock `<root>/.lock`; readers never lock.
  `recover` removes what a killed writer left in `.tmp/` (and puts back partitions
  trashed by the two-rename swap used where the filesystem cannot exchange).
- Object store: a partition is one file, uploaded with one PUT of the whole object to its
  final key; the store makes the new object visible only once complete, and the old one
  stays readable until then. There is no `.tmp/`, no lock (one writer per root is the
  orchestrator's job: the DAG has `max_active_runs=1`), and `recover` has nothing to do.

Neither storage makes a *vintage* (the six tables of one as_of) atomic: each table's
partition is replaced on its own. See docs/warehouse.md.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import io
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Union

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from returnstats.warehouse.schema import TABLES, Table

log = logging.getLogger(__name__)

PART_FILE = "part-0.parquet"
VINTAGE_FILE = "_vintage.json"
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


@dataclass(frozen=True)
class Segments:
    """A partition made of one file per linkage delta (`seq`: its position in the chain).

    `kept` names files of the `base` partition that are hard-linked unchanged; `written`
    holds the rows of the others. Each file is named by its `seq` and by the `identity` of
    the vintage that first wrote it, so a name always means the same bytes."""

    identity: str
    written: Mapping[int, pa.Table] = field(default_factory=dict)
    kept: Mapping[int, str] = field(default_factory=dict)
    base: Path | None = None

    def file_name(self, seq: int) -> str:
        return self.kept.get(seq) or f"part-{seq:05d}-{self.identity[:16]}.parquet"

    def files(self) -> dict[int, str]:
        return {seq: self.file_name(seq) for seq in sorted({*self.written, *self.kept})}

    def rows(self) -> int:
        kept = sum(pq.read_metadata(self.base / name).num_rows for name in self.kept.values())
        return kept + sum(t.num_rows for t in self.written.values())


def write_partition(
    root: Root, table: Table, as_of: date, frame: pd.DataFrame | pa.Table,
    identity: str | None = None,
) -> Path | str:
    """Replace the partition `as_of` of `table` atomically with one file; returns it (a Path
    on local storage, a URL on an object store). `identity`, when given, is recorded in
    the partition's `_vintage.json` (local storage only: nothing reads it elsewhere).

    The file is written even with zero rows, so every published partition is readable.
    Other partitions are never touched.
    """
    location = locate(root)
    arrow = conform(table, frame)
    if location.is_local:
        def fill(directory: Path) -> None:
            pq.write_table(arrow, directory / PART_FILE)
            _fsync_path(directory / PART_FILE)
            if identity is not None:
                _write_vintage(directory, {"identity": identity})

        written: Path | str = _replace_local(location.local_path, table, as_of, fill) / PART_FILE
    else:
        written = _write_object(location, table, as_of, arrow)
    log.info("wrote %s (%d rows)", written, arrow.num_rows)
    return written


def write_segments(root: Root, table: Table, as_of: date, segments: Segments) -> Path:
    """Replace the partition `as_of` of `table` atomically with `segments` (local storage
    only); returns the partition directory."""
    location = locate(root)
    if not location.is_local:
        raise ValueError(f"{location.url}: segmented partitions need local storage")

    def fill(directory: Path) -> None:
        for seq, name in segments.kept.items():
            if segments.base is None:
                raise ValueError(f"segment {seq} is kept from no base partition")
            os.link(segments.base / name, directory / name)  # already durable
        for seq, rows in segments.written.items():
            path = directory / segments.file_name(seq)
            pq.write_table(conform(table, rows), path)
            _fsync_path(path)
        _write_vintage(directory, {"identity": segments.identity,
                                   "segments": {str(s): n for s, n in segments.files().items()}})

    written = _replace_local(location.local_path, table, as_of, fill)
    log.info("wrote %s (%d segments, %d written)", written, len(segments.files()),
             len(segments.written))
    return written


def read_vintage(root: Root, table_name: str, as_of: date) -> dict | None:
    """The `_vintage.json` of a local partition (None when absent, or not local)."""
    location = locate(root)
    if not location.is_local:
        return None
    path = partition_dir(location.local_path, table_name, as_of) / VINTAGE_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _write_vintage(directory: Path, payload: dict) -> None:
    path = directory / VINTAGE_FILE
    path.write_text(json.dumps(payload, sort_keys=True) + "\n", encoding="utf-8")
    _fsync_path(path)


def _replace_local(root: Path, table: Table, as_of: date, fill: Callable[[Path], None]) -> Path:
    """Build the partition in `.tmp/` (`fill` writes its files), then exchange it into its
    slot, under the writer lock. Returns the slot."""
    with writer_lock(root):
        staging = root / TMP_DIR / _unique_id()
        built = staging / partition_name(as_of)
        built.mkdir(parents=True)
        slot = partition_dir(root, table.name, as_of)
        try:
            fill(built)
            _fsync_path(built)
            slot.parent.mkdir(parents=True, exist_ok=True)
            exchange(built, slot, root)
            _fsync_path(slot.parent)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return slot


_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def _renameat2_exchange(a: Path, b: Path) -> int:
    """Exchange directories `a` and `b` atomically; 0, or the errno of the failure
    (ENOSYS where the C library has no renameat2)."""
    libc = ctypes.CDLL(None, use_errno=True)
    call = getattr(libc, "renameat2", None)
    if call is None:
        return errno.ENOSYS
    if call(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return 0
    return ctypes.get_errno()


def exchange(built: Path, slot: Path, root: Path) -> None:
    """Put directory `built` at `slot` in one step; the slot's old directory, if any, ends
    at `built`. Where the filesystem cannot exchange two directories (renameat2 fails with
    EINVAL or ENOSYS: NFS, some FUSE mounts), the old one is renamed into `<root>/.trash/`
    and the new one into the slot: a crash between the two leaves the slot empty until
    `recover` puts the old one back."""
    if not slot.exists():
        os.rename(built, slot)
        return
    code = _renameat2_exchange(built, slot)
    if code == 0:
        return
    if code not in (errno.EINVAL, errno.ENOSYS):
        raise OSError(code, f"cannot put {built} in place of {slot}: {os.strerror(code)}")
    log.warning("%s cannot exchange directories (%s): replacing %s in two renames",
                root, os.strerror(code), slot)
    trashed = root / TRASH_DIR / _unique_id() / slot.parent.name / slot.name
    trashed.parent.mkdir(parents=True)
    os.rename(slot, trashed)
    os.rename(built, slot)
    shutil.rmtree(trashed.parent.parent, ignore_errors=True)


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
