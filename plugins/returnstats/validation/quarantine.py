"""Findings to quarantine rows, and the split of a file into accepted and quarantined rows.

An error finding takes the row out of the accepted set; a warning leaves it accepted and
flagged, and the columns its expectation names in `treated_as_absent` are staged as null
on that row. A row breaking several rules gets one finding row per rule and is counted
once. The staged findings hold both severities; publish writes the errors to
`quarantine` and the warnings to `record_flags` (SPEC §6).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from returnstats.privacy import (
    PERSONAL_DETAIL,
    PERSONAL_RECORD_ID,
    personal_mask,
    public_record_ids,
)
from returnstats.validation.prepare import FileContext
from returnstats.validation.suites import Rule, RuleFinding
from returnstats.warehouse.schema import QUARANTINE

log = logging.getLogger(__name__)

QUARANTINE_COLUMNS = QUARANTINE.column_names
PERSONAL_RULE = Rule(PERSONAL_RECORD_ID, "warning", PERSONAL_DETAIL)


@dataclass
class FileOutcome:
    accepted: pd.DataFrame
    """Prepared rows with no error finding (warnings included)."""
    quarantine: pd.DataFrame
    """One row per (row, rule) finding, columns of the quarantine table."""
    rows_received: int
    rows_accepted: int
    rows_quarantined: int


def empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in QUARANTINE_COLUMNS})


def record_key_column(kind: str) -> str:
    """The column named in `quarantine.record_id`: record_id, or the USCC as given."""
    return "record_id" if kind == "workers" else "enterprise_uscc_raw"


def _blank_absent(accepted: pd.DataFrame, findings: list[RuleFinding]) -> pd.DataFrame:
    """`accepted` with the values warnings treat as absent set to null."""
    blanks = [f for f in findings if f.rule.absent and f.row_numbers.size]
    if not blanks:
        return accepted
    accepted = accepted.copy(deep=False)  # new columns replace, never write into, old ones
    rows = accepted["row_number"].to_numpy(dtype="int64")
    for finding in blanks:
        flagged = np.isin(rows, finding.row_numbers)
        for column in finding.rule.absent:
            values = accepted[column]
            # Text keeps None for missing (what the staging writer expects).
            accepted[column] = values.mask(flagged, None if values.dtype == object else np.nan)
    return accepted


def split_file(kind: str, prepared: pd.DataFrame, findings: list[RuleFinding],
               ctx: FileContext) -> FileOutcome:
    """Accepted rows and quarantine rows of one validated file."""
    row_numbers = prepared["row_number"].to_numpy(dtype="int64")
    raw_keys = prepared[record_key_column(kind)].to_numpy(dtype=object)
    keys = public_record_ids(raw_keys, row_numbers)  # SPEC §6: no ID or phone published
    position = pd.Series(np.arange(len(prepared)), index=row_numbers)
    if kind == "workers":
        findings = [*findings, RuleFinding(PERSONAL_RULE, row_numbers[personal_mask(raw_keys)])]

    frames = []
    error_rows: list[np.ndarray] = []
    for finding in findings:
        if finding.row_numbers.size == 0:
            continue
        rule = finding.rule
        if rule.severity == "error":
            error_rows.append(finding.row_numbers)
        at = position.reindex(finding.row_numbers).to_numpy(dtype="int64")
        frames.append(pd.DataFrame({
            "row_number": finding.row_numbers,
            "record_id": keys[at],
            "rule": rule.rule_id,
            "severity": rule.severity,
            "detail": rule.detail,
        }))
        shown = ", ".join(str(r) for r in finding.row_numbers[:10])
        more = f" and {finding.row_numbers.size - 10} more" if finding.row_numbers.size > 10 else ""
        log.info("package %s file %s rule %s (%s): rows %s%s", ctx.package, ctx.file,
                 rule.rule_id, rule.severity, shown, more)

    quarantine = empty_quarantine()
    if frames:
        found = pd.concat(frames, ignore_index=True)
        quarantine = pd.DataFrame({
            "package": ctx.package,
            "file": ctx.file,
            "row_number": found["row_number"].astype("int64"),
            "report_date": ctx.report_date,
            "province": ctx.province,
            "version": np.int64(ctx.version),
            "record_id": found["record_id"].astype(object),
            "rule": found["rule"],
            "severity": found["severity"],
            "detail": found["detail"],
        })[QUARANTINE_COLUMNS].sort_values(["row_number", "rule"], kind="stable",
                                           ignore_index=True)

    errors = np.unique(np.concatenate(error_rows)) if error_rows else np.empty(0, "int64")
    keep = ~np.isin(row_numbers, errors)
    accepted = _blank_absent(prepared[keep], findings)
    return FileOutcome(
        accepted=accepted,
        quarantine=quarantine,
        rows_received=len(prepared),
        rows_accepted=int(keep.sum()),
        rows_quarantined=int(errors.size),
    )
