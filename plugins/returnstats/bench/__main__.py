"""`python -m returnstats.bench [--scale N] [--quick]` (what `make bench` runs): a national
day of N worker records through the DAG's stages, against the floor (DuckDB reading the same
CSVs once and writing Parquet), the orchestration overhead of Airflow, and the growth from
day 1 to day 30. Prints `bench.<stage>.<measure> <value> <unit>` lines, a table and the
targets; writes bench_data/last.json. Never fails the build on a target. See docs/bench.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path

from returnstats.bench.day import (
    AS_OF,
    STAGES,
    clear_outputs,
    generate_day,
    peak_rss_mib,
    stage_in_subprocess,
)
from returnstats.bench.report import Report, Target
from returnstats.config import REPO_ROOT

DEFAULT_SCALE = 1_000_000
ORCHESTRATION_SCALE = 100_000
GROWTH_RECORDS_PER_DAY = 2_000
# The linkage room alone, at a volume where what grows with the known records shows.
LINKAGE_GROWTH_RECORDS_PER_DAY = 50_000
GROWTH_DAYS = 30
# Issue 8's targets on a 2-core machine; a scale other than 1M or 5M is held to the
# targets of the next scale up.
TARGETS = {
    1_000_000: {"day_seconds": 60, "day_peak_rss": 2 * 1024},
    5_000_000: {"day_seconds": 5 * 60, "day_peak_rss": 6 * 1024},
}
GROWTH_LIMIT = 1.5
LINKAGE_OOS_PERSONS = 50_000
# Issue 20's bounds on data the model never saw (the independent generator, 30% of IDs
# missing): precision is the stated target the threshold was chosen for.
LINKAGE_OOS_BOUNDS = {"oos_precision": 0.9995, "oos_recall": 0.995, "oos_mangled_id_recall": 0.99}
LINKAGE_SPEED_LIMIT = 60.0  # seconds: 1M new records against 5M known persons
VALIDATE_FILE_ROWS = 1_000_000
VALIDATE_FILE_LIMIT = 10.0  # seconds, issue 3


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def targets_for(scale: int) -> list[Target]:
    bound = next((s for s in sorted(TARGETS) if scale <= s), max(TARGETS))
    limits = TARGETS[bound]
    label = f"{bound // 1_000_000}m"
    return [
        Target(f"day_seconds_{label}", "day.seconds", limits["day_seconds"], "s"),
        Target(f"day_peak_rss_{label}", "day.peak_rss", limits["day_peak_rss"], "MiB"),
        Target("growth_link_day30_over_day1", "growth.link.ratio", GROWTH_LIMIT, "x"),
        Target("growth_publish_day30_over_day1", "growth.publish.ratio", GROWTH_LIMIT, "x"),
        Target("linkage_increment_day30_over_day1", "linkage.growth_ratio", GROWTH_LIMIT, "x"),
        Target("validate_1m_row_file", "validate_file.seconds", VALIDATE_FILE_LIMIT, "s"),
        Target("linkage_1m_against_5m_known", "linkage.speed_seconds", LINKAGE_SPEED_LIMIT, "s"),
        *(Target(f"linkage_{name}", f"linkage.{name}", bound, "", at_least=True)
          for name, bound in LINKAGE_OOS_BOUNDS.items()),
    ]


def run_validate_file(report: Report, root: Path, rows: int) -> None:
    from returnstats.bench.validate_file import measure_validate_file

    say(f"validating one workers file of {rows:,} rows")
    seconds = measure_validate_file(root, AS_OF, rows)
    for step in ("read", "prepare", "suite", "split"):
        report.add("validate_file", f"{step}_seconds", round(seconds[step], 2), "s")
    report.add("validate_file", "seconds", round(seconds["total"], 2), "s")
    report.add("validate_file", "rows_per_second", round(seconds["rows"] / seconds["total"]), "rows/s")


def count_unit(name: str) -> str:
    """The unit of a count a stage returns, by its name."""
    if name.startswith("rows") or name == "records":
        return "rows"
    if name.endswith("_seconds"):
        return "s"
    return "MiB" if name.endswith("_rss") else "1"


def run_day(report: Report, root: Path, scale: int, profile: Path | None) -> None:
    """Generate the day, run each stage in its own process, record what each cost."""
    began = time.perf_counter()
    shutil.rmtree(root, ignore_errors=True)
    packages = generate_day(root / "landing", AS_OF, scale)
    report.add("generate", "seconds", time.perf_counter() - began, "s")
    report.add("input", "workers", packages.workers, "rows")
    report.add("input", "enterprises", packages.enterprises, "rows")
    report.add("input", "csv_bytes", packages.bytes, "B")
    say(f"generated {packages.workers} worker records in {time.perf_counter() - began:.1f} s")

    clear_outputs(root)
    total, cpu, peak = 0.0, 0.0, 0.0
    for stage in STAGES:
        say(f"stage {stage} …")
        try:
            result = stage_in_subprocess([stage], root, AS_OF, profile)
        except RuntimeError as exc:
            report.add(stage, "failed", 1, "1")
            report.notes.append(f"stage {stage} failed; the day stops there: {str(exc)[-1500:]}")
            say(f"stage {stage} FAILED (see notes in the JSON)")
            return
        measured = result["stages"][stage]
        counts = measured["counts"]
        # A stage that runs a process pool (ingest) reports the pool's CPU and peak memory:
        # its own figures are the driver's only.
        seconds = measured["seconds"]
        stage_cpu = measured["cpu_seconds"] + counts.get("pool_cpu_seconds", 0.0)
        rss = max(result["peak_rss_mib"], counts.get("pool_peak_rss", 0.0))
        total += seconds
        cpu += stage_cpu
        peak = max(peak, rss)
        report.add(stage, "seconds", seconds, "s")
        report.add(stage, "cpu_seconds", stage_cpu, "s")
        report.add(stage, "rows_per_second", packages.workers / seconds if seconds else 0, "rows/s")
        report.add(stage, "peak_rss", round(rss, 1), "MiB")
        for part, part_seconds in measured["parts"].items():
            report.add(f"{stage}.{part}", "seconds", part_seconds, "s")
        for name, value in counts.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                report.add(stage, name, value, count_unit(name))
        say(f"stage {stage}: {seconds:.2f} s, peak {rss:.0f} MiB")
    report.add("day", "seconds", total, "s")
    report.add("day", "cpu_seconds", cpu, "s")
    report.add("day", "rows_per_second", packages.workers / total if total else 0, "rows/s")
    report.add("day", "peak_rss", round(peak, 1), "MiB")


def run_floor(report: Report, root: Path) -> None:
    say("floor: DuckDB CSV → Parquet …")
    done = subprocess.run([sys.executable, "-m", "returnstats.bench.floor", "--landing",
                           str(root / "landing"), "--out", str(root / "floor")],
                          capture_output=True, text=True)
    if done.returncode != 0:
        report.notes.append(f"floor failed: {done.stderr[-1500:]}")
        return
    result = json.loads(done.stdout.strip().splitlines()[-1])
    workers = result["rows"]["workers"]
    report.add("floor", "seconds", result["seconds"], "s")
    report.add("floor", "rows_per_second", workers / result["seconds"], "rows/s")
    report.add("floor", "peak_rss", round(result["peak_rss_mib"], 1), "MiB")
    report.add("floor", "rows", workers + result["rows"]["enterprises"], "rows")
    day = report.get("day.seconds")
    if day:
        report.add("day", "floor_ratio", day / result["seconds"], "x")


def run_orchestration(report: Report, records: int, workdir: Path) -> None:
    from returnstats.bench.orchestration import overhead

    say(f"orchestration: airflow dags test vs plain Python at {records} records …")
    try:
        result = overhead(records, workdir)
    except Exception as exc:  # noqa: BLE001 — reported, the bench goes on
        report.add("orchestration", "failed", 1, "1")
        report.notes.append(f"orchestration failed: {str(exc)[-1500:]}")
        return
    report.add("orchestration", "records", records, "rows")
    report.add("orchestration.airflow", "seconds", result["airflow_seconds"], "s")
    report.add("orchestration.airflow_db_migrate", "seconds", result["migrate_seconds"], "s")
    report.add("orchestration.plain", "seconds", result["plain_seconds"], "s")
    report.add("orchestration.plain_stages", "seconds", result["plain_stage_seconds"], "s")
    report.add("orchestration", "overhead_seconds", result["airflow_seconds"] - result["plain_seconds"], "s")
    report.add("orchestration", "overhead_ratio", result["airflow_seconds"] / result["plain_seconds"], "x")


def run_growth(report: Report, root: Path, records_per_day: int, days: int) -> None:
    """Day 30 against day 1 at equal daily volume, for linkage and publish."""
    say(f"growth: {days} days of {records_per_day} records …")
    done = subprocess.run([sys.executable, "-m", "returnstats.bench.day", "--root", str(root),
                           "--stage", "growth", "--records-per-day", str(records_per_day),
                           "--days", str(days)], capture_output=True, text=True)
    if done.returncode != 0:
        report.add("growth", "failed", 1, "1")
        report.notes.append(f"growth failed: {done.stderr[-1500:]}")
        return
    timings = json.loads(done.stdout.strip().splitlines()[-1])["growth"]
    report.add("growth", "records_per_day", records_per_day, "rows")
    report.add("growth", "days", days, "1")
    parts = timings.pop("parts")
    for stage, seconds in timings.items():
        report.add(f"growth.{stage}", "day1_seconds", seconds[0], "s")
        report.add(f"growth.{stage}", f"day{len(seconds)}_seconds", seconds[-1], "s")
        report.add(f"growth.{stage}", "ratio", seconds[-1] / seconds[0], "x")
        # Where it grows: each part's seconds on both days, and what history adds a day.
        report.add(f"growth.{stage}", "ms_per_day_of_history",
                   1000 * (seconds[-1] - seconds[0]) / max(1, len(seconds) - 1), "ms")
        for day, day_parts in parts[stage].items():
            for part, part_seconds in day_parts.items():
                report.add(f"growth.{stage}.{day}", part, part_seconds, "s")


def run_linkage_growth(report: Report, records_per_day: int, days: int) -> None:
    """The linkage room's own growth bench (`returnstats.bench.linkage.bench_growth`: one
    `link_step` a day from the previous day's chain)."""
    say(f"linkage room growth: {days} increments of {records_per_day} records …")
    try:
        from returnstats.bench import linkage

        measured = linkage.bench_growth(days, records_per_day)
    except Exception as exc:  # noqa: BLE001 — reported, the bench goes on
        report.add("linkage", "failed", 1, "1")
        report.notes.append(f"returnstats.bench.linkage growth failed: {exc!r}")
        return
    for name, (value, unit) in measured.items():
        report.add("linkage", name, value, {"ratio": "x", "records": "rows"}.get(unit, unit))


def run_linkage_out_of_sample(report: Report, persons: int) -> None:
    """Linkage quality on data the model never saw (`returnstats.bench.linkage.
    bench_out_of_sample`: the tests' independent generator, 30% of IDs missing)."""
    say(f"linkage out of sample: {persons:,} persons of the independent generator …")
    try:
        from returnstats.bench import linkage

        measured = linkage.bench_out_of_sample(persons)
    except Exception as exc:  # noqa: BLE001 — reported, the bench goes on
        report.add("linkage", "oos_failed", 1, "1")
        report.notes.append(f"returnstats.bench.linkage out of sample failed: {exc!r}")
        return
    for name, (value, unit) in measured.items():
        report.add("linkage", name, value, {"records": "rows"}.get(unit, unit))


def run_linkage_speed(report: Report) -> None:
    """Linking 1M new records against a state of 5M known persons
    (`returnstats.bench.linkage`, part speed), in a process of its own: generating the
    known state takes about 10 GiB, which is not the driver's to carry."""
    say("linkage speed: 1,000,000 new records against 5,000,000 known persons …")
    done = subprocess.run([sys.executable, "-m", "returnstats.bench.linkage", "--only", "speed"],
                          capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        name, value, unit = line.split()
        if name.startswith("linkage.speed_"):
            report.add("linkage", name.removeprefix("linkage."), float(value),
                       {"records": "rows"}.get(unit, unit))
    if done.returncode != 0:
        report.add("linkage", "speed_failed", 1, "1")
        report.notes.append(f"returnstats.bench.linkage speed failed: {done.stderr[-1000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m returnstats.bench", description=__doc__)
    parser.add_argument("scale_arg", nargs="?", type=int, metavar="SCALE",
                        help="worker records of the day (also --scale, or env SCALE)")
    parser.add_argument("--scale", type=int, default=None)
    parser.add_argument("--quick", action="store_true",
                        help="only the day and the floor: no orchestration, no growth")
    parser.add_argument("--parts",
                        default="day,floor,validate_file,orchestration,growth,linkage,"
                                "linkage_speed",
                        help="which measurements, comma-separated (day,floor,validate_file,"
                             "orchestration,growth,linkage,linkage_speed)")
    parser.add_argument("--validate-rows", type=int, default=VALIDATE_FILE_ROWS,
                        help="rows of the single workers file of validate_file")
    parser.add_argument("--no-orchestration", action="store_true")
    parser.add_argument("--no-growth", action="store_true")
    parser.add_argument("--orchestration-scale", type=int, default=ORCHESTRATION_SCALE)
    parser.add_argument("--growth-records", type=int, default=GROWTH_RECORDS_PER_DAY)
    parser.add_argument("--linkage-growth-records", type=int,
                        default=LINKAGE_GROWTH_RECORDS_PER_DAY)
    parser.add_argument("--growth-days", type=int, default=GROWTH_DAYS)
    parser.add_argument("--profile", action="store_true",
                        help="run each stage under pyinstrument (bench_data/profile/<scale>/)")
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT / "bench_data",
                        help="where the generated day and the results go")
    parser.add_argument("--json", type=Path, default=None, help="default: <workdir>/last.json")
    parser.add_argument("--keep", action="store_true", help="keep the generated day")
    args = parser.parse_args(argv)
    scale = args.scale or args.scale_arg or int(os.environ.get("SCALE") or DEFAULT_SCALE)

    from returnstats.bench.report import machine

    report = Report(scale=scale, machine=machine())
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    root = workdir / f"day-{scale}"
    profile = workdir / "profile" / str(scale) if args.profile else None
    if profile is not None:
        report.notes.append(f"stages ran under pyinstrument (profiles in {profile}); times include its overhead")
    try:
        wanted = set(args.parts.split(","))
        if args.quick:
            wanted &= {"day", "floor"}
        if args.no_orchestration:
            wanted.discard("orchestration")
        if args.no_growth:
            wanted.discard("growth")
        if "day" in wanted:
            run_day(report, root, scale, profile)
        if "floor" in wanted:
            if not (root / "landing").is_dir():
                generate_day(root / "landing", AS_OF, scale)
            run_floor(report, root)
        if "validate_file" in wanted:
            run_validate_file(report, workdir / "validate_file", args.validate_rows)
        if "orchestration" in wanted:
            run_orchestration(report, args.orchestration_scale, workdir)
        if "growth" in wanted:
            run_growth(report, workdir / "growth", args.growth_records, args.growth_days)
        if "linkage" in wanted:
            run_linkage_growth(report, args.linkage_growth_records, args.growth_days)
            run_linkage_out_of_sample(report, LINKAGE_OOS_PERSONS)
        if "linkage_speed" in wanted:
            run_linkage_speed(report)
    except Exception:  # noqa: BLE001 — the bench reports, it never fails the build
        report.notes.append("bench error: " + traceback.format_exc()[-2000:])
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
            shutil.rmtree(workdir / "growth", ignore_errors=True)
            shutil.rmtree(workdir / "validate_file", ignore_errors=True)
    report.judge(targets_for(scale))
    report.add("bench", "driver_peak_rss", round(peak_rss_mib(), 1), "MiB")
    report.machine["loadavg_1m_end"] = machine().get("loadavg_1m")

    print("\n".join(report.lines()))
    print()
    print(report.table())
    for note in report.notes:
        print(f"note: {note}")
    target = args.json or workdir / "last.json"
    report.write_json(target)
    say(f"results in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
