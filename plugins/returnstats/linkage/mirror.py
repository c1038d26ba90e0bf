"""The linkage state on an object store: a local mirror, pulled before and pushed after.

Linkage works on local files (DuckDB scans memory-mapped Arrow records, store.py). When
the staging zone is an object store, `<staging>/linkage/` lives there and each host keeps
a mirror of it under `RETURNSTATS_CACHE` (default: the temporary directory), which is
restricted data like the zone itself. A delta's name is the hash of what it was computed
from and a delta never changes, so a mirrored delta is always valid: a host downloads only
the deltas it lacks. A chain.json is small and is fetched every time.

`pull` before a task reads the state of D; `push` after the link task wrote it: the new
delta's files first, then chain.json, so that another host never sees a chain naming a
delta not yet uploaded. One link task runs at a time (the DAG's `max_active_runs=1`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from datetime import date
from pathlib import Path

from returnstats.warehouse.location import Location, Root, locate, put_atomic

log = logging.getLogger(__name__)

LINKAGE = "linkage"


def local_root(staging: Root) -> Path:
    """The linkage root a task works in: `<staging>/linkage` for a local zone, else the
    host's mirror of it."""
    location = locate(staging)
    if location.is_local:
        return location.local_path / LINKAGE
    cache = Path(os.environ.get("RETURNSTATS_CACHE") or Path(tempfile.gettempdir()) / "returnstats")
    return cache / hashlib.sha256(location.url.encode()).hexdigest()[:16] / LINKAGE


def _as_of_dir(as_of: date) -> str:
    return f"as_of={as_of.isoformat()}"


def run_dates(staging: Root) -> list[date]:
    """The as-of dates with a linkage run (a chain.json), ascending."""
    from returnstats.linkage.store import CHAIN_FILE

    location = locate(staging)
    if location.is_local:
        root = local_root(location)
        names = [p.name for p in root.glob("as_of=*") if (p / CHAIN_FILE).is_file()] \
            if root.is_dir() else []
    else:
        names = [f.split("/")[1] for f in _chain_files(location)]
    return sorted(date.fromisoformat(name.removeprefix("as_of=")) for name in names)


def _chain_files(location: Location) -> list[str]:
    """`linkage/as_of=D/chain.json` of every run: one listing of the as-of folders (not of
    the deltas), then the chain files they hold."""
    from returnstats.linkage.store import CHAIN_FILE

    try:
        folders = location.fresh().ls(location.join(LINKAGE), detail=False)
    except FileNotFoundError:
        return []
    found = []
    for folder in folders:
        name = folder.rstrip("/").rsplit("/", 1)[-1]
        if name.startswith("as_of=") and location.exists(f"{LINKAGE}/{name}/{CHAIN_FILE}"):
            found.append(f"{LINKAGE}/{name}/{CHAIN_FILE}")
    return found


def pull(staging: Root, as_of: date, last_only: bool = False) -> None:
    """Bring the chain of `as_of` into the mirror with its deltas (only the newest with
    `last_only`: what publish by increment reads). Nothing to do on a local zone."""
    from returnstats.linkage import store

    location = locate(staging)
    if location.is_local:
        return
    root = local_root(location)
    relative = f"{LINKAGE}/{_as_of_dir(as_of)}/{store.CHAIN_FILE}"
    target = root / _as_of_dir(as_of) / store.CHAIN_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{store.CHAIN_FILE}.{os.getpid()}")
    temporary.write_bytes(location.read_bytes(relative))
    os.replace(temporary, target)
    chain = store.read_chain(target.parent)
    wanted = chain.deltas[-1:] if last_only else chain.deltas
    fetched = 0
    for name in wanted:
        directory = store.delta_dir(root, name)
        if directory.is_dir():
            continue
        directory.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=directory.parent))
        try:
            for file in store.DELTA_FILES:
                location.fs.get_file(location.join(LINKAGE, "deltas", name, file),
                                     str(scratch / file))
            os.rename(scratch, directory)
        except OSError:
            _remove_tree(scratch)
            if not directory.is_dir():
                raise
        fetched += 1
    log.info("linkage mirror: chain of %s, %d of %d deltas fetched", as_of, fetched, len(wanted))


def push(staging: Root, as_of: date) -> None:
    """Upload the chain of `as_of` from the mirror: the deltas the store lacks, then
    chain.json. Nothing to do on a local zone."""
    from returnstats.linkage import store

    location = locate(staging)
    if location.is_local:
        return
    root = local_root(location)
    directory = root / _as_of_dir(as_of)
    chain = store.read_chain(directory)
    uploaded = 0
    for name in chain.deltas:
        remote = f"{LINKAGE}/deltas/{name}"
        if location.exists(f"{remote}/{store.DELTA_FILES[-1]}"):
            continue  # its last file is in: the delta is whole
        for file in store.DELTA_FILES:
            source = store.delta_dir(root, name) / file
            put_atomic(location, f"{remote}/{file}",
                       lambda handle, source=source: _copy(source, handle))
        uploaded += 1
    put_atomic(location, f"{LINKAGE}/{_as_of_dir(as_of)}/{store.CHAIN_FILE}",
               (directory / store.CHAIN_FILE).read_bytes())
    log.info("linkage state of %s pushed: %d new deltas", as_of, uploaded)


def _copy(source: Path, handle) -> None:
    with open(source, "rb") as data:
        while chunk := data.read(8 << 20):
            handle.write(chunk)


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
