"""The rule tables of docs/rules.md, generated from the suites in include/gx
(`python -m returnstats.validation.rules_doc` rewrites them; a test checks they are
current): the record rules (SPEC §3.2) and the report checks (SPEC §3.3), each between its
own pair of markers."""

from __future__ import annotations

import json
import re
from pathlib import Path

from returnstats.config import REPO_ROOT
from returnstats.validation import suites

DOC = REPO_ROOT / "docs" / "rules.md"
BEGIN = "<!-- record rules: generated from include/gx by returnstats.validation.rules_doc -->"
END = "<!-- end of record rules -->"
REPORT_BEGIN = ("<!-- report checks: generated from include/gx by "
                "returnstats.validation.rules_doc -->")
REPORT_END = "<!-- end of report checks -->"
SECTIONS = {
    (BEGIN, END): (("Record level — workers", ("workers",)),
                   ("Record level — enterprises", ("enterprises",))),
    (REPORT_BEGIN, REPORT_END): (
        ("Report level — recorded in `report_checks`, never rejecting (SPEC §3.3)",
         suites.REPORT_KINDS),),
}


def _expectation(entry: dict, kind: str) -> str:
    kwargs = entry["kwargs"]
    columns = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
    shown = f"`{entry['type']}` ({', '.join(f'`{c}`' for c in columns)})"
    return shown if kind in suites.KINDS else f"{shown} in `{suites.suite_name(kind)}`"


def _table(title: str, kinds: tuple[str, ...]) -> list[str]:
    lines = ["", f"## {title}", "",
             "| rule id | severity | meaning | expectation |", "|---|---|---|---|"]
    for kind in kinds:
        entries = json.loads(suites.suite_path(kind).read_text(encoding="utf-8"))["expectations"]
        by_rule: dict[str, list[dict]] = {}
        for entry in entries:
            by_rule.setdefault(entry["meta"]["rule_id"], []).append(entry)
        for rule in suites.suite_rules(kind):
            shown = "; ".join(_expectation(e, kind) for e in by_rule[rule.rule_id])
            lines.append(f"| `{rule.rule_id}` | {rule.severity} | {rule.detail} | {shown} |")
    return lines


def rules_markdown(begin: str = BEGIN, end: str = END) -> str:
    """One generated section of the doc, markers included."""
    parts = [begin]
    for title, kinds in SECTIONS[(begin, end)]:
        parts += _table(title, kinds)
    return "\n".join([*parts, "", end])


def current(text: str) -> str:
    """`text` (docs/rules.md) with its generated sections replaced by the suites' rules."""
    for begin, end in SECTIONS:
        pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
        text = pattern.sub(lambda _, b=begin, e=end: rules_markdown(b, e), text)
    return text


def main(doc: Path = DOC) -> None:
    doc.write_text(current(doc.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main()
