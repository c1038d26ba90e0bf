"""Every setting of returnstats and its default, read from the environment in one place.

Secrets (the pseudonymisation key, SMTP) are not settings: the DAG fetches them from
Airflow connections or variables and passes them in. The operator's settings of the
reporting cutoff and the on-call address (`RETURNSTATS_CUTOFF`,
`RETURNSTATS_CUTOFF_OVERRIDES`, `RETURNSTATS_ONCALL`) are parsed and validated in
`returnstats.operations`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[2]
INCLUDE = REPO_ROOT / "include"


@dataclass(frozen=True)
class Limits:
    """Bounds on what a reader accepts (SPEC §3.1); a package past one is rejected."""

    zip_max_entries: int = 16
    zip_max_total_bytes: int = 2 * 1024**3
    zip_max_ratio: float = 200.0
    field_max_bytes: int = 64 * 1024
    json_max_depth: int = 32
    manifest_max_bytes: int = 1024**2
    max_columns: int = 256
    """Columns of a data file: CSV header, union of JSON keys, declared and used xlsx range."""
    xlsx_sparsity: int = 16
    xlsx_sparse_allowance: int = 1 << 20
    """An xlsx range (declared or used) may span at most `xlsx_sparsity` × its cells +
    `xlsx_sparse_allowance` cells: a grid is never much larger than what the file holds."""
    xlsx_text_ratio: int = 16
    xlsx_text_allowance: int = 64 * 1024**2
    """The text an xlsx's cells expand to through shared strings, at most this multiple of
    the sheet's XML bytes plus this many bytes."""
    reader_max_memory_bytes: int = 2 * 1024**3
    """Address space a package's reader process may add to what it inherits."""
    reader_max_seconds: int = 300
    """CPU seconds of a package's reader process; it is killed after twice this wall time."""


@dataclass(frozen=True)
class Settings:
    landing: Path
    warehouse: Path
    """A local directory, or a UPath for an object store (docs/warehouse.md)."""
    output: Path
    staging: Path
    """Restricted zone: staged records with personal data, linkage state. Never published.
    A local directory, or a UPath for an object store: a private bucket or prefix
    (docs/scaling.md)."""
    campaign_start: date
    campaign_end: date | None = None
    """Last as-of date of the campaign window (open when None): SPEC §8."""
    limits: Limits = field(default_factory=Limits)
    suppression_threshold: int = 5
    recipients: tuple[str, ...] = ()
    mail_from: str = "returnstats@localhost"
    min_provinces: int = 16
    """Fewer provinces reporting holds a vintage from automatic approval."""
    approval: str = "required"
    """`required`: a person approves each vintage in Airflow; `auto`: complete vintages are
    approved by the pipeline (the embedded `make run` / `make day`)."""
    public_base_url: str | None = None
    """Absolute URL at which `<output>/` is served; the bulletin links nothing without it."""
    issuer_zh: str = "农民工返岗复工统计组"
    issuer_en: str = "Migrant Workers' Return-to-Work Statistics Unit"
    contact: str = "returnstats@localhost"
    release_time: time = time(21, 0)
    """Beijing time of day at which the bulletin of D is released (its release section says so)."""
    revision_threshold_percent: float = 5.0
    """A revision of a main figure is shown in the bulletin from this change (percent of the
    first value) on; every revision is in the attached revisions.csv."""

    def ensure_dirs(self) -> None:
        """Create the local directories (an object-store zone needs none); a local staging
        is created 0700 (restricted zone)."""
        for path in (self.landing, self.warehouse, self.output):
            if isinstance(path, Path):  # a UPath is no pathlib.Path
                path.mkdir(parents=True, exist_ok=True)
        if isinstance(self.staging, Path):
            self.staging.mkdir(mode=0o700, parents=True, exist_ok=True)


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


def _env_location(name: str, default: Path, storage_options: Mapping[str, Any]) -> Path:
    """A local directory, or an object-store URL (`s3://…`, `gs://…`) kept as a UPath
    that carries `storage_options` (credentials, endpoint) to its filesystem."""
    value = os.environ.get(name, "")
    if "://" in value:
        from upath import UPath

        return UPath(value, **object_store_options(value, storage_options))
    return _env_path(name, default)


def object_store_options(url: str, storage_options: Mapping[str, Any]) -> dict[str, Any]:
    """The fsspec options of a zone at `url`. On S3 the listings cache is off: another host
    writes the same zone, and a cached listing would hide its files."""
    options = dict(storage_options)
    if url.startswith(("s3://", "s3a://")):
        options.setdefault("use_listings_cache", False)
    return options


def object_store_urls() -> list[str]:
    """The zones configured as object-store URLs (they need storage options)."""
    return [value for name in ("RETURNSTATS_WAREHOUSE", "RETURNSTATS_STAGING")
            if "://" in (value := os.environ.get(name, ""))]


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


APPROVAL_MODES = ("required", "auto")


def _env_approval() -> str:
    value = os.environ.get("RETURNSTATS_APPROVAL", "").strip().lower() or "required"
    if value not in APPROVAL_MODES:
        raise ValueError(f"RETURNSTATS_APPROVAL must be one of {', '.join(APPROVAL_MODES)}, "
                         f"not {value!r}")
    return value


def _env_date(name: str, default: str | None) -> date | None:
    value = os.environ.get(name, "").strip() or default
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} must be a date YYYY-MM-DD, not {value!r}") from None
def _env_url(name: str) -> str | None:
    """An absolute http(s) URL ending in "/", or None when unset; anything else is refused."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"{name} must be an absolute http(s) URL without query, got {value!r}")
    return value if value.endswith("/") else value + "/"


def _env_time(name: str, default: time) -> time:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))
    except ValueError as error:
        raise ValueError(f"{name} must be HH:MM (Beijing time), got {value!r}") from error


def _default_staging(data: Path) -> Path:
    """Beside a local warehouse set by RETURNSTATS_WAREHOUSE (`<its parent>/staging`), else
    `<data>/staging`: a campaign pointed at a new warehouse never picks up the previous
    campaign's staged records by default (and `campaign.py` refuses them if named)."""
    value = os.environ.get("RETURNSTATS_WAREHOUSE", "")
    if value and "://" not in value:
        return Path(value).expanduser().resolve().parent / "staging"
    return data / "staging"


def load_settings(storage_options: Mapping[str, Any] | None = None) -> Settings:
    """Settings from `RETURNSTATS_*` environment variables, with working local defaults.

    `storage_options` (fsspec) reach the object-store zones: the DAG builds them from an
    Airflow connection (`returnstats_airflow.storage`); without them the filesystem's own
    defaults apply (for S3 the AWS environment and instance role)."""
    options = storage_options or {}
    data = _env_path("RETURNSTATS_DATA", REPO_ROOT / "data")
    limits = Limits(
        zip_max_entries=_env_int("RETURNSTATS_ZIP_MAX_ENTRIES", Limits.zip_max_entries),
        zip_max_total_bytes=_env_int("RETURNSTATS_ZIP_MAX_TOTAL_BYTES", Limits.zip_max_total_bytes),
        zip_max_ratio=float(os.environ.get("RETURNSTATS_ZIP_MAX_RATIO", Limits.zip_max_ratio)),
        field_max_bytes=_env_int("RETURNSTATS_FIELD_MAX_BYTES", Limits.field_max_bytes),
        json_max_depth=_env_int("RETURNSTATS_JSON_MAX_DEPTH", Limits.json_max_depth),
        manifest_max_bytes=_env_int("RETURNSTATS_MANIFEST_MAX_BYTES", Limits.manifest_max_bytes),
        max_columns=_env_int("RETURNSTATS_MAX_COLUMNS", Limits.max_columns),
        reader_max_memory_bytes=_env_int("RETURNSTATS_READER_MAX_MEMORY_BYTES",
                                         Limits.reader_max_memory_bytes),
        reader_max_seconds=_env_int("RETURNSTATS_READER_MAX_SECONDS", Limits.reader_max_seconds),
    )
    recipients = tuple(
        r.strip()
        for r in os.environ.get("RETURNSTATS_RECIPIENTS", "bulletin@localhost").split(",")
        if r.strip()
    )
    mail_from = os.environ.get("RETURNSTATS_MAIL_FROM", "returnstats@localhost")
    return Settings(
        landing=_env_path("RETURNSTATS_LANDING", data / "landing"),
        warehouse=_env_location("RETURNSTATS_WAREHOUSE", data / "warehouse", options),
        output=_env_path("RETURNSTATS_OUTPUT", data / "output"),
        staging=_env_location("RETURNSTATS_STAGING", _default_staging(data), options),
        campaign_start=_env_date("RETURNSTATS_CAMPAIGN_START", "2020-02-10"),
        campaign_end=_env_date("RETURNSTATS_CAMPAIGN_END", None),
        limits=limits,
        suppression_threshold=_env_int("RETURNSTATS_SUPPRESSION_THRESHOLD", 5),
        recipients=recipients,
        mail_from=mail_from,
        min_provinces=_env_int("RETURNSTATS_MIN_PROVINCES", 16),
        approval=_env_approval(),
        public_base_url=_env_url("RETURNSTATS_PUBLIC_BASE_URL"),
        issuer_zh=os.environ.get("RETURNSTATS_ISSUER_ZH") or Settings.issuer_zh,
        issuer_en=os.environ.get("RETURNSTATS_ISSUER_EN") or Settings.issuer_en,
        contact=os.environ.get("RETURNSTATS_CONTACT") or mail_from,
        release_time=_env_time("RETURNSTATS_RELEASE_TIME", Settings.release_time),
        revision_threshold_percent=float(os.environ.get("RETURNSTATS_REVISION_THRESHOLD")
                                         or Settings.revision_threshold_percent),
    )
