"""Scale-out: the real Airflow components on PostgreSQL and Redis, as docker-compose runs them.

One deployment per module, in a temporary AIRFLOW_HOME: a fresh PostgreSQL database
(metadata and Celery results), a free Redis database (broker), then `airflow db migrate`,
`api-server` (127.0.0.1, a free port), `scheduler`, `dag-processor` and two `celery
worker`s (concurrency 2 each) as subprocesses with docker-compose.yaml's environment
(`tests/scaleout/environment.py`). The two workers stand for two hosts (docs/scaling.md):
each has its own directory, AIRFLOW_HOME, landing copy, output, linkage mirror and host
name (`AIRFLOW__CORE__HOSTNAME_CALLABLE=os.getcwd`: on one machine they differ by their
directory); they share only PostgreSQL, Redis and staging plus the warehouse in a bucket
of moto's S3 server (tests/s3.py), credentials in the `aws_default` connection. Worker B
alone serves the `output` queue (RETURNSTATS_OUTPUT_QUEUE). The tests drive it through the public REST API and the
CLI like an operator: trigger two days, then backfill the three-day window with
`airflow backfill create` and compare with the same days run one by one by `dag.test()`.
As in docker-compose.yaml, `RETURNSTATS_APPROVAL=required`: every run waits in
`approve_bulletin` until the test approves or rejects it through the REST API, and the
bulletin and the on-call alerts go through a real `smtp_default` connection to an aiosmtpd
server on 127.0.0.1. Every process group is killed and the database dropped at the end,
also on failure.

PostgreSQL or Redis absent: skipped, or failed when CI=true (.ci/run starts both).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import requests
from aiosmtpd.controller import Controller
from returnstats.sample import deliver, generate

from tests.scaleout.environment import REPO, scaleout_environment

pytestmark = pytest.mark.scaleout

DAG_ID = "return_to_work_daily"
START = date(2020, 2, 17)
DAYS = 3
PERSONS_PER_DAY = 500
RUN_TIMEOUT = 8 * 60
POSTGRES = dict(host=os.environ.get("SCALEOUT_PGHOST", "127.0.0.1"),
                port=int(os.environ.get("SCALEOUT_PGPORT", "5432")),
                user=os.environ.get("SCALEOUT_PGUSER", "postgres"))
REDIS = dict(host=os.environ.get("SCALEOUT_REDIS_HOST", "127.0.0.1"),
             port=int(os.environ.get("SCALEOUT_REDIS_PORT", "6379")))
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


HOSTS = ("host-a", "host-b")
OUTPUT_HOST = "host-b"


def _day(i: int) -> date:
    return START + timedelta(days=i)


def _logical(as_of: date) -> str:
    """The scheduled logical date of day D (cron 0 12 * * *), so a backfill reruns it."""
    return f"{as_of.isoformat()}T12:00:00+00:00"


def _unavailable(reason: str):
    message = f"scale-out test needs PostgreSQL and Redis on this machine: {reason}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI=true: .ci/run starts them)")
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mailbox:
    """An SMTP server on 127.0.0.1 that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def subjects(self, to: str) -> list[str]:
        from email import message_from_bytes
        from email.policy import default

        return [message_from_bytes(raw, policy=default)["Subject"]
                for rcpts, raw in self.messages if to in rcpts]


@pytest.fixture(scope="module")
def mailbox():
    port = _free_port()
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    box.port = port
    try:
        yield box
    finally:
        controller.stop()


class Deployment:
    """The running components and what the tests need to talk to them."""

    def __init__(self, root: Path, env: dict[str, str], base_url: str, password: str):
        self.root, self.env, self.base_url, self.password = root, env, base_url, password
        self.processes: dict[str, subprocess.Popen] = {}
        self.session = requests.Session()

    # processes -------------------------------------------------------------------------
    def start(self, name: str, *args: str, host: dict[str, str] | None = None,
              cwd: Path | None = None) -> None:
        log = open(self.root / "logs" / f"{name}.log", "wb")  # noqa: SIM115 — closed with the process
        self.processes[name] = subprocess.Popen(
            [AIRFLOW, *args], env={**self.env, **(host or {})}, cwd=cwd or self.root,
            stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with all its children
        )

    # the hosts and the shared store ----------------------------------------------------
    def host(self, name: str) -> Path:
        return self.root / name

    def deliver(self, sample: Path, through: date) -> None:
        """The provinces deliver: every host reads the same drop (its own copy)."""
        for name in HOSTS:
            deliver(sample=sample, landing=self.host(name) / "landing", through=through)

    def warehouse(self) -> duckdb.DuckDBPyConnection:
        """The catalog in the bucket, as a statistician opens it without httpfs: the file
        downloaded, the bucket's filesystem registered."""
        fs = self.s3.filesystem()
        copy = self.root / f"catalog-{time.monotonic_ns()}.duckdb"
        copy.write_bytes(fs.cat_file(f"{self.bucket}/warehouse/warehouse.duckdb"))
        con = duckdb.connect(str(copy), read_only=True)
        con.register_filesystem(fs)
        return con

    def query(self, sql: str, params: dict | None = None) -> list[tuple]:
        con = self.warehouse()
        try:
            return con.execute(sql, params or {}).fetchall()
        finally:
            con.close()

    def task_instances(self, run_id: str) -> list[dict]:
        response = self.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances",
                            params={"limit": 100})
        response.raise_for_status()
        return response.json()["task_instances"]

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise AssertionError(f"{name} exited with {process.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.root / "logs" / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
            alive = [p for p in self.processes.values() if p.poll() is None]
            for process in alive:
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait
            for process in alive:
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        # Task processes forked by the worker live in the worker's group; make sure.
        for process in self.processes.values():
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def cli(self, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
        result = subprocess.run([AIRFLOW, *args], env=self.env, cwd=self.root,
                                capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, f"airflow {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result

    # REST API --------------------------------------------------------------------------
    def login(self) -> None:
        response = self.session.post(f"{self.base_url}/auth/token", timeout=30,
                                     json={"username": "admin", "password": self.password})
        response.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, f"{self.base_url}/api/v2{path}", timeout=30, **kwargs)

    def wait_for(self, what: str, probe, timeout: float, every: float = 2.0):
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                result = probe()
            except requests.RequestException:
                result = None
            if result:
                return result
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {n}\n{self.tail(n)}" for n in self.processes)
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{logs}")
            time.sleep(every)

    def dag_runs(self) -> list[dict]:
        response = self.api("GET", f"/dags/{DAG_ID}/dagRuns",
                            params={"order_by": "logical_date", "limit": 100})
        response.raise_for_status()
        return response.json()["dag_runs"]

    def run_until_done(self, run_id: str) -> dict:
        def done():
            run = self.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}").json()
            return run if run.get("state") in ("success", "failed") else None

        return self.wait_for(f"run {run_id}", done, RUN_TIMEOUT, every=5)

    def task_state(self, run_id: str, task_id: str) -> str | None:
        response = self.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}")
        return response.json().get("state") if response.ok else None

    def decide(self, run_id: str, option: str, reason: str = "") -> dict:
        """Wait until the run asks for approval, then answer as the user `admin`."""
        self.wait_for(f"{run_id} to ask for approval",
                      lambda: self.task_state(run_id, "approve_bulletin") == "awaiting_input",
                      RUN_TIMEOUT, every=3)
        response = self.api("PATCH", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/"
                            "approve_bulletin/-1/hitlDetails",
                            json={"chosen_options": [option], "params_input": {"reason": reason}})
        assert response.ok, response.text
        return response.json()

    def trigger(self, run_id: str, logical_date: str) -> None:
        response = self.api("POST", f"/dags/{DAG_ID}/dagRuns", json={
            "dag_run_id": run_id, "logical_date": logical_date, "conf": {}})
        assert response.status_code in (200, 201), response.text

    def failed_tasks(self, run_id: str) -> list[str]:
        response = self.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances",
                            params={"limit": 100})
        return [f"{t['task_id']}[{t['map_index']}]={t['state']}"
                for t in response.json().get("task_instances", [])
                if t["state"] not in ("success", "skipped")]


def _connect_postgres(dbname: str = "postgres"):
    import psycopg2

    connection = psycopg2.connect(dbname=dbname, connect_timeout=5, **POSTGRES)
    connection.autocommit = True
    return connection


def _free_redis_db():
    import redis

    for number in secrets.SystemRandom().sample(range(1, 16), 15):
        client = redis.Redis(db=number, socket_connect_timeout=5, **REDIS)
        if client.dbsize() == 0:
            return number, client
    pytest.skip("no empty Redis database (1-15) for the Celery broker")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, airflow_db, mailbox, s3_server):
    try:
        admin = _connect_postgres()
    except Exception as error:  # noqa: BLE001 — any failure to connect means "absent"
        _unavailable(f"PostgreSQL at {POSTGRES['host']}:{POSTGRES['port']}: {error}")
    try:
        redis_db, broker = _free_redis_db()
    except Exception as error:  # noqa: BLE001
        _unavailable(f"Redis at {REDIS['host']}:{REDIS['port']}: {error}")

    root = tmp_path_factory.mktemp("scaleout")
    (root / "logs").mkdir()
    database = f"returnstats_it_{secrets.token_hex(4)}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{database}"')  # name from token_hex only
    pg = f"{POSTGRES['user']}@{POSTGRES['host']}:{POSTGRES['port']}/{database}"
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    password = secrets.token_urlsafe(16)
    data = root / "data"
    bucket = s3_server.new_bucket()
    env = scaleout_environment(
        host_side={
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{pg}",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{pg}",
            "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS['host']}:{REDIS['port']}/{redis_db}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
            "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW_VAR_RETURNSTATS_PSEUDONYM_SECRET": PSEUDONYM_KEY,
            "AIRFLOW__API__BASE_URL": base_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(root / "passwords.json"),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(root / "airflow_home" / "logs"),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",  # no extra port on a shared machine
            "AIRFLOW_CONN_SMTP_DEFAULT":
                f"smtp://127.0.0.1:{mailbox.port}?disable_ssl=true&disable_tls=true",
            "PYTHONPATH": str(REPO / "plugins"),
            **{f"RETURNSTATS_{zone.upper()}": str(data / zone) for zone in ("landing", "output")},
            "RETURNSTATS_STAGING": f"s3://{bucket}/staging",
            "RETURNSTATS_WAREHOUSE": f"s3://{bucket}/warehouse",
        },
        test_only={
            "AIRFLOW_HOME": str(root / "airflow_home"),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        },
    )
    env.update({"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", str(root)),
                "LANG": "C.UTF-8",
                # Shared through Airflow, as in production: the store's credentials and the
                # pseudonymisation key (the hosts' development keys would differ).
                "AIRFLOW_CONN_AWS_DEFAULT": s3_server.connection_uri(),
                "RETURNSTATS_OUTPUT_QUEUE": "output"})
    (root / "passwords.json").write_text(json.dumps({"admin": password}))
    running = Deployment(root, env, base_url, password)
    running.s3, running.bucket = s3_server, bucket
    try:
        running.cli("db", "migrate", timeout=600)
        running.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(port))
        running.start("scheduler", "scheduler")
        running.start("dag-processor", "dag-processor")
        for name in HOSTS:
            host = running.host(name)
            (host / "airflow_home").mkdir(parents=True)
            running.start(
                f"celery-worker-{name}", "celery", "worker", "--concurrency", "2",
                "--skip-serve-logs", "--celery-hostname", f"{name}@%h",
                "--queues", "default,output" if name == OUTPUT_HOST else "default",
                cwd=host, host={
                    "AIRFLOW_HOME": str(host / "airflow_home"),
                    "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(host / "airflow_home" / "logs"),
                    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
                    "AIRFLOW__CORE__HOSTNAME_CALLABLE": "os.getcwd",
                    "RETURNSTATS_LANDING": str(host / "landing"),
                    "RETURNSTATS_OUTPUT": str(host / "output"),
                    "RETURNSTATS_CACHE": str(host / "cache"),
                })
        running.wait_for("the api-server", lambda: requests.get(
            f"{base_url}/api/v2/monitor/health", timeout=5).ok, timeout=180)
        running.login()
        running.wait_for(f"{DAG_ID} to be parsed",
                         lambda: running.api("GET", f"/dags/{DAG_ID}").ok, timeout=240)
        response = running.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
        response.raise_for_status()
        yield running
    finally:
        running.stop()
        if os.environ.get("SCALEOUT_KEEP"):
            print(f"scale-out logs kept in {root / 'logs'}")
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()
        broker.flushdb()
        broker.close()


PSEUDONYM_KEY = secrets.token_hex(32)


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("scaleout-sample") / "sample"
    generate(out=out, start=START, days=DAYS, persons_per_day=PERSONS_PER_DAY, seed=23,
             campaign_start=date(2020, 2, 10))
    return out


def test_a_day_waits_for_approval_through_the_rest_api_then_is_promoted_and_mailed(
        deployment, sample, mailbox):
    recipients = deployment.env["RETURNSTATS_RECIPIENTS"]
    _query = deployment.query
    for i in range(2):
        as_of = _day(i)
        deployment.deliver(sample, as_of)
        run_id = f"rest__{as_of.isoformat()}"
        deployment.trigger(run_id, _logical(as_of))
        deployment.wait_for(f"{run_id} to ask for approval",
                            lambda run_id=run_id: deployment.task_state(
                                run_id, "approve_bulletin") == "awaiting_input",
                            RUN_TIMEOUT, every=3)
        # Held: committed, not published, not sent.
        assert _query("SELECT status FROM vintages WHERE as_of = $d", {"d": as_of}) == [
            ("held",)]
        assert _query("SELECT max(as_of) FROM latest_vintages") == [
            (_day(i - 1) if i else None,)]
        assert len(mailbox.subjects(recipients)) == i
        answer = deployment.decide(run_id, "Approve")
        assert answer["chosen_options"] == ["Approve"]
        run = deployment.run_until_done(run_id)
        assert run["state"] == "success", deployment.failed_tasks(run_id)

    (as_of, provinces), = _query(
        "select as_of, provinces_reporting from latest_national_summary where date = as_of")
    vintage, = _query("SELECT status, approved_by, delivery, sent_at IS NOT NULL "
                      "FROM latest_vintages")
    assert as_of == _day(1) and provinces > 0
    assert vintage == ("approved", "admin", "sent", True)
    subjects = mailbox.subjects(recipients)
    assert len(subjects) == 2 and all("return-to-work bulletin" in s for s in subjects)
    output = deployment.host(OUTPUT_HOST) / "output"
    assert json.loads((output / "alerts" / f"{_day(1).isoformat()}.json").read_text())
    assert (output / "bulletins" / _day(1).isoformat() / "bulletin.zh.txt").is_file()


def test_a_days_province_tasks_spread_over_both_hosts_and_output_stays_on_its_host(
        deployment):
    """The runs above: each day's 31 ingest tasks ran on both workers; every task of the
    output queue ran on the host that serves the output."""
    hosts = {name: str(deployment.host(name)) for name in HOSTS}
    for i in range(2):
        instances = deployment.task_instances(f"rest__{_day(i).isoformat()}")
        ingest = [t for t in instances if t["task_id"] == "ingest_province"]
        assert len(ingest) == 31
        assert {t["hostname"] for t in ingest} == set(hosts.values()), \
            sorted((t["map_index"], t["hostname"]) for t in ingest)
        for task in ("check_cutoff", "build_data_docs", "render_bulletin", "release_bulletin",
                     "send_bulletin"):
            ran = next(t for t in instances if t["task_id"] == task)
            assert (ran["queue"], ran["hostname"]) == ("output", hosts[OUTPUT_HOST]), task


def test_a_rejected_day_is_never_published_and_a_missed_deadline_alerts_the_oncall(
        deployment, mailbox):
    """A run whose send deadline passes while it waits for approval (its logical date set
    so that the deadline falls a minute after the trigger): the on-call gets an e-mail;
    then a rejection keeps `latest_*` and the recipients' mailbox as they were."""
    _query = deployment.query
    recipients, oncall = deployment.env["RETURNSTATS_RECIPIENTS"], deployment.env["RETURNSTATS_ONCALL"]
    before = (_query("SELECT * FROM latest_vintages"), len(mailbox.subjects(recipients)))
    interval = timedelta(hours=2)  # RETURNSTATS_SEND_DEADLINE 22:00 after the 20:00 trigger
    logical = datetime.now(UTC) - interval + timedelta(seconds=60)
    run_id = "rest__deadline"
    deployment.trigger(run_id, logical.isoformat())
    deployment.wait_for("the on-call's deadline e-mail",
                        lambda: any("not sent by its deadline" in s
                                    for s in mailbox.subjects(oncall)), RUN_TIMEOUT, every=5)
    deployment.decide(run_id, "Reject", reason="no province reported")
    run = deployment.run_until_done(run_id)
    assert run["state"] == "success", deployment.failed_tasks(run_id)
    assert deployment.task_state(run_id, "send_bulletin") == "skipped"
    assert _query("SELECT status, reason, approved_by FROM vintages WHERE as_of = $d",
                  {"d": logical.date()}) == [("rejected", "no province reported", "admin")]
    assert (_query("SELECT * FROM latest_vintages"), len(mailbox.subjects(recipients))
            ) == before


def test_backfill_runs_the_days_in_order_like_dag_test_one_by_one(deployment, sample, dagbag,
                                                                  tmp_path_factory):
    """`airflow backfill create` over three days, against the same days run by dag.test.

    The two days above already succeeded: with the default `--reprocess-behavior none` the
    backfill keeps them and runs the third (each Celery day costs minutes on a small
    machine; rerunning through a backfill is `--reprocess-behavior completed`, docs/operating.md).
    """
    last = _day(DAYS - 1)
    deployment.deliver(sample, last)
    window = ["--dag-id", DAG_ID, "--from-date", START.isoformat(), "--to-date", _logical(last)]
    # The window ends at the last day's scheduled time (12:00 UTC) so that day is in it;
    # the days that already succeeded are not attempted again.
    dry_run = deployment.cli("backfill", "create", *window, "--dry-run").stdout
    attempted = dry_run.split("Runs to be attempted")[-1]
    assert f"{last.isoformat()} 12:00:00" in attempted, dry_run
    assert _day(0).isoformat() not in attempted, dry_run
    deployment.cli("backfill", "create", *window, "--max-active-runs", "1")
    backfilled_run = deployment.wait_for(
        "the backfill's run", lambda: next((r["dag_run_id"] for r in deployment.dag_runs()
                                            if r["run_type"] == "backfill"), None),
        RUN_TIMEOUT, every=3)
    deployment.decide(backfilled_run, "Approve")

    def backfill_done():
        backfills = deployment.api("GET", "/backfills", params={"dag_id": DAG_ID}).json()["backfills"]
        return backfills and all(b["completed_at"] for b in backfills)

    deployment.wait_for("the backfill", backfill_done, RUN_TIMEOUT, every=5)
    runs = {r["logical_date"][:10]: r for r in deployment.dag_runs()
            if r["dag_run_id"] != "rest__deadline"}
    days = [_day(i).isoformat() for i in range(DAYS)]
    assert sorted(runs) == days, runs.keys()
    assert runs[days[-1]]["run_type"] == "backfill"
    for day in days:
        assert runs[day]["state"] == "success", (day, deployment.failed_tasks(runs[day]["dag_run_id"]))
    for earlier, later in zip(days, days[1:]):
        assert runs[earlier]["end_date"] <= runs[later]["start_date"], "days ran out of order"

    reference = _run_one_by_one_with_dag_test(dagbag, sample, tmp_path_factory.mktemp("one-by-one"))
    backfilled = deployment.warehouse()
    expected = duckdb.connect(str(reference / "warehouse" / "warehouse.duckdb"), read_only=True)
    summary = f"select * from national_summary where as_of <= DATE '{last}' order by all"
    assert backfilled.execute(summary).fetchall() == expected.execute(summary).fetchall()
    ledger = "select * from latest_ledger order by all"
    assert backfilled.execute(ledger).fetchall() == expected.execute(ledger).fetchall()


def _run_one_by_one_with_dag_test(dagbag, sample: Path, root: Path) -> Path:
    """The same deliveries, days run in order by `dag.test()` in this process (SQLite)."""
    mp = pytest.MonkeyPatch()
    try:
        for zone in ("landing", "staging", "warehouse", "output"):
            mp.setenv(f"RETURNSTATS_{zone.upper()}", str(root / zone))
        mp.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
        mp.setenv("AIRFLOW_VAR_RETURNSTATS_PSEUDONYM_SECRET", PSEUDONYM_KEY)
        dag = dagbag.dags[DAG_ID]
        for i in range(DAYS):
            as_of = _day(i)
            deliver(sample=sample, landing=root / "landing", through=as_of)
            run = dag.test(logical_date=datetime(as_of.year, as_of.month, as_of.day, 12, tzinfo=UTC))
            assert str(run.state) == "success", f"dag.test {as_of}: {run.state}"
    finally:
        mp.undo()
    return root

