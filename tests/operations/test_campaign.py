"""State belongs to its campaign (SPEC §8), keys that change only when asked, and a
restricted zone nobody else can read (issue 17)."""

from __future__ import annotations

import os
import stat
from datetime import date
from pathlib import Path

import pytest
from returnstats.campaign import CampaignMismatch, check_campaign, check_key
from returnstats.config import Settings, load_settings
from returnstats.linkage.store import linkage_root
from returnstats.validation.ingest import ingest_province

from tests.builders import WORKER_HEADERS, PackageBuilder, csv_bytes, worker_row

AS_OF = date(2020, 3, 1)


def _campaign_env(monkeypatch: pytest.MonkeyPatch, root: Path, start: str = "2020-02-10") -> Settings:
    """The environment of a campaign under `root`; RETURNSTATS_STAGING left at its default."""
    monkeypatch.delenv("RETURNSTATS_STAGING", raising=False)
    monkeypatch.setenv("RETURNSTATS_DATA", str(root.parent / "default-data"))
    for zone in ("landing", "warehouse", "output"):
        monkeypatch.setenv(f"RETURNSTATS_{zone.upper()}", str(root / zone))
    monkeypatch.setenv("RETURNSTATS_CAMPAIGN_START", start)
    settings = load_settings()
    settings.ensure_dirs()
    return settings


def _deliver(settings: Settings) -> None:
    pkg = PackageBuilder(settings.landing, province="44", report_date=AS_OF)
    pkg.add("workers", "workers.csv", csv_bytes(WORKER_HEADERS, [
        worker_row(record_id="W1", arrival_date="2020-02-28", departure_date="2020-02-26")]))
    pkg.write()


def test_a_new_campaign_gets_its_own_default_staging_and_is_refused_the_old_one(
        monkeypatch, tmp_path):
    first = _campaign_env(monkeypatch, tmp_path / "campaign1")
    check_campaign(first)
    _deliver(first)
    assert ingest_province(first, "44", AS_OF)["packages"][0]["status"] == "accepted"

    second = _campaign_env(monkeypatch, tmp_path / "campaign2")
    # The default staging follows the warehouse: nothing of campaign 1 is in sight.
    assert second.staging == tmp_path / "campaign2" / "staging" != first.staging
    check_campaign(second)
    # Campaign 1's staging named explicitly (as a stale setting would): refused, by setting.
    monkeypatch.setenv("RETURNSTATS_STAGING", str(first.staging))
    stale = load_settings()
    with pytest.raises(CampaignMismatch, match="RETURNSTATS_STAGING.*RETURNSTATS_LANDING"):
        check_campaign(stale)


def test_another_campaign_start_or_warehouse_is_refused_by_name(monkeypatch, tmp_path):
    settings = _campaign_env(monkeypatch, tmp_path / "c")
    check_campaign(settings)
    check_campaign(settings)  # the same campaign again: fine
    later = _campaign_env(monkeypatch, tmp_path / "c", start="2021-01-25")
    with pytest.raises(CampaignMismatch, match="RETURNSTATS_CAMPAIGN_START"):
        check_campaign(later)
    # A fresh staging, but the warehouse of the campaign above.
    monkeypatch.setenv("RETURNSTATS_STAGING", str(tmp_path / "fresh-staging"))
    with pytest.raises(CampaignMismatch, match="RETURNSTATS_WAREHOUSE"):
        check_campaign(load_settings())


def test_a_changed_key_is_refused_unless_rekeying_is_asked_for(monkeypatch, tmp_path):
    settings = _campaign_env(monkeypatch, tmp_path / "c")
    check_campaign(settings)
    assert check_key(settings, "a" * 16) is False
    assert check_key(settings, "a" * 16) is False
    state = linkage_root(settings.staging) / "deltas" / "run1"
    state.mkdir(parents=True)
    with pytest.raises(CampaignMismatch, match="re-key"):
        check_key(settings, "b" * 16)
    assert state.is_dir()
    assert check_key(settings, "b" * 16, rekey=True) is True
    assert not state.exists()  # rebuilt by the next link, with the new key
    assert check_key(settings, "b" * 16) is False
    with pytest.raises(CampaignMismatch):
        check_key(settings, "a" * 16)


def test_staging_is_narrowed_to_the_owner_at_start_and_staged_files_are_private(
        monkeypatch, tmp_path):
    settings = _campaign_env(monkeypatch, tmp_path / "c")
    os.chmod(settings.staging, 0o755)
    check_campaign(settings)
    assert stat.S_IMODE(os.stat(settings.staging).st_mode) == 0o700
    _deliver(settings)
    ingest_province(settings, "44", AS_OF)
    staged = settings.staging / "packages" / f"44_{AS_OF:%Y%m%d}_v1"
    assert stat.S_IMODE(os.stat(staged).st_mode) == 0o700
    modes = {p.name: stat.S_IMODE(os.stat(p).st_mode) for p in staged.iterdir()}
    assert modes and set(modes.values()) == {0o600}, modes
