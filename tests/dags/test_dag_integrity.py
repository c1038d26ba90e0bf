"""The DAG imports cleanly and carries what an operator needs: docs, tags, retries."""

DAG_ID = "return_to_work_daily"


def test_dagbag_has_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_daily_dag_is_present_with_statistics_tags(dagbag):
    dag = dagbag.dags[DAG_ID]
    assert dag is not None
    assert {"statistics", "daily"} <= set(dag.tags)


def test_dag_and_every_task_are_documented(dagbag):
    dag = dagbag.dags[DAG_ID]
    assert "as-of date" in dag.doc_md
    for task in dag.tasks:
        assert task.doc_md or task.doc, f"{task.task_id} has no doc"


def test_io_tasks_retry_with_exponential_backoff(dagbag):
    dag = dagbag.dags[DAG_ID]
    for task_id in ("ingest_province", "link_persons", "publish_warehouse", "render_bulletin", "send_bulletin"):
        task = dag.get_task(task_id)
        assert task.retries >= 2
        assert task.retry_exponential_backoff


def test_provinces_are_processed_as_mapped_tasks(dagbag):
    dag = dagbag.dags[DAG_ID]
    ingest = dag.get_task("ingest_province")
    assert ingest.is_mapped if hasattr(ingest, "is_mapped") else type(ingest).__name__ == "MappedOperator"


def test_every_task_alerts_the_oncall_on_failure(dagbag):
    dag = dagbag.dags[DAG_ID]
    for task in dag.tasks:
        callbacks = task.on_failure_callback
        callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
        assert any(getattr(c, "__name__", "") == "_alert_on_failure" for c in callbacks), task.task_id


def test_every_task_but_the_decision_retries_with_backoff(dagbag):
    for task in dagbag.dags[DAG_ID].tasks:
        if task.task_id == "approve_bulletin":
            assert task.retries == 0  # no answer by its timeout alerts the on-call instead
            continue
        assert task.retries >= 2 and task.retry_exponential_backoff, task.task_id


def test_cutoff_check_follows_ingest_and_does_not_block_the_day(dagbag):
    dag = dagbag.dags[DAG_ID]
    check = dag.get_task("check_cutoff")
    assert check.upstream_task_ids == {"collect_ingest"}
    assert check.trigger_rule == "all_done"
    assert not check.downstream_task_ids
    assert "wait_for_cutoff" in dag.get_task("ingest_province").upstream_task_ids


def test_a_failed_province_does_not_stop_the_national_tasks(dagbag):
    dag = dagbag.dags[DAG_ID]
    collect = dag.get_task("collect_ingest")
    assert collect.upstream_task_ids == {"ingest_province"}
    assert collect.trigger_rule == "all_done"
    assert dag.get_task("link_persons").upstream_task_ids == {"collect_ingest"}


def test_every_task_has_a_timeout(dagbag):
    for task in dagbag.dags[DAG_ID].tasks:
        bound = (task.execution_timeout or getattr(task, "response_timeout", None)
                 or getattr(task, "timeout", None))
        assert bound, f"{task.task_id} can run forever"


def test_a_person_approves_between_rendering_and_sending(dagbag):
    dag = dagbag.dags[DAG_ID]
    assert dag.get_task("release_bulletin").upstream_task_ids == {"render_bulletin"}
    approve = dag.get_task("approve_bulletin")
    assert type(approve).__name__ == "HITLOperator"
    assert approve.upstream_task_ids == {"release_bulletin"}
    assert set(approve.options) == {"Approve", "Reject"}
    assert dag.get_task("record_decision").upstream_task_ids == {"approve_bulletin"}
    send = dag.get_task("send_bulletin")
    assert send.upstream_task_ids == {"release_bulletin", "record_decision"}
    assert send.trigger_rule == "none_failed_min_one_success"


def test_run_options_are_declared_params(dagbag):
    params = dagbag.dags[DAG_ID].params
    assert params["force_send"] is False
