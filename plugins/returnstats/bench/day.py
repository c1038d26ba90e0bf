"""A national day at a chosen volume: its packages (31 provinces, UTF-8 CSV, valid manifest,
built from the sample generator's model) and the DAG's stages run on them with the DAG's
own functions, each stage in a fresh process so that its peak memory is its own.

`python -m returnstats.bench.day --stage S --root R --as-of D` runs one stage and prints
one JSON line (seconds, parts, counts, peak RSS); `__main__` drives it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

STAGES = ("ingest", "link", "publish", "render", "send")
BENCH_KEY = "returnstats-bench-key-not-a-secret"
CAMPAIGN_START = date(2020, 2, 10)
AS_OF = date(2020, 2, 17)
# Persons per worker record of the sample model: cross-province persons are reported by the
# sending and/or the receiving province (≈1.48 records a person), so a few extra are drawn
# and the surplus records dropped.
RECORDS_PER_PERSON = 1.45


@dataclass(frozen=True)
class DayPackages:
    landing: Path
    report_date: date
    workers: int
    enterprises: int
    bytes: int
    csv_files: tuple[Path, ...]


def zone_env(root: Path) -> dict[str, str]:
    """The RETURNSTATS_* environment of a bench root (the DAG reads its settings from it)."""
    root = Path(root).resolve()
    return {
        "RETURNSTATS_LANDING": str(root / "landing"),
        "RETURNSTATS_STAGING": str(root / "staging"),
        "RETURNSTATS_WAREHOUSE": str(root / "warehouse"),
        "RETURNSTATS_OUTPUT": str(root / "output"),
        "RETURNSTATS_CAMPAIGN_START": CAMPAIGN_START.isoformat(),
        "RETURNSTATS_PSEUDONYM_KEY": BENCH_KEY,
    }


def clear_outputs(root: Path) -> None:
    """Forget everything but the landing zone, so the day runs from scratch."""
    for zone in ("staging", "warehouse", "output"):
        shutil.rmtree(Path(root) / zone, ignore_errors=True)


def generate_day(landing: Path, report_date: date, records: int, seed: int = 8,
                 provinces: tuple[str, ...] | None = None) -> DayPackages:
    """Write one package per province (all 31, or `provinces`) for `report_date` holding
    `records` worker records in all (English-header UTF-8 CSV, canonical values, the sample
    model's noise) plus each province's enterprise status list."""
    import numpy as np
    import pandas as pd

    from returnstats.sample import model
    from returnstats.sample import reference as ref
    from returnstats.sample.packages import (
        Style,
        format_enterprises,
        format_workers,
        manifest_bytes,
        sha256,
        to_bytes,
        write_package,
    )

    style = Style()
    rng = np.random.default_rng(seed)
    register = model.enterprises(rng)
    chosen = tuple(provinces or ref.provinces())
    # Persons are drawn nationally, in chunks of what the whole country needs for
    # `records`, until the chosen provinces report enough: one province's million records
    # never means drawing the country's thirty million at once.
    persons = math.ceil(records / RECORDS_PER_PERSON) + 10
    chunks, found = [], 0
    while found < records:
        people = model.persons(rng, report_date, 1, persons, register)
        chunk = model.records(rng, people, 1, (CAMPAIGN_START - report_date).days)
        chunks.append(chunk[chunk["province"].isin(chosen)])
        found += len(chunks[-1])
        del people, chunk
    rec = pd.concat(chunks, ignore_index=True)
    rec = rec.iloc[np.sort(rng.choice(len(rec), records, replace=False))]
    rec = rec.assign(order=rng.random(len(rec))).sort_values(["province", "order"], ignore_index=True)
    rec["row_number"] = rec.groupby("province").cumcount() + 1
    ymd = f"{report_date:%Y%m%d}"
    rec["record_id"] = [f"{p}{ymd}{r:06d}" for p, r in zip(rec["province"], rec["row_number"])]

    ent = register[register["province"].isin(chosen)].assign(report_day=0, status_day=0)
    ent["workers_supplied"] = model.workers_supplied(ent, np.zeros(len(ent)))
    by_province_w = dict(tuple(rec.groupby("province", sort=False)))
    by_province_e = dict(tuple(ent.groupby("province", sort=False)))
    total_bytes, csv_files = 0, []
    for province in chosen:
        workers = by_province_w.get(province, rec.iloc[:0])
        enterprises = by_province_e.get(province, ent.iloc[:0])
        w_bytes = to_bytes(format_workers(workers, style, report_date), style, "workers")
        e_bytes = to_bytes(format_enterprises(enterprises, style, report_date), style, "enterprises")
        manifest = {
            "province": province,
            "report_date": report_date.isoformat(),
            "version": 1,
            "submitted_at": f"{report_date.isoformat()}T18:00:00+08:00",
            "files": [
                {"kind": "workers", "name": "workers.csv", "rows": len(workers), "sha256": sha256(w_bytes)},
                {"kind": "enterprises", "name": "enterprises.csv", "rows": len(enterprises),
                 "sha256": sha256(e_bytes)},
            ],
        }
        path = Path(landing) / province / f"{province}_{ymd}_v1"
        write_package(path, [("manifest.json", manifest_bytes(manifest)), ("workers.csv", w_bytes),
                             ("enterprises.csv", e_bytes)], zipped=False)
        total_bytes += len(w_bytes) + len(e_bytes)
        csv_files += [path / "workers.csv", path / "enterprises.csv"]
    return DayPackages(Path(landing), report_date, len(rec), len(ent), total_bytes, tuple(csv_files))


# --- timing the parts of a stage -----------------------------------------------------------

class Parts:
    """Wall time per part of a stage, by wrapping the functions the stage calls by name
    (module attributes), so the stage itself runs unchanged."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def wrap(self, module: Any, functions: dict[str, str]) -> Iterator[None]:
        # A name the module no longer has (another room renamed it) is left to "other".
        originals = {name: getattr(module, name) for name in functions if hasattr(module, name)}

        def timed(part: str, function: Any) -> Any:
            def call(*args: Any, **kwargs: Any) -> Any:
                began = time.perf_counter()
                try:
                    return function(*args, **kwargs)
                finally:
                    self.seconds[part] = self.seconds.get(part, 0.0) + time.perf_counter() - began
            return call

        for name, function in originals.items():
            setattr(module, name, timed(functions[name], function))
        try:
            yield
        finally:
            for name, function in originals.items():
                setattr(module, name, function)


def _ingest(settings: Any, as_of: date, parts: Parts) -> dict[str, Any]:
    """The DAG's mapped `ingest_province` tasks, run in parallel by a pool of
    `os.cpu_count()` worker processes, then `build_data_docs` once (`bench.ingest_pool`).

    Parts: `read`, `validate` and `stage_write` are seconds summed over the workers
    (worker-seconds, about CPU seconds with one worker per core), so they add up to more
    than the stage's wall time and `other` is not meaningful; `data_docs` is wall time.
    This process only waits, so the counts carry the pool's own figures:
    `pool_cpu_seconds` (workers and their forkserver) and `pool_peak_rss` (the highest
    VmHWM among them; they run side by side, so together they hold more). `run_day` adds
    the first to the stage's CPU and takes the higher of the second and this process's
    peak as the stage's peak.
    """
    from returnstats.bench.ingest_pool import ingest_provinces

    provinces = sorted(p.name for p in settings.landing.iterdir() if p.is_dir())
    workers = max(1, min(os.cpu_count() or 1, len(provinces)))
    run = ingest_provinces(settings, as_of, provinces, workers)
    parts.seconds.update(run.parts)
    packages = [p for s in run.summaries for p in s["packages"]]
    return {
        "packages": len(packages),
        "rejected": sum(p["status"] != "accepted" for p in packages),
        "rows_received": sum(p["rows_received"] for p in packages),
        "rows_accepted": sum(p["rows_accepted"] for p in packages),
        "rows_quarantined": sum(p["rows_quarantined"] for p in packages),
        "workers": run.workers,
        "pool_cpu_seconds": run.cpu_seconds,
        "pool_peak_rss": run.peak_rss,
    }


def _link(settings: Any, as_of: date, parts: Parts) -> dict[str, Any]:
    from returnstats.linkage import run, store
    from returnstats.linkage.keys import resolve_key
    from returnstats.validation import staging

    key = resolve_key(None, None)
    with parts.wrap(staging, {"read_arrow": "read"}), \
            parts.wrap(store, {"write_delta": "write", "write_chain": "write"}), \
            parts.wrap(run, {"new_state_rows": "prepare", "_load_working_set": "load",
                             "score_pairs": "score", "_cluster": "cluster",
                             "survive": "survive"}):
        result = run.link_as_of(settings, as_of, key)
    return {k: v for k, v in result.stats.items() if k != "seconds"}


def _publish(settings: Any, as_of: date, parts: Parts) -> dict[str, Any]:
    from returnstats.figures import publish
    from returnstats.validation import staging

    with parts.wrap(staging, {"read_staged": "read"}), \
            parts.wrap(publish, {"read_linkage": "read", "read_increment": "read",
                                 "compute_segmented": "aggregate", "compute_tables": "aggregate",
                                 "compute_increment": "aggregate",
                                 "compute_by_increment": "aggregate",
                                 "publish_tables": "write"}):
        summary = publish.publish_as_of(settings, as_of)
    return {"rows_published": sum(summary["rows"].values()),
            "returns_cumulative": summary["headline"].get("returns_cumulative", 0)}


def _render(settings: Any, as_of: date, parts: Parts) -> dict[str, Any]:
    from returnstats.bulletin.render import render_bulletin

    files = render_bulletin(settings, as_of)
    return {"files": sum(1 for p in files.directory.rglob("*") if p.is_file())}


def _send(settings: Any, as_of: date, parts: Parts) -> dict[str, Any]:
    """The DAG's release and send steps: the vintage approved by `auto` (as
    `RETURNSTATS_APPROVAL=auto` does), then the bulletin built and delivered."""
    from returnstats import release
    from returnstats.bulletin.mail import build_message, deliver
    from returnstats.bulletin.render import load_bulletin_files

    release.approve(settings.warehouse, as_of, by=release.AUTO)
    message = build_message(settings, as_of, load_bulletin_files(settings, as_of), settings.recipients)
    return {"outcome": deliver(settings, as_of, message, send=None, force=True)}


RUNNERS = {"ingest": _ingest, "link": _link, "publish": _publish, "render": _render, "send": _send}


def settings_for(root: Path) -> Any:
    """The settings the DAG would load with the bench root's RETURNSTATS_* environment."""
    os.environ.update(zone_env(root))
    from returnstats.config import load_settings

    settings = load_settings()
    settings.ensure_dirs()
    return settings


def run_stages(stages: list[str], root: Path, as_of: date, profile: Path | None = None) -> dict[str, Any]:
    """Run `stages` in this process, in order; seconds, parts and counts for each."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    settings = settings_for(root)
    results: dict[str, Any] = {}
    for stage in stages:
        # Import the stage's modules before the clock starts, as a task process would have
        # them imported by the time it calls the function.
        parts = Parts()
        profiler = None
        if profile is not None:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.005)
            profiler.start()
        began, cpu_began = time.perf_counter(), cpu_seconds()
        counts = RUNNERS[stage](settings, as_of, parts)
        seconds, cpu = time.perf_counter() - began, cpu_seconds() - cpu_began
        if profiler is not None:
            profiler.stop()
            profile.mkdir(parents=True, exist_ok=True)
            (profile / f"{stage}.txt").write_text(
                profiler.output_text(unicode=True, color=False, show_all=False), encoding="utf-8")
            (profile / f"{stage}.html").write_text(profiler.output_html(), encoding="utf-8")
        if parts.seconds:
            parts.seconds["other"] = max(0.0, seconds - sum(parts.seconds.values()))
        results[stage] = {"seconds": seconds, "cpu_seconds": cpu, "parts": parts.seconds,
                          "counts": counts}
    return results


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads (DuckDB's included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib() -> float:
    """This process's resident-set high-water mark, MiB. VmHWM belongs to the process's own
    address space; `ru_maxrss` would not do in a child: Linux carries it across execve, so
    a stage would inherit the driver's peak at fork time."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage_in_subprocess(stages: list[str], root: Path, as_of: date,
                        profile: Path | None = None) -> dict[str, Any]:
    """Run `stages` in a fresh interpreter; their results, its wall time and peak RSS."""
    command = [sys.executable, "-m", "returnstats.bench.day", "--root", str(root),
               "--as-of", as_of.isoformat(), "--stage", ",".join(stages)]
    if profile is not None:
        command += ["--profile", str(profile)]
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **zone_env(root)})
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"stage {stages} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_wall_seconds"] = wall
    return result


# --- growth: day 30 against day 1 at equal daily volume --------------------------------------

# Growth days come from two provinces only: ingest's cost is mostly per file (the GX
# suites), and linkage and publish grow with records and vintages, not with provinces.
GROWTH_PROVINCES = ("44", "41")


GROWTH_REPEATS = 5

Timed = tuple[float, dict[str, float]]
"""A run's wall seconds and the seconds of its parts."""


def timed_run(run: Any, reset: Any = None) -> Any:
    """A call of `run(parts)` that returns its `Timed`, `reset()` called untimed first."""
    def once() -> Timed:
        if reset is not None:
            reset()
        parts = Parts()
        began = time.perf_counter()
        run(parts)
        return time.perf_counter() - began, parts.seconds
    return once


def alternating_medians(runs: dict[str, Any], repeats: int) -> dict[str, Timed]:
    """Each of `runs` (name → `timed_run`) `repeats` times, taking turns (a, b, a, b, …),
    so that a slow spell of a shared machine falls on all of them alike; the median
    seconds of each, and the median of each of its parts.

    Measured one after the other instead, day 1 and day 30 of the growth bench fell
    minutes apart, and their ratio swung from 0.8 to 1.6 between runs of the same code."""
    results: dict[str, list[Timed]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, once in runs.items():
            results[name].append(once())
    middle = repeats // 2
    medians = {}
    for name, timed in results.items():
        parts = sorted({part for _, seconds in timed for part in seconds})
        medians[name] = (sorted(total for total, _ in timed)[middle],
                         {part: sorted(seconds.get(part, 0.0) for _, seconds in timed)[middle]
                          for part in parts})
    return medians


def _forget_delta(settings: Any, as_of: date) -> None:
    """Delete the linkage delta that the run of `as_of` wrote, if any: a rerun finds it
    in place and skips writing, which a timed rerun must not."""
    from returnstats.linkage import run, store

    directory = run.linkage_dir(settings, as_of)
    if (directory / store.CHAIN_FILE).is_file():
        chain = store.read_chain(directory)
        if chain.deltas:
            shutil.rmtree(store.delta_dir(store.linkage_root(settings.staging), chain.deltas[-1]),
                          ignore_errors=True)


def growth(root: Path, records_per_day: int, days: int = 30) -> dict[str, Any]:
    """Publish `days` vintages, each day adding `records_per_day` new records; the seconds of
    linkage and publish on every day (the DAG's functions, in this process), and of their
    parts (`Parts`) on the first and the last day.

    The first and the last day are then measured again, `GROWTH_REPEATS` times each and
    taking turns (`alternating_medians`): the first on a copy of the root as it stood
    after day 1 (so that nothing of the later days is in its way), the last on the root
    itself. Their medians replace the single runs of those days."""
    if days < 2:
        raise ValueError("growth compares the last day with the first: at least two days")
    shutil.rmtree(root, ignore_errors=True)
    first_root = root.with_name(root.name + "-day1")
    shutil.rmtree(first_root, ignore_errors=True)
    settings = settings_for(root)
    timings: dict[str, Any] = {"link": [], "publish": [], "parts": {"link": {}, "publish": {}}}
    for day in range(days):
        as_of = AS_OF + timedelta(days=day)
        generate_day(settings.landing, as_of, records_per_day, seed=1000 + day, provinces=GROWTH_PROVINCES)
        _ingest(settings, as_of, Parts())
        for stage in ("link", "publish"):
            run = partial(RUNNERS[stage], settings, as_of)
            if day == 0:
                # Day 1 runs once more (idempotent) so that its timing excludes the
                # process's first imports (Splink, DuckDB) — day 30 never pays them.
                run(Parts())
            timings[stage].append(timed_run(run)()[0])
        if day == 0:
            shutil.copytree(root, first_root)
    last = AS_OF + timedelta(days=days - 1)
    first_settings, settings = settings_for(first_root), settings_for(root)
    try:
        for stage in ("link", "publish"):
            def runner(settings: Any, as_of: date, stage: str = stage) -> Any:
                reset = partial(_forget_delta, settings, as_of) if stage == "link" else None
                return timed_run(partial(RUNNERS[stage], settings, as_of), reset)

            measured = alternating_medians(
                {"day1": runner(first_settings, AS_OF), f"day{days}": runner(settings, last)},
                GROWTH_REPEATS)
            timings[stage][0], timings[stage][-1] = measured["day1"][0], measured[f"day{days}"][0]
            timings["parts"][stage] = {day: parts for day, (_, parts) in measured.items()}
    finally:
        shutil.rmtree(first_root, ignore_errors=True)
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m returnstats.bench.day", description=__doc__)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, default=AS_OF)
    parser.add_argument("--stage", default=",".join(STAGES), help="comma-separated, or 'growth'")
    parser.add_argument("--profile", type=Path, help="write pyinstrument profiles here")
    parser.add_argument("--records-per-day", type=int, default=2000, help="growth only")
    parser.add_argument("--days", type=int, default=30, help="growth only")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    if args.stage == "growth":
        result: dict[str, Any] = {"growth": growth(args.root, args.records_per_day, args.days)}
    else:
        result = {"stages": run_stages(args.stage.split(","), args.root, args.as_of, args.profile)}
    result["seconds"] = time.perf_counter() - began
    result["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
