"""What an approver reads before a bulletin goes out (SPEC §8, issue 16): the body of the
approval task, in Markdown, built from the same context as the bulletin.

It holds the headline sentence in both languages, the provinces reporting, the largest
revisions, the correction (when the bulletin is one), and links to the previews, the
editions and the Data Docs when RETURNSTATS_PUBLIC_BASE_URL is configured (none otherwise).
"""

from __future__ import annotations

from .context import BulletinContext, figure_label
from .rounding import exact_number
from .templates import template_environment

LARGEST_REVISIONS = 5


def _lead(context: BulletinContext, lang: str) -> str:
    """The headline sentence of the edition, as its release section prints it."""
    text = template_environment().get_template(f"_lead.{lang}.txt.j2").render(c=context)
    return next(line for line in text.splitlines() if line.strip())


def _percent(change: int, first: int) -> str:
    return f"{100 * change / first:+.1f}%" if first else "—"


def approval_body(context: BulletinContext, largest: int = LARGEST_REVISIONS,
                  held: str | None = None) -> str:
    """Markdown for the approval task of the bulletin of `context.as_of`; `held`: why the
    vintage may not be approved automatically (the release policy), if anything holds it."""
    d = context.as_of.isoformat()
    lines = [f"## 全国农民工点对点返岗复工日报 / Return-to-work bulletin {d}", ""]
    if held:
        lines += [f"**Held:** {held}.", ""]
    if context.correction is not None:
        lines += ["**更正 / Correction**: this bulletin replaces the one approved before for "
                  f"{d}; {len(context.correction.rows)} figure(s) changed.", ""]
        if context.correction.rows:
            lines += ["| figure | published | corrected |", "|---|---:|---:|"]
            lines += [f"| {row.label_en} | {row.cells[0].en} | {row.cells[1].en} |"
                      for row in context.correction.rows]
            lines.append("")
    lines += [f"- 标题 (zh): {_lead(context, 'zh')}", f"- Headline (en): {_lead(context, 'en')}"]
    reporting = f"- Provinces reporting: {context.provinces_reporting}/31"
    absent = [p.name_en for p in context.missing]
    rejected = [p.name_en for p in context.not_accepted]
    if absent:
        reporting += f"; not reported: {', '.join(absent)}"
    if rejected:
        reporting += f"; report rejected: {', '.join(rejected)}"
    lines += [reporting + ".", ""]

    revisions = sorted(context.revision_list,
                       key=lambda r: (-abs(r.change) / max(r.first_value, 1), r.date, r.figure))
    if revisions:
        lines += [f"Largest revisions ({len(context.revision_list)} figures revised in all):", "",
                  "| figure | first published | first | now | change |",
                  "|---|---|---:|---:|---:|"]
        lines += [f"| {figure_label(r.date, r.figure, 'en')} | {r.first_as_of.isoformat()} | "
                  f"{exact_number(r.first_value, 'en')} | {exact_number(r.value, 'en')} | "
                  f"{r.change:+,} ({_percent(r.change, r.first_value)}) |"
                  for r in revisions[:largest]]
    else:
        lines.append("No previously published figure has been revised.")
    links = [(name, url) for name, url in (
        ("Preview (zh)", context.public_url(f"bulletins/{d}/preview.zh.png")),
        ("Preview (en)", context.public_url(f"bulletins/{d}/preview.en.png")),
        ("Edition (zh)", context.edition_url("zh")),
        ("Edition (en)", context.edition_url("en")),
        ("Data Docs", context.data_docs_url),
    ) if url]
    if links:
        lines += ["", " · ".join(f"[{name}]({url})" for name, url in links)]
    return "\n".join(lines) + "\n"
