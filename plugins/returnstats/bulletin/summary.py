"""`python -m returnstats.bulletin.summary`: where the outputs are, and the latest headline.

Printed at the end of `make run`, so a newcomer sees what the week produced.
"""

from __future__ import annotations

import sys

from returnstats.bulletin.render import LANGS
from returnstats.config import Settings, load_settings

HEADLINE_OPENING = {"zh": "截至", "en": "As of"}


def _headline(text: str, lang: str) -> str:
    """The bulletin's headline sentence: its first paragraph opening "As of" / "截至"."""
    for paragraph in text.split("\n\n"):
        if paragraph.strip().startswith(HEADLINE_OPENING[lang]):
            return " ".join(paragraph.split())
    return ""


def summary(settings: Settings) -> str:
    bulletins = sorted(p for p in (settings.output / "bulletins").glob("*") if p.is_dir())
    lines = [
        f"warehouse   {settings.warehouse}  (duckdb {settings.warehouse / 'warehouse.duckdb'})",
        f"bulletins   {settings.output / 'bulletins'}",
        f"outbox      {settings.output / 'outbox'}",
        f"data docs   {settings.output / 'data_docs'}",
    ]
    if not bulletins:
        return "\n".join([*lines, "no bulletin has been rendered yet"])
    latest = bulletins[-1]
    lines.append(f"\nlatest bulletin: {latest}")
    for lang in LANGS:
        text = (latest / f"bulletin.{lang}.txt").read_text(encoding="utf-8")
        lines.append(f"  [{lang}] {_headline(text, lang)}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary(load_settings()))
    sys.exit(0)
