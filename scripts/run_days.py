"""Run `return_to_work_daily` for one or more as-of dates with Airflow's `dag.test()`.

Used by `make day` and `make run`: one process, the real DAG, the embedded metadata DB.
With `--sample DIR`, the sample packages scheduled to arrive by each date are delivered
into the landing zone before that date runs (the provinces "send" them).

Each day prints one line; everything the run writes (Airflow's and the tasks' logs) goes to
`logs/days/<D>.log`. A day's run id is `manual__<D>T00:00:00+00:00` (its as-of date, as a
scheduled run's id carries its logical date); its start and end dates are the wall-clock
times the run took. A rerun of a day replaces that day's run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOGS = REPO / "logs" / "days"
DAG_ID = "return_to_work_daily"


def _dates(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@contextlib.contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (file descriptors, so child processes and
    Airflow's handlers too) to `path` for the duration.

    Python-level output goes through one text stream over file descriptor 1 that is never
    closed: loggers keep the stream they first saw (structlog does), and on a later day
    that stream must write to that day's log, not fail as a closed file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved, streams = (os.dup(1), os.dup(2)), (sys.stdout, sys.stderr)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        sys.stdout = sys.stderr = _FD1  # also when sys.stdout is not fd 1 (under pytest)
        try:
            yield
        finally:
            _FD1.flush()
            sys.stdout, sys.stderr = streams
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


_FD1 = open(1, "w", encoding="utf-8", buffering=1, closefd=False)  # noqa: SIM115


def _record_wall_clock(run_id: str, started: datetime) -> None:
    """`dag.test()` dates a run's start at its logical date; store when it really started
    (the end date is already the real one)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:
        session.execute(update(DagRun).where(DagRun.dag_id == DAG_ID, DagRun.run_id == run_id)
                        .values(start_date=started))


def _shown(path: Path) -> Path:
    return path.relative_to(REPO) if path.is_relative_to(REPO) else path


def _outcome(run) -> str:
    """The day in a line: the run's state and its provinces' ingest states."""
    states = Counter(str(ti.state) for ti in run.get_task_instances()
                     if ti.task_id == "ingest_province")
    provinces = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    return f"{run.state}; provinces: {provinces}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("first", type=date.fromisoformat, help="first as-of date, YYYY-MM-DD")
    parser.add_argument("last", type=date.fromisoformat, nargs="?", help="last as-of date")
    parser.add_argument("--sample", type=Path, help="sample directory to deliver from")
    parser.add_argument("--force-send", action="store_true", help="resend an already sent bulletin")
    parser.add_argument("--logs", type=Path, default=LOGS, help=f"where the days' logs go ({LOGS})")
    args = parser.parse_args(argv)
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")  # into logs/days/<D>.log
    # dag.test() runs unattended: complete vintages are approved by `auto` (SPEC §8).
    os.environ.setdefault("RETURNSTATS_APPROVAL", "auto")
    os.environ.setdefault("RETURNSTATS_DEPLOYMENT", "embedded")

    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.state import DagRunState
    from returnstats.config import load_settings

    settings = load_settings()
    with _output_to(args.logs / "dagbag.log"):
        bag = DagBag(dag_folder=str(REPO / "dags"))
    if bag.import_errors:
        for path, error in bag.import_errors.items():
            print(f"DAG import error in {path}:\n{error}", file=sys.stderr)
        return 1
    dag = bag.dags[DAG_ID]
    for as_of in _dates(args.first, args.last or args.first):
        log = args.logs / f"{as_of}.log"
        logical = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)
        started, clock = datetime.now(UTC), time.monotonic()
        with _output_to(log):
            if args.sample:
                subprocess.run(
                    [sys.executable, "-m", "returnstats.sample", "deliver", "--sample",
                     str(args.sample), "--landing", str(settings.landing),
                     "--through", as_of.isoformat()],
                    check=True,
                )
            # run_after = the as-of date gives the run id manual__<D>T00:00:00+00:00
            run = dag.test(logical_date=logical, run_after=logical,
                           run_conf={"force_send": args.force_send})
            _record_wall_clock(run.run_id, started)
        line = (f"{DAG_ID} {as_of}: {_outcome(run)} "
                f"({time.monotonic() - clock:.0f} s; log: {_shown(log)})")
        if run.state != DagRunState.SUCCESS:
            print(line, file=sys.stderr)
            return 1
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
