"""Orchestration overhead: the whole DAG through `airflow dags test` (isolated AIRFLOW_HOME,
the Makefile's Airflow environment) beside the same stages run by plain Python in one
process, on copies of the same landing zone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from returnstats.bench.day import (
    AS_OF,
    STAGES,
    clear_outputs,
    generate_day,
    stage_in_subprocess,
    zone_env,
)
from returnstats.config import REPO_ROOT

DAG_ID = "return_to_work_daily"


def airflow_env(airflow_home: Path, root: Path) -> dict[str, str]:
    """The Makefile's embedded-Airflow environment, pointed at a private home and bench root."""
    plugins = str(REPO_ROOT / "plugins")
    return {
        **os.environ,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": plugins,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join(filter(None, [plugins, os.environ.get("PYTHONPATH")])),
        **zone_env(root),
    }


def _airflow(env: dict[str, str], *args: str) -> tuple[float, subprocess.CompletedProcess]:
    airflow = str(Path(sys.executable).with_name("airflow"))
    began = time.perf_counter()
    done = subprocess.run([airflow, *args], env=env, capture_output=True, text=True)
    return time.perf_counter() - began, done


def overhead(records: int, workdir: Path | None = None, as_of: date = AS_OF) -> dict[str, Any]:
    """Wall seconds of `airflow dags test` and of the same stages without Airflow."""
    base = Path(tempfile.mkdtemp(prefix="returnstats-bench-orch-", dir=workdir))
    try:
        plain, dagged = base / "plain", base / "airflow"
        generate_day(plain / "landing", as_of, records)
        shutil.copytree(plain / "landing", dagged / "landing")
        home = base / "airflow_home"
        home.mkdir()
        env = airflow_env(home, dagged)
        migrate_seconds, done = _airflow(env, "db", "migrate")
        if done.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{done.stderr[-3000:]}")
        dag_seconds, done = _airflow(env, "dags", "test", DAG_ID, as_of.isoformat())
        ok = done.returncode == 0 and (dagged / "output" / "bulletins" / as_of.isoformat()).is_dir()
        if not ok:
            tail = (done.stdout + done.stderr)[-3000:]
            raise RuntimeError(f"airflow dags test failed ({done.returncode}):\n{tail}")
        clear_outputs(plain)
        plain_result = stage_in_subprocess(list(STAGES), plain, as_of)
        return {
            "records": records,
            "migrate_seconds": migrate_seconds,
            "airflow_seconds": dag_seconds,
            "plain_seconds": plain_result["process_wall_seconds"],
            "plain_stage_seconds": sum(s["seconds"] for s in plain_result["stages"].values()),
        }
    finally:
        shutil.rmtree(base, ignore_errors=True)
