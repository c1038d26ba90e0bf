"""Commit records: the one step that makes a vintage visible (SPEC §6 "Vintages commit
whole"; Delta Lake's and Iceberg's pattern, STYLE.md).

A publish writes its data files first, under names never reused; then one small JSON
record, `<root>/_commits/as_of=YYYY-MM-DD/<seq>.json`, written atomically and never
replaced, names every file of every table of the vintage together with its state (the
`vintages` row). Readers resolve what is visible from the newest record of each as-of
date, never by listing data directories, so they never see two vintages mixed, and a
writer killed at any moment leaves the previous records, hence the previous state.

A later change of state (approval, rejection, delivery) is a new record naming the same
data files and a new `vintages` file. The records of a date are its history: who
approved what and when.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from returnstats.warehouse.location import Location, put_atomic

COMMITS_DIR = "_commits"
FORMAT = 1

STATUSES = ("held", "approved", "rejected")
DELIVERIES = ("none", "outbox", "sent")


class CommitFormatError(RuntimeError):
    """A commit record this version cannot read."""


def partition_name(as_of: date) -> str:
    return f"as_of={as_of.isoformat()}"


def partition_path(table_name: str, as_of: date) -> str:
    """The partition directory of a table, relative to the root."""
    return f"{table_name}/{partition_name(as_of)}"


@dataclass(frozen=True)
class Commit:
    """One commit record: the files of each table of a vintage and its state."""

    as_of: date
    seq: int
    """Position in the date's history, from 1; the newest record is the current one."""
    id: str
    created_at: datetime
    action: str
    """publish, approve, reject or deliver: what made this record."""
    files: Mapping[str, tuple[str, ...]]
    """Table name → file names within its partition directory `<table>/as_of=D/`."""
    vintage: Mapping[str, Any]
    """The `vintages` row (SPEC §6) as JSON values (timestamps as ISO text)."""
    segments: Mapping[int, str] = field(default_factory=dict)
    """person_returns files by linkage delta (its position in the chain), when segmented."""
    identity: str | None = None
    """What the carried tables were computed from (figures/increment.py)."""
    digests: Mapping[str, str] = field(default_factory=dict)
    """Content digest of each figure table: a rerun that changes none keeps its approval."""
    corrects: str | None = None
    """The id of the approved commit whose figures this vintage revises, if any."""

    @property
    def status(self) -> str:
        return self.vintage["status"]

    @property
    def delivery(self) -> str:
        return self.vintage["delivery"]

    def paths(self, table_name: str) -> list[str]:
        """The table's files in this vintage, relative to the root."""
        directory = partition_path(table_name, self.as_of)
        return [f"{directory}/{name}" for name in self.files.get(table_name, ())]

    def all_paths(self) -> set[str]:
        return {path for table in self.files for path in self.paths(table)}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "as_of": self.as_of.isoformat(), "seq": self.seq, "id": self.id,
            "created_at": self.created_at.isoformat(), "action": self.action,
            "files": {t: list(names) for t, names in sorted(self.files.items())},
            "segments": {str(s): n for s, n in sorted(self.segments.items())},
            "identity": self.identity, "digests": dict(sorted(self.digests.items())),
            "corrects": self.corrects, "vintage": dict(self.vintage),
        }

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> Commit:
        if payload.get("format") != FORMAT:
            raise CommitFormatError(f"commit record of format {payload.get('format')!r}; this "
                                    f"version reads format {FORMAT}")
        return cls(
            as_of=date.fromisoformat(payload["as_of"]), seq=int(payload["seq"]),
            id=payload["id"], created_at=datetime.fromisoformat(payload["created_at"]),
            action=payload["action"],
            files={t: tuple(names) for t, names in payload["files"].items()},
            vintage=dict(payload["vintage"]),
            segments={int(s): n for s, n in payload.get("segments", {}).items()},
            identity=payload.get("identity"), digests=dict(payload.get("digests", {})),
            corrects=payload.get("corrects"),
        )


def new_id(seq: int) -> str:
    """A commit id: its sequence number, then random digits, so that file names named by it
    are never reused, even by a publish killed before its record was written."""
    return f"{seq:08d}-{uuid.uuid4().hex[:12]}"


def first_commit(as_of: date, seq: int, **fields: Any) -> Commit:
    return Commit(as_of=as_of, seq=seq, id=new_id(seq), created_at=datetime.now(UTC), **fields)


def successor(parent: Commit, action: str, files: Mapping[str, tuple[str, ...]],
              **vintage: Any) -> Commit:
    """The next record of the same date: the parent's files and state, `vintage` changed."""
    seq = parent.seq + 1
    return replace(parent, seq=seq, id=new_id(seq), created_at=datetime.now(UTC), action=action,
                   files=files, vintage={**parent.vintage, **vintage})


def _record_path(as_of: date, seq: int) -> str:
    return f"{COMMITS_DIR}/{partition_name(as_of)}/{seq:08d}.json"


def write_commit(location: Location, commit: Commit) -> None:
    """Write the record atomically; `AlreadyExists` when its sequence number is taken."""
    data = json.dumps(commit.to_json(), sort_keys=True, indent=1).encode("utf-8") + b"\n"
    put_atomic(location, _record_path(commit.as_of, commit.seq), data, exclusive=True)


def _record_seqs(location: Location) -> dict[date, list[int]]:
    """The sequence numbers of the records of each as-of date, ascending."""
    found: dict[date, list[int]] = {}
    for path in location.glob(COMMITS_DIR, "as_of=*", "*.json"):
        *_, folder, name = path.rstrip("/").split("/")
        if not name[:-5].isdigit():
            continue
        found.setdefault(date.fromisoformat(folder.removeprefix("as_of=")), []).append(
            int(name[:-5]))
    return {as_of: sorted(seqs) for as_of, seqs in sorted(found.items())}


def read_commit(location: Location, as_of: date, seq: int) -> Commit:
    data = location.read_bytes(_record_path(as_of, seq))
    return Commit.from_json(json.loads(data))


def current_commits(location: Location, upto: date | None = None) -> dict[date, Commit]:
    """The current (newest) record of each as-of date, optionally only dates ≤ `upto`."""
    return {as_of: read_commit(location, as_of, seqs[-1])
            for as_of, seqs in _record_seqs(location).items()
            if upto is None or as_of <= upto}


def current_commit(location: Location, as_of: date) -> Commit | None:
    seqs = _record_seqs(location).get(as_of)
    return read_commit(location, as_of, seqs[-1]) if seqs else None


def history(location: Location, as_of: date | None = None) -> list[Commit]:
    """Every record (of one date, or of all), oldest first within a date."""
    return [read_commit(location, day, seq)
            for day, seqs in _record_seqs(location).items() if as_of in (None, day)
            for seq in seqs]


def next_seq(location: Location, as_of: date) -> int:
    seqs = _record_seqs(location).get(as_of)
    return seqs[-1] + 1 if seqs else 1
