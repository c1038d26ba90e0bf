"""Every example of docs/querying.md runs on the `make run` sample, and every result it
shows is what its query returns there (`returnstats.warehouse.doc_examples`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from returnstats.warehouse import doc_examples

from tests.docs import make_run_sample


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run_sample.build(tmp_path_factory.mktemp("make-run"))


def test_the_doc_shows_results_of_sql_and_python_examples() -> None:
    found = doc_examples.examples(doc_examples.DOC.read_text(encoding="utf-8"))
    shown = [e for e in found if e.shown is not None]
    assert len([e for e in shown if e.language == "sql"]) >= 10
    assert len([e for e in shown if e.language == "python"]) >= 2
    assert all(e.shown.strip() for e in shown)


def test_every_example_runs_and_shows_what_it_returns_on_the_make_run_sample(
        sample_root: Path) -> None:
    found = doc_examples.differences(sample_root)
    assert not found, ("docs/querying.md shows results its queries do not return (rewrite "
                       "them from a `make run` warehouse with `PYTHONPATH=plugins python -m "
                       "returnstats.warehouse.doc_examples --write`):\n" + "\n".join(found))


def test_the_venv_sql_prompt_answers_from_the_sample(sample_root: Path) -> None:
    """The doc's prompt for users without a DuckDB CLI (returnstats.warehouse.shell)."""
    done = subprocess.run(
        [sys.executable, "-m", "returnstats.warehouse.shell", "data/warehouse"],
        input="SELECT count(*) AS vintages FROM vintages;\n\n", capture_output=True,
        text=True, cwd=sample_root, timeout=120, check=True)
    assert "vintages" in done.stdout
    assert str(len(make_run_sample.sample_days())) in done.stdout


def test_a_changed_result_is_reported_with_the_line_of_the_doc(
        sample_root: Path, tmp_path: Path) -> None:
    text = doc_examples.DOC.read_text(encoding="utf-8")
    example = next(e for e in doc_examples.examples(text) if e.shown is not None)
    start, end = example.shown_span
    edited = tmp_path / "querying.md"
    edited.write_text(text[:start] + example.shown + "a line the query does not return\n" + text[end:],
                      encoding="utf-8")
    (diff,) = doc_examples.differences(sample_root, edited)
    assert f"docs/querying.md:{example.line} (shown)" in diff
