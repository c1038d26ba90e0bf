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

_PLACES = {"RETURNSTATS_STAGING": ("staging", IDENTITY),
           "RETURNSTATS_STAGING (linkage state)": ("staging", f"linkage/{IDENTITY}"),
           "RETURNSTATS_WAREHOUSE": ("warehouse", IDENTITY)}
"""Setting that names it → (zone, identity file within it). Any zone may be an object store."""


def _read(settings: Settings, where: str) -> dict[str, Any] | None:
    from returnstats.warehouse.location import locate

    zone, relative = _PLACES[where]
    location = locate(getattr(settings, zone))
    return json.loads(location.read_bytes(relative)) if location.exists(relative) else None


def _write(settings: Settings, where: str, identity: dict[str, Any]) -> None:
    from returnstats.warehouse.location import locate, put_atomic

    zone, relative = _PLACES[where]
    put_atomic(locate(getattr(settings, zone)), relative, json.dumps(identity, indent=1).encode())


# ---------------------------------------------------------------- checks

def _disagreement(where: str, recorded: dict[str, Any], settings: Settings) -> str | None:
    """The message for the first setting that disagrees with a recorded identity."""
    setting = where.split()[0]
    zone = getattr(settings, _PLACES[where][0])
    # Scaled out, each host reads its own copy of the landing zone (docs/scaling.md): a
    # zone shared on an object store cannot say which host path is right.
    if isinstance(zone, Path) and recorded.get("landing") != str(settings.landing):
        return (f"{where} belongs to the campaign whose landing zone is {recorded.get('landing')}, "
                f"but RETURNSTATS_LANDING is {settings.landing}: point {setting} at this "
                "campaign's own folder (or RETURNSTATS_LANDING back)")
    if recorded.get("campaign_start") != settings.campaign_start.isoformat():
        return (f"{where} belongs to the campaign that started {recorded.get('campaign_start')}, "
                f"but RETURNSTATS_CAMPAIGN_START is {settings.campaign_start}: a new campaign "
                f"needs its own {setting}")
    return None


def check_campaign(settings: Settings) -> None:
    """Refuse state of another campaign; record this one's where nothing is recorded.

    Called at the start of every task (the DAG's `_settings`). State written before
    identities existed is adopted with a warning: nothing says whose it was."""
    secure_staging(settings.staging)
    recorded = {where: identity for where in _PLACES
                if (identity := _read(settings, where)) is not None}
    for where, identity in recorded.items():
        if (message := _disagreement(where, identity, settings)) is not None:
            raise CampaignMismatch(message)
    fingerprint = next((i["key_fingerprint"] for i in recorded.values() if i.get("key_fingerprint")),
                       None)
    for where in _PLACES.keys() - recorded.keys():
        if where == "RETURNSTATS_STAGING" and _has_packages(settings.staging):
            log.warning("staging %s has no %s: adopted for this campaign (landing %s, start %s)",
                        settings.staging, IDENTITY, settings.landing, settings.campaign_start)
        _write(settings, where, _identity(settings, fingerprint))


def _has_packages(staging: Any) -> bool:
    from returnstats.validation.staging import staged_names

    return bool(staged_names(staging))


def check_key(settings: Settings, fingerprint: str, rekey: bool = False) -> bool:
    """Refuse a key other than the one the linkage state was made with, unless `rekey`:
    then the linkage state is removed (the link rebuilds it with the new key) and the new
    fingerprint recorded. Returns True when the key was changed."""
    from returnstats.warehouse.location import locate

    identities = {where: _read(settings, where) for where in _PLACES}
    recorded = {i.get("key_fingerprint") for i in identities.values() if i} - {None}
    if recorded and recorded != {fingerprint}:
        if not rekey:
            raise CampaignMismatch(
                f"the pseudonymisation key (Airflow variable returnstats_pseudonym_secret) has "
                f"fingerprint {fingerprint}, but this campaign's linkage state and warehouse "
                f"were made with {', '.join(sorted(recorded))}: restore the key, or re-key "
                "(DAG param rekey=true), which rebuilds the linkage state with the new key")
        staging = locate(settings.staging)
        log.warning("re-keying: removing the linkage state made with key %s",
                    ", ".join(sorted(recorded)))
        if staging.exists("linkage"):
            staging.fs.rm(staging.join("linkage"), recursive=True)
        if staging.is_local:
            shutil.rmtree(Path(settings.staging) / "linkage", ignore_errors=True)
    if recorded == {fingerprint} and all(identities.values()):
        return False
    for where in _PLACES:
        _write(settings, where, {**_identity(settings, None), "key_fingerprint": fingerprint})
    return bool(recorded) and recorded != {fingerprint}


# ---------------------------------------------------------------- permissions

def secure_staging(staging: Any) -> None:
    """The restricted zone holds names and ID numbers: a local one is 0700 (created so, or
    narrowed with a warning), so nothing under it is reachable by another user. (An
    object-store zone is a private bucket: its policy is the store's.)"""
    if not isinstance(staging, Path):
        return
    staging.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(os.stat(staging).st_mode)
    if mode & 0o077:
        log.warning("staging %s was mode %o; narrowed to 0700", staging, mode)
        os.chmod(staging, 0o700)
