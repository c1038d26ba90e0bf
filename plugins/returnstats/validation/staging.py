"""The staging contract (docs/architecture.md): one folder per processed package in the
restricted zone, written atomically, and `read_staged` for linkage and publish.

`<staging>/packages/<package>/` holds meta.json, workers.parquet and the small tables
enterprises.arrow, quarantine.arrow and ledger.arrow (Arrow IPC files), with the explicit
schemas below. Publish reads the small tables of every package of the campaign each day,
so they are stored in a format read whole without a Parquet footer to decode (about
0.07 ms against 0.73 ms a table; docs/bench.md). A submission that
conflicts with an already accepted package of the same name is staged beside it as
`<package>#conflict-<sha8>` (rejected, `package.version.conflict`), so the ledger shows it
without touching what was accepted.

The zone is a local directory or an object-store URL (`warehouse.location`; on S3 a
private bucket or prefix, docs/scaling.md). On an object store a package's files are
written one PUT each and meta.json last, so a package is listed only once it is whole; a
restaged package (replaced) is written by its province's one ingest task, before any task
that reads it starts (the DAG's order).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from returnstats.config import Settings
from returnstats.warehouse.location import Location, Root, locate, put_atomic
from returnstats.warehouse.schema import LEDGER, QUARANTINE

_S, _I, _D = pa.string(), pa.int64(), pa.date32()

WORKERS_SCHEMA = pa.schema([
    ("package", _S), ("province", _S), ("report_date", _D), ("version", _I), ("file", _S),
    ("row_number", _I), ("record_id", _S), ("name", _S), ("id_number", _S),
    ("id_number_raw", _S), ("sex", _S), ("birth_date", _D), ("phone", _S),
    ("origin_county", _S), ("origin_province", _S), ("destination_province", _S),
    ("destination_city", _S), ("employer_uscc", _S), ("employer_name", _S), ("mode", _S),
    ("trip_ref", _S), ("departure_date", _D), ("arrival_date", _D), ("origin_risk", _S),
    ("role", _S),
])

ENTERPRISES_SCHEMA = pa.schema([
    ("package", _S), ("province", _S), ("report_date", _D), ("version", _I), ("file", _S),
    ("row_number", _I), ("enterprise_uscc", _S), ("enterprise_name", _S),
    ("key_enterprise", pa.bool_()), ("labour_gap", _I), ("workers_supplied", _I),
    ("channel", _S), ("status_date", _D),
])

QUARANTINE_SCHEMA = QUARANTINE.schema
LEDGER_SCHEMA = LEDGER.schema
SCHEMAS = {
    "workers": WORKERS_SCHEMA,
    "enterprises": ENTERPRISES_SCHEMA,
    "quarantine": QUARANTINE_SCHEMA,
    "ledger": LEDGER_SCHEMA,
}
CONFLICT_MARK = "#conflict-"
# The one large table is Parquet (DuckDB reads it with projection pushdown in linkage);
# the small ones are Arrow IPC, read whole.
FILES = {
    "workers": "workers.parquet",
    "enterprises": "enterprises.arrow",
    "quarantine": "quarantine.arrow",
    "ledger": "ledger.arrow",
}


class StagedFormatError(RuntimeError):
    """A staged package was written by a version with another staging layout."""


PACKAGES = "packages"
META = "meta.json"


def packages_dir(staging: Path) -> Path:
    """The packages folder of a local staging zone."""
    return locate(staging).local_path / PACKAGES


def to_arrow(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """A table of exactly `schema` (column order and types) from a frame holding its columns."""
    arrays = []
    for f in schema:
        column = frame[f.name] if f.name in frame.columns else pd.Series(
            [None] * len(frame), dtype=object)
        if isinstance(column.dtype, pd.CategoricalDtype):  # prepared codes with few values
            column = pd.Series(column.to_numpy(dtype=object, na_value=None), index=column.index)
        if pa.types.is_date32(f.type) and pd.api.types.is_datetime64_any_dtype(column):
            array = pa.array(column.to_numpy(dtype="datetime64[s]"),
                             mask=column.isna().to_numpy(), type=pa.timestamp("s"))
            array = array.cast(f.type)
        elif pa.types.is_date32(f.type):
            dates = [None if v is None or v is pd.NaT or (isinstance(v, float) and v != v)
                     else (v.date() if isinstance(v, pd.Timestamp) else v)
                     for v in column.astype(object)]
            array = pa.array(dates, type=f.type)
        else:
            array = pa.Array.from_pandas(column, type=f.type)
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=schema)


def write_package(staging: Root, name: str, meta: dict[str, Any],
                  tables: dict[str, pd.DataFrame]) -> str:
    """Write a package's staging folder atomically; returns its path within the zone.

    Local: a temporary folder renamed into place; a previous folder of the same name is
    moved aside first and removed after. Object store: each file one PUT, meta.json last.
    """
    location = locate(staging)
    arrows = {table: to_arrow(tables.get(table, pd.DataFrame()), schema)
              for table, schema in SCHEMAS.items()}
    meta_bytes = json.dumps(meta, ensure_ascii=False, indent=2).encode("utf-8")
    if not location.is_local:
        for table, arrow in arrows.items():
            put_atomic(location, f"{PACKAGES}/{name}/{FILES[table]}",
                       lambda handle, arrow=arrow, table=table: _write_to(arrow, FILES[table],
                                                                          handle))
        return put_atomic(location, f"{PACKAGES}/{name}/{META}", meta_bytes)
    root = packages_dir(staging)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = root / f".tmp-{name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(mode=0o700)
    try:
        for table, arrow in arrows.items():
            with open(tmp / FILES[table], "wb") as handle:
                _write_to(arrow, FILES[table], handle)
        (tmp / META).write_bytes(meta_bytes)
        for path in tmp.iterdir():  # personal data: the owner's alone (docs/security.md)
            path.chmod(0o600)
        target = root / name
        old = None
        if target.exists():
            old = root / f".old-{name}-{uuid.uuid4().hex[:8]}"
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return str(root / name)


def read_meta(staging: Root, name: str) -> dict[str, Any] | None:
    location = locate(staging)
    relative = f"{PACKAGES}/{name}/{META}"
    try:
        return json.loads(location.read_bytes(relative).decode("utf-8"))
    except FileNotFoundError:
        return None


def read_metas(staging: Root, names: list[str]) -> list[dict[str, Any]]:
    """meta.json of each of `names` (staged packages), in order; fetched together."""
    location = locate(staging)
    return [json.loads(data.decode("utf-8")) for data in
            location.read_many([f"{PACKAGES}/{name}/{META}" for name in names])]


def staged_names(staging: Root) -> list[str]:
    """Names of the staged package folders (temporary folders excluded), sorted."""
    location = locate(staging)
    if location.is_local:
        root = packages_dir(staging)
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and (p / META).is_file())
    return sorted(parts[1] for parts in (f.split("/") for f in location.files(PACKAGES))
                  if len(parts) == 3 and parts[2] == META and not parts[1].startswith("."))


def _write_to(arrow: pa.Table, file_name: str, handle) -> None:
    if file_name.endswith(".parquet"):
        pq.write_table(arrow, handle)
        return
    with pa.ipc.new_file(handle, arrow.schema) as writer:
        writer.write_table(arrow)


def _format_error(location: Location, name: str, table: str) -> StagedFormatError:
    return StagedFormatError(
        f"{location.join(PACKAGES, name)} holds {table}.parquet: it was staged by an older "
        f"version, which stored the small tables as Parquet. Delete "
        f"{location.join(PACKAGES)} (and {location.join('linkage')}) and rerun the campaign "
        "from its first day (docs/operating.md).")


def _decode(data: bytes, table: str) -> pa.Table:
    if FILES[table].endswith(".parquet"):
        return pq.read_table(pa.BufferReader(data), schema=SCHEMAS[table])
    # Read whole, then decoded from memory: for files this small, about half of what a
    # pyarrow OSFile or memory map costs, and publish opens thousands.
    arrow = pa.ipc.open_file(pa.py_buffer(data)).read_all()
    return arrow if arrow.schema == SCHEMAS[table] else arrow.cast(SCHEMAS[table])


def read_arrow(staging: Root, name: str, table: str) -> pa.Table:
    """One staged table of a package, in its staging schema."""
    location = locate(staging)
    relative = f"{PACKAGES}/{name}/{FILES[table]}"
    if location.is_local and FILES[table].endswith(".parquet"):
        return pq.read_table(location.join(relative), schema=SCHEMAS[table])
    try:
        return _decode(location.read_bytes(relative), table)
    except FileNotFoundError:
        if location.exists(relative.rsplit(".", 1)[0] + ".parquet"):
            raise _format_error(location, name, table) from None
        raise


def read_table(staging: Root, name: str, table: str) -> pd.DataFrame:
    """One staged table of a package as pandas (dates as datetime.date objects)."""
    return read_arrow(staging, name, table).to_pandas(date_as_object=True)


@dataclass
class StagedData:
    """What linkage and publish see for an as-of date D, as Arrow (`tables`; the pandas
    properties are views of them). The worker rows are read only when asked for: publish
    never needs them, and they grow with the campaign."""

    staging: Root
    tables: dict[str, pa.Table]
    """`enterprises`: the enterprise rows of the active packages; `quarantine`: all
    quarantine rows of staged packages with report_date ≤ D; `ledger`: all their ledger
    rows, lower accepted versions `superseded` here, with nothing accepted and the
    superseding package as reason; `packages` and `totals`: the active packages and their
    declared and observed figures (SPEC §3.3)."""
    packages: list[dict[str, Any]]
    """meta.json of each staged package with report_date ≤ D, plus `active` (bool)."""

    @cached_property
    def enterprises(self) -> pd.DataFrame:
        return self.tables["enterprises"].to_pandas(date_as_object=True)

    @cached_property
    def quarantine(self) -> pd.DataFrame:
        return self.tables["quarantine"].to_pandas(date_as_object=True)

    @cached_property
    def ledger(self) -> pd.DataFrame:
        return self.tables["ledger"].to_pandas(date_as_object=True)

    @cached_property
    def workers(self) -> pd.DataFrame:
        """Accepted worker rows of the active packages (highest accepted version per
        province/report_date, report_date ≤ D)."""
        return _concat([read_arrow(self.staging, m["staged_as"], "workers")
                        for m in self.packages if m["active"]], WORKERS_SCHEMA)


def _concat(tables: list[pa.Table], schema: pa.Schema) -> pd.DataFrame:
    return pa.concat_tables([schema.empty_table(), *tables]).to_pandas(date_as_object=True)


def staged_metas(settings: Settings, as_of: date) -> list[dict[str, Any]]:
    """meta.json of each staged package with report_date ≤ as_of, plus `staged_as`."""
    names = staged_names(settings.staging)
    return [{**meta, "staged_as": name}
            for name, meta in zip(names, read_metas(settings.staging, names), strict=True)
            if date.fromisoformat(meta["report_date"]) <= as_of]


def active_by_slot(metas: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The active package of each (province, report_date): its highest accepted version."""
    active: dict[tuple[str, str], dict[str, Any]] = {}
    for meta in metas:
        if meta["status"] != "accepted":
            continue
        key = (meta["province"], meta["report_date"])
        if key not in active or meta["version"] > active[key]["version"]:
            active[key] = meta
    return active


def active_packages(settings: Settings, as_of: date) -> list[str]:
    """Staged names of the active packages for as_of, sorted."""
    return sorted(m["staged_as"] for m in active_by_slot(staged_metas(settings, as_of)).values())


def read_many(staging: Root, names: list[str], table: str) -> pa.Table:
    """One staged table of many packages, concatenated in the order of `names` (on an
    object store fetched together)."""
    location = locate(staging)
    if location.is_local:
        parts = [read_arrow(location, name, table) for name in names]
    else:
        parts = [_decode(data, table) for data in
                 location.read_many([f"{PACKAGES}/{name}/{FILES[table]}" for name in names])]
    return pa.concat_tables([SCHEMAS[table].empty_table(), *parts])


PACKAGES_SCHEMA = pa.schema([
    ("package", _S), ("province", _S), ("report_date", _D), ("version", _I),
    ("first_processed_as_of", _D),
])
TOTALS_SCHEMA = pa.schema([("package", _S), ("figure", _S), ("declared", _I), ("observed", _I)])


def package_totals(totals: dict[str, Any] | None) -> dict[str, int]:
    """`declared_totals` of SPEC §2.1 as flat figures: returns_by_mode.<mode>,
    key_enterprises_resolved."""
    if not totals:
        return {}
    figures = {f"returns_by_mode.{mode}": n
               for mode, n in (totals.get("returns_by_mode") or {}).items()}
    if "key_enterprises_resolved" in totals:
        figures["key_enterprises_resolved"] = totals["key_enterprises_resolved"]
    return figures


def _packages_table(active: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist([{
        "package": m["package"], "province": m["province"],
        "report_date": date.fromisoformat(m["report_date"]), "version": m["version"],
        "first_processed_as_of": date.fromisoformat(m["first_processed_as_of"]),
    } for m in active], schema=PACKAGES_SCHEMA)


def _totals_table(active: list[dict[str, Any]]) -> pa.Table:
    """Declared against observed figures of the active packages that declared totals (a
    package staged before ingest counted its figures has none)."""
    rows = []
    for meta in active:
        observed = package_totals(meta.get("observed_totals"))
        if not observed:
            continue
        for figure, declared in package_totals(meta.get("declared_totals")).items():
            rows.append({"package": meta["package"], "figure": figure, "declared": declared,
                         "observed": observed.get(figure, 0)})
    return pa.Table.from_pylist(rows, schema=TOTALS_SCHEMA)


SENT_SCHEMA = pa.schema([("package", _S), ("province", _S), ("report_date", _D)])


def read_report_inputs(settings: Settings, as_of: date) -> dict[str, pa.Table]:
    """What the report checks of D read (SPEC §3.3), from the packages' meta.json only:
    `sent` (name, province and report date of every staged package, accepted or not),
    `packages` and `totals` as in `StagedData`."""
    metas = staged_metas(settings, as_of)
    active = list(active_by_slot(metas).values())
    return {
        "sent": pa.Table.from_pylist(
            [{"package": m["package"], "province": m["province"],
              "report_date": date.fromisoformat(m["report_date"])}
             for m in metas], schema=SENT_SCHEMA),
        "packages": _packages_table(active),
        "totals": _totals_table(active),
    }


def read_staged(settings: Settings, as_of: date) -> StagedData:
    """The staged packages with report_date ≤ as_of (see `StagedData`)."""
    metas = staged_metas(settings, as_of)
    active = active_by_slot(metas)
    active_names = {m["staged_as"] for m in active.values()}
    superseded: dict[str, str] = {}
    for meta in metas:
        meta["active"] = meta["staged_as"] in active_names
        if meta["status"] == "accepted" and not meta["active"]:
            superseded[meta["package"]] = active[(meta["province"], meta["report_date"])]["package"]
    names = [m["staged_as"] for m in metas]
    return StagedData(
        staging=settings.staging,
        tables={
            "enterprises": read_many(settings.staging,
                                     [m["staged_as"] for m in metas if m["active"]], "enterprises"),
            "quarantine": read_many(settings.staging, names, "quarantine"),
            "ledger": _mark_superseded(read_many(settings.staging, names, "ledger"), superseded),
            "packages": _packages_table([m for m in metas if m["active"]]),
            "totals": _totals_table([m for m in metas if m["active"]]),
        },
        packages=metas,
    )


def _mark_superseded(ledger: pa.Table, superseded: dict[str, str]) -> pa.Table:
    """`ledger` with the rows of each superseded package (package → the package that
    superseded it) marked so: nothing accepted, the superseding package as reason."""
    if not superseded:
        return ledger
    rows = pc.is_in(ledger["package"], value_set=pa.array(list(superseded), pa.string()))
    by = pa.array([superseded.get(p) for p in ledger["package"].to_pylist()], pa.string())
    changed = {
        "status": pc.if_else(rows, pa.scalar("superseded"), ledger["status"]),
        "rows_accepted": pc.if_else(rows, pa.scalar(0, ledger.schema.field("rows_accepted").type),
                                    ledger["rows_accepted"]),
        "reason": pc.if_else(rows, pc.binary_join_element_wise("superseded by ", by, ""),
                             ledger["reason"]),
    }
    for name, column in changed.items():
        ledger = ledger.set_column(ledger.schema.get_field_index(name), name, column)
    return ledger
