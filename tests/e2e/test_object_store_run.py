"""End to end on a real S3 server (moto, tests/s3.py): the sample days run through the
functions the DAG's tasks call, in the DAG's order (ingest of every province, link,
publish, render, approval), once on local directories and once with staging (with the
linkage state) and the warehouse in a bucket, with the settings the DAG builds from the
`aws_default` connection. The bucket run gives the same national_summary, ledger and
quarantine, and the same bulletin text. (`dag.test()` of a day costs about a minute here;
tests/scaleout runs the DAG itself on S3.)"""

from __future__ import annotations

import os
import shutil
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from returnstats.sample import deliver, generate
from returnstats.warehouse.store import read_table

START = date(2020, 2, 17)
DAYS = 2
PROVINCES = ("11", "44", "51")
"""The provinces whose packages are delivered: few, so that both runs cost little (the
ingest of a province's package, Great Expectations included, takes about a second)."""
COMPARED = ("national_summary", "ledger", "quarantine")


def run_day(as_of: date, render: bool) -> str:
    """One day as the DAG runs it (its task functions, in its order); the vintage status.
    The bulletin only when `render` (a day's bulletin reads the warehouse alone)."""
    from returnstats import release
    from returnstats.bulletin.correction import corrected_figures
    from returnstats.bulletin.render import render_bulletin
    from returnstats.config import load_settings
    from returnstats.figures.publish import publish_as_of
    from returnstats.linkage.keys import key_fingerprint, resolve_key
    from returnstats.linkage.run import link_as_of
    from returnstats.validation.failures import record_ingest_failures
    from returnstats.validation.ingest import ingest_province
    from returnstats.warehouse.vintages import vintage_of
    from returnstats_airflow.storage import storage_options

    settings = load_settings(storage_options())
    settings.ensure_dirs()
    for province in PROVINCES:
        ingest_province(settings, province, as_of)
    record_ingest_failures(settings, as_of, {})
    key = resolve_key(None, Path(os.environ["AIRFLOW_HOME"]))
    link_as_of(settings, as_of, key)
    publish_as_of(settings, as_of, key_fingerprint(key))
    if render:
        render_bulletin(settings, as_of, corrected_figures(settings.warehouse, as_of))
    if not vintage_of(settings.warehouse, as_of).vintage.get("reason"):
        release.approve(settings.warehouse, as_of, by=release.AUTO)
    return vintage_of(settings.warehouse, as_of).status


def _run_days(mp, root, sample, zones: dict[str, str]) -> dict[date, str]:
    for name, value in {**zones, "RETURNSTATS_LANDING": str(root / "landing"),
                        "RETURNSTATS_OUTPUT": str(root / "output")}.items():
        mp.setenv(name, value)
    states = {}
    for i in range(DAYS):
        as_of = START + timedelta(days=i)
        deliver(sample=sample, landing=root / "landing", through=as_of)
        for other in (root / "landing").iterdir():
            if other.is_dir() and other.name not in PROVINCES:
                shutil.rmtree(other)
        states[as_of] = run_day(as_of, render=i == DAYS - 1)
    return states


@pytest.fixture(scope="module")
def runs(tmp_path_factory, s3_server):
    root = tmp_path_factory.mktemp("s3e2e")
    sample = root / "sample"
    generate(out=sample, start=START, days=DAYS, persons_per_day=300, seed=23,
             campaign_start=date(2020, 2, 10))
    bucket = s3_server.new_bucket()
    mp = pytest.MonkeyPatch()
    mp.setenv("RETURNSTATS_CAMPAIGN_START", "2020-02-10")
    mp.setenv("RETURNSTATS_MIN_PROVINCES", "1")
    mp.setenv("RETURNSTATS_CACHE", str(root / "cache"))
    mp.setenv("AIRFLOW_CONN_AWS_DEFAULT", s3_server.connection_uri())
    local = _run_days(mp, root / "local", sample, {
        "RETURNSTATS_STAGING": str(root / "local" / "staging"),
        "RETURNSTATS_WAREHOUSE": str(root / "local" / "warehouse")})
    remote = _run_days(mp, root / "s3", sample, {
        "RETURNSTATS_STAGING": f"s3://{bucket}/staging",
        "RETURNSTATS_WAREHOUSE": f"s3://{bucket}/warehouse"})
    mp.undo()
    yield {"root": root, "bucket": bucket, "states": (local, remote)}


def test_both_runs_succeed(runs):
    local, remote = runs["states"]
    assert set(local.values()) == set(remote.values()) == {"approved"}, runs["states"]


def test_staging_linkage_and_warehouse_live_in_the_bucket_not_on_disk(runs, s3_server):
    fs = s3_server.filesystem()
    bucket = runs["bucket"]
    assert fs.find(f"{bucket}/staging/packages")
    assert fs.find(f"{bucket}/staging/linkage/deltas")
    assert fs.exists(f"{bucket}/staging/linkage/as_of={START + timedelta(days=DAYS - 1)}/chain.json")
    assert fs.exists(f"{bucket}/warehouse/warehouse.duckdb")
    assert fs.find(f"{bucket}/warehouse/_commits")
    assert not (runs["root"] / "s3" / "staging").exists()
    assert not (runs["root"] / "s3" / "warehouse").exists()


@pytest.mark.parametrize("table", COMPARED)
def test_the_tables_equal_the_local_run(runs, s3_server, table):
    from upath import UPath

    local = read_table(runs["root"] / "local" / "warehouse", table)
    remote = read_table(UPath(f"s3://{runs['bucket']}/warehouse", **s3_server.options), table)
    assert len(local) > 0
    pd.testing.assert_frame_equal(remote, local)


def test_the_bulletin_text_equals_the_local_run(runs):
    day = (START + timedelta(days=DAYS - 1)).isoformat()
    for lang in ("zh", "en"):
        name = f"bulletins/{day}/bulletin.{lang}.txt"
        local = (runs["root"] / "local" / "output" / name).read_text(encoding="utf-8")
        remote = (runs["root"] / "s3" / "output" / name).read_text(encoding="utf-8")
        assert remote == local
