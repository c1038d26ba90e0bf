"""Run `return_to_work_daily` for one or more as-of dates with Airflow's `dag.test()`.

Used by `make day` and `make run`: one process, the real DAG, the embedded metadata DB.
With `--sample DIR`, the sample packages scheduled to arrive by each date are delivered
into the landing zone before that date runs (the provinces "send" them).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _dates(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("first", type=date.fromisoformat, help="first as-of date, YYYY-MM-DD")
    parser.add_argument("last", type=date.fromisoformat, nargs="?", help="last as-of date")
    parser.add_argument("--sample", type=Path, help="sample directory to deliver from")
    parser.add_argument("--force-send", action="store_true", help="resend an already sent bulletin")
    args = parser.parse_args(argv)
    # Task logs stay in AIRFLOW_HOME/logs; the console shows warnings and the day's outcome.
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    # dag.test() runs unattended: complete vintages are approved by `auto` (SPEC §8).
    os.environ.setdefault("RETURNSTATS_APPROVAL", "auto")
    os.environ.setdefault("RETURNSTATS_DEPLOYMENT", "embedded")

    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.state import DagRunState
    from returnstats.config import load_settings

    settings = load_settings()
    bag = DagBag(dag_folder=str(REPO / "dags"))
    if bag.import_errors:
        for path, error in bag.import_errors.items():
            print(f"DAG import error in {path}:\n{error}", file=sys.stderr)
        return 1
    dag = bag.dags["return_to_work_daily"]
    for as_of in _dates(args.first, args.last or args.first):
        if args.sample:
            subprocess.run(
                [sys.executable, "-m", "returnstats.sample", "deliver", "--sample", str(args.sample),
                 "--landing", str(settings.landing), "--through", as_of.isoformat()],
                check=True,
            )
        run = dag.test(
            logical_date=datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC),
            run_conf={"force_send": args.force_send},
        )
        if run.state != DagRunState.SUCCESS:
            print(f"return_to_work_daily {as_of}: run ended {run.state}", file=sys.stderr)
            return 1
        print(f"return_to_work_daily {as_of}: success")
    return 0


if __name__ == "__main__":
    sys.exit(main())
