"""`python -m returnstats.bench` at a tiny scale: the output parses and adds up (no timings
are asserted — the numbers depend on the machine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from returnstats.bench.report import LINE, parse_lines

REPO = Path(__file__).resolve().parents[2]
RECORDS = 2000


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory) -> tuple[str, dict]:
    workdir = tmp_path_factory.mktemp("bench")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "plugins"),
                                                                     os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-m", "returnstats.bench", "--scale", str(RECORDS), "--quick",
         "--workdir", str(workdir)],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, json.loads((workdir / "last.json").read_text(encoding="utf-8"))


def test_every_bench_line_parses_as_name_value_unit(bench_run):
    stdout, _ = bench_run
    lines = [line for line in stdout.splitlines() if line.startswith("bench.")]
    assert lines
    assert all(LINE.match(line) for line in lines), [x for x in lines if not LINE.match(x)]


def test_the_day_ran_every_stage_and_nothing_failed(bench_run):
    measures = parse_lines(bench_run[0])
    for stage in ("ingest", "link", "publish", "render", "send", "day", "floor"):
        assert float(measures[f"{stage}.seconds"][0]) > 0, stage
        assert measures[f"{stage}.seconds"][1] == "s"
    assert not [name for name in measures if name.endswith(".failed")]
    assert not bench_run[1]["notes"]


def test_day_total_is_the_sum_of_its_stages_and_peak_the_highest(bench_run):
    measures = {k: float(v) for k, (v, _) in parse_lines(bench_run[0]).items()
                if not k.startswith("target.")}
    stages = ("ingest", "link", "publish", "render", "send")
    assert measures["day.seconds"] == pytest.approx(sum(measures[f"{s}.seconds"] for s in stages), rel=1e-3)
    assert measures["day.peak_rss"] == max(measures[f"{s}.peak_rss"] for s in stages)
    assert measures["day.floor_ratio"] == pytest.approx(
        measures["day.seconds"] / measures["floor.seconds"], rel=1e-2)


def test_row_counts_agree_from_input_through_linkage(bench_run):
    measures = {k: float(v) for k, (v, _) in parse_lines(bench_run[0]).items()
                if not k.startswith("target.")}
    assert measures["input.workers"] == RECORDS
    received = measures["input.workers"] + measures["input.enterprises"]
    assert measures["ingest.rows_received"] == received
    assert measures["floor.rows"] == received
    assert measures["ingest.rows_accepted"] + measures["ingest.rows_quarantined"] == received
    assert measures["link.records"] <= measures["ingest.rows_accepted"]
    # A day from scratch: every record founds a person or joins one.
    assert measures["link.persons"] + measures["link.new_records_merged"] == measures["link.records"]
    # The provinces run in a pool: the parts are seconds summed over its workers.
    parts = sum(measures[f"ingest.{p}.seconds"] for p in ("read", "validate", "stage_write"))
    assert parts <= measures["ingest.seconds"] * measures["ingest.workers"]


def test_ingest_counts_its_worker_processes(bench_run):
    measures = parse_lines(bench_run[0])
    value = {k: float(v) for k, (v, _) in measures.items() if not k.startswith("target.")}
    assert 1 <= value["ingest.workers"] <= (os.cpu_count() or 1)
    assert measures["ingest.pool_cpu_seconds"][1] == "s"
    assert measures["ingest.pool_peak_rss"][1] == "MiB"
    assert value["ingest.cpu_seconds"] >= value["ingest.pool_cpu_seconds"] > 0
    assert value["ingest.peak_rss"] >= value["ingest.pool_peak_rss"] > 0


def test_json_holds_the_same_measures_and_every_target_has_a_verdict(bench_run):
    stdout, data = bench_run
    printed = parse_lines(stdout)
    for name, measure in data["measures"].items():
        assert name in printed
        assert float(printed[name][0]) == pytest.approx(measure["value"], rel=1e-3, abs=1e-3)
    assert {t["verdict"] for t in data["targets"]} <= {"PASS", "FAIL", "SKIP"}
    assert data["machine"]["nproc"] >= 1


@pytest.fixture(scope="module")
def growth_run(tmp_path_factory) -> dict[str, tuple[str, str]]:
    workdir = tmp_path_factory.mktemp("growth")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "plugins"),
                                                                     os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-m", "returnstats.bench", "--parts", "growth", "--growth-records", "60",
         "--growth-days", "2", "--workdir", str(workdir)],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "note:" not in done.stdout, done.stdout[-3000:]
    return parse_lines(done.stdout)


def test_growth_prints_where_each_stage_grows(growth_run):
    measures = {k: float(v) for k, (v, _) in growth_run.items() if not k.startswith("target.")}
    for stage, parts in (("publish", {"read", "aggregate", "write"}),
                         ("link", {"read", "load", "score", "cluster", "survive", "write"})):
        day1, day2 = measures[f"growth.{stage}.day1_seconds"], measures[f"growth.{stage}.day2_seconds"]
        # Seconds are printed to the millisecond: the derived figures agree within that.
        assert measures[f"growth.{stage}.ratio"] == pytest.approx(day2 / day1, abs=0.02)
        assert measures[f"growth.{stage}.ms_per_day_of_history"] == pytest.approx(
            1000 * (day2 - day1), abs=1.5)
        for day, total in (("day1", day1), ("day2", day2)):
            printed = {k.split(".")[-1]: v for k, v in measures.items()
                       if k.startswith(f"growth.{stage}.{day}.")}
            assert parts <= printed.keys(), (stage, day, sorted(printed))
            assert all(0 < printed[p] <= total * 1.5 for p in parts), (stage, day, printed)
