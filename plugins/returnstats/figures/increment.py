"""Publish by increment: a day's vintage from the previous run's vintage and the one
linkage delta between them, so that publish reads and writes in proportion to the day,
not to the campaign (issue 8; docs/warehouse.md).

SPEC §6 makes every vintage the whole campaign. Of its tables, three grow with the
campaign's persons and records; each is carried forward from the base vintage:

- `person_returns`: one segment (file) per linkage delta, holding the persons whose
  current version that delta wrote. A delta retires keys of earlier segments (its
  `dropped.parquet` names the segment of each) and adds its own: only those segments are
  written, the others are hard-linked (`warehouse.store.Segments`).
- `returns_daily`: the base's cells, less the retired persons' rows, plus the delta's.
- the ledger's `rows_merged`: the base's counts plus the delta's `merged.parquet`.

The other tables are computed from the staged tables as on any day. The base is used
only when its commit record says it was computed from exactly the chain this delta
extends (`identity`); otherwise, and whenever anything does not add up (a retired
key not where its delta says), publish computes the vintage in full. Both ways give the
same tables (tests/figures/test_increment.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from returnstats.figures.sql import run_query
from returnstats.linkage import store as linkage_store
from returnstats.warehouse.commits import current_commit, partition_path
from returnstats.warehouse.location import Root, locate
from returnstats.warehouse.schema import PERSON_RETURNS, RETURNS_DAILY
from returnstats.warehouse.store import Segments

MERGED_COUNTS = pa.schema([("package", pa.string()), ("file", pa.string()),
                           ("rows_merged", pa.int64())])


def identity(deltas: Sequence[str], campaign_start: date) -> str:
    """What a vintage is computed from: its chain of linkage deltas and the campaign start
    (the as-of date itself changes nothing of a carried table, since no person returns
    after the report date of a package: SPEC §3)."""
    text = json.dumps([list(deltas), campaign_start.isoformat()])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Increment:
    """What a day's increment reads: the base vintage's carried tables, and the delta."""

    base: str
    """The base's person_returns partition, relative to the root (its segments are taken
    over from there)."""
    segments: dict[int, str]
    returns_daily: pa.Table
    ledger: pa.Table
    seq: int
    """The delta's position in the chain: the number of its new segment."""
    persons: pa.Table
    dropped: pa.Table
    merged: pa.Table
    retired: dict[int, pa.Table]
    """The base segments holding a retired key, whole, by seq."""
    identity: str
    packages: tuple[str, ...]


def read_increment(root: Root, linkage_root: Path, base_as_of: date | None,
                   chain: linkage_store.Chain, campaign_start: date) -> Increment | None:
    """The increment from the committed vintage of `base_as_of` to the state `chain`, or
    None when that vintage cannot be the base: absent, or computed from another chain."""
    if base_as_of is None or not chain.deltas:
        return None
    location = locate(root)
    base = current_commit(location, base_as_of)
    if base is None or base.identity != identity(chain.deltas[:-1], campaign_start) \
            or not base.segments:
        return None
    delta = linkage_store.delta_dir(linkage_root, chain.deltas[-1])
    dropped_path, merged_path = delta / linkage_store.DROPPED_FILE, delta / linkage_store.MERGED_FILE
    if not merged_path.is_file():
        return None  # a delta of format 3: no merged counts, no retired segments
    dropped = pq.read_table(dropped_path)
    if "retired_seq" not in dropped.column_names:
        return None
    partition = partition_path(PERSON_RETURNS.name, base_as_of)
    retired = {}
    for seq in pc.unique(dropped["retired_seq"]).to_pylist():
        if seq not in base.segments:
            return None
        retired[seq] = _read(location, f"{partition}/{base.segments[seq]}")
    (returns_daily,), (ledger,) = (base.paths(RETURNS_DAILY.name), base.paths("ledger"))
    return Increment(
        base=partition, segments=dict(base.segments),
        returns_daily=_read(location, returns_daily),
        ledger=_read(location, ledger, columns=["package", "file", "rows_merged"]),
        seq=len(chain.deltas) - 1,
        persons=pq.read_table(delta / linkage_store.PERSONS_FILE),
        dropped=dropped, merged=pq.read_table(merged_path), retired=retired,
        identity=identity(chain.deltas, campaign_start), packages=chain.packages)


def _read(location, relative: str, columns: list[str] | None = None) -> pa.Table:
    with location.fs.open(location.join(relative), "rb") as handle:
        return pq.read_table(handle, columns=columns)


@dataclass(frozen=True)
class Carried:
    """The carried tables of a vintage computed by increment."""

    person_returns: Segments
    returns_daily: pa.Table
    merged_counts: pa.Table


def compute_increment(increment: Increment, as_of: date, campaign_start: date) -> Carried | None:
    """The carried tables of the vintage `as_of`, or None when the increment does not add
    up (then the vintage is computed in full)."""
    persons = increment.persons.select(PERSON_RETURNS.column_names).cast(PERSON_RETURNS.schema)
    latest = pc.max(persons["return_date"]).as_py()
    if persons["return_date"].null_count or (latest is not None and latest > as_of):
        return None  # forbidden by SPEC §3; the full computation leaves such persons out
    written, removed = {}, [PERSON_RETURNS.schema.empty_table()]
    for seq, rows in increment.retired.items():
        keys = increment.dropped.filter(pc.equal(increment.dropped["retired_seq"], seq))["person_key"]
        gone = pc.is_in(rows["person_key"], value_set=keys)
        if pc.sum(gone).as_py() != len(keys):
            return None  # a retired key is not where its delta says: trust nothing
        removed.append(rows.filter(gone))
        written[seq] = rows.filter(pc.invert(gone))
    if persons.num_rows:
        written[increment.seq] = persons.sort_by("person_key")
    written = {seq: rows for seq, rows in written.items() if rows.num_rows}
    kept = {seq: name for seq, name in increment.segments.items() if seq not in increment.retired}
    segments = Segments(increment.identity, written, kept, increment.base)

    con = duckdb.connect()
    try:
        for name, relation in (("base_returns_daily", increment.returns_daily),
                               ("added", persons), ("removed", pa.concat_tables(removed)),
                               ("base_ledger", increment.ledger), ("merged_change", increment.merged),
                               ("linked_packages", pa.table({"package": pa.array(
                                   increment.packages, pa.string())}))):
            con.register(name, relation)
        values = {"as_of": as_of, "campaign_start": campaign_start}
        returns_daily = run_query(con, "returns_daily_increment", values)
        merged_counts = run_query(con, "merged_counts_increment", values)
    finally:
        con.close()
    return Carried(segments, returns_daily.cast(RETURNS_DAILY.schema),
                   merged_counts.cast(MERGED_COUNTS))


def split_segments(person_returns: pa.Table, seq: pa.Array | np.ndarray, vintage: str) -> Segments:
    """A person_returns table as segments: each person in that of the delta holding its
    current version (`seq`, row by row); each segment keeps the table's row order."""
    seq = pa.array(seq, pa.int64())
    return Segments(vintage, {
        int(s): person_returns.filter(pc.equal(seq, s)) for s in pc.unique(seq).to_pylist()})

