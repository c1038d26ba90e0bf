"""What the Airflow UI shows an operator: province names on the mapped tasks, a team as
owner, a description, doc_md that names exactly the DAG's tasks, and the warehouse Assets."""

from __future__ import annotations

import re

import pytest
from returnstats.linkage.keys import KEY_VARIABLE
from returnstats.warehouse.schema import TABLES
from returnstats_airflow.assets import APPROVED, RELEASES, TABLE_ASSETS
from returnstats_airflow.smtp import SMTP_CONN_ID
from returnstats_airflow.storage import DEFAULT_CONN_ID as STORAGE_CONN_ID

DAILY, EXTRACT = "return_to_work_daily", "statistics_weekly_extract"
# A backticked lower_snake_case word: how doc_md names a task (and nothing else that looks so)
TASK_LIKE = re.compile(r"`([a-z][a-z0-9]*(?:_[a-z0-9]+)+)`")


def test_mapped_ingest_tasks_are_named_by_their_province(dagbag):
    ingest = dagbag.dags[DAILY].get_task("ingest_province")
    assert ingest.map_index_template == "{{ province_label }}"


@pytest.mark.parametrize("dag_id", [DAILY, EXTRACT])
def test_owner_is_the_team_and_description_is_set(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert {task.owner for task in dag.tasks} == {"statistics-data-engineering"}
    assert dag.description and len(dag.description) > 20


@pytest.mark.parametrize("dag_id", [DAILY, EXTRACT])
def test_doc_md_names_every_task_and_no_other(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    named = set(TASK_LIKE.findall(dag.doc_md))
    tasks = set(dag.task_ids)
    assert tasks <= named, f"doc_md does not name {sorted(tasks - named)}"
    # besides tasks, doc_md may name the DAG's params, connections, variable and the DAGs
    others = (set(dag.params) | {SMTP_CONN_ID, STORAGE_CONN_ID, KEY_VARIABLE}
              | set(dagbag.dag_ids))
    assert named - tasks <= others, f"doc_md names no such task: {sorted(named - tasks - others)}"


def test_every_warehouse_table_is_an_asset_the_publish_task_updates(dagbag):
    assert set(TABLE_ASSETS) == set(TABLES)
    publish = dagbag.dags[DAILY].get_task("publish_warehouse")
    assert {asset.name for asset in publish.outlets} == {f"returnstats.{t}" for t in TABLES}


def test_only_the_approving_tasks_record_releases_and_the_extract_waits_for_them(dagbag):
    daily = dagbag.dags[DAILY]
    releasing = {task.task_id for task in daily.tasks if RELEASES in task.outlets}
    assert releasing == {"release_bulletin", "record_decision"}
    assert APPROVED not in dagbag.dags[DAILY].get_task("publish_warehouse").outlets
    assert list(dagbag.dags[EXTRACT].timetable.asset_condition.objects) == [APPROVED]
