"""The GX project in include/gx opens as a file context and holds the suites the
pipeline runs; GX's bookkeeping stays out of task logs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings

from returnstats.config import INCLUDE, REPO_ROOT
from returnstats.validation import suites


def test_the_project_opens_as_a_file_context_with_every_suite(tmp_path):
    import great_expectations as gx
    import returnstats.validation.expectations  # noqa: F401 — the custom expectations

    shutil.copytree(INCLUDE / "gx", tmp_path / "gx")  # GX writes its store ids beside them
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        context = gx.get_context(mode="file", project_root_dir=str(tmp_path))
        for kind in (*suites.KINDS, *suites.REPORT_KINDS):
            suite = context.suites.get(suites.suite_name(kind))
            rules = {e.meta["rule_id"] for e in suite.expectations}
            assert rules == {r.rule_id for r in suites.suite_rules(kind)}


def test_gx_info_logging_stays_out_of_task_logs():
    code = ("import logging; logging.basicConfig(level=logging.INFO); "
            "import returnstats.validation.expectations")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=120, check=True)
    assert "great_expectations" not in done.stderr, done.stderr[:500]


def test_the_data_docs_checkpoint_is_in_the_project_with_an_update_data_docs_action(tmp_path):
    import great_expectations as gx
    from great_expectations.checkpoint.actions import UpdateDataDocsAction
    from returnstats.validation.data_docs import CHECKPOINT_FILE, SITE_NAME

    shutil.copytree(INCLUDE / "gx", tmp_path / "gx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        context = gx.get_context(mode="file", project_root_dir=str(tmp_path))
        checkpoint = context.checkpoints.get(CHECKPOINT_FILE.stem)
    actions = [a for a in checkpoint.actions if isinstance(a, UpdateDataDocsAction)]
    assert [a.site_names for a in actions] == [[SITE_NAME]]
