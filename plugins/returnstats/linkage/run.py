"""Linkage of the staged worker records into persons (SPEC §4): normalise, link records
sharing a valid ID, score the others with the stored Splink model, cluster under the
one-ID-per-person constraint, and keep the surviving values of each person.

Runs are incremental and their work follows the day's records, not the campaign's: run D
starts from the chain of the latest earlier run (`store.py`), drops the records of packages
no longer active, and loads into DuckDB only the new records and the known persons they
can reach (through a blocking key or a shared valid ID). Those are scored, clustered and
survived, and written as one delta; every other person stays where it is. Without an
earlier run it is a full link (docs/linkage.md).
"""

from __future__ import annotations

import hmac
import logging
import tempfile
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from returnstats.config import Settings
from returnstats.linkage import model as linkage_model
from returnstats.linkage import store
from returnstats.linkage.cluster import extend_clusters
from returnstats.linkage.state import (
    FOUNDING_ORDER,
    KEY_COLUMNS,
    LINEAGE,
    PROFILE_COLUMNS,
    STATE_SCHEMA,
    key_sql,
    new_state_rows,
)
from returnstats.linkage.survivorship import survive

log = logging.getLogger(__name__)
# The trained model's comparisons deliberately have no null level on some columns (see
# docs/linkage.md); Splink warns about that on every Linker it builds.
logging.getLogger("splink.internals.settings").setLevel(logging.ERROR)

_S, _I = pa.string(), pa.int64()
DUCKDB_MEMORY_LIMIT = "768MB"
_FOUNDING_SQL = ", ".join(f'"{c}"' for c in FOUNDING_ORDER)


@dataclass(frozen=True)
class LinkResult:
    directory: Path
    """The as-of directory the run wrote (its chain.json)."""
    stats: dict[str, Any] = field(default_factory=dict)
    """Counts and timings only: no personal data."""

    @cached_property
    def _linked(self) -> tuple[pa.Table, pa.Table]:
        return store.read_linked(self.directory)

    @cached_property
    def persons(self) -> pd.DataFrame:
        """The person_returns columns of SPEC §6, without as_of, by person_key."""
        return self._linked[0].sort_by("person_key").to_pandas(date_as_object=True)

    @cached_property
    def record_person(self) -> pd.DataFrame:
        """package, file, row_number, record_id, person_key, merged; in lineage order."""
        return self._linked[1].sort_by([(c, "ascending") for c in
                                        ("package", "file", "row_number")]).to_pandas()


def score_pairs(connection: Any, settings: dict[str, Any]) -> pd.DataFrame:
    """Probabilistic edges at or above the threshold with given-name agreement, between
    two records of which at least one is new: new records against each other and against
    the known records in the working set, in one Splink prediction.

    Reads the `profile` view, the `tf` table and the `w` table of `connection`; `rid_l <
    rid_r` in every edge."""
    from splink import DuckDBAPI, Linker

    db_api = DuckDBAPI(connection)
    profile = db_api.register("profile")
    # Known records were linked with each other by earlier runs: only pairs with a new
    # record are scored. The stored model was validated when trained; by design
    # household, destination and arrival have no null level (those columns are required).
    settings = {**settings, "blocking_rules_to_generate_predictions": [
        {**rule, "blocking_rule": f"({rule['blocking_rule']}) AND (l.is_new OR r.is_new)"}
        for rule in settings["blocking_rules_to_generate_predictions"]]}
    linker = Linker(profile, settings, log_level=logging.WARNING, validate_settings=False)
    linker.table_management.register_term_frequency_lookup(db_api.register("tf"), "name_norm")
    threshold = linkage_model.MATCH_THRESHOLD
    scored = linker.inference.predict_within(
        profile, threshold_match_probability=threshold, warning_mode="never")
    edges = connection.sql(
        "SELECT least(p.rid_l, p.rid_r) AS rid_l, greatest(p.rid_l, p.rid_r) AS rid_r, "
        f"p.match_probability FROM {scored.physical_name} AS p "
        "JOIN w AS l ON l.rid = p.rid_l JOIN w AS r ON r.rid = p.rid_r "
        f"WHERE p.match_probability >= $threshold AND {linkage_model.name_agreement_sql()} "
        "ORDER BY 1, 2",
        params={"threshold": threshold},
    ).df()
    scored.drop_table_from_database_and_remove_from_cache()
    return edges


_LINEAGE = 'package, file, "row_number"'


def _reach_sql(connection: Any) -> str:
    """Tables of the new records' key hashes (`new_in`), and a query of the stored rows
    (`seq`, `position`) that can reach a new record: a blocking key in common, with one
    side lacking a valid ID as the rules say, or a valid ID in common. Splink only ever
    pairs records sharing a blocking key, so scoring new records against the persons
    reached finds exactly the edges a scan of every known record would.

    Each key is one hash join over the stored hashes (`state.KEY_COLUMNS`), which DuckDB
    prefilters in the scan; nothing but integers is read (a hash collision only adds a
    person to the working set, never an edge)."""
    *blocking, (id_key, id_sql) = zip(KEY_COLUMNS, key_sql(), strict=True)
    branches = []
    for column, sql in blocking:
        connection.execute(
            f"CREATE TABLE new_{column} AS SELECT {sql} AS h, bool_or(id_number IS NULL) "
            f"AS no_id FROM new_in WHERE {sql} IS NOT NULL GROUP BY 1")
        branches.append(f"SELECT seq, position FROM deltas AS l JOIN new_{column} AS n "
                        f"ON l.{column} = n.h WHERE n.no_id OR l.{id_key} IS NULL")
    connection.execute(f"CREATE TABLE new_{id_key} AS SELECT DISTINCT {id_sql} AS h "
                       "FROM new_in WHERE id_number IS NOT NULL")
    branches.append(f"SELECT seq, position FROM deltas AS l SEMI JOIN new_{id_key} AS n "
                    f"ON l.{id_key} = n.h")
    return " UNION ".join(branches)


def _take_persons(connection: Any, deltas: list[store.DeltaRecords], ranges: str) -> pa.Table:
    """The state rows (`STATE_SCHEMA`) in the row ranges (`seq`, `person_first`,
    `person_rows`) of relation `ranges`: each range is a person's records in its latest
    delta, taken by position."""
    wanted = connection.sql(f"SELECT seq, person_first, person_rows FROM {ranges}").fetchnumpy()
    rows = store.person_rows(wanted["person_first"], wanted["person_rows"])
    seq = np.repeat(wanted["seq"], wanted["person_rows"])
    return store.take(deltas, seq, rows, STATE_SCHEMA.names).drop_columns("seq")


def _load_working_set(connection: Any, deltas: list[store.DeltaRecords], new: pa.Table,
                      named: int, losing: bool) -> tuple[int, int, int]:
    """From the registered chain (`deltas`, `known_packages`, `lost_packages`; `losing`:
    whether any package leaves) and `new_in`:

    - `lost_keys`: the current persons of the records whose package left the state;
    - `w`: the new records and the current records of every known person they reach or
      that lost records, numbered (`rid`) in founding order;
    - `tf`: each new name's share of all `named` records' names, as a full link counts it;
    - the `profile` view Splink reads.

    A run rewrites every current record of each person it touches, together, so a current
    person's records are a row range of its latest delta, named on each of them: the
    latest version of a reached record gives its person's range. Known records are scanned
    once, a few integer columns of them, to find what the new ones reach; the reached
    persons' records are taken by position. Returns the known records in `w`, and the
    records and named records lost."""
    connection.register("new_in", new)
    # Every version of a record shares its fields, so each scan finds all its versions;
    # the latest names the record's person and that person's range in its latest delta.
    latest = ("arg_max(person_key, seq) AS person_key, max(seq) AS seq, "
              "arg_max(person_first, seq) AS person_first, arg_max(person_rows, seq) AS person_rows")
    connection.execute(
        f"CREATE TABLE lost_versions AS SELECT {_LINEAGE}, seq, person_key, person_first, "
        "person_rows, name_norm IS NOT NULL AS named FROM deltas "
        f"WHERE {'package IN (SELECT package FROM lost_packages)' if losing else 'false'}")
    connection.execute(
        f"CREATE TABLE lost_keys AS SELECT DISTINCT {latest} FROM lost_versions GROUP BY {_LINEAGE}")
    reach = connection.sql(_reach_sql(connection)).fetchnumpy()
    connection.register("reach_taken", store.take(
        deltas, reach["seq"], reach["position"],
        [*LINEAGE, "person_key", "person_first", "person_rows"]))
    connection.execute("CREATE TABLE reach_versions AS SELECT * FROM reach_taken")
    connection.unregister("reach_taken")
    # Versions of records whose package left the state, now or in an earlier run, are
    # stale: their person ranges are gone. Dropped here, on the few versions reached.
    connection.execute(
        f"CREATE TABLE reached AS SELECT DISTINCT {latest} FROM reach_versions "
        f"WHERE package IN (SELECT package FROM known_packages) "
        f"GROUP BY {_LINEAGE} UNION SELECT * FROM lost_keys")
    known = _take_persons(connection, deltas, "reached")
    if losing:
        known = known.filter(pc.is_in(known["package"], connection.sql(
            "SELECT package FROM known_packages").to_arrow_table()["package"]))
    connection.register("known_in", known)
    connection.execute(
        "CREATE TABLE unranked AS SELECT *, false AS is_new FROM known_in "
        "UNION ALL SELECT *, true AS is_new FROM new_in")
    connection.unregister("known_in")
    del known
    # rid: the founding order, ranked over the order columns alone and stored in the order
    # of `unranked`, then joined to it by position (a window ordered over whole rows
    # sorts them all: three times slower on a national day).
    connection.execute(
        f"CREATE TABLE ranks AS SELECT rid FROM (SELECT rowid AS position, (row_number() OVER "
        f"(ORDER BY {_FOUNDING_SQL}) - 1)::BIGINT AS rid FROM unranked) ORDER BY position")
    # A person that lost records is linked again from its remaining records (`relink`):
    # each starts alone, unattached, and is scored again, so that a person whose bridging
    # record left splits as a full link would split it.
    connection.execute(
        "CREATE TABLE w AS SELECT u.* EXCLUDE (attached), "
        "u.attached AND NOT (NOT u.is_new AND u.person_key IN (SELECT person_key FROM lost_keys)) "
        "AS attached, r.rid, "
        "NOT u.is_new AND u.person_key IN (SELECT person_key FROM lost_keys) AS relink "
        "FROM unranked AS u POSITIONAL JOIN ranks AS r")
    connection.execute("DROP TABLE unranked; DROP TABLE ranks")
    lost_records, lost_named = connection.sql(
        f"SELECT count(*), count(*) FILTER (WHERE named) FROM (SELECT DISTINCT {_LINEAGE}, named "
        "FROM lost_versions)").fetchall()[0]
    # Term frequencies: a known record counts once, by its first version (written by the
    # delta that linked its package), found by the stored hash of its name. Two names
    # sharing a 64-bit hash (odds about 1e-9 a run) would only blend their frequencies.
    connection.execute(
        "CREATE TABLE tf AS WITH new_names AS (SELECT name_norm, hash(name_norm) AS h, "
        "count(*) AS new_records FROM new_in WHERE name_norm IS NOT NULL GROUP BY name_norm), "
        "known AS (SELECT name_key, count(*) AS known_records FROM deltas AS l "
        "SEMI JOIN new_names AS n ON l.name_key = n.h "
        "SEMI JOIN known_packages AS k ON l.package = k.package AND l.seq = k.linked_at "
        "GROUP BY name_key) "
        "SELECT n.name_norm, (n.new_records + coalesce(k.known_records, 0))::DOUBLE / $named "
        "AS tf_name_norm FROM new_names AS n LEFT JOIN known AS k ON k.name_key = n.h",
        {"named": max(named - lost_named, 1)})
    # Splink scores the pairs with an `is_new` side: new records and relinked ones.
    columns = ", ".join(["rid", "is_new OR relink AS is_new", *PROFILE_COLUMNS])
    connection.execute(f"CREATE VIEW profile AS SELECT {columns} FROM w")
    known_in_w = connection.sql("SELECT count(*) FROM w WHERE NOT is_new").fetchall()[0][0]
    return known_in_w, int(lost_records), int(lost_named)


# The component of each record before probabilistic edges: its known person (a new or
# relinked record: itself), joined with every record holding the same valid ID; labelled
# by the component's first record.
_COMPONENTS_SQL = """
WITH person_ids AS (
    SELECT person_key, max(id_number) AS id FROM w WHERE NOT (is_new OR relink)
    GROUP BY person_key
), labelled AS (
    SELECT w.rid, w.attached,
           CASE WHEN w.is_new OR w.relink THEN w.id_number ELSE p.id END AS id,
           CASE WHEN w.is_new OR w.relink THEN 'new:' || w.rid::VARCHAR
                ELSE 'known:' || w.person_key END AS unit
    FROM w LEFT JOIN person_ids AS p USING (person_key)
)
SELECT rid, attached, id,
       min(rid) OVER (PARTITION BY coalesce('id:' || id, unit)) AS component
FROM labelled ORDER BY rid
"""


def _cluster(connection: Any, edges: pd.DataFrame) -> tuple[np.ndarray, set[int]]:
    """The person (rid of its founding record) of each record of `w`, by rid, and the
    records newly attached by an edge. Valid IDs are joined in SQL; only the components
    that edges touch go through the union-find of `cluster.extend_clusters`."""
    seeds = connection.sql(_COMPONENTS_SQL).to_arrow_table()
    component = seeds["component"].to_numpy().astype(np.int64)
    if edges.empty:
        return component, set()
    ends = np.unique(np.concatenate([edges["rid_l"].to_numpy(np.int64),
                                     edges["rid_r"].to_numpy(np.int64)]))
    roots = np.unique(component[ends])
    # A component's valid ID is that of its records; its root is one of them.
    root_ids = dict(zip(roots.tolist(), seeds["id"].take(pa.array(roots)).to_pylist(),
                        strict=True))
    was_attached = seeds["attached"].take(pa.array(ends)).to_pylist()
    final, attached = extend_clusters(
        [], [], root_ids, dict(zip(ends.tolist(), component[ends].tolist(), strict=True)),
        {rid for rid, flag in zip(ends.tolist(), was_attached, strict=True) if flag}, edges)
    lookup = np.arange(len(component), dtype=np.int64)
    lookup[np.fromiter(final.keys(), np.int64, len(final))] = np.fromiter(
        final.values(), np.int64, len(final))
    return lookup[component], attached


def _count(connection: Any, sql: str) -> int:
    return int(connection.sql(sql).fetchall()[0][0])


def link_step(root: Path, previous: store.Chain, target: Path, new: pa.Table, key: bytes,
              active_packages: Collection[str] | None = None,
              model_path: Path | None = None) -> LinkResult:
    """Link `new` (`state.new_state_rows` of the staged workers of packages not yet in
    `previous`) against the persons of the chain `previous`, after dropping its records of packages not in
    `active_packages` (all kept when None); write the run's delta under `root` and the new
    chain into `target`. Same inputs, same delta and chain."""
    import duckdb

    started = time.perf_counter()
    new_packages = set(new["package"].unique().to_pylist())
    linked = set(previous.packages)
    active = linked | new_packages if active_packages is None else set(active_packages)
    known_packages, lost_packages = linked & active, linked - active
    settings = linkage_model.load_model(model_path)

    root.mkdir(parents=True, exist_ok=True)
    spill = tempfile.TemporaryDirectory(prefix=".spill-", dir=root)
    connection = duckdb.connect(":memory:", config={
        # Beyond this DuckDB spills to the restricted zone rather than taking the
        # machine's memory (issue 8: a national day within 2 GB).
        "memory_limit": DUCKDB_MEMORY_LIMIT, "temp_directory": spill.name})
    try:
        deltas = store.register_records(connection, root, previous)
        for name, packages in (("known_packages", known_packages), ("lost_packages", lost_packages)):
            connection.register(name, store.packages_table(previous, packages))
        new_named = new.num_rows - new["name_norm"].null_count
        known_in_w, lost_records, lost_named = _load_working_set(
            connection, deltas, new, previous.named_records + new_named, bool(lost_packages))
        named = previous.named_records - lost_named + new_named
        with_id = new.num_rows - new["id_number"].null_count
        relinked = _count(connection, "SELECT count(*) FROM w WHERE relink")
        no_score = (new.num_rows == 0 and relinked == 0) or (
            with_id == new.num_rows and known_in_w == 0)
        edges = (pd.DataFrame({"rid_l": [], "rid_r": [], "match_probability": []}) if no_score
                 else score_pairs(connection, settings))
        person, attached = _cluster(connection, edges)
        attached_now = np.zeros(len(person), dtype=bool)
        attached_now[np.fromiter(attached, np.int64, len(attached))] = True
        connection.register("linked", pa.table({"rid": np.arange(len(person)),
                                                "person": person,
                                                "attached_now": attached_now}))
        # Touched: persons holding a new record (gained, founded or merged) or a record of
        # a person that lost records. The others are carried over as they were.
        connection.execute(
            "CREATE TABLE touched AS SELECT w.* EXCLUDE (attached), "
            "w.attached OR l.attached_now AS attached, l.person FROM w JOIN linked AS l USING (rid) "
            "WHERE l.person IN (SELECT l2.person FROM w AS w2 JOIN linked AS l2 USING (rid) "
            "WHERE w2.is_new OR w2.person_key IN (SELECT person_key FROM lost_keys))")
        touched_persons, person_keys = survive(connection, "touched", key)
        connection.register("person_keys", person_keys)
        records_sql = (
            f"SELECT {', '.join(c for c in STATE_SCHEMA.names if c not in ('person_key', 'merged'))}"
            ", k.person_key, rid <> person AS merged, person, rid FROM touched "
            "JOIN person_keys AS k USING (person)")
        # A person's records all lie in the delta of its latest version: the seq of any
        # reached record of a retired key names the delta that held the retired person.
        dropped = connection.sql(
            "SELECT person_key, max(seq) AS retired_seq FROM reached WHERE person_key IN ("
            "SELECT person_key FROM touched WHERE NOT is_new UNION SELECT person_key FROM lost_keys) "
            "GROUP BY person_key ORDER BY person_key").to_arrow_table()
        # What the ledger's rows_merged gains per file: the touched records merged now, less
        # those merged before (new records were merged nowhere).
        merged = connection.sql(
            "SELECT package, file, (count(*) FILTER (WHERE rid <> person)"
            " - count(*) FILTER (WHERE NOT is_new AND merged))::BIGINT AS change "
            "FROM touched GROUP BY ALL HAVING change <> 0 ORDER BY ALL").to_arrow_table()
        merges = _count(connection, "SELECT count(*) FROM touched WHERE is_new AND rid <> person")
        name = store.delta_name(previous.deltas, sorted(active), sorted(new_packages),
                                new.num_rows, linkage_model.model_digest(model_path),
                                hmac.new(key, b"returnstats.delta", "sha256").hexdigest())
        # `person` is its founding record's rid: each person's rows together, founding order.
        store.write_delta(root, name, connection, records_sql, touched_persons, dropped,
                          merged, order="person, rid")
    finally:
        connection.close()
        spill.cleanup()

    chain = store.Chain(
        deltas=(*previous.deltas, name),
        packages=tuple(sorted(known_packages | new_packages)),
        linked_at={**{p: previous.linked_at[p] for p in known_packages},
                   **dict.fromkeys(new_packages, len(previous.deltas))},
        records=previous.records - lost_records + new.num_rows,
        persons=previous.persons - dropped.num_rows + touched_persons.num_rows,
        named_records=named,
    )
    store.write_chain(target, chain)
    stats = {
        "records": chain.records,
        "records_new": new.num_rows,
        "records_removed": lost_records,
        "known_records_compared": int(known_in_w),
        "persons": chain.persons,
        "persons_touched": touched_persons.num_rows,
        "new_records_merged": merges,
        "edges_accepted": len(edges),
        "match_threshold": linkage_model.MATCH_THRESHOLD,
        "incremental": bool(previous.deltas),
        "seconds": round(time.perf_counter() - started, 3),
    }
    log.info("linkage: %s", stats)
    return LinkResult(directory=target, stats=stats)


def link_records(workers: pa.Table | pd.DataFrame, key: bytes,
                 model_path: Path | None = None) -> LinkResult:
    """Link staged worker records into persons from scratch (a full link), in a scratch
    directory; the result's persons and record_person are read before it goes."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        result = link_step(root, store.Chain(), root / "as_of=full", new_state_rows(workers),
                           key, model_path=model_path)
        result.persons, result.record_person  # noqa: B018 - read while the files exist
    return result


def linkage_dir(settings: Settings, as_of: date) -> Path:
    return store.linkage_root(settings.staging) / f"as_of={as_of.isoformat()}"


def previous_as_of(settings: Settings, as_of: date) -> date | None:
    """The as-of date of the latest run before `as_of` (never `as_of` itself, so a rerun
    of D starts from what D started from); None before the first run."""
    from returnstats.linkage.mirror import run_dates

    earlier = [day for day in run_dates(settings.staging) if day < as_of]
    return earlier[-1] if earlier else None


def previous_chain(settings: Settings, as_of: date) -> store.Chain:
    """The chain of the latest run before `as_of` (`previous_as_of`), pulled into this
    host's mirror when the zone is an object store; empty before the first run."""
    from returnstats.linkage import mirror

    previous = previous_as_of(settings, as_of)
    if previous is None:
        return store.Chain()
    mirror.pull(settings.staging, previous)
    return store.read_chain(linkage_dir(settings, previous))


def link_as_of(settings: Settings, as_of: date, key: bytes) -> LinkResult:
    """Link the active packages with report_date <= as_of, incrementally from the latest
    earlier run: a new delta and `<staging>/linkage/as_of=<D>/chain.json` (written to the
    object store after the run when the zone is one: mirror.py)."""
    from returnstats.linkage import mirror
    from returnstats.validation.staging import WORKERS_SCHEMA, active_packages, read_arrow

    previous = previous_chain(settings, as_of)
    active = active_packages(settings, as_of)
    linked = set(previous.packages)
    # Only the normalised rows outlive this line: the staged rows are freed before linking.
    new = new_state_rows(pa.concat_tables([WORKERS_SCHEMA.empty_table(), *(
        read_arrow(settings.staging, name, "workers") for name in active if name not in linked)]))
    result = link_step(store.linkage_root(settings.staging), previous,
                       linkage_dir(settings, as_of), new, key, active_packages=active)
    mirror.push(settings.staging, as_of)
    return result
