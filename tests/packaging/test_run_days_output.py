"""scripts/run_days.py keeps the console to one line a day: everything a day's run writes,
through Python or straight to the file descriptors (child processes), goes to its log."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

from scripts import run_days


def test_a_days_output_goes_to_its_log(tmp_path, capfd):
    log = tmp_path / "days" / "2020-02-17.log"
    with run_days._output_to(log):
        print("from print")
        logging.getLogger("returnstats.test").warning("from logging")
        os.write(1, b"from fd 1\n")
        subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('from a child\\n')"],
                       check=True)
    print("after")
    text = log.read_text(encoding="utf-8")
    for line in ("from print", "from fd 1", "from a child"):
        assert line in text
    out, err = capfd.readouterr()
    assert "from fd 1" not in out and "from a child" not in err and "after" in out


def test_a_stream_kept_by_a_logger_writes_to_the_later_days_log(tmp_path, capfd):
    """structlog keeps the sys.stdout it first saw: on the next day that stream must write to
    the next day's log, not raise "I/O operation on closed file" (make run died so)."""
    first, second = tmp_path / "2020-02-17.log", tmp_path / "2020-02-18.log"
    with run_days._output_to(first):
        kept = sys.stdout
        kept.write("day one\n")
    with run_days._output_to(second):
        kept.write("day two\n")
        kept.flush()
    assert "day one" in first.read_text(encoding="utf-8")
    assert "day two" in second.read_text(encoding="utf-8")
    assert "day two" not in first.read_text(encoding="utf-8")
