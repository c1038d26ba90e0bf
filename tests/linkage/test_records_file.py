"""The linkage state's records files (docs/linkage.md, "Incremental state"): rows grouped by
person, numbered, with each person's range, written in fixed batches, taken by position."""

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from returnstats.linkage import store
from returnstats.linkage.run import link_as_of
from returnstats.linkage.state import FOUNDING_ORDER, new_state_rows
from returnstats.warehouse.schema import PERSON_RETURNS
from synthetic import generate, stage

KEY = b"test-key"


@pytest.fixture
def small_batches(monkeypatch):
    """Batches of 7 rows, so that persons straddle batch boundaries on both the Parquet
    read-back and the Arrow write."""
    monkeypatch.setattr(store, "BATCH_ROWS", 7)


def _records(persons_sizes: list[int]) -> pa.Table:
    """State rows whose persons hold `persons_sizes` records, persons interleaved."""
    workers, _ = generate(sum(persons_sizes), seed=4)
    rows = new_state_rows(workers).slice(0, sum(persons_sizes))
    owner = np.repeat(np.arange(len(persons_sizes)), persons_sizes)
    np.random.default_rng(1).shuffle(owner)
    keys = pa.array([f"person-{i:03d}" for i in owner])
    return rows.set_column(rows.schema.get_field_index("person_key"), "person_key", keys)


def test_a_records_file_groups_numbers_and_ranges_every_person(small_batches, tmp_path):
    sizes = [1, 3, 9, 2, 7, 1, 15, 4, 1, 6]
    records = _records(sizes)
    chain = store.write_snapshot(tmp_path / "as_of=x", records, PERSON_RETURNS.schema.empty_table())
    (delta,) = (store.DeltaRecords.open(tmp_path, name) for name in chain.deltas)
    assert [b.num_rows for b in delta.batches][:-1] == [7] * (len(delta.batches) - 1)
    stored = pa.Table.from_batches(delta.batches)
    assert stored.num_rows == sum(sizes)
    assert stored["position"].to_pylist() == list(range(sum(sizes)))
    for key, size in zip(sorted(set(records["person_key"].to_pylist())), sizes, strict=True):
        mine = stored.filter(pc.equal(stored["person_key"], key))
        first = mine["person_first"][0].as_py()
        assert mine["person_rows"].to_pylist() == [size] * size
        assert mine["position"].to_pylist() == list(range(first, first + size))
        taken = store.take([delta], np.zeros(size, np.int64),
                           store.person_rows(np.array([first]), np.array([size])),
                           ["person_key", "package", "row_number"])
        assert taken["person_key"].to_pylist() == [key] * size
        assert taken["row_number"].equals(mine["row_number"])
        founding = list(zip(*(mine[c].to_pylist() for c in FOUNDING_ORDER), strict=True))
        assert founding == sorted(founding)


def test_links_are_the_same_whatever_the_batch_size(monkeypatch, tmp_path):
    workers, _ = generate(600, seed=9)
    days = sorted(set(workers["report_date"]))[:4]
    results = {}
    for batch_rows in (store.BATCH_ROWS, 7):
        monkeypatch.setattr(store, "BATCH_ROWS", batch_rows)
        monkeypatch.setenv("RETURNSTATS_DATA", str(tmp_path / str(batch_rows)))
        from returnstats.config import load_settings

        settings = load_settings()
        for day in days:
            stage(settings, workers[workers["report_date"] == day])
            result = link_as_of(settings, date.fromisoformat(str(day)[:10]), KEY)
        results[batch_rows] = result
    default, small = results.values()
    assert default.stats["known_records_compared"] > 0
    assert small.record_person.equals(default.record_person)
    assert small.persons.equals(default.persons)
