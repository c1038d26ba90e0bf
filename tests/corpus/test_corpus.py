"""The bad-input corpus through the real ingest, staging, linkage and publish (SPEC §3).

Every crafted package of `packages.CASES` sits in one landing zone beside a good package
of another province (11), and one run ingests them all, as the DAG's mapped tasks do.
Each case then checks its own package: the exact reason or rule, a balanced ledger, a
detail that names the file (and row) without personal data — and that the good package
came through untouched.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from returnstats.config import REPO_ROOT, Settings
from returnstats.figures.publish import publish_as_of
from returnstats.linkage.run import link_as_of
from returnstats.reference import provinces
from returnstats.validation.data_docs import build_data_docs
from returnstats.validation.ingest import ingest_province
from returnstats.validation.ledger import check_ledger
from returnstats.validation.staging import StagedData, read_meta, read_staged
from returnstats.validation.suites import suite_rules
from returnstats.warehouse.store import read_table

from tests.builders import ENTERPRISE_HEADERS, WORKER_HEADERS, PackageBuilder, csv_bytes
from tests.corpus.packages import (
    ACCEPTED,
    CAMPAIGN_START,
    CASES,
    PACKAGE_CASES,
    PERSONAL,
    RECORD_CASES,
    Case,
    enterprises,
    workers,
)

AS_OF = date(2020, 3, 1)
GOOD = "11"
KEY = b"k" * 32
CASE_PROVINCES = [code for code in provinces() if code != GOOD]


@dataclass
class CorpusRun:
    settings: Settings
    packages: dict[str, PackageBuilder]
    """Case name → the builder of its package (province, report date, name)."""
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    crashes: dict[str, str] = field(default_factory=dict)
    logs: list[logging.LogRecord] = field(default_factory=list)
    staged: StagedData | None = None
    published_ledger: Any = None
    published_quarantine: Any = None
    data_docs: Path | None = None
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def entry(self, case: Case) -> dict[str, Any]:
        """The ingest summary of the case's package (its conflict copy if there is one)."""
        pkg = self.packages[case.name]
        found = [p for p in self.summaries[pkg.province]["packages"]
                 if p["package"] == pkg.name or p["package"].startswith(f"{pkg.name}#")]
        assert found, f"{case.name}: no package {pkg.name} in the run"
        return sorted(found, key=lambda p: "#" not in p["package"])[0]


class _Collect(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _good_package(landing: Path) -> None:
    pkg = PackageBuilder(landing, province=GOOD, report_date=AS_OF)
    pkg.add("workers", "workers.csv", csv_bytes(WORKER_HEADERS, workers(pkg, 3, mode="步行")))
    pkg.add("enterprises", "enterprises.csv", csv_bytes(ENTERPRISE_HEADERS, enterprises(pkg, 1)))
    pkg.write()


def _ingest(run: CorpusRun, codes: list[str]) -> None:
    for code in codes:
        try:
            run.summaries[code] = ingest_province(run.settings, code, AS_OF)
        except Exception as exc:  # recorded, so that the cases of that province fail alone
            run.crashes[code] = f"{type(exc).__name__}: {exc}"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> CorpusRun:
    root = tmp_path_factory.mktemp("corpus")
    settings = Settings(landing=root / "landing", warehouse=root / "warehouse",
                        output=root / "output", staging=root / "staging",
                        campaign_start=CAMPAIGN_START)
    settings.ensure_dirs()
    run = CorpusRun(settings, {})
    handler = _Collect(run.logs)
    logger = logging.getLogger("returnstats")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    started, cpu = time.perf_counter(), time.process_time()
    try:
        _good_package(settings.landing)
        for i, case in enumerate(CASES):
            # One package per case: its own province, or an earlier report date.
            pkg = PackageBuilder(settings.landing, province=CASE_PROVINCES[i % len(CASE_PROVINCES)],
                                 report_date=AS_OF - timedelta(days=i // len(CASE_PROVINCES)))
            case.build(pkg, root / "outside" / case.name)
            run.packages[case.name] = pkg
        first = sorted({run.packages[c.name].province for c in CASES if c.resubmit})
        _ingest(run, first)
        for case in CASES:
            if case.resubmit:
                case.resubmit(run.packages[case.name])
        _ingest(run, [GOOD, *sorted(set(CASE_PROVINCES))])
        # The DAG's build_data_docs task: once, after every province.
        run.data_docs = build_data_docs(settings, AS_OF)
        run.staged = read_staged(settings, AS_OF)
        link_as_of(settings, AS_OF, KEY)
        publish_as_of(settings, AS_OF)
        run.published_ledger = read_table(settings.warehouse, "ledger", AS_OF)
        # Errors in quarantine, warnings in record_flags (SPEC §6).
        run.published_quarantine = pd.concat(
            [read_table(settings.warehouse, table, AS_OF)
             for table in ("quarantine", "record_flags")], ignore_index=True)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    run.seconds = time.perf_counter() - started
    run.cpu_seconds = time.process_time() - cpu
    return run


def _ledger_of(run: CorpusRun, package: str):
    return run.staged.ledger[run.staged.ledger["package"] == package]


def _assert_good_package_unaffected(run: CorpusRun) -> None:
    good = {p["package"]: p for p in run.summaries[GOOD]["packages"]}["11_20200301_v1"]
    assert good["status"] == "accepted"
    assert (good["rows_received"], good["rows_accepted"], good["rows_quarantined"]) == (4, 3, 1)
    staged = run.staged.workers[run.staged.workers["province"] == GOOD]
    assert staged["record_id"].tolist() == ["W1", "W2"]
    published = run.published_ledger[run.published_ledger["package"] == "11_20200301_v1"]
    assert set(published["status"]) == {"accepted"}
    assert published["rows_accepted"].sum() == 3


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_bad_input_ends_in_its_reason_or_rule(corpus: CorpusRun, case: Case) -> None:
    pkg = corpus.packages[case.name]
    assert pkg.province not in corpus.crashes, corpus.crashes.get(pkg.province)
    entry = corpus.entry(case)
    ledger = _ledger_of(corpus, entry["package"])
    assert not ledger.empty and check_ledger(ledger) == []

    if case.expected.startswith("package."):
        assert (entry["status"], entry["reason"]) == ("rejected", case.expected)
        assert set(ledger["status"]) == {"rejected"} and (ledger["rows_accepted"] == 0).all()
        assert ledger["reason"].str.startswith(case.expected + ": ").all()
        detail = read_meta(corpus.settings.staging, entry["package"])["detail"]
        for text in case.detail_names:
            assert text in detail, detail
        assert "Traceback" not in detail
        assert not any(value in detail for value in PERSONAL), detail
        # Nothing of a rejected package is staged as a record.
        assert corpus.staged.workers[corpus.staged.workers["package"] == entry["package"]].empty
    else:
        assert (entry["status"], entry["reason"]) == ("accepted", None)
        assert entry["rows_received"] == entry["rows_accepted"] + entry["rows_quarantined"]
        quarantine = corpus.staged.quarantine[corpus.staged.quarantine["package"] == pkg.name]
        if case.expected == ACCEPTED:
            assert quarantine.empty, quarantine[["row_number", "rule"]]
        else:
            severity = {r.rule_id: r.severity for k in ("workers", "enterprises")
                        for r in suite_rules(k)}[case.expected]
            found = set(zip(quarantine["row_number"], quarantine["rule"],
                            quarantine["severity"], strict=True))
            assert found == {(3, case.expected, severity)}
            assert (entry["rows_received"], entry["rows_quarantined"]) == (
                3, int(severity == "error"))
            published = corpus.published_quarantine
            assert case.expected in set(published[published["package"] == pkg.name]["rule"])
        if case.check:
            case.check(corpus.staged, pkg.name)
    _assert_good_package_unaffected(corpus)


# Reasons no package's bytes cause under the default limits: a failed task
# (tests/e2e/test_day_completes.py), a reader ended by its hard limits (the readers are
# bounded first; tests/reports/test_isolation.py lowers the limits to reach it).
NOT_FROM_INPUT = {"package.ingest.failed", "package.file.resource_limit"}


def test_corpus_has_thirty_cases_covering_every_reason_and_every_rule() -> None:
    text = (REPO_ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    reasons = set(re.findall(r"^\| `(package\.[a-z_.]+)` \|", text, flags=re.M))
    assert {c.expected for c in PACKAGE_CASES} - {ACCEPTED} == reasons - NOT_FROM_INPUT
    rules = {r.rule_id for k in ("workers", "enterprises") for r in suite_rules(k)}
    assert {c.expected for c in RECORD_CASES} == rules
    assert len(CASES) >= 30 and len({c.name for c in CASES}) == len(CASES)


def test_published_ledger_balances_and_lists_every_package(corpus: CorpusRun) -> None:
    assert check_ledger(corpus.published_ledger) == []
    assert set(corpus.published_ledger["package"]) == set(corpus.staged.ledger["package"])
    # One package per case, the good one, and the accepted original of each resubmission.
    resubmitted = sum(1 for c in CASES if c.resubmit)
    assert len(set(corpus.published_ledger["package"])) == len(CASES) + 1 + resubmitted


def test_logs_name_where_but_never_whom_and_carry_no_traceback(corpus: CorpusRun) -> None:
    assert corpus.logs
    for record in corpus.logs:
        message = record.getMessage()
        assert not any(value in message for value in PERSONAL), message
        assert record.exc_info is None and "Traceback" not in message


def test_data_docs_index_is_built_without_personal_data(corpus: CorpusRun) -> None:
    folder = corpus.settings.output / "data_docs" / AS_OF.isoformat()
    index = folder / "index.html"
    assert corpus.data_docs == index and index.is_file()
    pages = list(folder.glob("validations/**/*.html"))
    assert any("11_20200301_v1" in p.name for p in pages)
    for page in [index, *pages, *folder.glob("*/*.json")]:
        text = page.read_text(encoding="utf-8")
        assert not any(value in text for value in PERSONAL), page


def test_whole_corpus_runs_within_a_minute(corpus: CorpusRun) -> None:
    # CPU time: on a shared CI machine the wall clock also measures the neighbours.
    assert corpus.cpu_seconds < 60, (
        f"the corpus took {corpus.cpu_seconds:.1f} s of CPU ({corpus.seconds:.1f} s wall)")


def test_rules_doc_lists_exactly_the_package_reasons_raised_in_code() -> None:
    text = (REPO_ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(package\.[a-z_.]+)` \|", text, flags=re.M))
    code = REPO_ROOT / "plugins" / "returnstats"
    raised = {reason for room in ("reports", "validation") for path in (code / room).glob("*.py")
              for reason in re.findall(r'"(package\.[a-z_]+\.?[a-z_.]*)"',
                                       path.read_text(encoding="utf-8"))}
    assert raised == documented
