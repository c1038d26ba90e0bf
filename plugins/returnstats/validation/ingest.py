"""Ingest one province for an as-of date: read, validate and stage its packages (SPEC §3).

A package already staged with the same landing bytes (or the same manifest content) is
reused as it is, so reruns and backfills are cheap and keep `first_processed_as_of`.
A different submission under the name of an accepted package never replaces it: it is
staged beside it as `<package>#conflict-<sha8>`, rejected with `package.version.conflict`.
"""

from __future__ import annotations

import hashlib
import logging
import os
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from returnstats.config import Settings
from returnstats.reports.isolation import read_isolated
from returnstats.reports.landing import PackageRef, RejectedEntry, scan_landing
from returnstats.reports.regular import NotRegular, open_regular
from returnstats.reports.values import MODES
from returnstats.validation.data_docs import save_result
from returnstats.validation.ledger import NO_FILE, LedgerEntry, ledger_frame
from returnstats.validation.prepare import (
    ENTERPRISE_STAGED_COLUMNS,
    WORKER_STAGED_COLUMNS,
    FileContext,
    prepare,
)
from returnstats.validation.quarantine import empty_quarantine, split_file
from returnstats.validation.staging import (
    CONFLICT_MARK,
    read_meta,
    read_table,
    write_package,
)
from returnstats.validation.suites import run_suite

log = logging.getLogger(__name__)

CONFLICT = "package.version.conflict"
STAGED_COLUMNS = {"workers": WORKER_STAGED_COLUMNS, "enterprises": ENTERPRISE_STAGED_COLUMNS}


def landing_sha256(path: Path) -> str:
    """Fingerprint of a package as delivered: the zip's bytes, or a directory's relative
    paths and file bytes. Symlinks are hashed by their target text, never followed."""
    digest = hashlib.sha256()
    path = Path(path)
    if not path.is_dir() or path.is_symlink():
        if path.is_symlink():
            digest.update(b"symlink:" + os.readlink(path).encode())
        else:
            _hash_regular(path, digest, digest)
        return digest.hexdigest()
    for root, dirs, files in os.walk(path, followlinks=False):
        dirs.sort()
        for name in sorted(files + [d for d in dirs if os.path.islink(os.path.join(root, d))]):
            full = os.path.join(root, name)
            relative = os.path.relpath(full, path).replace(os.sep, "/")
            digest.update(b"\0path:" + relative.encode())
            if os.path.islink(full):
                digest.update(b"\0symlink:" + os.readlink(full).encode())
                continue
            file_digest = hashlib.sha256()
            if _hash_regular(full, file_digest, digest):
                digest.update(b"\0sha256:" + file_digest.digest())
    return digest.hexdigest()


def _hash_regular(path: str | Path, content, listing) -> bool:
    """Feed a regular file's bytes to `content`; anything else (a fifo, a socket: never
    opened, it could block) only adds its kind to `listing`. True for a regular file."""
    try:
        fd = open_regular(path)
    except NotRegular as exc:
        listing.update(b"\0special:" + exc.what.encode())
        return False
    with os.fdopen(fd, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            content.update(chunk)
    return True


def ingest_province(settings: Settings, province: str, as_of: date) -> dict[str, Any]:
    """Stage every package of `province` with report_date ≤ as_of not staged yet.

    Returns `{province, as_of, packages: [{package, status, reason, rows_received,
    rows_accepted, rows_quarantined, reused}], ignored: [...]}` (JSON-able).
    """
    scan = scan_landing(settings.landing, as_of=as_of, province=province)
    summaries = [_ingest_package(settings, ref, as_of) for ref in scan.packages]
    summaries += [_ingest_rejected_entry(settings, entry, as_of) for entry in scan.rejected]
    return {
        "province": province,
        "as_of": as_of.isoformat(),
        "packages": summaries,
        "ignored": [{"path": e.path, "reason": e.reason} for e in scan.ignored],
    }


def _meta(name: str, province: str, report_date: date, version: int, status: str,
          reason: str | None, detail: str | None, as_of: date, landing_sha: str | None,
          content_sha: str | None, files: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "package": name, "province": province, "report_date": report_date.isoformat(),
        "version": version, "content_sha256": content_sha, "landing_sha256": landing_sha,
        "status": status, "reason": reason, "detail": detail,
        "first_processed_as_of": as_of.isoformat(), "files": files,
    }


def _summary(staged_as: str, meta: dict[str, Any], ledger: pd.DataFrame,
             reused: bool) -> dict[str, Any]:
    return {
        "package": staged_as,
        "status": meta["status"],
        "reason": meta["reason"],
        "rows_received": int(ledger["rows_received"].sum()),
        "rows_accepted": int(ledger["rows_accepted"].sum()),
        "rows_quarantined": int(ledger["rows_quarantined"].sum()),
        "reused": reused,
    }


def _reuse(settings: Settings, staged_as: str, meta: dict[str, Any]) -> dict[str, Any]:
    log.info("package %s already staged (%s); reused", staged_as, meta["status"])
    return _summary(staged_as, meta, read_table(settings.staging, staged_as, "ledger"), True)


def _ingest_package(settings: Settings, ref: PackageRef, as_of: date) -> dict[str, Any]:
    landing_sha = landing_sha256(ref.path)
    existing = read_meta(settings.staging, ref.name)
    if existing is not None and existing.get("landing_sha256") == landing_sha:
        return _reuse(settings, ref.name, existing)
    conflict_name = f"{ref.name}{CONFLICT_MARK}{landing_sha[:8]}"
    in_conflict = existing is not None and existing["status"] == "accepted"
    if in_conflict and (staged := read_meta(settings.staging, conflict_name)) is not None:
        return _reuse(settings, conflict_name, staged)

    reading = read_isolated(ref, settings.limits)
    package, rejection = reading.package, reading.rejection
    log.info("package %s read in a child process: peak %d MiB, %d MiB more than it started "
             "with", ref.name, reading.peak_rss_bytes >> 20, reading.added_rss_bytes >> 20,
             extra={"reader_added_rss": reading.added_rss_bytes, "package": ref.name})

    if in_conflict and package is not None and \
            package.content_sha256 == existing.get("content_sha256"):
        # Same manifest and files, delivered differently (re-zipped): nothing new.
        return _reuse(settings, ref.name, existing)

    name = conflict_name if in_conflict else ref.name
    content_sha = package.content_sha256 if package is not None else None
    files = [{"kind": k, "name": f.name} for k, f in package.files.items()] if package else []

    if rejection is not None or in_conflict:
        if rejection is not None:
            reason, detail = rejection.reason, rejection.detail
            entries = [LedgerEntry(f.name, f.rows, 0, 0) for f in reading.census]
            entries = entries or [LedgerEntry(rejection.file or NO_FILE, 0, 0, 0)]
        else:
            reason = CONFLICT
            detail = (f"{ref.name} is already accepted with content "
                      f"{(existing.get('content_sha256') or '')[:8]}; this submission "
                      f"({(content_sha or landing_sha)[:8]}) needs a new version")
            entries = [LedgerEntry(f.name, f.rows_received, 0, 0)
                       for f in package.files.values()]
        meta = _meta(ref.name, ref.province, ref.report_date, ref.version, "rejected", reason,
                     detail, as_of, landing_sha, content_sha, files)
        ledger = ledger_frame(name, ref.province, ref.report_date, ref.version, "rejected",
                              f"{reason}: {detail}", entries)
        write_package(settings.staging, name, meta, {"ledger": ledger})
        log.warning("package %s rejected: %s (%s)", name, reason, detail)
        return _summary(name, meta, ledger, False)

    tables: dict[str, pd.DataFrame] = {"quarantine": empty_quarantine()}
    quarantine = []
    entries = []
    for kind, raw in package.files.items():
        ctx = FileContext(package=ref.name, province=ref.province,
                          report_date=ref.report_date, version=ref.version, file=raw.name,
                          campaign_start=settings.campaign_start)
        prepared = prepare(kind, raw.table, ctx)
        run = run_suite(kind, prepared)
        outcome = split_file(kind, prepared, run.findings, ctx)
        tables[kind] = outcome.accepted[list(STAGED_COLUMNS[kind])]
        quarantine.append(outcome.quarantine)
        entries.append(LedgerEntry(raw.name, raw.rows_received, outcome.rows_accepted,
                                   outcome.rows_quarantined))
        save_result(settings, as_of, ref.name, kind, run.summary)
        log.info("package %s file %s: %d rows received, %d accepted, %d quarantined",
                 ref.name, raw.name, raw.rows_received, outcome.rows_accepted,
                 outcome.rows_quarantined)
    if quarantine:
        tables["quarantine"] = pd.concat(quarantine, ignore_index=True)
    meta = _meta(ref.name, ref.province, ref.report_date, ref.version, "accepted", None, None,
                 as_of, landing_sha, content_sha, files)
    meta["declared_totals"] = package.manifest.get("declared_totals")
    meta["observed_totals"] = observed_totals(tables.get("workers"), tables.get("enterprises"))
    tables["ledger"] = ledger_frame(ref.name, ref.province, ref.report_date, ref.version,
                                    "accepted", None, entries)
    write_package(settings.staging, ref.name, meta, tables)
    return _summary(ref.name, meta, tables["ledger"], False)


def observed_totals(workers: pd.DataFrame | None,
                    enterprises: pd.DataFrame | None) -> dict[str, Any]:
    """The figures of SPEC §2.1 `declared_totals`, counted over the accepted records: worker
    records by mode, and key enterprise records whose workers_supplied ≥ labour_gap."""
    modes = workers["mode"].astype(object).value_counts() if workers is not None else {}
    resolved = 0
    if enterprises is not None and len(enterprises):
        key = enterprises["key_enterprise"].astype(object).eq(True)
        supplied = enterprises["workers_supplied"].astype("Int64")
        resolved = int((key & (supplied >= enterprises["labour_gap"].astype("Int64"))
                        .fillna(False)).sum())
    return {"returns_by_mode": {mode: int(modes.get(mode, 0)) for mode in MODES},
            "key_enterprises_resolved": resolved}


def _ingest_rejected_entry(settings: Settings, entry: RejectedEntry,
                           as_of: date) -> dict[str, Any]:
    """Stage a package-named entry the landing scan rejected (a symlink, a dir and a zip)."""
    mark = hashlib.sha256(f"{entry.reason}\0{entry.detail}".encode()).hexdigest()
    existing = read_meta(settings.staging, entry.name)
    name = entry.name
    if existing is not None and existing["status"] == "accepted":
        name = f"{entry.name}{CONFLICT_MARK}{mark[:8]}"
        existing = read_meta(settings.staging, name)
    if existing is not None and existing.get("landing_sha256") == mark:
        return _reuse(settings, name, existing)
    meta = _meta(entry.name, entry.province, entry.report_date, entry.version, "rejected",
                 entry.reason, entry.detail, as_of, mark, None, [])
    ledger = ledger_frame(name, entry.province, entry.report_date, entry.version, "rejected",
                          f"{entry.reason}: {entry.detail}", [])
    write_package(settings.staging, name, meta, {"ledger": ledger})
    log.warning("package %s rejected: %s (%s)", name, entry.reason, entry.detail)
    return _summary(name, meta, ledger, False)


