"""Where the linkage state lives between runs: a chain of immutable deltas.

A run writes only what it changed, as one *delta* in `<staging>/linkage/deltas/<run>/`:
`records.arrow` (state rows of the new records and of every record of the persons it
touched, `RECORDS_SCHEMA`), `persons.parquet` (the touched persons' rows),
`dropped.parquet` (the person keys it retired, each with `retired_seq`: the position in the
chain of the delta that held the retired version) and `merged.parquet` (by package file,
how many more of its records are merged into an earlier-founded person than before).
The last two let publish apply a delta to the previous vintage (docs/warehouse.md). `<staging>/linkage/as_of=<D>/chain.json`
names the deltas that make up the state of D, oldest first, with the packages linked into
it and running counts. The state of D is the latest version of each record over its
chain, restricted to those packages; its persons are the latest version of each person
key that no later delta retired.

So a run reads and writes in proportion to the day, never to the campaign. The records of
a delta are an uncompressed Arrow IPC file, memory-mapped: DuckDB scans the few integer
columns that say what a new record reaches, and the reached persons' records are then
taken by position (each person's records lie together, and every row carries its person's
row range), without decoding anything else. A delta is never changed once written; its
name is a hash of what it was computed from, so a rerun of D writes the same delta and the
same chain, and rerunning an earlier day never changes what a later day's chain means.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from returnstats.linkage.state import (
    FOUNDING_ORDER,
    KEY_COLUMNS,
    RECORD_PERSON_SCHEMA,
    STATE_SCHEMA,
    key_sql,
)
from returnstats.warehouse.schema import PERSON_RETURNS

CHAIN_FILE = "chain.json"
RECORDS_FILE = "records.arrow"
PERSONS_FILE = "persons.parquet"
DROPPED_FILE = "dropped.parquet"
MERGED_FILE = "merged.parquet"
DELTA_FILES = (PERSONS_FILE, DROPPED_FILE, MERGED_FILE, RECORDS_FILE)
"""A delta's files, in the order they are uploaded (mirror.py): the records last."""
DROPPED_SCHEMA = pa.schema([("person_key", pa.string()), ("retired_seq", pa.int64())])
MERGED_SCHEMA = pa.schema([("package", pa.string()), ("file", pa.string()), ("change", pa.int64())])

STORED_COLUMNS = [*KEY_COLUMNS, "name_key", "position", "person_first", "person_rows"]
"""Beside the state columns in each stored record: the blocking-key and valid-ID hashes,
the hash of the normalised name (term frequencies), its own row in its delta, and the
range of rows of its delta that hold its person's records (first row, number of rows)."""

RECORDS_SCHEMA = pa.schema([
    *(field.with_nullable(True) for field in STATE_SCHEMA),
    *((name, pa.uint64()) for name in [*KEY_COLUMNS, "name_key"]),
    ("position", pa.int64()), ("person_first", pa.int64()), ("person_rows", pa.int64()),
])
BATCH_ROWS = 65_536
"""Rows per record batch of a records file (fixed, so that the same rows give the same bytes)."""


@dataclass(frozen=True)
class Chain:
    """The state of one as-of date: its deltas and what it holds."""

    deltas: tuple[str, ...] = ()
    """Delta names, oldest first."""
    packages: tuple[str, ...] = ()
    """The packages whose records are in the state (sorted)."""
    records: int = 0
    persons: int = 0
    named_records: int = 0
    """Records with a (normalised) name: the denominator of name term frequencies."""
    linked_at: dict[str, int] = field(default_factory=dict)
    """The position of the delta that linked each package: that delta holds the first
    version of each of the package's records."""
    extra: dict[str, Any] = field(default_factory=dict)
    hash_probe: int | None = None
    """`hash_probe()` of the DuckDB that wrote the chain (None in chains written before
    it was recorded)."""


def linkage_root(staging) -> Path:
    """The local linkage root of a staging zone (for an object store, this host's mirror:
    mirror.py)."""
    from returnstats.linkage.mirror import local_root

    return local_root(staging)


def delta_dir(root: Path, name: str) -> Path:
    return root / "deltas" / name


def read_chain(directory: Path) -> Chain:
    payload = json.loads((directory / CHAIN_FILE).read_text(encoding="utf-8"))
    return Chain(tuple(payload["deltas"]), tuple(payload["packages"]), payload["records"],
                 payload["persons"], payload["named_records"], payload.get("linked_at", {}),
                 payload.get("extra", {}), payload.get("hash_probe"))


_PROBE_SQL = "SELECT hash('returnstats probe', DATE '2020-02-17', 20200217::BIGINT)"


@cache
def hash_probe() -> int:
    """DuckDB's `hash()` of fixed values of the types the stored key and name hashes
    cover. The state stores those hashes, so a DuckDB whose `hash()` differs would leave
    every known record unreachable: a chain records the probe, and a different one is
    refused (`check_state`)."""
    import duckdb

    connection = duckdb.connect(":memory:")
    try:
        return int(connection.sql(_PROBE_SQL).fetchall()[0][0])
    finally:
        connection.close()


FORMAT = 5
"""The layout of a delta's files (2: records carry `state.KEY_COLUMNS`; 3: records are an
Arrow IPC file grouped by person, carrying `STORED_COLUMNS`; 4: `dropped.parquet` carries
`retired_seq`, and `merged.parquet` is new; 5: records carry `id_lead`, and
`id_number_raw` only intact IDs). Earlier formats are refused (`StateFormatError`)."""


def delta_name(*parts: Any) -> str:
    """A delta's name: the hash of what it is computed from, in this `FORMAT`."""
    text = json.dumps([FORMAT, *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def write_delta(root: Path, name: str, connection: Any, records_sql: str, persons: pa.Table,
                dropped: pa.Table, merged: pa.Table, order: str = "") -> None:
    """Write delta `name` once: a temporary directory renamed into place. Its records are
    the rows of `records_sql` on `connection` (`STATE_SCHEMA` columns), grouped by person
    in founding order: by the SQL `order` over its columns when given (it must keep each
    person's rows together, in founding order), else by person key. An existing delta of
    that name holds the same content (same inputs) and is kept."""
    target = delta_dir(root, name)
    if target.is_dir():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
    try:
        _write_records(connection, records_sql, order or _PERSON_ORDER, temporary / RECORDS_FILE)
        pq.write_table(persons.cast(PERSON_RETURNS.schema), temporary / PERSONS_FILE)
        pq.write_table(dropped.select(DROPPED_SCHEMA.names).cast(DROPPED_SCHEMA),
                       temporary / DROPPED_FILE)
        pq.write_table(merged.select(MERGED_SCHEMA.names).cast(MERGED_SCHEMA),
                       temporary / MERGED_FILE)
        os.rename(temporary, target)
    except OSError as error:
        shutil.rmtree(temporary, ignore_errors=True)
        if not target.is_dir():  # else a concurrent writer of the same delta won
            raise error
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


_PERSON_ORDER = "hash(person_key), person_key, " + ", ".join(f'"{c}"' for c in FOUNDING_ORDER)


def _sorted_records_sql(records_sql: str, order: str) -> str:
    """`records_sql` with the stored hashes, in `order`."""
    hashes = [*key_sql(), "CASE WHEN name_norm IS NULL THEN NULL ELSE hash(name_norm) END"]
    keys = ", ".join(f"{sql} AS {column}" for sql, column in
                     zip(hashes, [*KEY_COLUMNS, "name_key"], strict=True))
    columns = ", ".join(f'"{c}"' for c in STATE_SCHEMA.names)
    return f"SELECT {columns}, {keys} FROM ({records_sql}) ORDER BY {order}"


def _person_starts(keys: pa.ChunkedArray) -> np.ndarray:
    """The rows where a person begins in `keys` (sorted person keys, at least one)."""
    n = len(keys)
    change = pc.not_equal(keys.slice(1), keys.slice(0, n - 1)).fill_null(True)
    return np.flatnonzero(np.concatenate(([True], change.to_numpy())))


class _RecordsWriter:
    """Numbers rows of whole persons (`position`, `person_first`, `person_rows`) and writes
    them in batches of exactly `BATCH_ROWS` (the last excepted)."""

    def __init__(self, writer: pa.ipc.RecordBatchFileWriter) -> None:
        self.writer, self.rows, self.ready = writer, 0, RECORDS_SCHEMA.empty_table()

    def add(self, persons: pa.Table) -> None:
        if persons.num_rows == 0:
            return
        starts = _person_starts(persons["person_key"])
        lengths = np.diff(np.append(starts, persons.num_rows))
        numbered = {
            "position": np.arange(self.rows, self.rows + persons.num_rows, dtype=np.int64),
            "person_first": np.repeat(self.rows + starts, lengths),
            "person_rows": np.repeat(lengths, lengths),
        }
        self.rows += persons.num_rows
        table = pa.table({f.name: numbered[f.name] if f.name in numbered else persons[f.name]
                          for f in RECORDS_SCHEMA}, schema=RECORDS_SCHEMA)
        self.ready = pa.concat_tables([self.ready, table])
        while self.ready.num_rows >= BATCH_ROWS:
            self._write(BATCH_ROWS)

    def close(self) -> None:
        if self.ready.num_rows:
            self._write(self.ready.num_rows)

    def _write(self, rows: int) -> None:
        self.writer.write_batch(self.ready.slice(0, rows).combine_chunks().to_batches()[0])
        self.ready = self.ready.slice(rows)


def _write_records(connection: Any, records_sql: str, order: str, path: Path) -> None:
    """Write the records file. DuckDB sorts the rows into a scratch Parquet file, within
    its memory limit (streaming a sorted result out of DuckDB would hold all of it outside
    that limit); they are read back batch by batch, each person's rows numbered once all
    of them are in."""
    scratch = path.with_name(f"{path.name}.sorted.parquet")
    connection.execute(f"COPY ({_sorted_records_sql(records_sql, order)}) TO "
                       f"{_literal(str(scratch))} (FORMAT parquet)")
    try:
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, RECORDS_SCHEMA) as writer:
            records = _RecordsWriter(writer)
            pending = None  # the last person read so far: its rows may go on in the next batch
            for batch in pq.ParquetFile(scratch).iter_batches(batch_size=BATCH_ROWS):
                table = pa.Table.from_batches([batch])
                table = table if pending is None else pa.concat_tables([pending, table])
                last = int(_person_starts(table["person_key"])[-1])
                records.add(table.slice(0, last))
                pending = table.slice(last)
            if pending is not None:
                records.add(pending)
            records.close()
    finally:
        scratch.unlink(missing_ok=True)


@dataclass(frozen=True)
class DeltaRecords:
    """The memory-mapped records file of one delta."""

    batches: tuple[pa.RecordBatch, ...]

    @classmethod
    def open(cls, root: Path, name: str) -> DeltaRecords:
        reader = pa.ipc.open_file(pa.memory_map(str(delta_dir(root, name) / RECORDS_FILE)))
        return cls(tuple(reader.get_batch(i) for i in range(reader.num_record_batches)))

    def take(self, rows: np.ndarray, columns: Sequence[str]) -> pa.Table:
        """`columns` of the rows at positions `rows`, copying only those (in `rows`' order
        when it ascends)."""
        starts = np.cumsum([0, *(batch.num_rows for batch in self.batches)])
        which = np.searchsorted(starts, rows, side="right") - 1
        schema = pa.schema([RECORDS_SCHEMA.field(c) for c in columns])
        parts = [self.batches[i].select(columns).take(pa.array(rows[which == i] - starts[i]))
                 for i in np.unique(which)]
        return pa.Table.from_batches(parts, schema)


def take(deltas: list[DeltaRecords], seq: np.ndarray, rows: np.ndarray,
         columns: Sequence[str]) -> pa.Table:
    """`columns` and `seq` of the stored rows (`seq`, `rows`), sorted by both."""
    schema = pa.schema([RECORDS_SCHEMA.field(c) for c in columns]).append(pa.field("seq", pa.int64()))
    order = np.lexsort((rows, seq))
    seq, rows = seq[order], rows[order]
    parts = [schema.empty_table()]
    for delta in np.unique(seq):
        mine = seq == delta
        part = deltas[delta].take(rows[mine], columns)
        parts.append(part.append_column("seq", pa.array(np.full(part.num_rows, delta, np.int64))))
    return pa.concat_tables(parts)


def person_rows(first: np.ndarray, count: np.ndarray) -> np.ndarray:
    """The row positions of ranges `[first, first + count)`, in order."""
    total = int(count.sum())
    offsets = np.repeat(first - np.cumsum(np.concatenate(([0], count[:-1]))), count)
    return offsets + np.arange(total, dtype=np.int64)


def write_chain(directory: Path, chain: Chain) -> None:
    """Write `<directory>/chain.json` atomically (temporary file, then rename)."""
    directory.mkdir(parents=True, exist_ok=True)
    payload = asdict(chain)
    payload["deltas"], payload["packages"] = list(chain.deltas), list(chain.packages)
    payload["hash_probe"] = hash_probe()
    temporary = directory / f".{CHAIN_FILE}.{os.getpid()}"
    temporary.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, directory / CHAIN_FILE)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class StateFormatError(RuntimeError):
    """The linkage state on disk was written in an earlier format."""


def packages_table(chain: Chain, packages: Sequence[str]) -> pa.Table:
    """(package, linked_at) of `packages` of `chain`, sorted."""
    names = sorted(packages)
    return pa.table({"package": pa.array(names, pa.string()),
                     "linked_at": pa.array([chain.linked_at[p] for p in names], pa.int64())})


def _check_format(root: Path, chain: Chain) -> None:
    """Refuse a chain whose deltas were written in an earlier layout (their records would
    be unreadable or, worse, unreachable)."""
    name = chain.deltas[0]  # a delta's name covers FORMAT: later ones follow the first
    records = delta_dir(root, name) / RECORDS_FILE
    if not records.is_file() or not pa.ipc.open_file(pa.memory_map(str(records))).schema.equals(
            RECORDS_SCHEMA):
        raise StateFormatError(
            f"linkage delta {name} under {root} was written in an earlier format; "
            f"delete {root} and rerun the campaign from its first day (docs/linkage.md)")
    if chain.hash_probe is not None and chain.hash_probe != hash_probe():
        raise StateFormatError(
            f"the linkage state under {root} was written by a DuckDB whose hash() differs "
            f"from this one's (probe {chain.hash_probe}, now {hash_probe()}): its stored key "
            f"hashes would find no known record; delete {root} and rerun the campaign from "
            "its first day (docs/linkage.md)")


def register_records(connection: Any, root: Path, chain: Chain) -> list[DeltaRecords]:
    """The view `deltas` in `connection`: every record version of the chain, with `seq`,
    its delta's position. Returns the records of each delta, by `seq`, for taking rows by
    position."""
    if chain.deltas:
        _check_format(root, chain)
    records = [DeltaRecords.open(root, name) for name in chain.deltas]
    seq_field = pa.field("seq", pa.int64())
    versions = pa.Table.from_batches(
        [batch.append_column(seq_field, pa.array(np.full(batch.num_rows, seq, np.int64)))
         for seq, delta in enumerate(records) for batch in delta.batches],
        RECORDS_SCHEMA.append(seq_field))
    connection.register("record_versions", versions)
    connection.execute("CREATE OR REPLACE VIEW deltas AS SELECT * FROM record_versions")
    return records


def register_chain(connection: Any, root: Path, chain: Chain) -> None:
    """Views over a whole chain in `connection`: `deltas` (`register_records`),
    `person_versions` (every person version, with `seq`), `retired` (person_key, seq) and
    `linked_packages` (package, linked_at)."""
    register_records(connection, root, chain)
    connection.register("linked_packages", packages_table(chain, chain.packages))
    if not chain.deltas:
        connection.register("persons_empty", PERSON_RETURNS.schema.empty_table())
        connection.execute("CREATE OR REPLACE VIEW person_versions AS "
                           "SELECT *, 0::BIGINT AS seq FROM persons_empty")
        connection.register("retired_empty", DROPPED_SCHEMA.empty_table())
        connection.execute("CREATE OR REPLACE VIEW retired AS "
                           "SELECT person_key, 0::BIGINT AS seq FROM retired_empty")
        return
    for view, file, columns in (("person_versions", PERSONS_FILE, "*"),
                                ("retired", DROPPED_FILE, "person_key")):
        paths = [_literal(str(delta_dir(root, name) / file)) for name in chain.deltas]
        # file_index: the position of a row's file in the list, i.e. of its delta.
        connection.execute(
            f"CREATE OR REPLACE VIEW {view} AS SELECT {columns}, file_index::BIGINT AS seq "
            f"FROM read_parquet([{', '.join(paths)}], union_by_name = true)")


_LINEAGE = ("package", "file", "row_number")


def current_records_sql(columns: Sequence[str]) -> str:
    """The current version of each record of the state's packages: its lineage and
    `columns` (an aggregate over the columns asked for is cheaper than a window over
    whole rows)."""
    values = "".join(f', arg_max("{c}", seq) AS "{c}"' for c in columns if c not in _LINEAGE)
    return (f'SELECT package, file, "row_number"{values} FROM deltas '
            "WHERE package IN (SELECT package FROM linked_packages) "
            'GROUP BY package, file, "row_number"')


CURRENT_PERSONS_SQL = """
SELECT p.* FROM person_versions AS p
ANTI JOIN (SELECT person_key, max(seq) AS seq FROM (
    SELECT person_key, seq FROM person_versions UNION ALL SELECT person_key, seq FROM retired)
    GROUP BY person_key) AS later
    ON later.person_key = p.person_key AND later.seq > p.seq
"""
"""A person version is current when no later delta rewrote or retired its key; `seq`
is the position of the delta that wrote it."""
PERSONS_SEQ_SCHEMA = PERSON_RETURNS.schema.append(pa.field("seq", pa.int64()))


def _query(directory: Path, queries: list[tuple[str, pa.Schema]]) -> list[pa.Table]:
    """Run `queries` (SQL, result schema) over the chain of as-of directory `directory`."""
    import duckdb

    connection = duckdb.connect(":memory:")
    try:
        register_chain(connection, directory.parent, read_chain(directory))
        tables = [connection.sql(sql).to_arrow_table() for sql, _ in queries]
    finally:
        connection.close()
    return [table.select(schema.names).cast(schema)
            for table, (_, schema) in zip(tables, queries, strict=True)]


def read_linked(directory: Path, record_columns: Sequence[str] = RECORD_PERSON_SCHEMA.names,
                person_seq: bool = False) -> tuple[pa.Table, pa.Table]:
    """(persons, record_person) of the as-of directory `directory`, in no particular order;
    record_person with its lineage and `record_columns` only; persons with `seq` (the
    delta that wrote each) when `person_seq`."""
    schema = pa.schema([f for f in RECORD_PERSON_SCHEMA if f.name in {*_LINEAGE, *record_columns}])
    persons, record_person = _query(directory, [
        (CURRENT_PERSONS_SQL, PERSONS_SEQ_SCHEMA if person_seq else PERSON_RETURNS.schema),
        (current_records_sql(schema.names), schema)])
    return persons, record_person


def write_snapshot(directory: Path, records: pa.Table, persons: pa.Table,
                   as_of: date | None = None) -> Chain:
    """A whole state as a one-delta chain in `directory` (an `as_of=<D>` directory under
    a linkage root): for states built outside a run (benchmarks, test fixtures)."""
    root = directory.parent
    name = delta_name("snapshot", str(directory), as_of, records.num_rows, persons.num_rows)
    import duckdb

    connection = duckdb.connect(":memory:")
    try:
        connection.register("snapshot_records", records.select(STATE_SCHEMA.names)
                            .cast(STATE_SCHEMA))
        merged = connection.sql(
            "SELECT package, file, count(*) FILTER (WHERE merged) AS change "
            "FROM snapshot_records GROUP BY ALL").to_arrow_table()
        write_delta(root, name, connection, "SELECT * FROM snapshot_records", persons,
                    DROPPED_SCHEMA.empty_table(), merged)
    finally:
        connection.close()
    packages = tuple(sorted(set(records["package"].to_pylist())))
    chain = Chain((name,), packages, records.num_rows, persons.num_rows,
                  records.num_rows - records["name_norm"].null_count, dict.fromkeys(packages, 0))
    write_chain(directory, chain)
    return chain
