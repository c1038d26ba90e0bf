"""The record-rule tables of docs/rules.md, generated from the suites in include/gx
(`python -m returnstats.validation.rules_doc` rewrites them; a test checks they are
current)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from returnstats.config import REPO_ROOT
from returnstats.validation import suites

DOC = REPO_ROOT / "docs" / "rules.md"
BEGIN = "<!-- record rules: generated from include/gx by returnstats.validation.rules_doc -->"
END = "<!-- end of record rules -->"
TITLES = {"workers": "Record level — workers", "enterprises": "Record level — enterprises"}


def _expectation(entry: dict) -> str:
    kwargs = entry["kwargs"]
    columns = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
    return f"`{entry['type']}` ({', '.join(f'`{c}`' for c in columns)})"


def rules_markdown() -> str:
    parts = [BEGIN]
    for kind in suites.KINDS:
        entries = json.loads(suites.suite_path(kind).read_text(encoding="utf-8"))["expectations"]
        by_rule: dict[str, list[dict]] = {}
        for entry in entries:
            by_rule.setdefault(entry["meta"]["rule_id"], []).append(entry)
        parts += ["", f"## {TITLES[kind]}", "",
                  "| rule id | severity | meaning | expectation |", "|---|---|---|---|"]
        for rule in suites.suite_rules(kind):
            shown = "; ".join(_expectation(e) for e in by_rule[rule.rule_id])
            parts.append(f"| `{rule.rule_id}` | {rule.severity} | {rule.detail} | {shown} |")
    parts += ["", END]
    return "\n".join(parts)


def current(text: str) -> str:
    """`text` (docs/rules.md) with its generated section replaced by the suites' rules."""
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    return pattern.sub(lambda _: rules_markdown(), text)


def main(doc: Path = DOC) -> None:
    doc.write_text(current(doc.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main()
