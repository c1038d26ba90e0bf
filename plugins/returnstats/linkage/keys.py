"""The pseudonymisation key behind `person_key` (SPEC §6, §9).

The key is a secret, not a setting: the DAG reads it from an Airflow variable or connection
and passes it in. Without one, a development key is generated once and kept beside the
Airflow home so that reruns give the same person keys.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

KEY_ENV = "RETURNSTATS_PSEUDONYM_KEY"
DEV_KEY_FILE = "returnstats_dev_key"


def _as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def resolve_key(explicit: str | bytes | None, airflow_home: Path | None) -> bytes:
    """The key: explicit (from Airflow) → env `RETURNSTATS_PSEUDONYM_KEY` → a development
    key in `<AIRFLOW_HOME>/returnstats_dev_key`, created on first use with mode 0600."""
    if explicit:
        return _as_bytes(explicit)
    from_env = os.environ.get(KEY_ENV)
    if from_env:
        return _as_bytes(from_env)

    home = airflow_home or Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    path = Path(home) / DEV_KEY_FILE
    log.warning(
        "No pseudonymisation key configured (Airflow variable or %s): using the development "
        "key in %s. Person keys made with it must not be published.", KEY_ENV, path,
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
