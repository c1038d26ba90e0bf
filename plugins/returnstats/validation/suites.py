"""Run the rule suites of the GX project in `include/gx/`: the expectations decide.

Record suites (SPEC §3.2, `workers`, `enterprises`) validate a prepared file; report
suites (SPEC §3.3, `report_*`) validate the small per-run frames of
`validation/report_checks.py`.

Each expectation carries its rule id, severity and a human detail in `meta` (and, for a
warning, `treated_as_absent`: the columns staged as null on a flagged row); several
expectations may share one rule id. The runner turns a Great Expectations validation
result into the row numbers each rule flagged, through the frame's index (the row
numbers), which GX reports as each expectation's `unexpected_index_list`. Adding an
expectation with a new rule id to a suite file adds a rule: no code knows the ids.
One process-wide GX context validates; the suites are the project's expectation store
(`include/gx/expectations/`).
"""

from __future__ import annotations

import json
import logging
import threading
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from returnstats.config import INCLUDE

log = logging.getLogger(__name__)

GX_PROJECT = INCLUDE / "gx"
EXPECTATIONS_DIR = GX_PROJECT / "expectations"
KINDS = ("workers", "enterprises")
"""The record suites, one per file kind."""
REPORT_KINDS = ("report_totals", "report_packages", "report_provinces")
"""The report suites (SPEC §3.3): findings recorded in report_checks, never rejecting."""
SEVERITIES = {**dict.fromkeys(KINDS, ("error", "warning")),
              **dict.fromkeys(REPORT_KINDS, ("report",))}

# Unexpected values may be personal data: the saved summary keeps counts only.
_PRIVATE_RESULT_KEYS = (
    "unexpected_list", "unexpected_index_list", "unexpected_index_query",
    "partial_unexpected_list", "partial_unexpected_index_list", "partial_unexpected_counts",
    "unexpected_rows", "partial_unexpected_rows",
)


@dataclass(frozen=True)
class Rule:
    rule_id: str
    severity: str
    detail: str
    absent: tuple[str, ...] = ()
    """Columns staged as null on a row this (warning) rule flags."""


@dataclass(frozen=True)
class RuleFinding:
    """The rows one rule flagged in one file."""

    rule: Rule
    row_numbers: np.ndarray  # int64, ascending


@dataclass
class SuiteRun:
    kind: str
    findings: list[RuleFinding]
    summary: dict[str, Any] = field(default_factory=dict)
    """JSON-able validation result without unexpected values (for Data Docs)."""


def suite_name(kind: str) -> str:
    return f"returnstats.{kind}"


def suite_path(kind: str) -> Path:
    """The suite's file in GX's expectation store (a dot in a name is a folder)."""
    return Path(EXPECTATIONS_DIR, *suite_name(kind).split(".")).with_suffix(".json")


@cache
def _suite_json(kind: str) -> str:
    if kind not in SEVERITIES:
        raise ValueError(f"unknown suite kind {kind!r}")
    return suite_path(kind).read_text(encoding="utf-8")


def suite_rules(kind: str) -> list[Rule]:
    """The rules of a suite, in order of first use (one per rule id)."""
    rules: dict[str, Rule] = {}
    for expectation in json.loads(_suite_json(kind))["expectations"]:
        rule = _rule(expectation["meta"], kind)
        if rules.setdefault(rule.rule_id, rule) != rule:
            raise ValueError(f"{rule.rule_id}: expectations of one rule disagree on its "
                             "severity, detail or absent columns")
    return list(rules.values())


def _condition_columns(condition: Any) -> set[str]:
    if isinstance(condition, dict):
        found = {condition["column"]["name"]} if isinstance(condition.get("column"), dict) else set()
        for part in condition.get("conditions", []):
            found |= _condition_columns(part)
        return found
    return set()


@cache
def suite_columns(kind: str) -> tuple[str, ...]:
    """The prepared-frame columns the suite reads, in order of first use."""
    columns: list[str] = []
    for expectation in json.loads(_suite_json(kind))["expectations"]:
        kwargs = expectation["kwargs"]
        used = {kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs}
        used |= set(kwargs.get("column_list", ()))
        used |= _condition_columns(kwargs.get("row_condition"))
        columns += sorted(used - set(columns))
    return tuple(columns)


def _description(rule: Rule) -> str:
    """An expectation's text in the Data Docs: its rule, in place of GX's template."""
    return f"{rule.rule_id} ({rule.severity}): {rule.detail}"


def _rule(meta: dict[str, Any], kind: str) -> Rule:
    rule = Rule(meta["rule_id"], meta["severity"], meta["detail"],
                tuple(meta.get("treated_as_absent", ())))
    if rule.severity not in SEVERITIES[kind]:
        raise ValueError(f"{rule.rule_id}: severity in suite {suite_name(kind)} must be one "
                         f"of {SEVERITIES[kind]}")
    return rule


class _Runner:
    """The process-wide ephemeral GX context, its pandas assets and the loaded suites."""

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.execution_engine import pandas_execution_engine

        import returnstats.validation.expectations  # noqa: F401 — registers the custom ones

        # GX fingerprints a batch by hashing every cell (a batch marker, unused here) on
        # each get_batch, as long as the frame is below this size; for a million rows of
        # ID numbers, names and raw dates that costs seconds per validation. GX skips it
        # for large frames anyway: treat every frame as large.
        pandas_execution_engine.HASH_THRESHOLD = 0
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = self.context.data_sources.add_pandas("returnstats_prepared")
        self.batches = {}
        self.suites = {}
        for kind in SEVERITIES:
            asset = source.add_dataframe_asset(kind)
            self.batches[kind] = asset.add_batch_definition_whole_dataframe(f"{kind}_file")
            self.suites[kind] = suite = gx.ExpectationSuite(**json.loads(_suite_json(kind)))
            for expectation in suite.expectations:  # what the Data Docs show of each rule
                expectation.description = _description(_rule(expectation.meta, kind))


_runner: _Runner | None = None
_runner_lock = threading.Lock()


def reload_suites() -> None:
    """Read the suite files again on next use (after `EXPECTATIONS_DIR` changed)."""
    global _runner
    with _runner_lock:
        _runner = None
        _suite_json.cache_clear()
        suite_columns.cache_clear()


def _get_runner() -> _Runner:
    global _runner
    with _runner_lock:
        if _runner is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _runner = _Runner()
        return _runner


def run_suite(kind: str, prepared: pd.DataFrame) -> SuiteRun:
    """Validate a prepared frame against the record suite of its kind.

    An empty file (header only) has nothing to validate: no findings.
    """
    rules = suite_rules(kind)
    if prepared.empty:
        return SuiteRun(kind, [RuleFinding(r, np.empty(0, dtype="int64")) for r in rules],
                        {"suite": suite_name(kind), "success": True, "rows": 0,
                         "results": []})
    # Only the columns the rules read go to GX: it fingerprints and filters the whole frame.
    # The row numbers become the (unnamed) index: GX then reports unexpected rows as a plain
    # list of index values, much faster than building a dict per row for named columns.
    # `copy()` also consolidates the columns into one block per dtype: each row condition
    # makes GX filter the whole frame, and a few wide blocks filter much faster than
    # dozens of single columns.
    frame = prepared[list(suite_columns(kind))].copy()
    frame.index = pd.Index(prepared["row_number"].to_numpy(dtype="int64"))
    result = _validate(kind, frame)
    rows = _unexpected(kind, result, private=True)
    findings = [RuleFinding(rule, np.unique(np.asarray(rows[rule.rule_id], dtype="int64")))
                for rule in rules]
    return SuiteRun(kind, findings, _summary(kind, result, len(prepared)))


def run_report_suite(kind: str, frame: pd.DataFrame) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """Validate a report frame (SPEC §3.3) against its suite: the index labels each rule
    found, by rule id, and the result as JSON (it holds no personal data: the unexpected
    values and labels stay in it, for the Data Docs)."""
    if frame.empty:
        return ({rule.rule_id: [] for rule in suite_rules(kind)},
                {"suite": suite_name(kind), "success": True, "rows": 0, "results": []})
    result = _validate(kind, frame[list(suite_columns(kind))])
    return _unexpected(kind, result, private=False), _summary(kind, result, len(frame))


def _validate(kind: str, frame: pd.DataFrame) -> Any:
    """GX's validation result of `frame` against the suite of `kind`, with the unexpected
    rows (as index values) of every expectation that failed."""
    runner = _get_runner()
    with _runner_lock, warnings.catch_warnings():
        # GX keeps one batch per definition; the lock keeps concurrent callers apart.
        warnings.simplefilter("ignore")
        batch = runner.batches[kind].get_batch(batch_parameters={"dataframe": frame})
        # GX's cost per file is mostly building each expectation's metric graph, and the
        # COMPLETE graph is twice the BOOLEAN_ONLY one. Most rules find nothing in most
        # files: a cheap pass over every rule, then row lists only for those that failed.
        first = batch.validate(runner.suites[kind],
                               result_format={"result_format": "BOOLEAN_ONLY"})
        failed = [r.expectation_config for r in first.results if not r.success]
        second = None
        if failed:
            import great_expectations as gx

            second = batch.validate(
                gx.ExpectationSuite(name=runner.suites[kind].name,
                                    expectations=[c.to_domain_obj() for c in failed]),
                # The unexpected index query is dropped from the summary anyway (it lists
                # row numbers as query text): not asking for it spares a filter per rule.
                result_format={"result_format": "COMPLETE",
                               "return_unexpected_index_query": False},
            )
    detailed = {_key(r.expectation_config): r for r in (second.results if second else [])}
    first.results = [r if r.success else detailed[_key(r.expectation_config)]
                     for r in first.results]
    return first


def _unexpected(kind: str, validation: Any, private: bool) -> dict[str, list[Any]]:
    """The index values each rule found, by rule id; with `private`, the unexpected values
    are removed from the result (they may be personal data)."""
    found: dict[str, list[Any]] = {rule.rule_id: [] for rule in suite_rules(kind)}
    for expectation_result in validation.results:
        rule = _rule(expectation_result.expectation_config.meta, kind)
        result = expectation_result.result or {}
        if not expectation_result.success and "unexpected_count" not in result:
            # A broken expectation must not pass silently as "no finding".
            raise RuntimeError(f"rule {rule.rule_id} could not be evaluated: "
                               f"{expectation_result.exception_info}")
        found[rule.rule_id].extend(result.get("unexpected_index_list") or [])
        if private:
            for key in _PRIVATE_RESULT_KEYS:
                result.pop(key, None)
    return found


def _key(config: Any) -> str:
    """What tells two expectations of a suite apart (two may share a rule id)."""
    return json.dumps([config.type, config.kwargs], sort_keys=True, default=str)


def _summary(kind: str, result: Any, rows: int) -> dict[str, Any]:
    """The validation result as JSON (a record suite's without its unexpected values)."""
    payload = result.to_json_dict()
    payload["suite"] = suite_name(kind)
    payload["rows"] = rows
    return payload
