"""State belongs to its campaign (SPEC §8): staging, linkage state and warehouse each
carry a `campaign.json` naming the landing root, the campaign start and the fingerprint
of the pseudonymisation key they were made with.

A run whose settings disagree stops with an error naming the setting: a new campaign that
left `RETURNSTATS_STAGING` at the previous campaign's folder would otherwise count that
campaign's staged records as its own. The first run of a campaign writes the files; the
key fingerprint is added by the first link. A changed key is refused unless re-keying is
asked for (`rekey`), which rebuilds the linkage state with the new key.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
from pathlib import Path
from typing import Any

from returnstats.config import Settings

log = logging.getLogger(__name__)

IDENTITY = "campaign.json"


class CampaignMismatch(RuntimeError):
    """The settings of this run disagree with the state it would use."""


def _identity(settings: Settings, key_fingerprint: str | None) -> dict[str, Any]:
    return {"landing": str(settings.landing), "campaign_start": settings.campaign_start.isoformat(),
            "key_fingerprint": key_fingerprint}


# ---------------------------------------------------------------- where identities live

def _local_places(settings: Settings) -> dict[str, Path]:
    """Setting that names it → the identity file, for the local state."""
    from returnstats.linkage.store import linkage_root

    return {"RETURNSTATS_STAGING": Path(settings.staging) / IDENTITY,
            "RETURNSTATS_STAGING (linkage state)": linkage_root(settings.staging) / IDENTITY}


def _read_warehouse(settings: Settings) -> dict[str, Any] | None:
    from returnstats.warehouse.location import locate

    location = locate(settings.warehouse)
    return json.loads(location.read_bytes(IDENTITY)) if location.exists(IDENTITY) else None


def _write_warehouse(settings: Settings, identity: dict[str, Any]) -> None:
    from returnstats.warehouse.location import locate, put_atomic

    put_atomic(locate(settings.warehouse), IDENTITY, json.dumps(identity, indent=1).encode())


def _write_local(path: Path, identity: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(identity, handle, indent=1)
    os.replace(tmp, path)


# ---------------------------------------------------------------- checks

def _disagreement(where: str, recorded: dict[str, Any], settings: Settings) -> str | None:
    """The message for the first setting that disagrees with a recorded identity."""
    if recorded.get("landing") != str(settings.landing):
        return (f"{where} belongs to the campaign whose landing zone is {recorded.get('landing')}, "
                f"but RETURNSTATS_LANDING is {settings.landing}: point {where.split()[0]} at this "
                "campaign's own folder (or RETURNSTATS_LANDING back)")
    if recorded.get("campaign_start") != settings.campaign_start.isoformat():
        return (f"{where} belongs to the campaign that started {recorded.get('campaign_start')}, "
                f"but RETURNSTATS_CAMPAIGN_START is {settings.campaign_start}: a new campaign "
                f"needs its own {where.split()[0]}")
    return None


def check_campaign(settings: Settings) -> None:
    """Refuse state of another campaign; record this one's where nothing is recorded.

    Called at the start of every task (the DAG's `_settings`). State written before
    identities existed is adopted with a warning: nothing says whose it was."""
    secure_staging(settings.staging)
    places = _local_places(settings)
    recorded = {where: json.loads(path.read_text(encoding="utf-8"))
                for where, path in places.items() if path.is_file()}
    warehouse = _read_warehouse(settings)
    if warehouse is not None:
        recorded[f"RETURNSTATS_WAREHOUSE ({settings.warehouse})"] = warehouse
    for where, identity in recorded.items():
        if (message := _disagreement(where, identity, settings)) is not None:
            raise CampaignMismatch(message)
    fingerprint = next((i["key_fingerprint"] for i in recorded.values() if i.get("key_fingerprint")),
                       None)
    fresh = _identity(settings, fingerprint)
    for where, path in places.items():
        if where not in recorded:
            if where == "RETURNSTATS_STAGING" and _has_packages(settings.staging):
                log.warning("staging %s has no %s: adopted for this campaign (landing %s, start %s)",
                            settings.staging, IDENTITY, settings.landing, settings.campaign_start)
            _write_local(path, fresh)
    if warehouse is None:
        _write_warehouse(settings, fresh)


def _has_packages(staging: Path) -> bool:
    from returnstats.validation.staging import staged_names

    return bool(staged_names(staging))


def check_key(settings: Settings, fingerprint: str, rekey: bool = False) -> bool:
    """Refuse a key other than the one the linkage state was made with, unless `rekey`:
    then the linkage state is removed (the link rebuilds it with the new key) and the new
    fingerprint recorded. Returns True when the key was changed."""
    from returnstats.linkage.store import linkage_root

    places = _local_places(settings)
    identities = {where: json.loads(path.read_text(encoding="utf-8"))
                  for where, path in places.items() if path.is_file()}
    warehouse = _read_warehouse(settings) or _identity(settings, None)
    recorded = {i.get("key_fingerprint") for i in [*identities.values(), warehouse]} - {None}
    if recorded and recorded != {fingerprint}:
        if not rekey:
            raise CampaignMismatch(
                f"the pseudonymisation key (Airflow variable returnstats_pseudonym_secret) has "
                f"fingerprint {fingerprint}, but this campaign's linkage state and warehouse "
                f"were made with {', '.join(sorted(recorded))}: restore the key, or re-key "
                "(DAG param rekey=true), which rebuilds the linkage state with the new key")
        root = linkage_root(settings.staging)
        log.warning("re-keying: removing the linkage state %s made with key %s", root,
                    ", ".join(sorted(recorded)))
        shutil.rmtree(root, ignore_errors=True)
    if recorded == {fingerprint} and len(identities) == len(places):
        return False
    for path in places.values():
        _write_local(path, {**_identity(settings, None), "key_fingerprint": fingerprint})
    _write_warehouse(settings, {**warehouse, "key_fingerprint": fingerprint})
    return bool(recorded) and recorded != {fingerprint}


# ---------------------------------------------------------------- permissions

def secure_staging(staging: Path) -> None:
    """The restricted zone holds names and ID numbers: its folder is 0700 (created so, or
    narrowed with a warning), so nothing under it is reachable by another user."""
    staging = Path(staging)
    staging.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(os.stat(staging).st_mode)
    if mode & 0o077:
        log.warning("staging %s was mode %o; narrowed to 0700", staging, mode)
        os.chmod(staging, 0o700)
