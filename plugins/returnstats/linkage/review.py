"""Clerical review of linkage (docs/linkage.md, "Clerical review").

Every run writes the pairs it scored in the uncertain band, just under the match
threshold, to `<staging>/review/as_of=<D>/pairs.csv` (pseudonymous record references,
no personal data) with Splink's comparison viewer of those pairs, `dashboard.html` (it
shows names and IDs: it stays in the restricted zone). A reviewer's decisions, CSV files
dropped in `<staging>/review/decisions/`, are taken by the next run into the labels store
`<staging>/linkage/labels.csv`, and honoured by that run and every later one: a match
joins the two records' persons, a non-match keeps them apart.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from returnstats.linkage import model as linkage_model

REVIEW = "review"
DECISIONS = "decisions"
LABELS_FILE = "labels.csv"
BAND_ENV = "RETURNSTATS_REVIEW_BAND"
DEFAULT_BAND_LOW = 0.5
"""The lower edge of the uncertain band. Out of sample (docs/linkage-out-of-sample.csv),
precision stays 1.0 from 0.5 to the threshold while recall gains only a few pairs in
10,000: the pairs in [0.5, 0.9) are few and mostly true, worth a reviewer's minute."""

DECISION_COLUMNS = ("record_a", "record_b", "decision")
MATCH, NON_MATCH = "match", "non-match"
LABELS_SCHEMA = pa.schema([
    ("a_package", pa.string()), ("a_file", pa.string()), ("a_row", pa.int64()),
    ("b_package", pa.string()), ("b_file", pa.string()), ("b_row", pa.int64()),
    ("match", pa.bool_()), ("new", pa.bool_()),
])
"""The labels a run applies: one per record pair (a before b), the latest decision;
`new` when decided since the previous run (their persons are linked again)."""


class DecisionError(ValueError):
    """A decisions file that cannot be applied: names the file, row and rule."""


def review_root(staging: Any) -> Path:
    """`<staging>/review` for a local zone; beside the host's linkage mirror otherwise."""
    from returnstats.linkage.mirror import local_root

    return local_root(staging).parent / REVIEW


def band(value: str | None = None) -> tuple[float, float]:
    """The uncertain band [low, high) from `RETURNSTATS_REVIEW_BAND` ("low" or "low,high";
    high defaults to, and may not exceed, the match threshold)."""
    text = (os.environ.get(BAND_ENV, "") if value is None else value).strip()
    threshold = linkage_model.MATCH_THRESHOLD
    try:
        parts = [float(p) for p in text.split(",")] if text else [DEFAULT_BAND_LOW]
        low, high = (parts[0], threshold) if len(parts) == 1 else parts
    except ValueError:
        raise ValueError(f"{BAND_ENV} must be 'low' or 'low,high', got {text!r}") from None
    if not 0.0 <= low < high <= threshold:
        raise ValueError(f"{BAND_ENV} must satisfy 0 <= low < high <= {threshold}, got {text!r}")
    return low, high


def record_ref(package: str, file: str, row_number: int) -> str:
    """A record's reference in review files: its lineage, `package:file:row_number`."""
    return f"{package}:{file}:{row_number}"


_REF = re.compile(r"(?P<package>.+):(?P<file>[^:]+):(?P<row>\d+)")


def _parse_ref(text: str) -> tuple[str, str, int] | None:
    found = _REF.fullmatch(text.strip())
    return (found["package"], found["file"], int(found["row"])) if found else None


def _read_decisions(path: Path) -> list[dict[str, str]]:
    """The rows of one decisions file, checked: an error names the file, row and rule."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in DECISION_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DecisionError(f"{path.name}: header lacks {', '.join(missing)} "
                                "(review.columns)")
        rows = []
        for number, row in enumerate(reader, start=2):
            a, b = _parse_ref(row["record_a"] or ""), _parse_ref(row["record_b"] or "")
            decision = (row["decision"] or "").strip().lower()
            if a is None or b is None or a == b:
                raise DecisionError(f"{path.name} row {number}: record_a and record_b must be "
                                    "two record references package:file:row (review.record)")
            if decision not in (MATCH, NON_MATCH):
                raise DecisionError(f"{path.name} row {number}: decision must be {MATCH} or "
                                    f"{NON_MATCH} (review.decision)")
            a, b = sorted((a, b))
            rows.append({"record_a": record_ref(*a), "record_b": record_ref(*b),
                         "decision": decision, "reviewer": (row.get("reviewer") or "").strip()})
    return rows


def take_decisions(review: Path, linkage_root: Path, as_of: date) -> pa.Table:
    """Move the decision files of `review/decisions/` into the labels store (each row kept
    with `since` = `as_of`, the files moved to `decisions/applied/`), and return the labels
    run `as_of` applies (`LABELS_SCHEMA`): those since `as_of` or earlier, the latest
    decision per pair. A rerun of `as_of` applies the same labels."""
    labels_path = linkage_root / LABELS_FILE
    incoming = sorted((review / DECISIONS).glob("*.csv"))
    if incoming:
        rows = [row for path in incoming for row in _read_decisions(path)]
        fresh = not labels_path.exists()
        linkage_root.mkdir(parents=True, exist_ok=True)
        with open(labels_path, "a", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, [*DECISION_COLUMNS, "reviewer", "since"])
            if fresh:
                writer.writeheader()
            writer.writerows({**row, "since": as_of.isoformat()} for row in rows)
        applied = review / DECISIONS / "applied"
        applied.mkdir(exist_ok=True)
        for path in incoming:
            shutil.move(path, applied / f"{as_of.isoformat()}-{path.name}")
    if not labels_path.exists():
        return LABELS_SCHEMA.empty_table()
    latest: dict[tuple[str, str], tuple[bool, bool]] = {}
    with open(labels_path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            since = date.fromisoformat(row["since"])
            if since <= as_of:
                latest[(row["record_a"], row["record_b"])] = (row["decision"] == MATCH,
                                                              since == as_of)
    columns: dict[str, list[Any]] = {name: [] for name in LABELS_SCHEMA.names}
    for (a, b), (match, new) in sorted(latest.items()):
        for side, ref in (("a", a), ("b", b)):
            package, file, row_number = _parse_ref(ref)  # type: ignore[misc]
            columns[f"{side}_package"].append(package)
            columns[f"{side}_file"].append(file)
            columns[f"{side}_row"].append(row_number)
        columns["match"].append(match)
        columns["new"].append(new)
    return pa.table(columns, schema=LABELS_SCHEMA)


def labels_digest(labels: pa.Table) -> str:
    """SHA-256 of the labels a run applies (their new flags included)."""
    import hashlib

    digest = hashlib.sha256()
    for row in labels.to_pylist():
        digest.update(repr(sorted(row.items())).encode())
    return digest.hexdigest()


_EXTERNAL_LINK = re.compile(r"<link[^>]*https?://[^>]*>\s*")


def offline_html(html: str) -> str:
    """Splink's dashboard embeds its scripts but links a web font: dropped, the page then
    needs no network (the browser's own sans-serif is used)."""
    return _EXTERNAL_LINK.sub("", html)


def write_dashboard(linker: Any, predictions: Any, path: Path) -> None:
    html = linker.visualisations.comparison_viewer_dashboard(
        predictions, str(path), overwrite=True, num_example_rows=3, return_html_as_string=True)
    path.write_text(offline_html(html), encoding="utf-8")


def prepare(directory: Path) -> Path:
    """The run's review directory, restricted (0700) like the zone, emptied."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, mode=0o700)
    directory.parent.chmod(0o700)
    return directory
