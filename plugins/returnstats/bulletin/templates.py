"""The Jinja environment of the bulletin templates (include/templates) and its filters."""

from __future__ import annotations

import re
from functools import lru_cache

import jinja2
from markupsafe import Markup, escape

from returnstats.config import INCLUDE

from .dates import table_date
from .texttable import format_text_table

# What a reader must see whole: rule and check ids, package names.
IDENTIFIER = re.compile(
    r"\b(?:package|worker|enterprise|report)(?:\.[a-z0-9_]+)+|\b\d{2}_\d{8}_v\d+(?:#[\w-]+)?")


def autoescaped(name: str | None) -> bool:
    """Every template escapes but the plain-text ones (`*.txt.j2`): the HTML editions, the
    macros, and any template added later."""
    return name is None or not name.endswith(".txt.j2")


def nobreak(text: str) -> Markup:
    """Escaped text in which a line never breaks an identifier (rule id, package name)."""
    return Markup(IDENTIFIER.sub(lambda m: f'<span style="white-space:nowrap">{m[0]}</span>',
                                 str(escape(text))))


def _lines(text: str) -> list[str]:
    """The non-blank lines of `text` as plain str (not Markup), so that autoescaping applies
    to each line again when a text template is included in an HTML one."""
    return [str.__str__(line) for line in str(text).splitlines() if line.strip()]


@lru_cache(maxsize=1)
def template_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(INCLUDE / "templates"),
        autoescape=autoescaped,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["text_table"] = format_text_table
    env.filters["table_date"] = table_date
    env.filters["nobreak"] = nobreak
    env.filters["lines"] = _lines
    return env
