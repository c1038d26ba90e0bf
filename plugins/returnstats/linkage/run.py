"""Linkage of the staged worker records into persons (SPEC §4): normalise, link records
sharing a valid ID, score the others with the stored Splink model, cluster under the
one-ID-per-person constraint, and keep the surviving values of each person.

Runs are incremental: run D starts from the state of the latest earlier run (one row per
linked record, `state.parquet`), drops the records of packages no longer active, links
only the new packages' records against it, and recomputes survivorship only for the
persons it touched. Without an earlier state it is a full link (docs/linkage.md).
"""

from __future__ import annotations

import logging
import os
import shutil
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
import pyarrow.parquet as pq

from returnstats.config import Settings
from returnstats.linkage import model as linkage_model
from returnstats.linkage import normalise

# cluster_records stays importable here: the day bench times it under this name.
from returnstats.linkage.cluster import cluster_records, extend_clusters  # noqa: F401
from returnstats.linkage.survivorship import RECORD_PERSON_COLUMNS, survive
from returnstats.warehouse.schema import PERSON_RETURNS

log = logging.getLogger(__name__)
# The trained model's comparisons deliberately have no null level on some columns (see
# docs/linkage.md); Splink warns about that on every Linker it builds.
logging.getLogger("splink.internals.settings").setLevel(logging.ERROR)

FOUNDING_ORDER = ["report_date", "package", "row_number"]

RECORD_PERSON_SCHEMA = pa.schema(
    [
        ("package", pa.string()),
        ("file", pa.string()),
        ("row_number", pa.int64()),
        ("record_id", pa.string()),
        ("person_key", pa.string()),
        ("merged", pa.bool_()),
    ]
)

_S, _I, _D = pa.string(), pa.int64(), pa.date32()
PROFILE_COLUMNS = [
    "name_norm", "name_pinyin", "name_tail", "id_number", "id_number_raw", "id_head",
    "id_tail", "phone", "birth_date", "sex", "origin_county", "destination_province",
    "arrival_date",
]
"""The columns Splink compares (`id_number` is the valid ID or null)."""

STATE_SCHEMA = pa.schema(
    [
        ("package", _S), ("file", _S), ("row_number", _I), ("record_id", _S),
        ("province", _S), ("report_date", _D), ("version", _I), ("role", _S), ("mode", _S),
        ("employer_uscc", _S),
        *[(c, _D if c == "arrival_date" else _S) for c in PROFILE_COLUMNS],
        ("person_key", _S), ("merged", pa.bool_()), ("attached", pa.bool_()),
    ]
)
"""The linkage state: one row per linked record, keyed by its lineage (package, file,
row_number), with its comparison profile, the survivorship fields, its person and whether
a probabilistic edge already joined it. Restricted: it holds names, IDs and phones."""

@dataclass(frozen=True)
class LinkState:
    """What a run leaves for the next one: its record state and its persons."""

    records: pa.Table
    """`STATE_SCHEMA` rows."""
    persons: pa.Table
    """The person_returns columns (PERSON_RETURNS schema)."""

    @classmethod
    def empty(cls) -> LinkState:
        return cls(STATE_SCHEMA.empty_table(), PERSON_RETURNS.schema.empty_table())


@dataclass(frozen=True)
class LinkResult:
    state: LinkState
    """The new state; `state.persons` are the person_returns rows (unsorted)."""
    record_person_table: pa.Table
    """package, file, row_number, record_id, person_key, merged (unsorted)."""
    stats: dict[str, Any] = field(default_factory=dict)
    """Counts and timings only: no personal data."""

    @cached_property
    def persons(self) -> pd.DataFrame:
        """The person_returns columns of SPEC §6, without as_of, by person_key."""
        table = self.state.persons.sort_by("person_key")
        return table.to_pandas(date_as_object=True)

    @cached_property
    def record_person(self) -> pd.DataFrame:
        """package, file, row_number, record_id, person_key, merged; in lineage order."""
        table = self.record_person_table.sort_by(
            [("package", "ascending"), ("file", "ascending"), ("row_number", "ascending")])
        return table.to_pandas()


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, errors="coerce").dt.date


def prepare_records(workers: pd.DataFrame) -> pd.DataFrame:
    """Staged workers in founding order, indexed by `rid`, with the normalised columns."""
    records = workers.sort_values(FOUNDING_ORDER, kind="mergesort").reset_index(drop=True)
    records["rid"] = records.index.astype("int64")
    records["report_date"] = _dates(records["report_date"])
    records["arrival_date"] = _dates(records["arrival_date"])
    raw_ids = records["id_number_raw"] if "id_number_raw" in records else records["id_number"]
    records["id_raw_norm"] = normalise.normalise_id_numbers(raw_ids.astype("string"))
    records["valid_id"] = normalise.valid_id_numbers(records["id_number"].astype("string"))
    records["name_norm"] = normalise.normalise_names(records["name"].astype("string"))
    records["name_pinyin"] = normalise.name_pinyin(records["name_norm"])
    records["name_tail"] = normalise.name_tail(records["name_norm"])
    records["phone_norm"] = normalise.normalise_phones(records["phone"].astype("string"))
    return records


def _profile(records: pd.DataFrame) -> pd.DataFrame:
    """The compared columns of prepared records; dates of birth as ISO text (compared by
    edit distance)."""
    raw = records["id_raw_norm"]
    birth = pd.to_datetime(records["birth_date"], errors="coerce")
    frame = pd.DataFrame(
        {
            "name_norm": records["name_norm"],
            "name_pinyin": records["name_pinyin"],
            "name_tail": records["name_tail"],
            "id_number": records["valid_id"],
            "id_number_raw": raw,
            "id_head": raw.str[:9],
            "id_tail": raw.str[-9:],
            "phone": records["phone_norm"],
            "birth_date": birth.dt.strftime("%Y-%m-%d").where(birth.notna()),
            "sex": records["sex"].astype("string"),
            "origin_county": records["origin_county"].astype("string"),
            "destination_province": records["destination_province"].astype("string"),
            "arrival_date": records["arrival_date"],
        }
    )
    frame = frame.astype({c: object for c in frame.columns if c != "arrival_date"})
    return frame.where(frame.notna(), None)


def comparison_frame(records: pd.DataFrame) -> pa.Table:
    """`rid` and the columns Splink compares, for training."""
    frame = pd.concat([records[["rid"]], _profile(records)], axis=1)
    return pa.Table.from_pandas(frame, preserve_index=False)


def _state_rows(records: pd.DataFrame) -> pa.Table:
    """New prepared records as state rows, not linked yet."""
    frame = pd.concat(
        [records[["package", "file", "row_number", "record_id", "province", "report_date",
                  "version", "role", "mode", "employer_uscc"]].reset_index(drop=True),
         _profile(records).reset_index(drop=True)], axis=1)
    frame["person_key"] = None
    frame["merged"] = False
    frame["attached"] = False
    for column in ("record_id", "province", "role", "mode", "employer_uscc", "file", "package"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return pa.Table.from_pandas(frame, schema=STATE_SCHEMA, preserve_index=False)


def score_pairs(connection: Any, settings: dict[str, Any], with_known: bool) -> pd.DataFrame:
    """Probabilistic edges at or above the threshold with given-name agreement: new
    records against each other and, `with_known`, against the known records.

    Reads the `profile_new` / `profile_known` views and the `records` table of
    `connection`; `rid_l < rid_r` in every edge."""
    from splink import DuckDBAPI, Linker

    db_api = DuckDBAPI(connection)
    new = db_api.register("profile_new")
    # The stored model was validated when trained; by design household, destination and
    # arrival have no null level (those columns are required).
    linker = Linker(new, settings, log_level=logging.WARNING, validate_settings=False)
    linker.table_management.register_term_frequency_lookup(db_api.register("tf"), "name_norm")
    threshold = linkage_model.MATCH_THRESHOLD
    scored = [linker.inference.predict_within(
        new, threshold_match_probability=threshold, warning_mode="never")]
    if with_known:
        known = db_api.register("profile_known")
        scored.append(linker.inference.predict_between(
            new, known, threshold_match_probability=threshold, warning_mode="never"))
    union = " UNION ALL ".join(
        f"SELECT rid_l, rid_r, match_probability FROM {table.physical_name}" for table in scored)
    edges = connection.sql(
        "SELECT least(p.rid_l, p.rid_r) AS rid_l, greatest(p.rid_l, p.rid_r) AS rid_r, "
        f"p.match_probability FROM ({union}) AS p "
        "JOIN records AS l ON l.rid = p.rid_l JOIN records AS r ON r.rid = p.rid_r "
        f"WHERE p.match_probability >= $threshold AND {linkage_model.name_agreement_sql()} "
        "ORDER BY 1, 2",
        params={"threshold": threshold},
    ).df()
    for table in scored:
        table.drop_table_from_database_and_remove_from_cache()
    return edges


_SURVIVE_COLUMNS = (
    "rid, package, file, \"row_number\", record_id, province, report_date, version, role, "
    "mode, employer_uscc, origin_county, destination_province, arrival_date, "
    "id_number AS valid_id, person_key, attached, is_new"
)


def _load_records(connection: Any, known: pa.Table, new: pa.Table) -> None:
    """`records`: known and new records numbered (`rid`) in founding order; `tf`; and
    the `profile_new` / `profile_known` views Splink reads. `tf` holds the share of each
    name over all records, as a full link would compute it."""
    connection.register("known_in", known)
    connection.register("new_in", new)
    connection.execute(
        "CREATE TABLE records AS SELECT *, (row_number() OVER "
        "(ORDER BY report_date, package, \"row_number\") - 1)::BIGINT AS rid FROM "
        "(SELECT *, false AS is_new FROM known_in UNION ALL SELECT *, true FROM new_in)")
    connection.unregister("known_in")
    connection.unregister("new_in")
    connection.execute(
        "CREATE TABLE tf AS SELECT name_norm, count(*)::DOUBLE / "
        "(SELECT count(name_norm) FROM records) AS tf_name_norm "
        "FROM records WHERE name_norm IS NOT NULL GROUP BY name_norm")
    columns = ", ".join(f"r.{c}" for c in PROFILE_COLUMNS)
    for view, condition in (("profile_new", "r.is_new"), ("profile_known", "NOT r.is_new")):
        connection.execute(
            f"CREATE VIEW {view} AS SELECT r.rid, {columns} FROM records AS r WHERE {condition}")


def link_increment(previous: LinkState | None, new_workers: pd.DataFrame, key: bytes,
                   active_packages: Collection[str] | None = None,
                   model_path: Path | None = None) -> LinkResult:
    """Link `new_workers` (staged worker rows of packages not in `previous`) against the
    persons of `previous`, after dropping its records of packages not in
    `active_packages` (all kept when None). Pure: same input, same output."""
    import duckdb

    started = time.perf_counter()
    previous = previous or LinkState.empty()
    state = previous.records
    if active_packages is not None:
        active = pc.is_in(state["package"], value_set=pa.array(sorted(active_packages), _S))
        removed, known = state.filter(pc.invert(active)), state.filter(active)
    else:
        removed, known = STATE_SCHEMA.empty_table(), state
    removed_keys = pc.unique(removed["person_key"])
    records = prepare_records(new_workers)
    new = _state_rows(records)
    settings = linkage_model.load_model(model_path)

    connection = duckdb.connect(":memory:")
    try:
        _load_records(connection, known, new)
        with_id = int(records["valid_id"].notna().sum())
        no_score = len(records) == 0 or (with_id == len(records) and
                                         known.num_rows == 0)
        edges = (pd.DataFrame({"rid_l": [], "rid_r": [], "match_probability": []}) if no_score
                 else score_pairs(connection, settings, with_known=known.num_rows > 0))
        new_ids = connection.sql(
            "SELECT rid, id_number FROM records WHERE is_new ORDER BY rid").fetchnumpy()
        connection.register("edge_rids", pa.table({"rid": pa.array(
            np.unique(np.concatenate([edges["rid_l"].to_numpy(np.int64),
                                      edges["rid_r"].to_numpy(np.int64)])), _I)}))
        # Known persons a new record may join: by a shared valid ID or by an edge.
        relevant = connection.sql(
            "WITH keys AS (SELECT DISTINCT person_key FROM records WHERE NOT is_new AND ("
            "id_number IN (SELECT id_number FROM records WHERE is_new AND id_number IS NOT NULL)"
            " OR rid IN (SELECT rid FROM edge_rids))) "
            "SELECT person_key, min(rid) AS root, max(id_number) AS id_number FROM records "
            "WHERE person_key IN (SELECT person_key FROM keys) GROUP BY person_key").df()
        members = connection.sql(
            "SELECT rid, person_key, attached FROM records "
            "WHERE NOT is_new AND rid IN (SELECT rid FROM edge_rids)").df()
        root_of = dict(zip(relevant["person_key"], relevant["root"].astype("int64"), strict=True))
        known_roots = {int(r): (v if isinstance(v, str) else None)
                       for r, v in zip(relevant["root"], relevant["id_number"], strict=True)}
        final, attached = extend_clusters(
            new_ids["rid"].astype(np.int64), list(new_ids["id_number"]), known_roots,
            {int(r): int(root_of[k]) for r, k in zip(members["rid"], members["person_key"],
                                                     strict=True)},
            {int(r) for r, a in zip(members["rid"], members["attached"], strict=True) if a},
            edges)
        new_roots = {final[int(r)] for r in new_ids["rid"]}
        touched_keys = sorted(
            {k for k, root in root_of.items() if final[int(root)] in new_roots}
            | set(removed_keys.drop_null().to_pylist()) - {None})
        connection.register("touched_keys", pa.table({"person_key": pa.array(touched_keys, _S)}))
        touched = connection.sql(
            f"SELECT {_SURVIVE_COLUMNS} FROM records WHERE is_new OR person_key IN "
            "(SELECT person_key FROM touched_keys) ORDER BY rid").df()
    finally:
        connection.close()

    person = np.zeros(len(touched), dtype=np.int64)
    fresh = touched["is_new"].to_numpy(bool)
    person[fresh] = np.fromiter((final[int(r)] for r in touched.loc[fresh, "rid"]),
                                dtype=np.int64, count=int(fresh.sum()))
    # A known person keeps its founding record unless clustering moved its root; a person
    # that only lost records is refounded on its earliest remaining record.
    kept = touched.loc[~fresh]
    roots = kept["person_key"].map(root_of).fillna(kept.groupby("person_key")["rid"]
                                                   .transform("min"))
    person[~fresh] = np.fromiter((final.get(int(r), int(r)) for r in roots), dtype=np.int64,
                                 count=len(kept))
    touched["person"] = person
    touched["report_date"] = _dates(touched["report_date"])
    touched["arrival_date"] = _dates(touched["arrival_date"])
    touched_persons, touched_record_person = survive(touched, key)

    untouched_mask = pc.invert(pc.is_in(known["person_key"], value_set=pa.array(touched_keys, _S)))
    untouched = known.filter(untouched_mask)
    dropped = pa.array(sorted(set(touched_keys) | set(removed_keys.drop_null().to_pylist())), _S)
    persons = pa.concat_tables([
        previous.persons.filter(pc.invert(pc.is_in(previous.persons["person_key"],
                                                   value_set=dropped))),
        pa.Table.from_pandas(touched_persons, schema=PERSON_RETURNS.schema, preserve_index=False),
    ])
    touched_known = known.filter(pc.invert(untouched_mask))
    relinked = _relinked_state(touched, touched_record_person, attached, touched_known, new)
    record_person = pa.concat_tables([
        untouched.select(RECORD_PERSON_COLUMNS),
        pa.Table.from_pandas(touched_record_person[RECORD_PERSON_COLUMNS],
                             schema=RECORD_PERSON_SCHEMA, preserve_index=False),
    ])
    result_state = LinkState(pa.concat_tables([untouched, relinked]), persons)
    stats = {
        "records": int(result_state.records.num_rows),
        "records_new": int(new.num_rows),
        "records_removed": int(removed.num_rows),
        "records_with_valid_id": int(result_state.records.num_rows
                                     - result_state.records["id_number"].null_count),
        "persons": int(persons.num_rows),
        "persons_touched": int(len(touched_persons)),
        "records_merged": int(pc.sum(record_person["merged"]).as_py() or 0),
        "edges_accepted": int(len(edges)),
        "match_threshold": linkage_model.MATCH_THRESHOLD,
        "incremental": bool(state.num_rows),
        "seconds": round(time.perf_counter() - started, 3),
    }
    log.info("linkage: %s", stats)
    return LinkResult(state=result_state, record_person_table=record_person, stats=stats)


def _relinked_state(touched: pd.DataFrame, record_person: pd.DataFrame, attached: set[int],
                    known: pa.Table, new: pa.Table) -> pa.Table:
    """State rows of the touched persons' records with their new person, flags."""
    lineage = ["package", "file", "row_number"]
    links = touched[lineage + ["rid", "attached"]].merge(
        record_person[lineage + ["person_key", "merged"]], on=lineage, validate="1:1")
    links["attached"] = links["attached"].astype(bool) | links["rid"].isin(attached)
    links = links.drop(columns="rid")
    rows = pa.concat_tables([known, new]).drop_columns(["person_key", "merged", "attached"])
    links = pa.Table.from_pandas(links[lineage + ["attached", "person_key", "merged"]],
                                 schema=pa.schema([STATE_SCHEMA.field(c) for c in
                                                    lineage + ["attached", "person_key", "merged"]]),
                                 preserve_index=False)
    joined = rows.join(links, keys=lineage, join_type="inner")
    return joined.select(STATE_SCHEMA.names).cast(STATE_SCHEMA)


def link_records(workers: pd.DataFrame, key: bytes, model_path: Path | None = None
                 ) -> LinkResult:
    """Link staged worker records into persons from scratch (a full link)."""
    return link_increment(None, workers, key, model_path=model_path)


def linkage_dir(settings: Settings, as_of: date) -> Path:
    return settings.staging / "linkage" / f"as_of={as_of.isoformat()}"


def write_result(result: LinkResult, target: Path) -> None:
    """Write persons, record_person and state into a temporary sibling directory, then
    swap it in."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    lineage = [("package", "ascending"), ("file", "ascending"), ("row_number", "ascending")]
    try:
        pq.write_table(result.state.persons.sort_by("person_key").cast(PERSON_RETURNS.schema),
                       temporary / "persons.parquet")
        pq.write_table(result.record_person_table.sort_by(lineage).cast(RECORD_PERSON_SCHEMA),
                       temporary / "record_person.parquet")
        pq.write_table(result.state.records.sort_by(lineage), temporary / "state.parquet")
        if target.exists():
            retired = target.with_name(f".{target.name}.old")
            shutil.rmtree(retired, ignore_errors=True)
            os.rename(target, retired)
            os.rename(temporary, target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.rename(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def previous_state(settings: Settings, as_of: date) -> LinkState | None:
    """The state of the latest run before `as_of` (never `as_of` itself, so a rerun of D
    starts from what D started from)."""
    root = settings.staging / "linkage"
    earlier = sorted(
        (p for p in root.glob("as_of=*")
         if p.name[6:] < as_of.isoformat() and (p / "state.parquet").is_file()),
        key=lambda p: p.name) if root.is_dir() else []
    if not earlier:
        return None
    latest = earlier[-1]
    return LinkState(pq.read_table(latest / "state.parquet", schema=STATE_SCHEMA),
                     pq.read_table(latest / "persons.parquet", schema=PERSON_RETURNS.schema))


def link_as_of(settings: Settings, as_of: date, key: bytes) -> LinkResult:
    """Link the active packages with report_date <= as_of, incrementally from the latest
    earlier run, and write `<staging>/linkage/as_of=<D>/` (persons, record_person, state)."""
    from returnstats.validation.staging import WORKERS_SCHEMA, active_packages, read_arrow

    previous = previous_state(settings, as_of)
    active = active_packages(settings, as_of)
    linked = set(pc.unique(previous.records["package"]).to_pylist()) if previous else set()
    tables = [read_arrow(settings.staging, name, "workers") for name in active
              if name not in linked]
    workers = pa.concat_tables([WORKERS_SCHEMA.empty_table(), *tables]).to_pandas(
        date_as_object=True)
    result = link_increment(previous, workers, key, active_packages=active)
    write_result(result, linkage_dir(settings, as_of))
    return result
