"""The dependency lock matches its inputs (what `make test` checks first, offline), and the
check catches each kind of drift: an edited input, a hand-edited pin, a runtime pin the
dev lock does not share."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scripts import lock

FILES = (*lock.INPUTS, lock.RUNTIME_LOCK, lock.DEV_LOCK)


@pytest.fixture
def copy(tmp_path) -> Path:
    (tmp_path / "constraints").mkdir()
    for name in FILES:
        shutil.copy(lock.REPO / name, tmp_path / name)
    return tmp_path


def test_the_committed_lock_matches_its_inputs():
    assert lock.check() == []


def test_a_changed_input_is_drift(copy):
    with open(copy / lock.RUNTIME_IN, "a") as handle:
        handle.write("polars\n")
    problems = lock.check(copy)
    assert any("inputs changed" in p for p in problems)
    assert any("polars of requirements.in is not locked" in p for p in problems)


def test_a_hand_edited_pin_contradicting_the_constraints_is_drift(copy):
    text = (copy / lock.RUNTIME_LOCK).read_text()
    assert "\napache-airflow-core==3.3.2 " in text
    (copy / lock.RUNTIME_LOCK).write_text(text.replace("\napache-airflow-core==3.3.2 ",
                                                       "\napache-airflow-core==3.3.1 "))
    assert lock.check(copy) == [
        "requirements.txt: apache-airflow-core==3.3.1 but constraints/constraints-3.11.txt pins 3.3.2",
        "requirements-dev.txt: apache-airflow-core==3.3.2 but requirements.txt has 3.3.1"]


def test_runtime_and_dev_locks_are_split():
    runtime, dev = lock.pins(lock.REPO / lock.RUNTIME_LOCK), lock.pins(lock.REPO / lock.DEV_LOCK)
    for tool in ("pytest", "hypothesis", "ruff", "aiosmtpd", "pyinstrument"):
        assert tool in dev and tool not in runtime
    assert "fpdf2" not in dev and "opencc-python-reimplemented" not in dev
