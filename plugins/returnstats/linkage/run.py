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
from returnstats.linkage import review, store
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


def _linker(connection: Any, table: str, settings: dict[str, Any]) -> tuple[Any, Any]:
    """A Splink linker over `table` of `connection` with the run's term frequencies
    (`tf`), and that table as a Splink frame."""
    from splink import DuckDBAPI, Linker

    db_api = DuckDBAPI(connection)
    frame = db_api.register(table)
    linker = Linker(frame, settings, log_level=logging.WARNING, validate_settings=False)
    linker.table_management.register_term_frequency_lookup(db_api.register("tf"), "name_norm")
    return linker, frame


def score_pairs(connection: Any, settings: dict[str, Any],
                band: tuple[float, float] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Probabilistic edges at or above the threshold with given-name agreement, between
    two records of which at least one is new: new records against each other and against
    the known records in the working set, in one Splink prediction; and the pairs of that
    prediction in the review `band` [low, high) (none when None).

    Reads the `profile` view, the `tf` table and the `w` table of `connection`; `rid_l <
    rid_r` in every edge and pair."""
    # Known records were linked with each other by earlier runs: only pairs with a new
    # record are scored. The stored model was validated when trained; by design
    # household, destination and arrival have no null level (those columns are required).
    settings = {**settings, "blocking_rules_to_generate_predictions": [
        {**rule, "blocking_rule": f"({rule['blocking_rule']}) AND (l.is_new OR r.is_new)"}
        for rule in settings["blocking_rules_to_generate_predictions"]]}
    linker, profile = _linker(connection, "profile", settings)
    threshold = linkage_model.MATCH_THRESHOLD
    low, high = band or (threshold, threshold)
    scored = linker.inference.predict_within(
        profile, threshold_match_probability=min(low, threshold), warning_mode="never")
    pairs = connection.sql(
        "SELECT least(p.rid_l, p.rid_r) AS rid_l, greatest(p.rid_l, p.rid_r) AS rid_r, "
        f"p.match_probability, {linkage_model.name_agreement_sql()} AS names_agree "
        f"FROM {scored.physical_name} AS p "
        "JOIN w AS l ON l.rid = p.rid_l JOIN w AS r ON r.rid = p.rid_r ORDER BY 1, 2").df()
    scored.drop_table_from_database_and_remove_from_cache()
    probability = pairs["match_probability"]
    edges = pairs[(probability >= threshold) & pairs["names_agree"]]
    uncertain = pairs[(probability >= low) & (probability < high)]
    return (edges.drop(columns="names_agree").reset_index(drop=True),
            uncertain.drop(columns="names_agree").reset_index(drop=True))


def write_review(connection: Any, settings: dict[str, Any], pairs: pd.DataFrame,
                 person: np.ndarray, directory: Path) -> None:
    """The band `pairs` for a reviewer (`review.py`): `pairs.csv`, record references and
    scores only, and Splink's comparison viewer of them, `dashboard.html`. Only these
    pairs are compared again with Splink's per-comparison columns kept, so the day's
    scoring does not carry them: each pair becomes two rows of a `review_profile`
    blocked on the pair's number."""
    review.prepare(directory)
    connection.register("band_pairs", pairs.assign(pair=np.arange(len(pairs))))
    refs = connection.sql(
        "SELECT b.pair, b.match_probability, l.package AS a_package, l.file AS a_file, "
        "l.row_number AS a_row, r.package AS b_package, r.file AS b_file, "
        "r.row_number AS b_row FROM band_pairs AS b JOIN w AS l ON l.rid = b.rid_l "
        "JOIN w AS r ON r.rid = b.rid_r ORDER BY b.pair").df()
    same = person[pairs["rid_l"].to_numpy(np.int64)] == person[pairs["rid_r"].to_numpy(np.int64)]
    pd.DataFrame({
        "record_a": [review.record_ref(*row) for row in refs[["a_package", "a_file", "a_row"]]
                     .itertuples(index=False)],
        "record_b": [review.record_ref(*row) for row in refs[["b_package", "b_file", "b_row"]]
                     .itertuples(index=False)],
        "match_probability": refs["match_probability"].round(6),
        "same_person": same,
    }).to_csv(directory / "pairs.csv", index=False)
    if pairs.empty:
        return
    connection.execute(
        "CREATE TABLE review_profile AS SELECT 2 * b.pair + s.side AS review_id, b.pair, "
        f"{', '.join('w.' + c for c in PROFILE_COLUMNS)} FROM band_pairs AS b "
        "CROSS JOIN (VALUES (0), (1)) AS s(side) "
        "JOIN w ON w.rid = CASE WHEN s.side = 0 THEN b.rid_l ELSE b.rid_r END")
    linker, profile = _linker(connection, "review_profile", {
        **settings, "unique_id_column_name": "review_id",
        "retain_intermediate_calculation_columns": True, "retain_matching_columns": True})
    predictions = linker.inference.predict_within(
        profile, blocking_rules_to_generate_predictions=["l.pair = r.pair"],
        warning_mode="never")
    review.write_dashboard(linker, predictions, directory / "dashboard.html")
    predictions.drop_table_from_database_and_remove_from_cache()


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
                      named: int, losing: bool, relabel: bool) -> tuple[int, int, int]:
    """From the registered chain (`deltas`, `known_packages`, `lost_packages`; `losing`:
    whether any package leaves), `new_in` and `labels_in` (`review.LABELS_SCHEMA`;
    `relabel`: whether any label is new):

    - `lost_keys`: the current persons of the records whose package left the state, and
      of the records a reviewer decided on since the previous run (linked again, the
      decision applied: `_cluster`);
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
    if relabel:
        connection.execute(
            f"INSERT INTO lost_keys SELECT DISTINCT {latest} FROM deltas SEMI JOIN ("
            'SELECT a_package AS package, a_file AS file, a_row AS "row_number" FROM labels_in '
            'WHERE new UNION SELECT b_package, b_file, b_row FROM labels_in WHERE new) '
            f'USING ({_LINEAGE}) WHERE package IN (SELECT package FROM known_packages) '
            f"GROUP BY {_LINEAGE} EXCEPT SELECT * FROM lost_keys")
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


_LABEL_RIDS_SQL = """
SELECT a.rid AS rid_a, b.rid AS rid_b, l.match FROM labels_in AS l
JOIN w AS a ON a.package = l.a_package AND a.file = l.a_file AND a.row_number = l.a_row
JOIN w AS b ON b.package = l.b_package AND b.file = l.b_file AND b.row_number = l.b_row
ORDER BY 1, 2
"""


def _cluster(connection: Any, edges: pd.DataFrame) -> tuple[np.ndarray, set[int], int]:
    """The person (rid of its founding record) of each record of `w`, by rid, the
    records newly attached by an edge, and how many reviewer labels between records of
    `w` could not be honoured (a match between two valid IDs, a non-match within one).
    Valid IDs are joined in SQL; only the components that edges or labels touch go
    through the union-find of `cluster.extend_clusters`."""
    seeds = connection.sql(_COMPONENTS_SQL).to_arrow_table()
    component = seeds["component"].to_numpy().astype(np.int64)
    labels = connection.sql(_LABEL_RIDS_SQL).df()
    if edges.empty and labels.empty:
        return component, set(), 0
    ends = np.unique(np.concatenate([edges["rid_l"].to_numpy(np.int64),
                                     edges["rid_r"].to_numpy(np.int64),
                                     labels["rid_a"].to_numpy(np.int64),
                                     labels["rid_b"].to_numpy(np.int64)]))
    roots = np.unique(component[ends])
    # A component's valid ID is that of its records; its root is one of them.
    root_ids = dict(zip(roots.tolist(), seeds["id"].take(pa.array(roots)).to_pylist(),
                        strict=True))
    was_attached = seeds["attached"].take(pa.array(ends)).to_pylist()
    pairs = {match: list(zip(labels.loc[labels["match"] == match, "rid_a"].tolist(),
                             labels.loc[labels["match"] == match, "rid_b"].tolist(), strict=True))
             for match in (True, False)}
    final, attached, unmet = extend_clusters(
        [], [], root_ids, dict(zip(ends.tolist(), component[ends].tolist(), strict=True)),
        {rid for rid, flag in zip(ends.tolist(), was_attached, strict=True) if flag}, edges,
        must_link=pairs[True], cannot_link=pairs[False])
    lookup = np.arange(len(component), dtype=np.int64)
    lookup[np.fromiter(final.keys(), np.int64, len(final))] = np.fromiter(
        final.values(), np.int64, len(final))
    return lookup[component], attached, unmet


def _count(connection: Any, sql: str) -> int:
    return int(connection.sql(sql).fetchall()[0][0])


def link_step(root: Path, previous: store.Chain, target: Path, new: pa.Table, key: bytes,
              active_packages: Collection[str] | None = None,
              model_path: Path | None = None, labels: pa.Table | None = None,
              review_dir: Path | None = None,
              review_band: tuple[float, float] | None = None) -> LinkResult:
    """Link `new` (`state.new_state_rows` of the staged workers of packages not yet in
    `previous`) against the persons of the chain `previous`, after dropping its records of packages not in
    `active_packages` (all kept when None), honouring a reviewer's `labels`
    (`review.LABELS_SCHEMA`); write the run's delta under `root` and the new chain into
    `target`, and the scored pairs in `review_band` for review into `review_dir` (when
    given). Same inputs, same delta and chain."""
    import duckdb

    started = time.perf_counter()
    new_packages = set(new["package"].unique().to_pylist())
    linked = set(previous.packages)
    active = linked | new_packages if active_packages is None else set(active_packages)
    known_packages, lost_packages = linked & active, linked - active
    settings = linkage_model.load_model(model_path)
    labels = review.LABELS_SCHEMA.empty_table() if labels is None else labels
    relabel = pc.any(labels["new"]).as_py() or False

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
        connection.register("labels_in", labels)
        known_in_w, lost_records, lost_named = _load_working_set(
            connection, deltas, new, previous.named_records + new_named, bool(lost_packages),
            relabel)
        named = previous.named_records - lost_named + new_named
        with_id = new.num_rows - new["id_number"].null_count
        relinked = _count(connection, "SELECT count(*) FROM w WHERE relink")
        no_score = (new.num_rows == 0 and relinked == 0) or (
            with_id == new.num_rows and known_in_w == 0)
        none = pd.DataFrame({"rid_l": pd.Series([], dtype=np.int64),
                             "rid_r": pd.Series([], dtype=np.int64),
                             "match_probability": pd.Series([], dtype=float)})
        edges, uncertain = ((none, none) if no_score
                            else score_pairs(connection, settings, review_band))
        person, attached, labels_unmet = _cluster(connection, edges)
        if review_dir is not None:
            write_review(connection, settings, uncertain, person, review_dir)
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
        # Labels change the persons: a delta made with them is another delta.
        labelled = (review.labels_digest(labels),) if labels.num_rows else ()
        name = store.delta_name(previous.deltas, sorted(active), sorted(new_packages),
                                new.num_rows, linkage_model.model_digest(model_path),
                                hmac.new(key, b"returnstats.delta", "sha256").hexdigest(),
                                *labelled)
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
        "review_pairs": len(uncertain),
        "labels": labels.num_rows,
        "labels_new": int(pc.sum(labels["new"]).as_py() or 0),
        "labels_unmet": labels_unmet,
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
    reviews = review.review_root(settings.staging)
    labels = review.take_decisions(reviews, store.linkage_root(settings.staging), as_of)
    linked = set(previous.packages)
    # Only the normalised rows outlive this line: the staged rows are freed before linking.
    new = new_state_rows(pa.concat_tables([WORKERS_SCHEMA.empty_table(), *(
        read_arrow(settings.staging, name, "workers") for name in active if name not in linked)]))
    result = link_step(store.linkage_root(settings.staging), previous,
                       linkage_dir(settings, as_of), new, key, active_packages=active,
                       labels=labels, review_dir=reviews / f"as_of={as_of.isoformat()}",
                       review_band=review.band())
    mirror.push(settings.staging, as_of)
    return result
