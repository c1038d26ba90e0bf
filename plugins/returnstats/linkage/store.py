"""Where the linkage state lives between runs: a chain of immutable deltas.

A run writes only what it changed, as one *delta* in `<staging>/linkage/deltas/<run>/`:
`records.parquet` (state rows of the new records and of every record of the persons it
touched, `STATE_SCHEMA`), `persons.parquet` (the touched persons' rows) and
`dropped.parquet` (the person keys it retired). `<staging>/linkage/as_of=<D>/chain.json`
names the deltas that make up the state of D, oldest first, with the packages linked into
it and running counts. The state of D is the latest version of each record over its
chain, restricted to those packages; its persons are the latest version of each person
key that no later delta retired.

So a run reads and writes in proportion to the day, never to the campaign: the known
records are only scanned, a few columns at a time, by DuckDB. A delta is never changed
once written; its name is a hash of what it was computed from, so a rerun of D writes the
same delta and the same chain, and rerunning an earlier day never changes what a later
day's chain means.
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
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from returnstats.linkage.state import KEY_COLUMNS, RECORD_PERSON_SCHEMA, STATE_SCHEMA, key_sql
from returnstats.warehouse.schema import PERSON_RETURNS

CHAIN_FILE = "chain.json"
DROPPED_SCHEMA = pa.schema([("person_key", pa.string())])


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
    extra: dict[str, Any] = field(default_factory=dict)


def linkage_root(staging: Path) -> Path:
    return Path(staging) / "linkage"


def delta_dir(root: Path, name: str) -> Path:
    return root / "deltas" / name


def read_chain(directory: Path) -> Chain:
    payload = json.loads((directory / CHAIN_FILE).read_text(encoding="utf-8"))
    return Chain(tuple(payload["deltas"]), tuple(payload["packages"]), payload["records"],
                 payload["persons"], payload["named_records"], payload.get("extra", {}))


FORMAT = 2
"""The layout of a delta's files (2: records carry `state.KEY_COLUMNS`)."""


def delta_name(*parts: Any) -> str:
    """A delta's name: the hash of what it is computed from, in this `FORMAT`."""
    text = json.dumps([FORMAT, *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def write_delta(root: Path, name: str, connection: Any, records_sql: str, persons: pa.Table,
                dropped: pa.Array) -> None:
    """Write delta `name` once: a temporary directory renamed into place. Its records are
    the rows of `records_sql` on `connection` (`STATE_SCHEMA` columns), written by DuckDB
    straight to Parquet. An existing delta of that name holds the same content (same
    inputs) and is kept."""
    target = delta_dir(root, name)
    if target.is_dir():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
    try:
        keys = ", ".join(f"{sql} AS {name}" for sql, name in zip(key_sql(), KEY_COLUMNS, strict=True))
        connection.execute(f"COPY (SELECT *, {keys} FROM ({records_sql})) TO "
                           f"{_literal(str(temporary / 'records.parquet'))} (FORMAT parquet)")
        pq.write_table(persons.cast(PERSON_RETURNS.schema), temporary / "persons.parquet")
        pq.write_table(pa.table({"person_key": dropped.cast(pa.string())}),
                       temporary / "dropped.parquet")
        os.rename(temporary, target)
    except OSError as error:
        shutil.rmtree(temporary, ignore_errors=True)
        if not target.is_dir():  # else a concurrent writer of the same delta won
            raise error
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def write_chain(directory: Path, chain: Chain) -> None:
    """Write `<directory>/chain.json` atomically (temporary file, then rename)."""
    directory.mkdir(parents=True, exist_ok=True)
    payload = asdict(chain)
    payload["deltas"], payload["packages"] = list(chain.deltas), list(chain.packages)
    temporary = directory / f".{CHAIN_FILE}.{os.getpid()}"
    temporary.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, directory / CHAIN_FILE)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class StateFormatError(RuntimeError):
    """The linkage state on disk was written in an earlier format."""


def _check_format(root: Path, chain: Chain) -> None:
    """Refuse a chain whose deltas lack the stored blocking keys (written before they
    were added): the known records would be unreachable, silently."""
    name = chain.deltas[0]  # a delta's name covers FORMAT: later ones follow the first
    if KEY_COLUMNS[-1] not in pq.read_schema(delta_dir(root, name) / "records.parquet").names:
        raise StateFormatError(
            f"linkage delta {name} under {root} predates the stored blocking keys; "
            f"delete {root} and rerun the campaign from its first day (docs/linkage.md)")


def register_chain(connection: Any, root: Path, chain: Chain) -> None:
    """Views over a chain in `connection`: `deltas` (every record version, with `seq`, its
    delta's position), `person_versions` (every person version, with `seq`), `retired`
    (person_key, seq) and `linked_packages` (package)."""
    connection.register("linked_packages", pa.table(
        {"package": pa.array(chain.packages, pa.string())}))
    if not chain.deltas:
        connection.register("deltas_empty", STATE_SCHEMA.empty_table())
        keys = ", ".join(f"NULL::UBIGINT AS {name}" for name in KEY_COLUMNS)
        connection.execute(f"CREATE OR REPLACE VIEW deltas AS SELECT *, {keys}, 0::BIGINT AS seq "
                           "FROM deltas_empty")
        connection.register("persons_empty", PERSON_RETURNS.schema.empty_table())
        connection.execute("CREATE OR REPLACE VIEW person_versions AS "
                           "SELECT *, 0::BIGINT AS seq FROM persons_empty")
        connection.register("retired_empty", DROPPED_SCHEMA.empty_table())
        connection.execute("CREATE OR REPLACE VIEW retired AS "
                           "SELECT *, 0::BIGINT AS seq FROM retired_empty")
        return
    _check_format(root, chain)
    for view, file in (("deltas", "records"), ("person_versions", "persons"),
                       ("retired", "dropped")):
        paths = [_literal(str(delta_dir(root, name) / f"{file}.parquet")) for name in chain.deltas]
        # file_index: the position of a row's file in the list, i.e. of its delta.
        connection.execute(
            f"CREATE OR REPLACE VIEW {view} AS SELECT *, file_index::BIGINT AS seq "
            f"FROM read_parquet([{', '.join(paths)}])")


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
SELECT p.* EXCLUDE (seq) FROM person_versions AS p
ANTI JOIN (SELECT person_key, max(seq) AS seq FROM (
    SELECT person_key, seq FROM person_versions UNION ALL SELECT person_key, seq FROM retired)
    GROUP BY person_key) AS later
    ON later.person_key = p.person_key AND later.seq > p.seq
"""
"""A person version is current when no later delta rewrote or retired its key."""


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


def read_linked(directory: Path, record_columns: Sequence[str] = RECORD_PERSON_SCHEMA.names
                ) -> tuple[pa.Table, pa.Table]:
    """(persons, record_person) of the as-of directory `directory`, in no particular order;
    record_person with its lineage and `record_columns` only."""
    schema = pa.schema([f for f in RECORD_PERSON_SCHEMA if f.name in {*_LINEAGE, *record_columns}])
    persons, record_person = _query(directory, [
        (CURRENT_PERSONS_SQL, PERSON_RETURNS.schema),
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
        write_delta(root, name, connection, "SELECT * FROM snapshot_records", persons,
                    pa.array([], pa.string()))
    finally:
        connection.close()
    packages = tuple(sorted(set(records["package"].to_pylist())))
    chain = Chain((name,), packages, records.num_rows, persons.num_rows,
                  records.num_rows - records["name_norm"].null_count)
    write_chain(directory, chain)
    return chain
