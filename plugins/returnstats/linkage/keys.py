"""The pseudonymisation key behind `person_key` (SPEC §6, §9).

The key is a secret, not a setting: the DAG reads it from the Airflow variable
`returnstats_pseudonym_secret` (a name Airflow masks: it contains "secret") and passes it
in. Keys fail closed: outside the embedded deployment (`RETURNSTATS_DEPLOYMENT=embedded`,
set by the Makefile and the tests) a missing key stops the link task. Only the embedded
deployment generates a development key, kept beside its Airflow home.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

KEY_VARIABLE = "returnstats_pseudonym_secret"
KEY_ENV = "RETURNSTATS_PSEUDONYM_KEY"
DEV_KEY_FILE = "returnstats_dev_key"


class KeyMissing(RuntimeError):
    """No pseudonymisation key outside the embedded deployment."""


def _as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def embedded() -> bool:
    return os.environ.get("RETURNSTATS_DEPLOYMENT", "").strip().lower() == "embedded"


def resolve_key(explicit: str | bytes | None, airflow_home: Path | None) -> bytes:
    """The key: explicit (from Airflow) → env `RETURNSTATS_PSEUDONYM_KEY` → in the embedded
    deployment only, a development key in `<AIRFLOW_HOME>/returnstats_dev_key` (created on
    first use, mode 0600). Anywhere else no key raises `KeyMissing`."""
    if explicit:
        return _as_bytes(explicit)
    from_env = os.environ.get(KEY_ENV)
    if from_env:
        return _as_bytes(from_env)
    if not embedded():
        raise KeyMissing(
            f"no pseudonymisation key: set the Airflow variable {KEY_VARIABLE} (docker-compose "
            f"passes RETURNSTATS_PSEUDONYM_SECRET from .env) or {KEY_ENV}. Person keys are "
            "never made with a development key outside the embedded deployment "
            "(RETURNSTATS_DEPLOYMENT=embedded).")

    home = airflow_home or Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    path = Path(home) / DEV_KEY_FILE
    log.warning(
        "No pseudonymisation key configured (Airflow variable %s or %s): using the "
        "embedded deployment's development key in %s.", KEY_VARIABLE, KEY_ENV, path,
    )
    if path.exists():
        return path.read_text(encoding="utf-8").strip().encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # O_EXCL: two tasks starting together must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip().encode("utf-8")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key)
    return key.encode("utf-8")


def key_fingerprint(key: bytes) -> str:
    """A public fingerprint of the key (16 hex digits of an HMAC of a fixed text): says
    which key made a vintage's person keys without revealing it."""
    return hmac.new(key, b"returnstats.key-fingerprint", hashlib.sha256).hexdigest()[:16]


def person_key(key: bytes, anchor: str) -> str:
    """HMAC-SHA256 of the person's stable anchor, hex."""
    return hmac.new(key, anchor.encode("utf-8"), hashlib.sha256).hexdigest()


def person_keys(key: bytes, anchors: list[str]) -> list[str]:
    """`person_key` of many anchors: the keyed state is built once and copied per anchor."""
    keyed = hmac.new(key, digestmod=hashlib.sha256)
    keys = []
    for anchor in anchors:
        mac = keyed.copy()
        mac.update(anchor.encode("utf-8"))
        keys.append(mac.hexdigest())
    return keys
