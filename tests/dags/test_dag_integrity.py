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


def test_every_task_retries_with_backoff(dagbag):
    for task in dagbag.dags[DAG_ID].tasks:
        assert task.retries >= 2 and task.retry_exponential_backoff, task.task_id


def test_cutoff_check_follows_ingest_and_does_not_block_the_day(dagbag):
    dag = dagbag.dags[DAG_ID]
    check = dag.get_task("check_cutoff")
    assert "ingest_province" in check.upstream_task_ids
    assert check.trigger_rule == "all_done"
    assert not check.downstream_task_ids
    assert "wait_for_cutoff" in dag.get_task("ingest_province").upstream_task_ids
