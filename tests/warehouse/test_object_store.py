"""The warehouse on an object store (SPEC §6: "a root directory or object-store URL"),
through fsspec's in-memory filesystem: the same layout, written and read back with
pyarrow/fsspec; nothing but the partition objects is written."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from returnstats.figures.publish import publish_tables
from returnstats.warehouse.schema import NATIONAL_SUMMARY, TABLES
from returnstats.warehouse.store import locate, read_table, recover, write_partition
from upath import UPath

D1, D2 = date(2020, 2, 10), date(2020, 2, 11)


def summary(as_of: date, returns_new: int) -> pd.DataFrame:
    row = dict.fromkeys(NATIONAL_SUMMARY.column_names, 0)
    row.update(date=as_of, returns_new=returns_new, returns_cumulative=returns_new)
    return pd.DataFrame([row])


@pytest.fixture
def url() -> str:
    url = f"memory://warehouse-{uuid.uuid4().hex}"
    yield url
    fsspec.filesystem("memory").rm(url, recursive=True)


def objects(url: str) -> list[str]:
    fs = fsspec.filesystem("memory")
    base = url.removeprefix("memory:/")
    return sorted(p.removeprefix(base + "/") for p in fs.find(url))


def test_partition_is_one_object_at_the_hive_key(url: str) -> None:
    written = write_partition(url, NATIONAL_SUMMARY, D1, summary(D1, 5))
    assert written.startswith("memory://")
    assert written.endswith(f"{url[len('memory://'):]}/national_summary/as_of=2020-02-10/part-0.parquet")
    assert objects(url) == ["national_summary/as_of=2020-02-10/part-0.parquet"]  # no .tmp, .lock
    with fsspec.open(written, "rb") as handle:
        assert pq.read_table(handle).column("returns_new").to_pylist() == [5]


def test_rewrite_replaces_its_partition_and_leaves_others_untouched(url: str) -> None:
    write_partition(url, NATIONAL_SUMMARY, D1, summary(D1, 1))
    write_partition(url, NATIONAL_SUMMARY, D2, summary(D2, 2))
    fs = fsspec.filesystem("memory")
    other = f"{url}/national_summary/as_of=2020-02-11/part-0.parquet"
    before = fs.cat_file(other)
    write_partition(url, NATIONAL_SUMMARY, D1, summary(D1, 7))
    frame = read_table(url, "national_summary")
    assert frame[["as_of", "returns_new"]].values.tolist() == [[D1, 7], [D2, 2]]
    assert fs.cat_file(other) == before
    assert recover(url) == []


def test_read_table_is_the_same_from_a_url_a_upath_and_a_local_copy(
    url: str, tmp_path: Path
) -> None:
    for root in (url, tmp_path):
        write_partition(root, NATIONAL_SUMMARY, D1, summary(D1, 3))
        write_partition(root, NATIONAL_SUMMARY, D2, summary(D2, 4))
    local = read_table(tmp_path, "national_summary")
    pd.testing.assert_frame_equal(read_table(url, "national_summary"), local)
    pd.testing.assert_frame_equal(read_table(UPath(url), "national_summary"), local)
    assert read_table(url, "national_summary", D2)["returns_new"].tolist() == [4]


def test_pyarrow_reads_the_object_store_as_a_hive_dataset(url: str) -> None:
    write_partition(url, NATIONAL_SUMMARY, D1, summary(D1, 3))
    write_partition(url, NATIONAL_SUMMARY, D2, summary(D2, 4))
    location = locate(url)
    dataset = ds.dataset(f"{location.path}/national_summary", filesystem=location.fs,
                         format="parquet", partitioning="hive")
    rows = dataset.to_table().sort_by("returns_new").to_pylist()
    assert [(r["as_of"], r["returns_new"]) for r in rows] == [
        ("2020-02-10", 3), ("2020-02-11", 4)]


def test_publish_to_an_object_store_writes_every_table_and_no_catalog(url: str) -> None:
    tables = {name: table.schema.empty_table() for name, table in TABLES.items()}
    tables["national_summary"] = pa.Table.from_pandas(summary(D1, 2), preserve_index=False)
    publish_tables(UPath(url), D1, tables)
    assert objects(url) == [f"{name}/as_of=2020-02-10/part-0.parquet" for name in sorted(TABLES)]
    assert read_table(url, "national_summary")["returns_new"].tolist() == [2]
    assert read_table(url, "ledger").empty


def test_a_local_path_and_a_file_url_are_local(tmp_path: Path) -> None:
    assert locate(tmp_path).is_local and locate(f"file://{tmp_path}").is_local
    assert locate(UPath(tmp_path)).local_path == tmp_path
    assert not locate("memory://somewhere").is_local
