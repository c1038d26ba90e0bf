"""The operability pieces the DAG wires: failure alert, cutoff check, missing-province alert.

They live in `returnstats.operations` (plain Python); these tests call the DAG's own
failure callback with a plain dict context and read what reached the outbox.
"""

from __future__ import annotations

import email
import email.policy
import json
import types
from datetime import date, time

import pytest
from returnstats.config import load_settings
from returnstats.operations import cutoff
from returnstats.operations.alerts import oncall_address
from returnstats.validation.staging import write_package

DAG_ID = "return_to_work_daily"
AS_OF = date(2020, 2, 18)


@pytest.fixture
def settings(tmp_path, monkeypatch):
    for zone in ("landing", "staging", "warehouse", "output"):
        monkeypatch.setenv(f"RETURNSTATS_{zone.upper()}", str(tmp_path / zone))
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    monkeypatch.setenv("RETURNSTATS_ONCALL", "duty@example.org")
    settings = load_settings()
    settings.ensure_dirs()
    return settings


def _read_eml(path):
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def test_failure_callback_writes_an_alert_naming_dag_task_run_try_and_log(dagbag, settings):
    task = dagbag.dags[DAG_ID].get_task("publish_warehouse")
    callback = task.on_failure_callback
    callback = callback[0] if isinstance(callback, list) else callback
    ti = types.SimpleNamespace(
        dag_id=DAG_ID, task_id="publish_warehouse", run_id="manual__2020-02-18T00:00:00+00:00",
        try_number=3, map_index=-1,
        log_url="http://localhost:8080/dags/return_to_work_daily/runs/x/tasks/publish_warehouse",
    )
    # The exception text quotes an input value: it must not reach the e-mail.
    context = {"ti": ti, "run_id": ti.run_id, "exception": ValueError("id 110101199001011234")}

    callback(context)

    [eml] = (settings.output / "outbox" / "alerts").glob("failure-*.eml")
    message = _read_eml(eml)
    body = message.get_content()
    assert message["To"] == "duty@example.org"
    assert "publish_warehouse" in message["Subject"]
    for fact in (DAG_ID, "publish_warehouse", ti.run_id, "Try number: 3", ti.log_url, "ValueError"):
        assert fact in body
    assert "110101199001011234" not in message.as_string()


def test_failure_callback_never_raises(dagbag, settings, monkeypatch):
    monkeypatch.setenv("RETURNSTATS_ONCALL", "not an address")
    callback = dagbag.dags[DAG_ID].get_task("send_bulletin").on_failure_callback
    callback = callback[0] if isinstance(callback, list) else callback
    callback({"ti": None})


def test_oncall_defaults_to_localhost():
    assert oncall_address({}) == "oncall@localhost"


def test_cutoff_settings_parse_default_and_overrides():
    policy = cutoff.load_policy({"RETURNSTATS_CUTOFF_OVERRIDES": "54=22:00, 65=22:30"})
    assert policy.cutoff("11") == time(20, 0)
    assert policy.cutoff("65") == time(22, 30)
    assert policy.latest_deadline(AS_OF, ["11", "54", "65"]).isoformat() == "2020-02-18T22:30:00+08:00"
    with pytest.raises(cutoff.InvalidCutoff):
        cutoff.load_policy({"RETURNSTATS_CUTOFF_OVERRIDES": "99=22:00"})
    with pytest.raises(cutoff.InvalidCutoff):
        cutoff.load_policy({"RETURNSTATS_CUTOFF": "8pm"})


def _stage(settings, province, report_date, status, version=1):
    name = f"{province}_{report_date:%Y%m%d}_v{version}"
    meta = {"package": name, "province": province, "report_date": report_date.isoformat(),
            "version": version, "content_sha256": "0" * 64, "status": status,
            "reason": None if status == "accepted" else "package.manifest.invalid",
            "detail": None, "first_processed_as_of": report_date.isoformat(), "files": []}
    write_package(settings.staging, name, meta, {})


def test_provinces_without_an_accepted_package_for_the_day_are_recorded_and_alerted(settings):
    _stage(settings, "11", AS_OF, "accepted")
    _stage(settings, "12", AS_OF, "rejected")
    _stage(settings, "13", date(2020, 2, 17), "accepted")  # yesterday's report only
    policy = cutoff.load_policy({"RETURNSTATS_CUTOFF_OVERRIDES": "13=22:00"})

    report = cutoff.check_cutoff(settings, AS_OF, ["11", "12", "13"], policy)
    assert report.reported == ["11"] and report.missing == ["12", "13"]
    assert report.rejected == ["12"] and report.cutoffs == {"12": "20:00", "13": "22:00"}

    record = json.loads(cutoff.record_missing(settings, report).read_text(encoding="utf-8"))
    assert record["as_of"] == "2020-02-18" and record["missing"] == ["12", "13"]

    assert cutoff.alert_missing(settings, report, "duty@example.org", None).startswith("written")
    [eml] = (settings.output / "outbox" / "alerts").glob("missing-2020-02-18.eml")
    body = _read_eml(eml).get_content()
    assert "12" in body and "13" in body and "22:00" in body
    # A rerun that finds the same provinces missing does not page the on-call again.
    assert cutoff.alert_missing(settings, report, "duty@example.org", None) == "already sent"


def test_no_alert_when_every_province_reported(settings):
    _stage(settings, "11", AS_OF, "accepted")
    report = cutoff.check_cutoff(settings, AS_OF, ["11"], cutoff.CutoffPolicy())
    assert report.missing == []
    assert cutoff.alert_missing(settings, report, "duty@example.org", None) == "nothing missing"
