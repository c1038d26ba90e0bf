"""What an approver sees before a bulletin goes out (SPEC §8): the headline in both
languages, provinces reporting, why the vintage is held, whether it corrects an approved
one, and the largest revisions; as the Markdown body of the approval task."""

from __future__ import annotations

from datetime import date

from returnstats.config import Settings
from returnstats.warehouse.vintages import vintage_of

from .context import N_PROVINCES, build_context, revision_label, signed_number

LARGEST_REVISIONS = 5


def approval_subject(as_of: date) -> str:
    return f"Release the return-to-work bulletin of {as_of.isoformat()}?"


def approval_body(settings: Settings, as_of: date) -> str:
    """Markdown for the approval task (no personal data: figures and province names)."""
    context = build_context(settings, as_of)
    commit = vintage_of(settings.warehouse, as_of)
    missing = "、".join(p.name_zh for p in context.missing) or "无 / none"
    lines = [
        f"**{as_of.isoformat()}** — vintage `{commit.id}`, status **{commit.status}**",
        "",
        f"- 累计返岗 {context.headline('zh')}人 / {context.headline('en')} workers returned",
        f"- 当日新增 {context.number(context.returns_new, 'zh')}人 / "
        f"{context.number(context.returns_new, 'en')} new today",
        f"- 重点企业已解决用工 {context.number(context.key_enterprises_resolved, 'zh')}家 / "
        f"{context.number(context.key_enterprises_resolved, 'en')} key enterprises' needs met",
        f"- Provinces reporting: **{context.provinces_reporting}/{N_PROVINCES}**; "
        f"missing: {missing}",
    ]
    if commit.vintage.get("reason"):
        lines.append(f"- Held because: {commit.vintage['reason']}")
    if commit.corrects:
        lines.append(f"- **Correction**: this vintage changes figures already approved "
                     f"(vintage `{commit.corrects}`); approving sends a correction.")
    revisions = sorted(context.revision_list, key=lambda r: -abs(r.change))[:LARGEST_REVISIONS]
    if revisions:
        lines += ["", "Largest revisions to published figures:", ""]
        lines += [f"- {revision_label(r.date, r.figure, 'en')}: {r.first_value:,} → "
                  f"{r.value:,} ({signed_number(r.change, 'en')})" for r in revisions]
    base = getattr(settings, "public_base_url", None)
    if base:
        day = as_of.isoformat()
        lines += ["", f"[Preview (zh)]({base}/bulletins/{day}/bulletin.zh.html) · "
                  f"[Preview (en)]({base}/bulletins/{day}/bulletin.en.html) · "
                  f"[Data Docs]({base}/data_docs/{day}/index.html)"]
    lines += ["", "Approve to publish the vintage and send the bulletin; reject (with a "
              "reason) to keep it unpublished."]
    return "\n".join(lines)
