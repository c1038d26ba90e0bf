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
