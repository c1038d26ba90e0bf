"""The bench's ingest stage as the DAG runs it: `ingest_province` mapped over the provinces
in parallel task processes, then `build_data_docs` once (`returnstats.bench.day._ingest`).

A process pool of one worker per core stands for the executor's task slots. The workers
are forked from a forkserver that has imported the ingest code and Great Expectations once,
as a long-lived task slot would have. Every result carries the worker's timing parts and
its own CPU seconds and VmHWM, and those of the forkserver, so that the stage's CPU and
peak memory count every process, not only the driver.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from returnstats.bench.day import Parts

# What the workers import before they fork: the ingest code and GX (≈ 4 s, paid once).
PRELOAD = ["returnstats.bench.ingest_pool", "returnstats.validation.ingest",
           "great_expectations"]
# The functions `ingest_province` calls, by the part of the stage they belong to.
# `read_isolated` is the wall time of the child process that reads a package (issue 17).
INGEST_PARTS = {"landing_sha256": "read", "read_isolated": "read",
                "prepare": "validate", "run_suite": "validate", "split_file": "validate",
                "write_package": "stage_write", "save_result": "stage_write"}

Usage = dict[int, tuple[float, float]]
"""CPU seconds and peak RSS (MiB) by process id, as last reported."""


@dataclass
class PoolRun:
    summaries: list[dict[str, Any]]
    """`ingest_province`'s summary of each province, largest province first."""
    parts: dict[str, float]
    """Seconds per part, summed over the workers; `data_docs` is wall time."""
    workers: int
    usage: Usage = field(default_factory=dict)

    @property
    def cpu_seconds(self) -> float:
        return sum(cpu for cpu, _ in self.usage.values())

    @property
    def peak_rss(self) -> float:
        return max((rss for _, rss in self.usage.values()), default=0.0)


def ingest_provinces(settings: Any, as_of: date, provinces: list[str],
                     workers: int) -> PoolRun:
    """`ingest_province` for each province in a pool of `workers` processes, largest
    province first (the longest tasks start early, so the workers finish together), then
    `build_data_docs` once in one of them."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    ordered = sorted(provinces, key=lambda p: _landing_bytes(settings.landing / p), reverse=True)
    run = PoolRun([], {}, workers)
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker) as pool:
        futures = [pool.submit(_ingest_province, settings, p, as_of) for p in ordered]
        for future in futures:
            summary, parts, usage = future.result()
            run.summaries.append(summary)
            _add(run, parts, usage)
        _add(run, *pool.submit(_build_data_docs, settings, as_of).result())
    return run


def _landing_bytes(folder: Path) -> int:
    """Bytes under a province's landing folder, symlinks not followed."""
    return sum(os.lstat(os.path.join(root, name)).st_size
               for root, _, names in os.walk(folder) for name in names)


def _add(run: PoolRun, parts: dict[str, float], usage: Usage) -> None:
    for part, seconds in parts.items():
        run.parts[part] = run.parts.get(part, 0.0) + seconds
    for pid, (cpu, rss) in usage.items():
        # Both only grow in a process: its latest report holds its total so far.
        known = run.usage.get(pid, (0.0, 0.0))
        run.usage[pid] = (max(known[0], cpu), max(known[1], rss))


# --- in the workers --------------------------------------------------------------------------

def _start_worker() -> None:
    """Log as the stage process does (`day.run_stages`): a forked worker starts unconfigured."""
    logging.basicConfig(level=logging.WARNING)


def _usage() -> Usage:
    """This worker's CPU seconds and VmHWM, and those of its parent, the forkserver, which
    did the imports the worker inherited."""
    return {pid: (_cpu_seconds(pid), _peak_rss_mib(pid)) for pid in (os.getpid(), os.getppid())}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) and of its children it has
    waited for (a worker's package readers), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mib(pid: int) -> float:
    """Resident-set high-water mark of a process, MiB (VmHWM, as `day.peak_rss_mib`)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _ingest_province(settings: Any, province: str,
                     as_of: date) -> tuple[dict[str, Any], dict[str, float], Usage]:
    from returnstats.validation import ingest

    parts = Parts()
    with parts.wrap(ingest, INGEST_PARTS):
        summary = ingest.ingest_province(settings, province, as_of)
    return summary, parts.seconds, _usage()


def _build_data_docs(settings: Any, as_of: date) -> tuple[dict[str, float], Usage]:
    from returnstats.validation.data_docs import build_data_docs

    began = time.perf_counter()
    build_data_docs(settings, as_of)
    return {"data_docs": time.perf_counter() - began}, _usage()
