"""Every query of docs/querying.md runs as written against a published warehouse (two
vintages of the hand-made campaign, laid out as `make run` leaves it: data/warehouse/
beside include/, from the repository root)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from campaign_days import d
from conftest import stage_linkage
from returnstats.config import Settings
from returnstats.figures.publish import publish_as_of

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "querying.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def statements(block: str) -> list[str]:
    text = "\n".join(line for line in block.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in text.split(";") if s.strip()]


@pytest.fixture
def repo_like(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with data/warehouse (published) and include/ like the repo's."""
    for as_of in (d(12), d(13)):
        stage_linkage(settings, as_of)
        publish_as_of(settings, as_of)
    work = tmp_path / "repo"
    (work / "data").mkdir(parents=True)
    (work / "data" / "warehouse").symlink_to(settings.warehouse)
    (work / "include").symlink_to(REPO / "include")
    monkeypatch.chdir(work)
    return work


def test_the_doc_has_queries() -> None:
    assert len(blocks("sql")) >= 6 and len(blocks("python")) >= 2


def test_every_sql_block_runs(repo_like: Path) -> None:
    con = duckdb.connect("data/warehouse/warehouse.duckdb", read_only=True)
    try:
        for block in blocks("sql"):
            for statement in statements(block):
                try:
                    con.execute(statement).fetchall()
                except duckdb.Error as error:
                    pytest.fail(f"docs/querying.md query failed: {error}\n{statement}")
    finally:
        con.close()


def test_every_python_block_runs(repo_like: Path) -> None:
    for block in blocks("python"):
        namespace: dict = {}
        exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - the doc's own code
        engine = namespace.get("engine")
        if engine is not None:
            engine.dispose()
