"""The warehouse `make run` leaves, built without Airflow: the same sample (the Makefile's
SAMPLE_* values, seed 7) delivered day by day, each province ingested, persons linked,
the day published and, as the embedded deployment's `auto` approval does, approved unless
its vintage is held. The DAG's own path is tested by tests/e2e; this one is for tests that
need the sample's figures (docs/querying.md's shown results)."""

from __future__ import annotations

import os
import re
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SEED = 7  # `make run`'s --seed
KEY = b"docs-sample-key-".ljust(32, b"0")  # persons' keys are not shown in the docs


def makefile_value(name: str) -> str:
    """A `NAME ?= value` default of the Makefile."""
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    match = re.search(rf"^{name} \?= (\S+)$", text, re.M)
    if match is None:
        raise LookupError(f"Makefile has no default for {name}")
    return match.group(1)


def sample_days() -> list[date]:
    start = date.fromisoformat(makefile_value("SAMPLE_START"))
    return [start + timedelta(days=i) for i in range(int(makefile_value("SAMPLE_DAYS")))]


def build(root: Path) -> Path:
    """`root/data/` as `make run` leaves it (warehouse, staging, landing); returns root."""
    from returnstats import release
    from returnstats.config import load_settings
    from returnstats.figures.publish import publish_as_of
    from returnstats.linkage.keys import key_fingerprint
    from returnstats.linkage.run import link_as_of
    from returnstats.reference import provinces
    from returnstats.sample import deliver, generate
    from returnstats.validation.ingest import ingest_province
    from returnstats.warehouse.vintages import vintage_of

    days = sample_days()
    sample = root / "sample"
    generate(out=sample, start=days[0], days=len(days),
             persons_per_day=int(makefile_value("SAMPLE_PERSONS")), seed=SEED)
    before = os.environ.get("RETURNSTATS_DATA")
    os.environ["RETURNSTATS_DATA"] = str(root / "data")
    try:
        settings = load_settings()
    finally:
        if before is None:
            del os.environ["RETURNSTATS_DATA"]
        else:
            os.environ["RETURNSTATS_DATA"] = before
    settings.ensure_dirs()
    for as_of in days:
        deliver(sample=sample, landing=settings.landing, through=as_of)
        for province in provinces():
            ingest_province(settings, province, as_of)
        link_as_of(settings, as_of, KEY)
        publish_as_of(settings, as_of, key_fingerprint(KEY))
        if not vintage_of(settings.warehouse, as_of).vintage.get("reason"):
            release.approve(settings.warehouse, as_of, by=release.AUTO)
    return root
