"""What may be published and sent (SPEC §6 `vintages`, §7, §8): the promotion policy, the
approval or rejection of a vintage, and the record of its bulletin's delivery.

A publish commits every vintage `held`. It may be approved automatically only when at
least `RETURNSTATS_MIN_PROVINCES` provinces reported and its as-of date lies in the
campaign window; otherwise `reason` says why, and only a person can approve it. A rerun
that changes none of the figures of an approved vintage keeps its approval and delivery;
one that changes them is held again and, once approved, goes out as a correction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from returnstats.config import Settings
from returnstats.warehouse.commits import Commit, history
from returnstats.warehouse.location import Root, locate
from returnstats.warehouse.vintages import change_state, vintage_of

N_PROVINCES = 31
FIGURE_TABLES = ("national_summary", "returns_daily", "enterprises_daily")
"""The tables whose content is "the figures": a rerun changing none needs no new approval."""
AUTO = "auto"


class NotApproved(RuntimeError):
    """A bulletin asked to go out for a vintage that is not approved."""


@dataclass(frozen=True)
class Policy:
    """When a vintage may be approved without a person (`RETURNSTATS_MIN_PROVINCES`,
    `RETURNSTATS_CAMPAIGN_START`, `RETURNSTATS_CAMPAIGN_END`)."""

    min_provinces: int = 16
    campaign_start: date | None = None
    campaign_end: date | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(settings.min_provinces, settings.campaign_start, settings.campaign_end)

    def hold_reason(self, as_of: date, provinces_reporting: int) -> str | None:
        """Why the vintage may not be approved automatically, or None."""
        reasons = []
        if provinces_reporting < self.min_provinces:
            reasons.append(f"{provinces_reporting} of {N_PROVINCES} provinces reported for "
                           f"{as_of}; at least {self.min_provinces} are needed")
        start, end = self.campaign_start, self.campaign_end
        if (start and as_of < start) or (end and as_of > end):
            window = f"{start or '…'} to {end or 'open'}"
            reasons.append(f"as-of date {as_of} lies outside the campaign window ({window})")
        return "; ".join(reasons) or None


def figure_digests(tables: Mapping[str, pa.Table]) -> dict[str, str]:
    """A content digest of each figure table (Arrow IPC of its rows in grain order)."""
    digests = {}
    for name in FIGURE_TABLES:
        sink = pa.BufferOutputStream()
        table = tables[name].combine_chunks()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        digests[name] = hashlib.sha256(sink.getvalue()).hexdigest()
    return digests


def last_approved(root: Root, as_of: date) -> Commit | None:
    """The newest record of `as_of` whose vintage was approved (the published figures)."""
    approved = [c for c in history(locate(root), as_of) if c.status == "approved"]
    return approved[-1] if approved else None


@dataclass(frozen=True)
class Publication:
    """The state a new vintage is committed with."""

    status: str
    reason: str | None
    carried: Mapping[str, Any]
    corrects: str | None


def publication(root: Root, as_of: date, digests: Mapping[str, str], hold: str | None) -> Publication:
    """How a new vintage of `as_of` is committed, given the last approved one of that date:
    the same figures keep its approval and delivery; other figures correct it."""
    approved = last_approved(root, as_of)
    if approved is None:
        return Publication("held", hold, {}, None)
    if dict(approved.digests) == dict(digests):
        carried = {k: approved.vintage[k] for k in
                   ("status", "reason", "approved_by", "approved_at", "delivery", "sent_at")}
        return Publication("approved", approved.vintage["reason"], carried, approved.corrects)
    revises = f"revises the figures approved on {approved.vintage['approved_at']}; needs approval again"
    return Publication("held", "; ".join(filter(None, (hold, revises))), {}, approved.id)


def approve(root: Root, as_of: date, by: str, at: datetime | None = None) -> Commit:
    """Promote the vintage: `latest_*` shows it and its bulletin may go out."""
    return change_state(root, as_of, "approve", status="approved", approved_by=by,
                        approved_at=at or datetime.now(UTC))


def reject(root: Root, as_of: date, by: str, reason: str, at: datetime | None = None) -> Commit:
    """Refuse the vintage: it is never shown by `latest_*`, its bulletin never sent."""
    return change_state(root, as_of, "reject", status="rejected", reason=reason,
                        approved_by=by, approved_at=at or datetime.now(UTC))


def record_delivery(root: Root, as_of: date, delivery: str, at: datetime | None = None) -> Commit:
    """`outbox` (written for later sending) or `sent` (an SMTP server accepted it)."""
    if delivery not in ("outbox", "sent"):
        raise ValueError(f"unknown delivery {delivery!r}")
    fields: dict[str, Any] = {"delivery": delivery}
    if delivery == "sent":
        fields["sent_at"] = at or datetime.now(UTC)
    return change_state(root, as_of, "deliver", **fields)


def require_approved(root: Root, as_of: date) -> Commit:
    """The current record of `as_of`, or `NotApproved` naming its status and reason."""
    commit = vintage_of(root, as_of)
    if commit.status != "approved":
        reason = f" ({commit.vintage['reason']})" if commit.vintage.get("reason") else ""
        raise NotApproved(f"vintage {as_of} is {commit.status}{reason}: nothing is sent")
    return commit
