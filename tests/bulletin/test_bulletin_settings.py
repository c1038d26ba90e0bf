"""The bulletin's settings from the environment (config.py): release details and links."""

from datetime import time

import pytest
from returnstats.config import load_settings


def test_release_details_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("RETURNSTATS_PUBLIC_BASE_URL", "https://stats.example.gov.cn/rs")
    monkeypatch.setenv("RETURNSTATS_ISSUER_ZH", "某某统计局")
    monkeypatch.setenv("RETURNSTATS_ISSUER_EN", "Some Statistics Office")
    monkeypatch.setenv("RETURNSTATS_CONTACT", "press@example.gov.cn")
    monkeypatch.setenv("RETURNSTATS_RELEASE_TIME", "19:30")
    monkeypatch.setenv("RETURNSTATS_REVISION_THRESHOLD", "2.5")
    settings = load_settings()
    assert settings.public_base_url == "https://stats.example.gov.cn/rs/"
    assert (settings.issuer_zh, settings.issuer_en) == ("某某统计局", "Some Statistics Office")
    assert settings.contact == "press@example.gov.cn"
    assert settings.release_time == time(19, 30)
    assert settings.revision_threshold_percent == 2.5


def test_without_them_no_base_url_and_the_sender_is_the_contact(monkeypatch):
    for name in ("RETURNSTATS_PUBLIC_BASE_URL", "RETURNSTATS_CONTACT", "RETURNSTATS_RELEASE_TIME",
                 "RETURNSTATS_REVISION_THRESHOLD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RETURNSTATS_MAIL_FROM", "bulletin@example.gov.cn")
    settings = load_settings()
    assert settings.public_base_url is None
    assert settings.contact == "bulletin@example.gov.cn"
    assert settings.release_time == time(21, 0) and settings.revision_threshold_percent == 5.0


@pytest.mark.parametrize(("name", "value"), [
    ("RETURNSTATS_PUBLIC_BASE_URL", "../../data_docs"),
    ("RETURNSTATS_PUBLIC_BASE_URL", "file:///srv/output/"),
    ("RETURNSTATS_PUBLIC_BASE_URL", "https://example.org/?a=1"),
    ("RETURNSTATS_RELEASE_TIME", "9pm"),
])
def test_a_setting_that_is_not_what_it_should_be_is_refused_by_name(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        load_settings()
