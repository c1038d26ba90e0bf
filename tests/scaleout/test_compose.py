"""docker-compose.yaml follows the Compose specification and Airflow 3's official shape,
commits no secret, and is in step with the environment the scale-out test runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema

from tests.scaleout.environment import HOST_SIDE, TEST_ONLY_KEYS, common_environment, compose

# The Compose specification's JSON schema, as vendored by check-jsonschema 0.39.0
# (check_jsonschema/builtin_schemas/vendor/compose-spec.json, Apache-2.0).
SCHEMA = Path(__file__).with_name("compose-spec.json")

COMMANDS = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-worker": "celery worker",
    "airflow-triggerer": "triggerer",
}


def test_compose_file_is_valid_against_the_compose_specification():
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(compose())


def test_every_airflow_component_runs_from_the_common_anchor():
    services = compose()["services"]
    assert {"postgres", "redis", "mailpit", "airflow-init", *COMMANDS} <= services.keys()
    common = compose()["x-airflow-common"]
    assert "apache/airflow:3.3.2-python3.11" in common["build"]["dockerfile_inline"]
    assert "requirements.txt" in common["build"]["dockerfile_inline"]
    for name, command in COMMANDS.items():
        assert services[name]["command"] == command, name
        assert services[name]["image"] == common["image"], name
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_celery_postgres_redis_and_the_execution_api_are_configured():
    env = common_environment()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert "mailpit:1025" in env["AIRFLOW_CONN_SMTP_DEFAULT"]


def test_code_is_mounted_and_data_lives_on_named_volumes():
    document = compose()
    volumes = document["x-airflow-common"]["volumes"]
    for folder in ("dags", "plugins", "include"):
        assert f"./{folder}:/opt/airflow/{folder}:ro" in volumes
    env = common_environment()
    for zone in ("landing", "staging", "warehouse", "output"):
        path = env[f"RETURNSTATS_{zone.upper()}"]
        assert f"returnstats-{zone}:{path}" in volumes
        assert f"returnstats-{zone}" in document["volumes"]


def test_no_secret_is_committed_and_ports_bind_to_localhost():
    document = compose()
    env = common_environment()
    for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API__SECRET_KEY",
                "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW_VAR_RETURNSTATS_PSEUDONYM_SECRET"):
        assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", env[key]), key
    assert "${POSTGRES_PASSWORD:?" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert "${POSTGRES_PASSWORD:?" in document["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]
    for name, service in document["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


def test_scaleout_environment_is_in_step_with_compose():
    env = common_environment()
    assert HOST_SIDE <= env.keys(), sorted(HOST_SIDE - env.keys())
    assert not TEST_ONLY_KEYS & env.keys(), "a compose setting must not be overridden as test-only"
    # Every returnstats setting the operator may set in compose reaches the test unchanged.
    for key in ("RETURNSTATS_CAMPAIGN_START", "RETURNSTATS_RECIPIENTS", "RETURNSTATS_ONCALL",
                "RETURNSTATS_CUTOFF", "RETURNSTATS_CUTOFF_OVERRIDES"):
        assert key in env and key not in HOST_SIDE, key
