"""Publishing by increment (figures/increment.py) gives, day after day, the same vintage
as computing it in full from all persons and records of the same state: over a sample
campaign with late packages, resubmissions and persons reported on several days, with a
rerun of an earlier day, and after a base that cannot be trusted."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from returnstats.config import Settings
from returnstats.figures.increment import compute_increment, read_increment
from returnstats.figures.publish import (
    COMPUTED,
    STAGED,
    FigureInputs,
    compute_tables,
    publish_as_of,
    read_linkage,
)
from returnstats.linkage import store
from returnstats.linkage.run import link_as_of
from returnstats.reference import provinces
from returnstats.sample import deliver
from returnstats.sample.generate import generate
from returnstats.validation.ingest import ingest_province
from returnstats.validation.staging import read_staged
from returnstats.warehouse.commits import current_commit, successor, write_commit
from returnstats.warehouse.location import locate
from returnstats.warehouse.schema import TABLES
from returnstats.warehouse.store import read_table

START, DAYS = date(2020, 2, 17), 4
CAMPAIGN_START = date(2020, 2, 10)
KEY = b"k" * 32


def full_vintage(settings: Settings, as_of: date) -> dict[str, pd.DataFrame]:
    """Every table of `as_of` computed in full, in the form `read_table` gives."""
    persons, record_person = read_linkage(settings.staging, as_of)
    staged = read_staged(settings, as_of)
    tables = compute_tables(FigureInputs(persons, record_person, *(staged.tables[t] for t in STAGED)),
                            as_of, settings.campaign_start)
    return {name: table.sort_by([(c, "ascending") for c in TABLES[name].grain if c != "as_of"])
            .to_pandas()
            for name, table in tables.items()}


def assert_published_as_computed_in_full(settings: Settings, as_of: date,
                                         expected: dict[str, pd.DataFrame] | None = None) -> None:
    """The vintage `as_of` as published equals `expected`: by default, the full computation
    now (late packages staged since the publish change it: compare right after it)."""
    expected = expected or full_vintage(settings, as_of)
    for name in COMPUTED:
        published = read_table(settings.warehouse, name, as_of).drop(columns="as_of")
        assert len(published) == len(expected[name]), name
        pd.testing.assert_frame_equal(published, expected[name], check_dtype=False,
                                      obj=f"{name} as of {as_of}")


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """A four-day sample campaign, linked and published day by day: the settings, the
    days, whether each was published by increment, and each day's full computation right
    after its publish."""
    work = tmp_path_factory.mktemp("campaign")
    generate(work / "sample", start=START, days=DAYS, persons_per_day=60, seed=5,
             campaign_start=CAMPAIGN_START)
    settings = Settings(landing=work / "landing", warehouse=work / "warehouse",
                        output=work / "output", staging=work / "staging",
                        campaign_start=CAMPAIGN_START)
    settings.ensure_dirs()
    days = [START + timedelta(days=i) for i in range(DAYS)]
    by_increment, expected = [], {}
    for as_of in days:
        deliver(sample=work / "sample", landing=settings.landing, through=as_of)
        for province in provinces():
            ingest_province(settings, province, as_of)
        link_as_of(settings, as_of, KEY)
        by_increment.append(publish_as_of(settings, as_of)["by_increment"])
        expected[as_of] = full_vintage(settings, as_of)
    return settings, days, by_increment, expected


def test_every_day_after_the_first_is_published_by_increment_as_computed_in_full(campaign):
    settings, days, by_increment, expected = campaign
    assert by_increment == [False] + [True] * (DAYS - 1)
    for as_of in days:
        assert_published_as_computed_in_full(settings, as_of, expected[as_of])


def test_the_campaign_exercises_what_an_increment_carries(campaign):
    """Not vacuous: later deltas retire persons of earlier segments, records merge into
    known persons, and packages are superseded and arrive late."""
    settings, days, _, _ = campaign
    chain = store.read_chain(store.linkage_root(settings.staging) / f"as_of={days[-1]}")
    retired = [pq.read_table(store.delta_dir(store.linkage_root(settings.staging), name)
                             / store.DROPPED_FILE) for name in chain.deltas[1:]]
    assert sum(t.num_rows for t in retired) > 0
    ledger = read_table(settings.warehouse, "ledger", days[-1])
    assert ledger["rows_merged"].sum() > 0
    assert {"superseded", "rejected"} <= set(ledger["status"])
    record = current_commit(locate(settings.warehouse), days[-1])
    assert sorted(record.segments) == list(range(DAYS))
    assert len(record.files["person_returns"]) == DAYS


def test_a_rerun_of_an_earlier_day_and_the_day_after_it_stay_equal(campaign):
    settings, days, _, _ = campaign
    for as_of in (days[1], days[-1]):
        link_as_of(settings, as_of, KEY)
        assert publish_as_of(settings, as_of)["by_increment"]
        assert_published_as_computed_in_full(settings, as_of)


def test_a_base_that_says_nothing_of_its_chain_gives_a_full_publish(campaign):
    settings, days, _, _ = campaign
    location = locate(settings.warehouse)
    base = current_commit(location, days[-2])
    write_commit(location, replace(successor(base, "doctored", base.files), identity=None))
    try:
        assert not publish_as_of(settings, days[-1])["by_increment"]
        assert_published_as_computed_in_full(settings, days[-1])
    finally:
        doctored = current_commit(location, days[-2])
        write_commit(location, replace(successor(doctored, "restored", base.files),
                                       identity=base.identity))
    assert publish_as_of(settings, days[-1])["by_increment"]


def test_a_retired_person_missing_from_its_segment_gives_no_increment(campaign):
    settings, days, _, _ = campaign
    linkage = store.linkage_root(settings.staging)
    chain = store.read_chain(linkage / f"as_of={days[-1]}")
    increment = read_increment(settings.warehouse, linkage, days[-2], chain, CAMPAIGN_START)
    assert increment is not None and compute_increment(increment, days[-1], CAMPAIGN_START)
    first = pq.read_table(settings.warehouse / increment.base / increment.segments[0])
    doctored = replace(increment, retired={0: first}, dropped=pa.table(
        {"person_key": ["not-a-person-of-segment-0"], "retired_seq": pa.array([0], pa.int64())}))
    assert compute_increment(doctored, days[-1], CAMPAIGN_START) is None
