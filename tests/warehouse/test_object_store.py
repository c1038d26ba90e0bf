"""The warehouse on an object store (SPEC §6: "a root directory or object-store URL"),
through fsspec's in-memory filesystem: the same layout and commit records, written and
read back with pyarrow/fsspec and DuckDB; no lock file, no `.tmp/`."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from returnstats.figures.publish import publish_tables
from returnstats.warehouse.location import locate
from returnstats.warehouse.schema import TABLES
from returnstats.warehouse.store import read_table, recover
from upath import UPath

from tests.warehouse.conftest import commit, summary

D1, D2 = date(2020, 2, 10), date(2020, 2, 11)


@pytest.fixture
def url() -> str:
    url = f"memory://warehouse-{uuid.uuid4().hex}"
    yield url
    fsspec.filesystem("memory").rm(url, recursive=True)


def objects(url: str) -> list[str]:
    fs = fsspec.filesystem("memory")
    base = url.removeprefix("memory:/")
    return sorted(p.removeprefix(base + "/") for p in fs.find(url))


def test_a_commit_is_data_objects_then_one_record(url: str) -> None:
    record = commit(url, D1, national_summary=summary([(D1, 5, 0)]))
    assert objects(url) == [  # no .tmp, no .lock
        "_commits/as_of=2020-02-10/00000001.json",
        f"national_summary/as_of=2020-02-10/part-{record.id}.parquet",
        f"vintages/as_of=2020-02-10/part-{record.id}.parquet",
        "warehouse.duckdb",
    ]
    with fsspec.open(f"{url}/{record.paths('national_summary')[0]}", "rb") as handle:
        assert pq.read_table(handle).column("returns_new").to_pylist() == [5]


def test_a_rerun_replaces_its_date_and_leaves_others_untouched(url: str) -> None:
    commit(url, D1, national_summary=summary([(D1, 1, 0)]))
    other = commit(url, D2, national_summary=summary([(D2, 2, 0)]))
    fs = fsspec.filesystem("memory")
    before = fs.cat_file(f"{url}/{other.paths('national_summary')[0]}")
    commit(url, D1, national_summary=summary([(D1, 7, 0)]))
    frame = read_table(url, "national_summary")
    assert frame[["as_of", "returns_new"]].values.tolist() == [[D1, 7], [D2, 2]]
    assert fs.cat_file(f"{url}/{other.paths('national_summary')[0]}") == before
    assert recover(url) == [], "the superseded files are within the retention"


def test_read_table_is_the_same_from_a_url_a_upath_and_a_local_copy(
    url: str, tmp_path: Path
) -> None:
    for root in (url, tmp_path):
        commit(root, D1, national_summary=summary([(D1, 3, 0)]))
        commit(root, D2, national_summary=summary([(D2, 4, 0)]))
    local = read_table(tmp_path, "national_summary")
    pd.testing.assert_frame_equal(read_table(url, "national_summary"), local)
    pd.testing.assert_frame_equal(read_table(UPath(url), "national_summary"), local)
    assert read_table(url, "national_summary", D2)["returns_new"].tolist() == [4]


def test_publish_to_an_object_store_writes_every_table_held(url: str) -> None:
    tables = {name: table.schema.empty_table() for name, table in TABLES.items()
              if name != "vintages"}
    tables["national_summary"] = pa.Table.from_pandas(summary([(D1, 2, 0)]), preserve_index=False)
    for name in ("returns_daily", "enterprises_daily"):
        tables[name] = TABLES[name].schema.empty_table()
    summary_ = publish_tables(UPath(url), D1, tables)
    assert summary_["status"] == "held"
    assert {p.split("/")[0] for p in objects(url)} == {"_commits", *TABLES, "warehouse.duckdb"}
    assert read_table(url, "national_summary")["returns_new"].tolist() == [2]
    assert read_table(url, "vintages")["status"].tolist() == ["held"]
    assert read_table(url, "ledger").empty


def test_a_local_path_and_a_file_url_are_local(tmp_path: Path) -> None:
    assert locate(tmp_path).is_local and locate(f"file://{tmp_path}").is_local
    assert locate(UPath(tmp_path)).local_path == tmp_path
    assert not locate("memory://somewhere").is_local


def test_the_catalog_of_an_object_store_reads_its_files(url: str, tmp_path: Path) -> None:
    import duckdb

    commit(url, D1, national_summary=summary([(D1, 3, 0)]))
    commit(url, D2, national_summary=summary([(D2, 4, 0)]))
    copy = tmp_path / "warehouse.duckdb"  # a statistician downloads it, or ATTACHes it
    copy.write_bytes(fsspec.filesystem("memory").cat_file(f"{url}/warehouse.duckdb"))
    con = duckdb.connect(str(copy), read_only=True)
    con.register_filesystem(fsspec.filesystem("memory"))
    assert con.sql("SELECT as_of, returns_new FROM national_summary ORDER BY 1").fetchall() \
        == [(D1, 3), (D2, 4)]
