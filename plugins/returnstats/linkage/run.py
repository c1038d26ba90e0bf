"""Linkage of the staged worker records into persons (SPEC §4): normalise, link records
sharing a valid ID, score the others with the stored Splink model, cluster under the
one-ID-per-person constraint, and keep the surviving values of each person.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from returnstats.config import Settings
from returnstats.linkage import model as linkage_model
from returnstats.linkage import normalise
from returnstats.linkage.cluster import cluster_records
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

_COMPARISON_SCHEMA = pa.schema(
    [
        ("rid", pa.int64()),
        ("name_norm", pa.string()),
        ("name_pinyin", pa.string()),
        ("id_number", pa.string()),
        ("id_number_raw", pa.string()),
        ("id_head", pa.string()),
        ("id_tail", pa.string()),
        ("phone", pa.string()),
        ("birth_date", pa.string()),
        ("sex", pa.string()),
        ("origin_county", pa.string()),
        ("destination_province", pa.string()),
        ("arrival_date", pa.date32()),
    ]
)


@dataclass(frozen=True)
class LinkResult:
    persons: pd.DataFrame
    """The person_returns columns of SPEC §6, without as_of."""
    record_person: pd.DataFrame
    """package, file, row_number, record_id, person_key, merged."""
    stats: dict[str, Any] = field(default_factory=dict)
    """Counts and timings only: no personal data."""


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
    records["phone_norm"] = normalise.normalise_phones(records["phone"].astype("string"))
    return records


def comparison_frame(records: pd.DataFrame) -> pa.Table:
    """The columns Splink compares; dates of birth as ISO text (compared by edit distance)."""
    raw = records["id_raw_norm"]
    birth = pd.to_datetime(records["birth_date"], errors="coerce")
    frame = pd.DataFrame(
        {
            "rid": records["rid"],
            "name_norm": records["name_norm"],
            "name_pinyin": records["name_pinyin"],
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
    frame = frame.astype({c: object for c in frame.columns if c not in ("rid", "arrival_date")})
    frame = frame.where(frame.notna(), None)
    return pa.Table.from_pandas(frame, schema=_COMPARISON_SCHEMA, preserve_index=False)


def score_pairs(records: pd.DataFrame, settings: dict[str, Any]) -> tuple[pd.DataFrame, int]:
    """Probabilistic edges at or above the threshold with given-name agreement, and the
    number of pairs scored."""
    empty = pd.DataFrame({"rid_l": [], "rid_r": [], "match_probability": []})
    if records.empty or records["valid_id"].notna().all():
        return empty, 0
    import duckdb
    from splink import DuckDBAPI, Linker

    connection = duckdb.connect(":memory:")
    try:
        db_api = DuckDBAPI(connection)
        table = db_api.register(comparison_frame(records), table_name="workers_for_linkage")
        # The stored model was validated when trained; by design household, destination
        # and arrival have no null level (those columns are required).
        linker = Linker(table, settings, log_level=logging.WARNING, validate_settings=False)
        scored = linker.inference.predict(warning_mode="never")
        pairs = connection.sql(f"SELECT count(*) FROM {scored.physical_name}").fetchall()[0][0]
        edges = connection.sql(
            f"SELECT p.rid_l, p.rid_r, p.match_probability FROM {scored.physical_name} AS p "
            "JOIN workers_for_linkage AS l ON l.rid = p.rid_l "
            "JOIN workers_for_linkage AS r ON r.rid = p.rid_r "
            f"WHERE p.match_probability >= $threshold AND {linkage_model.name_agreement_sql()} "
            "ORDER BY p.rid_l, p.rid_r",
            params={"threshold": linkage_model.MATCH_THRESHOLD},
        ).df()
    finally:
        connection.close()
    return edges, int(pairs)


def link_records(
    workers: pd.DataFrame, key: bytes, model_path: Path | None = None
) -> LinkResult:
    """Link staged worker records into persons. Pure: same input, same output."""
    started = time.perf_counter()
    records = prepare_records(workers)
    settings = linkage_model.load_model(model_path)
    edges, pairs_scored = score_pairs(records, settings)
    records["person"] = cluster_records(records["valid_id"].tolist(), edges)
    persons, record_person = survive(records, key)
    stats = {
        "records": int(len(records)),
        "records_with_valid_id": int(records["valid_id"].notna().sum()),
        "persons": int(len(persons)),
        "records_merged": int(record_person["merged"].sum()),
        "pairs_scored": pairs_scored,
        "edges_accepted": int(len(edges)),
        "match_threshold": linkage_model.MATCH_THRESHOLD,
        "seconds": round(time.perf_counter() - started, 3),
    }
    log.info("linkage: %s", stats)
    return LinkResult(persons=persons, record_person=record_person, stats=stats)


def linkage_dir(settings: Settings, as_of: date) -> Path:
    return settings.staging / "linkage" / f"as_of={as_of.isoformat()}"


def write_result(result: LinkResult, target: Path) -> None:
    """Write both files into a temporary sibling directory, then swap it in."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        pq.write_table(
            pa.Table.from_pandas(result.persons, schema=PERSON_RETURNS.schema, preserve_index=False),
            temporary / "persons.parquet",
        )
        pq.write_table(
            pa.Table.from_pandas(
                result.record_person[RECORD_PERSON_COLUMNS],
                schema=RECORD_PERSON_SCHEMA,
                preserve_index=False,
            ),
            temporary / "record_person.parquet",
        )
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


def link_as_of(settings: Settings, as_of: date, key: bytes) -> LinkResult:
    """Link the staged workers of the active packages with report_date <= as_of and write
    `<staging>/linkage/as_of=<D>/persons.parquet` and `record_person.parquet`."""
    from returnstats.validation.staging import read_staged

    workers = read_staged(settings, as_of).workers
    result = link_records(workers, key)
    write_result(result, linkage_dir(settings, as_of))
    return result
