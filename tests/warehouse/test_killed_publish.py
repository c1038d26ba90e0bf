"""Vintages commit whole (SPEC §6): a reader looping over the `latest_*` views, the
all-vintages views and `vintages` while a publisher republishes and approves a day, and
while the publisher is SIGKILLed at random moments, never sees two vintages mixed, never
sees a held vintage as latest, and the next publish cleans up and succeeds."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from returnstats.figures.publish import COMPUTED, publish_tables
from returnstats.release import approve
from returnstats.warehouse.catalog import CATALOG_FILE
from returnstats.warehouse.schema import TABLES

REPO = Path(__file__).resolve().parents[2]
D0, D1 = date(2020, 2, 12), date(2020, 2, 13)

# Builds a whole vintage whose every count is `seed`, so a table's content says which
# vintage it belongs to (and `provinces_reporting`, hence the vintages row, too). Shared
# by this test and the killed subprocess.
_VINTAGE = textwrap.dedent(
    """
    from datetime import date
    import pyarrow as pa
    from returnstats.figures.publish import COMPUTED
    from returnstats.warehouse.schema import TABLES
    from returnstats.warehouse.store import conform

    def vintage(seed, as_of):
        tables = {}
        for name in COMPUTED:
            table, row = TABLES[name], {}
            for column in table.columns:
                if pa.types.is_date32(column.type):
                    row[column.name] = as_of
                elif pa.types.is_int64(column.type):
                    row[column.name] = seed
                elif pa.types.is_list(column.type):
                    row[column.name] = [f"v{seed}"]
                else:
                    row[column.name] = f"v{seed}"
            if name == "ledger":
                row.update(status="accepted", rows_received=2 * seed, rows_merged=0)
            tables[name] = conform(table, pa.Table.from_pylist([row] * 3))
        return tables
    """
)
namespace: dict = {}
exec(_VINTAGE, namespace)  # noqa: S102 - the same builder the subprocess runs
vintage = namespace["vintage"]

_PUBLISHER = _VINTAGE + textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from returnstats.figures.publish import publish_tables
    from returnstats.release import approve

    root, ready = Path(sys.argv[1]), Path(sys.argv[2])
    seed = int(sys.argv[3])
    ready.touch()
    while True:  # republish and approve the day until killed
        publish_tables(root, date(2020, 2, 13), vintage(seed, date(2020, 2, 13)))
        approve(root, date(2020, 2, 13), by="loop")
        seed = 5 - seed  # 2, 3, 2, 3, ...
    """
)


def seed_column(name: str) -> str:
    """The first int64 column: it holds the seed in every table."""
    return next(c.name for c in TABLES[name].columns if pa.types.is_int64(c.type))


class Reader(threading.Thread):
    """Opens the catalog again and again and reads every view of one snapshot."""

    def __init__(self, root: Path) -> None:
        super().__init__(daemon=True)
        self.root, self.stop, self.reads = root, threading.Event(), 0
        self.problems: list[str] = []
        self.latest_seen: set[tuple[date, int]] = set()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                con = duckdb.connect(str(self.root / CATALOG_FILE), read_only=True)
            except duckdb.IOException:
                continue  # opened between unlink and rename on a slow filesystem: retry
            try:
                self.check(con)
            except Exception as error:  # noqa: BLE001 - every failure is a finding
                self.problems.append(f"{type(error).__name__}: {error}")
            finally:
                con.close()
            self.reads += 1

    def check(self, con) -> None:
        latest = set()
        for name in TABLES:
            if name == "vintages":
                rows = con.execute("SELECT as_of, provinces_reporting, status FROM "
                                   "latest_vintages").fetchall()
                if {r[2] for r in rows} != {"approved"}:
                    self.problems.append(f"latest_vintages not approved: {rows}")
                latest |= {(r[0], r[1]) for r in rows}
                continue
            latest |= set(con.execute(
                f'SELECT DISTINCT as_of, "{seed_column(name)}" FROM "latest_{name}"').fetchall())
            all_d1 = con.execute(f'SELECT DISTINCT "{seed_column(name)}" FROM "{name}" '
                                 "WHERE as_of = $d", {"d": D1}).fetchall()
            if len(all_d1) != 1:
                self.problems.append(f"{name}: vintages of {D1} mixed: {all_d1}")
        if len(latest) != 1:
            self.problems.append(f"latest_* views disagree: {sorted(latest)}")
        self.latest_seen |= latest


def start_publisher(root: Path, seed: int) -> subprocess.Popen:
    ready = root.parent / f"ready-{time.monotonic_ns()}"
    env = {**os.environ, "PYTHONPATH": str(REPO / "plugins")}
    process = subprocess.Popen([sys.executable, "-c", _PUBLISHER, str(root), str(ready),
                                str(seed)], env=env)
    deadline = time.monotonic() + 60
    while not ready.exists():
        if process.poll() is not None:
            raise AssertionError(f"publisher exited early with {process.returncode}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("publisher never got ready")
        time.sleep(0.02)
    return process


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A warehouse with D0 (seed 1) and D1 (seed 1) approved."""
    root = tmp_path / "warehouse"
    for day in (D0, D1):
        publish_tables(root, day, vintage(1, day))
        approve(root, day, by="setup")
    return root


def test_readers_never_see_two_vintages_mixed_while_publishes_run_and_are_killed(
        root: Path) -> None:
    reader = Reader(root)
    reader.start()
    rng = random.Random(20200213)
    try:
        for round_ in range(5):
            process = start_publisher(root, seed=2 + round_ % 2)
            try:
                time.sleep(rng.uniform(0.5, 2.5))
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)
            finally:
                if process.poll() is None:
                    process.kill()
    finally:
        reader.stop.set()
        reader.join(timeout=60)
    assert reader.problems == [], reader.problems[:5]
    assert reader.reads > 20
    seen = {seed for _, seed in reader.latest_seen}
    assert seen - {1}, f"the publisher changed nothing the reader saw: {seen}"

    publish_tables(root, D1, vintage(4, D1))  # the next run: cleans up, then publishes
    approve(root, D1, by="rerun")
    con = duckdb.connect(str(root / CATALOG_FILE), read_only=True)
    try:
        assert con.execute("SELECT DISTINCT as_of, returns_new FROM latest_national_summary"
                           ).fetchall() == [(D1, 4)]
    finally:
        con.close()
    assert not list((root / ".tmp").glob("*")), "the killed writers' leftovers are gone"


def test_a_republished_day_is_held_until_approved_and_latest_stays_on_the_approved_one(
        root: Path) -> None:
    summary = publish_tables(root, D1, vintage(7, D1))
    assert summary["status"] == "held" and summary["corrects"] is not None
    con = duckdb.connect(str(root / CATALOG_FILE), read_only=True)
    try:
        assert con.execute("SELECT DISTINCT as_of, returns_new FROM latest_national_summary"
                           ).fetchall() == [(D0, 1)]
    finally:
        con.close()
    assert set(COMPUTED) | {"vintages"} == set(TABLES)
