"""A vintage's life in the warehouse: committed whole by a publish, then approved or
rejected, then delivered (SPEC §6 `vintages`, §7, §8). Every step is one commit record
(`commits.py`) and a fresh `warehouse.duckdb`; the policy of what may be approved and sent
lives in `returnstats.release`."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import pyarrow as pa

from returnstats.config import REPO_ROOT
from returnstats.warehouse.catalog import build_catalog
from returnstats.warehouse.commits import (
    Commit,
    current_commit,
    first_commit,
    next_seq,
    successor,
    write_commit,
)
from returnstats.warehouse.location import Root, locate
from returnstats.warehouse.schema import TABLES, VINTAGES
from returnstats.warehouse.store import (
    Segments,
    data_file,
    recover,
    write_segments,
    write_table_file,
    writer_lock,
)

log = logging.getLogger(__name__)

Tables = Mapping[str, pa.Table | Segments]
"""Every warehouse table of one as-of date but `vintages`; person_returns may be Segments."""


class VintageMissing(LookupError):
    """No committed vintage for the as-of date."""


@cache
def code_version() -> str:
    """`returnstats <version>+<git commit>` (the commit when the code is a git checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        number = version("returnstats")
    except PackageNotFoundError:
        import tomllib

        number = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    try:
        head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        head = ""
    return f"returnstats {number}" + (f"+{head}" if head else "")


def _json_time(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _row(vintage: Mapping[str, Any]) -> pa.Table:
    """The one `vintages` row of a commit, typed."""
    row = dict(vintage)
    for column in ("published_at", "approved_at", "sent_at"):
        row[column] = datetime.fromisoformat(row[column]) if row.get(column) else None
    return pa.Table.from_pylist([{c: row.get(c) for c in VINTAGES.column_names}],
                                schema=VINTAGES.schema)


def _write_vintage_file(location, commit: Commit) -> Commit:
    name = data_file(commit.id)
    write_table_file(location, VINTAGES, commit.as_of, _row(commit.vintage), name)
    return replace(commit, files={**commit.files, VINTAGES.name: (name,)})


def commit_vintage(root: Root, as_of: date, tables: Tables, *, status: str, reason: str | None,
                   provinces_reporting: int, key_fingerprint: str | None,
                   identity: str | None = None, digests: Mapping[str, str] | None = None,
                   carried: Mapping[str, Any] | None = None,
                   corrects: str | None = None) -> tuple[Commit, dict[str, int]]:
    """Write every table of the vintage `as_of`, then commit it in one atomic step.

    `carried` overrides fields of the new `vintages` row (an approval kept by a rerun that
    changed no figure). Returns the record and the rows written per table. Before writing, what earlier writers left behind is removed
    (`recover`); under the writer lock, so nothing else writes meanwhile."""
    location = locate(root)
    with writer_lock(location):
        recover(location)
        seq = next_seq(location, as_of)
        commit = first_commit(as_of, seq, action="publish", files={}, vintage={})
        files: dict[str, tuple[str, ...]] = {}
        segments: dict[int, str] = {}
        rows: dict[str, int] = {}
        for name, table in tables.items():
            if isinstance(table, Segments):
                rows[name] = write_segments(location, TABLES[name], as_of, table)
                segments = table.files()
                files[name] = tuple(segments.values())
            else:
                files[name] = (data_file(commit.id),)
                write_table_file(location, TABLES[name], as_of, table, files[name][0])
                rows[name] = table.num_rows
        vintage = {
            "status": status, "reason": reason, "provinces_reporting": provinces_reporting,
            "published_at": _json_time(commit.created_at), "approved_by": None,
            "approved_at": None, "delivery": "none", "sent_at": None,
            "code_version": code_version(), "key_fingerprint": key_fingerprint,
            **(carried or {}),
        }
        commit = replace(commit, files=files, vintage=vintage, segments=segments,
                         identity=identity, digests=dict(digests or {}), corrects=corrects)
        commit = _write_vintage_file(location, commit)
        write_commit(location, commit)
        log.info("committed vintage %s (%s, %s): %s", as_of, commit.id, status, rows)
        _refresh(location)
    return commit, rows


def change_state(root: Root, as_of: date, action: str, **vintage: Any) -> Commit:
    """A new record of the current vintage of `as_of` with `vintage` fields changed
    (timestamps as datetimes); the data files stay those of the current record."""
    location = locate(root)
    with writer_lock(location):
        parent = current_commit(location, as_of)
        if parent is None:
            raise VintageMissing(f"no committed vintage for {as_of}")
        changes = {k: _json_time(v) if isinstance(v, datetime) else v for k, v in vintage.items()}
        files = {t: names for t, names in parent.files.items() if t != VINTAGES.name}
        commit = _write_vintage_file(location, successor(parent, action, files, **changes))
        write_commit(location, commit)
        log.info("vintage %s: %s (%s)", as_of, action,
                 ", ".join(f"{k}={v}" for k, v in changes.items()))
        _refresh(location)
    return commit


def vintage_of(root: Root, as_of: date) -> Commit:
    """The current record of `as_of`; `VintageMissing` when none was committed."""
    commit = current_commit(locate(root), as_of)
    if commit is None:
        raise VintageMissing(f"no committed vintage for {as_of}")
    return commit


def _refresh(location) -> None:
    """The catalog follows the records (the lock is held: `build_catalog`, not refresh)."""
    build_catalog(location)
