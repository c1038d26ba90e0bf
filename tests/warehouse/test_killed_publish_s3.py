"""Vintages commit whole on S3 too (moto's server, tests/s3.py): a publisher republishing
and approving a day in a bucket, SIGKILLed at random moments, leaves the previous vintage
readable, whole and approved through the commit records and the catalog's views; the
next publish cleans up and succeeds. A second writer of the same commit record loses
(the conditional PUT, If-None-Match)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import date

import duckdb
import pytest
from returnstats.figures.publish import publish_tables
from returnstats.release import approve
from returnstats.warehouse.catalog import create_views
from returnstats.warehouse.commits import current_commit, first_commit, write_commit
from returnstats.warehouse.location import AlreadyExists, locate
from returnstats.warehouse.schema import TABLES
from returnstats.warehouse.store import recover
from upath import UPath

from tests.warehouse.test_killed_publish import _VINTAGE, D0, D1, REPO, seed_column, vintage

_PUBLISHER = _VINTAGE + """
import json, sys
from pathlib import Path
from upath import UPath
from returnstats.figures.publish import publish_tables
from returnstats.release import approve

root = UPath(sys.argv[1], **json.loads(sys.argv[2]))
ready, seed = Path(sys.argv[3]), int(sys.argv[4])
while True:  # republish and approve the day until killed
    publish_tables(root, date(2020, 2, 13), vintage(seed, date(2020, 2, 13)))
    approve(root, date(2020, 2, 13), by="loop")
    ready.touch()  # one whole commit made: the kill lands in a later one, at a random moment
    seed = 5 - seed
"""


@pytest.fixture
def root(s3_server):
    root = UPath(f"s3://{s3_server.new_bucket()}/warehouse", **s3_server.options)
    for day in (D0, D1):
        publish_tables(root, day, vintage(1, day))
        approve(root, day, by="setup")
    return root


def committed_state(root) -> tuple[set[tuple[date, int]], set[tuple[int]]]:
    """(as_of, seed) of every table's latest approved rows, and the seed of D1's current
    vintage (held or approved): one of each, whole, or an AssertionError."""
    con = duckdb.connect()
    try:
        create_views(con, root)
        latest, d1 = set(), set()
        for name in TABLES:
            if name == "vintages":
                rows = con.execute("SELECT as_of, provinces_reporting, status FROM "
                                   "latest_vintages").fetchall()
                assert {r[2] for r in rows} == {"approved"}, rows
                latest |= {(r[0], r[1]) for r in rows}
                continue
            column = seed_column(name)
            latest |= set(con.execute(f'SELECT DISTINCT as_of, "{column}" FROM "latest_{name}"')
                          .fetchall())
            d1 |= set(con.execute(f'SELECT DISTINCT "{column}" FROM "{name}" WHERE as_of = $d',
                                  {"d": D1}).fetchall())
    finally:
        con.close()
    assert len(latest) == 1 and len(d1) == 1, (latest, d1)
    return latest, d1


def test_a_publish_killed_mid_commit_leaves_the_previous_vintage_readable(
        root, s3_server, tmp_path) -> None:
    rng = random.Random(20200213)
    env = {**os.environ, "PYTHONPATH": str(REPO / "plugins")}
    seen = set()
    for round_ in range(2):
        ready = tmp_path / f"ready-{round_}"
        process = subprocess.Popen(
            [sys.executable, "-c", _PUBLISHER, str(root), json.dumps(s3_server.options),
             str(ready), str(2 + round_ % 2)], env=env)
        try:
            deadline = time.monotonic() + 180  # a loaded machine is slow
            while not ready.exists() and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.02)
            assert ready.exists(), "publisher never got ready"
            time.sleep(rng.uniform(0.0, 4.0))  # a publish and approval: about 3 s here
            assert process.poll() is None, f"the publisher failed ({process.returncode})"
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
        seen |= committed_state(root)[1]
    assert {seed for (seed,) in seen} - {1}, f"the publisher changed nothing: {seen}"

    publish_tables(root, D1, vintage(4, D1))  # the next run: cleans up, then publishes
    approve(root, D1, by="rerun")
    assert committed_state(root) == ({(D1, 4)}, {(4,)})
    assert recover(root) == []


def test_a_second_writer_of_a_commit_record_loses(s3_server) -> None:
    location = locate(UPath(f"s3://{s3_server.new_bucket()}/warehouse", **s3_server.options))
    record = first_commit(D1, 1, action="publish", files={}, vintage={"status": "held"})
    write_commit(location, record)
    with pytest.raises(AlreadyExists):
        write_commit(location, replace(record, id="another writer"))
    assert current_commit(location, D1) == record
