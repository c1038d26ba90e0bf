"""The reporting cutoff: which provinces had no accepted package for day D (SPEC §8).

Every province reports day D by its cutoff in Beijing time — `RETURNSTATS_CUTOFF`
(default 20:00), with per-province exceptions in `RETURNSTATS_CUTOFF_OVERRIDES`
("54=22:00,65=22:00"). A province without an accepted package for D when the run checks
is recorded as missing in `<output>/alerts/<D>.json` and the on-call is told; the day
completes with the provinces that did report. A package that arrives later is ingested by
the next run (it scans every report_date ≤ D).

Only staged package metadata is read here (province, report date, status), never records.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from returnstats.config import Settings
from returnstats.reference import provinces
from returnstats.validation.staging import read_meta, staged_names

from .alerts import Sender, build_alert, deliver_once

BEIJING = ZoneInfo("Asia/Shanghai")
DEFAULT_CUTOFF = time(20, 0)


class InvalidCutoff(ValueError):
    """A cutoff setting that is not HH:MM or names an unknown province."""


def parse_time(text: str) -> time:
    try:
        hours, minutes = text.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError as error:
        raise InvalidCutoff(f"cutoff must be HH:MM (Beijing time), got {text!r}") from error


def parse_overrides(text: str) -> dict[str, time]:
    """`"54=22:00,65=22:00"` → {"54": 22:00, "65": 22:00}; unknown provinces are refused."""
    overrides: dict[str, time] = {}
    known = provinces()
    for item in filter(None, (part.strip() for part in text.split(","))):
        code, sep, value = item.partition("=")
        code = code.strip()
        if not sep or code not in known:
            raise InvalidCutoff(f"override must be <province code>=HH:MM, got {item!r}")
        overrides[code] = parse_time(value)
    return overrides


@dataclass(frozen=True)
class CutoffPolicy:
    default: time = DEFAULT_CUTOFF
    overrides: Mapping[str, time] = field(default_factory=dict)

    def cutoff(self, province: str) -> time:
        return self.overrides.get(province, self.default)

    def deadline(self, as_of: date, province: str) -> datetime:
        """The moment (aware, Beijing) by which `province` reports day `as_of`."""
        return datetime.combine(as_of, self.cutoff(province), tzinfo=BEIJING)

    def latest_deadline(self, as_of: date, codes: Iterable[str]) -> datetime:
        return max(self.deadline(as_of, code) for code in codes)


def load_policy(environ: Mapping[str, str] = os.environ) -> CutoffPolicy:
    """The policy from `RETURNSTATS_CUTOFF` and `RETURNSTATS_CUTOFF_OVERRIDES`."""
    default = environ.get("RETURNSTATS_CUTOFF", "").strip()
    return CutoffPolicy(
        default=parse_time(default) if default else DEFAULT_CUTOFF,
        overrides=parse_overrides(environ.get("RETURNSTATS_CUTOFF_OVERRIDES", "")),
    )


@dataclass(frozen=True)
class CutoffReport:
    as_of: date
    reported: list[str]
    """Provinces with an accepted package whose report_date is D."""
    missing: list[str]
    """Provinces without one: not reported by their cutoff, or every package rejected."""
    rejected: list[str]
    """Missing provinces that did send something for D, all of it rejected."""
    cutoffs: dict[str, str]
    """The cutoff (HH:MM Beijing) of each missing province."""

    def to_json(self) -> dict:
        return {**asdict(self), "as_of": self.as_of.isoformat()}


def check_cutoff(settings: Settings, as_of: date, codes: Iterable[str],
                 policy: CutoffPolicy) -> CutoffReport:
    """Which of `codes` have an accepted package for report date D in staging."""
    reported: set[str] = set()
    rejected: set[str] = set()
    for name in staged_names(settings.staging):
        meta = read_meta(settings.staging, name)
        if meta is None or meta.get("report_date") != as_of.isoformat():
            continue
        (reported if meta.get("status") == "accepted" else rejected).add(meta["province"])
    codes = list(codes)
    missing = [code for code in codes if code not in reported]
    return CutoffReport(
        as_of=as_of,
        reported=[code for code in codes if code in reported],
        missing=missing,
        rejected=[code for code in missing if code in rejected],
        cutoffs={code: policy.cutoff(code).strftime("%H:%M") for code in missing},
    )


def record_missing(settings: Settings, report: CutoffReport) -> Path:
    """Write `<output>/alerts/<D>.json` atomically (replaced when the day is rerun)."""
    path = settings.output / "alerts" / f"{report.as_of.isoformat()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(path)
    return path


def build_missing_alert(settings: Settings, report: CutoffReport, to: str) -> EmailMessage:
    names = provinces()
    lines = [
        f"returnstats: {len(report.missing)} province(s) had no accepted package for "
        f"{report.as_of.isoformat()} at the cutoff.",
        "The day was published with the provinces that reported; a package arriving later "
        "is taken by the next run and flagged late in the bulletin.",
        "",
    ]
    for code in report.missing:
        province = names.get(code)
        label = f"{province.name_en} / {province.name_zh}" if province else code
        note = " — sent, all rejected (see the ledger)" if code in report.rejected else ""
        lines.append(f"  {code}  {label}  (cutoff {report.cutoffs[code]} Beijing){note}")
    lines += ["", f"Provinces reporting: {len(report.reported)}",
              f"Record: alerts/{report.as_of.isoformat()}.json in the output zone."]
    subject = (f"[returnstats] {report.as_of.isoformat()}: {len(report.missing)} "
               f"province(s) missing at cutoff")
    return build_alert(settings, subject, "\n".join(lines), to)


def alert_missing(settings: Settings, report: CutoffReport, to: str,
                  send: Sender | None) -> str:
    """Tell the on-call once per day and missing set; nothing when every province reported."""
    if not report.missing:
        return "nothing missing"
    message = build_missing_alert(settings, report, to)
    return deliver_once(settings, f"missing-{report.as_of.isoformat()}", message, send,
                        fingerprint={"as_of": report.as_of, "missing": report.missing})
