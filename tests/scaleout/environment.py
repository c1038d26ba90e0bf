"""One definition of the Airflow environment: docker-compose.yaml's `x-airflow-common`.

The scale-out test runs the same components on this machine. It takes the compose
environment as it is, except the keys in HOST_SIDE (container paths, service host names,
secrets from `.env`), which it must give host equivalents for, and adds TEST_ONLY tuning.
`test_compose.py` keeps the three in step, so a setting added to compose reaches the test.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yaml"

# Keys whose compose value only makes sense inside the containers (or is a secret read
# from `.env`); the scale-out test supplies its own value, None meaning "leave unset".
HOST_SIDE = frozenset({
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__BASE_URL",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__PLUGINS_FOLDER",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
    "AIRFLOW__LOGGING__BASE_LOG_FOLDER",
    "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK",
    "AIRFLOW_CONN_SMTP_DEFAULT",
    "AIRFLOW_VAR_RETURNSTATS_PSEUDONYM_SECRET",
    "PYTHONPATH",
    "RETURNSTATS_LANDING",
    "RETURNSTATS_STAGING",
    "RETURNSTATS_WAREHOUSE",
    "RETURNSTATS_OUTPUT",
})

# Only for the test: its own AIRFLOW_HOME and ports, no cron-created runs (it triggers and
# backfills past dates itself), quick DAG discovery on a small shared machine.
TEST_ONLY_KEYS = frozenset({
    "AIRFLOW_HOME",
    "AIRFLOW__API__HOST",
    "AIRFLOW__API__PORT",
    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
    "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL",
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES",
    "AIRFLOW__CORE__UNIT_TEST_MODE",
})

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|:\?|-|\?)(?P<arg>[^}]*))?\}")


def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def common_environment() -> dict[str, str]:
    """`x-airflow-common.environment`, values as written (not interpolated)."""
    return {key: str(value) for key, value in compose()["x-airflow-common"]["environment"].items()}


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose interpolation: `${X}`, `${X:-default}`, `${X:?error}`, `$$`."""

    def replace(match: re.Match) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if variables.get(name):
            return variables[name]
        if op in (":?", "?"):
            raise KeyError(f"{name} is required: {arg}")
        return arg or "" if op in (":-", "-") else ""

    return _VARIABLE.sub(replace, value).replace("$$", "$")


def scaleout_environment(host_side: dict[str, str | None], test_only: dict[str, str],
                         variables: dict[str, str] | None = None) -> dict[str, str]:
    """The compose environment for processes on this machine (no `os.environ` merged)."""
    missing = HOST_SIDE - host_side.keys()
    unknown = (host_side.keys() - HOST_SIDE) | (test_only.keys() - TEST_ONLY_KEYS)
    if missing or unknown:
        raise ValueError(f"host side missing {sorted(missing)}, unknown keys {sorted(unknown)}")
    env = {key: interpolate(value, variables or {})
           for key, value in common_environment().items() if key not in HOST_SIDE}
    env.update({key: value for key, value in host_side.items() if value is not None})
    env.update(test_only)
    return env
