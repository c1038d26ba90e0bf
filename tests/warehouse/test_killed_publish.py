"""A publish killed with SIGKILL in the middle (SPEC §6: a rerun replaces its partition
atomically): readers never see a partial file, every table shows a complete vintage, and
the next publish cleans up (`recover` is called by publish, never by readers) and succeeds.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from returnstats.figures.publish import publish_tables
from returnstats.warehouse.catalog import CATALOG_FILE
from returnstats.warehouse.schema import TABLES
from returnstats.warehouse.store import read_table

REPO = Path(__file__).resolve().parents[2]
AS_OF = date(2020, 2, 13)

# Builds a whole vintage whose every value is derived from `seed`, so a table's content
# says which vintage it belongs to. Shared by this test and the killed subprocess.
_VINTAGE = textwrap.dedent(
    """
    from datetime import date
    import pyarrow as pa
    from returnstats.warehouse.schema import TABLES
    from returnstats.warehouse.store import conform

    def vintage(seed):
        tables = {}
        for table in TABLES.values():
            row = {}
            for column in table.columns:
                if pa.types.is_date32(column.type):
                    row[column.name] = date(2020, 2, 13)
                elif pa.types.is_int64(column.type):
                    row[column.name] = seed
                elif pa.types.is_list(column.type):
                    row[column.name] = [f"v{seed}"]
                else:
                    row[column.name] = f"v{seed}"
            if table.name == "ledger":
                row.update(status="accepted", rows_received=2 * seed, rows_merged=0)
            tables[table.name] = conform(table, pa.Table.from_pylist([row] * 3))
        return tables
    """
)
namespace: dict = {}
exec(_VINTAGE, namespace)  # noqa: S102 - the same builder the subprocess runs
vintage = namespace["vintage"]

_PUBLISHER = _VINTAGE + textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from returnstats.figures.publish import publish_tables
    from returnstats.warehouse import store

    root, ready, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    if mode == "hang":
        # Hang at the third partition exchange: two tables have their new vintage.
        real_exchange, calls = store.exchange, []

        def exchange_then_hang(built, slot, root):
            calls.append(slot)
            if len(calls) == 3:
                ready.touch()
                time.sleep(60)
            real_exchange(built, slot, root)

        store.exchange = exchange_then_hang
        publish_tables(root, date(2020, 2, 13), vintage(2))
    else:
        ready.touch()
        seed = 2
        while True:  # republish the day until killed
            publish_tables(root, date(2020, 2, 13), vintage(seed))
            seed = 5 - seed  # 2, 3, 2, 3, ...
    """
)


def start_publisher(root: Path, mode: str) -> tuple[subprocess.Popen, Path]:
    ready = root.parent / f"ready-{time.monotonic_ns()}"
    env = {**os.environ, "PYTHONPATH": str(REPO / "plugins")}
    process = subprocess.Popen([sys.executable, "-c", _PUBLISHER, str(root), str(ready), mode],
                               env=env)
    deadline = time.monotonic() + 60
    while not ready.exists():
        if process.poll() is not None:
            raise AssertionError(f"publisher exited early with {process.returncode}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("publisher never got ready")
        time.sleep(0.02)
    return process, ready


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL


def seeds_seen(root: Path) -> dict[str, int]:
    """Which vintage (seed) each table's AS_OF partition holds, read three ways: every part
    file with pandas, `read_table`, and the DuckDB catalog. Each must read completely and
    agree; a partial or mixed file fails here."""
    seen = {}
    con = duckdb.connect(str(root / CATALOG_FILE), read_only=True)
    try:
        for name, table in TABLES.items():
            files = sorted((root / name).glob("as_of=*/*.parquet"))
            assert [f.parent.name for f in files] == [f"as_of={AS_OF}"], files
            direct = pd.read_parquet(files[0])
            frame = read_table(root, name, AS_OF)
            via_catalog = con.execute(
                f'SELECT * FROM "{name}" WHERE as_of = $as_of', {"as_of": AS_OF}).df()
            # The first int64 column holds the seed in every table (vintage() above).
            int_column = next(c.name for c in table.columns if pa.types.is_int64(c.type))
            seeds = set()
            for candidate in (direct, frame, via_catalog):
                assert len(candidate) == 3, (name, candidate)
                seeds |= set(candidate[int_column].astype(int))
            assert len(seeds) == 1, f"{name}: readers disagree on the vintage: {seeds}"
            seen[name] = seeds.pop()
    finally:
        con.close()
    return seen


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A warehouse whose AS_OF partition holds vintage 1."""
    root = tmp_path / "warehouse"
    publish_tables(root, AS_OF, vintage(1))
    return root


def test_publish_killed_between_tables_leaves_every_table_complete_and_rerun_succeeds(
    root: Path,
) -> None:
    process, _ = start_publisher(root, "hang")
    try:
        kill(process)
    finally:
        if process.poll() is None:
            process.kill()
    seen = seeds_seen(root)  # no recover: readers never need it
    names = list(TABLES)
    assert [seen[n] for n in names] == [2, 2] + [1] * (len(names) - 2), seen
    assert list((root / ".tmp").rglob("*.parquet")), "the killed writer left its temp file"

    publish_tables(root, AS_OF, vintage(2))  # the rerun: recover, then a full publish
    assert set(seeds_seen(root).values()) == {2}
    assert not any((root / ".tmp").iterdir())


def test_publish_killed_at_random_moments_never_shows_a_partial_file(root: Path) -> None:
    rng = random.Random(20200213)
    for attempt in range(4):
        process, _ = start_publisher(root, "loop")
        try:
            time.sleep(rng.uniform(0.05, 0.8))
            kill(process)
        finally:
            if process.poll() is None:
                process.kill()
        seen = seeds_seen(root)
        assert set(seen.values()) <= {1, 2, 3}, (attempt, seen)
    publish_tables(root, AS_OF, vintage(3))
    assert set(seeds_seen(root).values()) == {3}
    assert not any((root / ".tmp").iterdir())
