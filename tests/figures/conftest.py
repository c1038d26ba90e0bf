from __future__ import annotations

import sys
import types
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from campaign_days import CAMPAIGN_START, d, inputs_as_of
from returnstats.config import Settings
from returnstats.figures.publish import FigureInputs
from returnstats.linkage.state import STATE_SCHEMA
from returnstats.linkage.store import write_snapshot
from returnstats.warehouse.schema import TABLES


@pytest.fixture
def day13() -> FigureInputs:
    """The hand-made inputs as the run for 2020-02-13 sees them (campaign_days.py)."""
    return inputs_as_of(d(13))


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    settings = Settings(
        landing=tmp_path / "landing", warehouse=tmp_path / "warehouse",
        output=tmp_path / "output", staging=tmp_path / "staging", campaign_start=CAMPAIGN_START,
    )
    settings.ensure_dirs()
    ledgers: dict[date, pa.Table] = {}

    def read_staged(settings_: Settings, as_of: date) -> types.SimpleNamespace:
        # The interface of returnstats.validation.staging.read_staged.
        inputs = inputs_as_of(as_of)
        return types.SimpleNamespace(workers=None, tables={
            "enterprises": inputs.enterprises, "quarantine": inputs.quarantine,
            "ledger": ledgers.get(as_of, inputs.ledger)})

    fake = types.ModuleType("returnstats.validation.staging")
    fake.read_staged = read_staged
    fake.ledgers = ledgers
    monkeypatch.setitem(sys.modules, "returnstats.validation.staging", fake)
    return settings


def stage_linkage(settings: Settings, as_of: date) -> None:
    """The hand-made persons and record_person as the linkage step's state for `as_of`
    (state rows carry only what publish reads; the comparison profile is left empty)."""
    inputs = inputs_as_of(as_of)
    directory = settings.staging / "linkage" / f"as_of={as_of.isoformat()}"
    links = pa.Table.from_pandas(inputs.record_person, preserve_index=False)
    records = pa.table({name: links[name] if name in links.column_names
                        else pa.nulls(links.num_rows, STATE_SCHEMA.field(name).type)
                        for name in STATE_SCHEMA.names})
    persons = pa.Table.from_pandas(inputs.persons, preserve_index=False,
                                   schema=TABLES["person_returns"].schema)
    write_snapshot(directory, records.cast(STATE_SCHEMA), persons, as_of)
