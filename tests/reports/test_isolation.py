"""A package is read in a child process under hard limits (SPEC §3.1, §8): a reader that
runs out of them rejects its package, never the task; what each hostile file needed is
measured (the child's own peak, from wait4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import pytest
from returnstats.config import REPO_ROOT, Limits
from returnstats.reports.isolation import RESOURCE_LIMIT, read_isolated
from returnstats.reports.landing import scan_landing
from returnstats.reports.package import read_package

from tests.builders import WORKER_HEADERS, PackageBuilder, csv_bytes, worker_row
from tests.corpus import hostile

GIB = 1 << 30
PLUGINS = REPO_ROOT / "plugins"


def _only(landing):
    (ref,) = scan_landing(landing).packages
    return ref


def test_a_package_read_in_the_child_is_the_package_read_directly(builder, landing):
    builder.write()
    ref = _only(landing)
    reading = read_isolated(ref, Limits())
    direct = read_package(ref, Limits())
    assert reading.rejection is None and reading.package.content_sha256 == direct.content_sha256
    for kind, raw in direct.files.items():
        assert reading.package.files[kind].table.equals(raw.table)
    assert 0 < reading.peak_rss_bytes and reading.added_rss_bytes < 256 << 20


def _big_package(landing) -> None:
    pkg = PackageBuilder(landing, province="44", report_date=date(2020, 3, 1))
    rows = [worker_row(record_id=f"W{i}") for i in range(40_000)]  # ~6 MB of CSV
    pkg.add("workers", "workers.csv", csv_bytes(WORKER_HEADERS, rows), rows=len(rows))
    pkg.write()


def test_a_reader_out_of_its_memory_limit_rejects_the_package_naming_the_file(landing):
    """In a lean process, as a task is: this test process has hundreds of MB mapped but
    free, which a forked child may use without growing its address space."""
    _big_package(landing)
    # No address space beyond what the child inherits: parsing 6 MB needs ~45 MB more.
    script = (
        "import json, sys; from pathlib import Path; from returnstats.config import Limits\n"
        "from returnstats.reports.isolation import read_isolated\n"
        "from returnstats.reports.landing import scan_landing\n"
        "(ref,) = scan_landing(Path(sys.argv[1])).packages\n"
        "for limits in (Limits(reader_max_memory_bytes=0), Limits()):\n"
        "    r = read_isolated(ref, limits)\n"
        "    print(json.dumps(None if r.rejection is None else [r.rejection.reason,\n"
        "        r.rejection.file, r.rejection.detail, [[c.name, c.rows] for c in r.census]]))\n")
    done = subprocess.run([sys.executable, "-c", script, str(landing)], capture_output=True,
                          text=True, check=True, env={**os.environ, "PYTHONPATH": str(PLUGINS)})
    limited, default = (json.loads(line) for line in done.stdout.splitlines())
    reason, file, detail, census = limited
    assert (reason, file) == (RESOURCE_LIMIT, "workers.csv")
    assert "workers.csv: the reader ran out of memory" in detail
    assert census == [["workers.csv", 0]]
    assert default is None  # the same package within the default limits is read


def test_a_reader_killed_at_its_time_limit_rejects_the_package(landing):
    _big_package(landing)
    reading = read_isolated(_only(landing), Limits(reader_max_seconds=0))
    assert reading.package is None and reading.rejection.reason == RESOURCE_LIMIT
    assert "time limit" in reading.rejection.detail


HOSTILE = {
    "xlsx one cell at XFD1048576": ("workers.xlsx", lambda: hostile.sparse_columns_xlsx(
        [worker_row()]), "package.file.too_many_columns"),
    "xlsx one cell at A1048576": ("workers.xlsx", lambda: hostile.sparse_rows_xlsx(
        [worker_row()]), "package.file.sparse_range"),
    "xlsx shared-string bomb": ("workers.xlsx", hostile.shared_string_bomb_xlsx,
                                "package.file.text_too_large"),
    "CSV of 6,000 columns": ("workers.csv", hostile.wide_csv, "package.file.too_many_columns"),
    "JSON of 6,000 keys": ("workers.json", hostile.wide_json, "package.file.too_many_columns"),
}


@pytest.mark.parametrize("case", HOSTILE, ids=str)
def test_every_hostile_file_is_rejected_needing_far_less_than_a_gibibyte(landing, case):
    name, make, reason = HOSTILE[case]
    pkg = PackageBuilder(landing, province="44", report_date=date(2020, 3, 1))
    pkg.add("workers", name, make(), rows=1)
    pkg.write()
    reading = read_isolated(_only(landing), Limits())
    assert reading.rejection is not None and reading.rejection.reason == reason
    # What reading needed beyond what the child shares with this (large) test process.
    assert reading.added_rss_bytes < GIB, reading
    print(f"{case}: {os.path.getsize(landing / '44' / pkg.name / name)} bytes, child peak "
          f"{reading.peak_rss_bytes >> 20} MiB, added {reading.added_rss_bytes >> 20} MiB")
