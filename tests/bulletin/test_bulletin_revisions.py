"""Revisions against the first published value, and late packages, on the fixture warehouse.

The fixture's Sichuan package for 2020-02-21 (12,345 returns) arrives in vintage 2020-02-23:
the figures of 21 and 22 February first published on those days are revised.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from conftest import AS_OF, FLOWS
from returnstats.bulletin.context import build_context
from returnstats.bulletin.readback import ReadbackMismatch, check_readback

DAILY = sum(n for *_, n in FLOWS)  # 218,009 on the first day; +1 a day on the 5 large flows


def _row(text: str, label: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(label + "  "))
    return re.split(r"\s{2,}", line.strip())


def test_revisions_compare_with_the_first_published_value(rendered):
    _, files = rendered
    en = files.text["en"].read_text(encoding="utf-8")
    first_21 = 2 * DAILY + 5  # 20 and 21 Feb as published on 21 Feb
    assert _row(en, "21 Feb, cumulative returns") == [
        "21 Feb, cumulative returns", "21 Feb", f"{first_21:,}", f"{first_21 + 12_345:,}",
        "+12,345"]
    first_22 = 3 * DAILY + 5 * 3  # as published on 22 Feb, before the late package
    assert _row(en, "22 Feb, cumulative returns")[1:] == [
        "22 Feb", f"{first_22:,}", f"{first_22 + 12_345:,}", "+12,345"]
    assert _row(en, "21 Feb, provinces reporting")[1:] == ["21 Feb", "30", "31", "+1"]
    zh = files.text["zh"].read_text(encoding="utf-8")
    assert _row(zh, "2月21日新增返岗人数")[1:] == [
        "2月21日", str(DAILY + 5), str(DAILY + 5 + 12_345), "+12345"]
    # 20 Feb was never revised, 23 Feb is published for the first time.
    assert "20 Feb, " not in en and "23 Feb, " not in en


def test_revisions_consider_only_vintages_up_to_the_as_of_date(settings):
    context = build_context(settings, date(2020, 2, 22))
    assert context.revision_list == ()  # the late package is in the 23 Feb vintage only


def test_readback_catches_a_tampered_or_missing_revision(rendered):
    settings, files = rendered
    context = build_context(settings, AS_OF)
    texts = {lang: p.read_text(encoding="utf-8") for lang, p in files.text.items()}
    line = next(x for x in texts["en"].splitlines() if x.startswith("21 Feb, new returns  "))

    tampered = dict(texts, en=texts["en"].replace(line, line.replace("+12,345", "+12,346")))
    with pytest.raises(ReadbackMismatch, match="revisions"):
        check_readback(settings, AS_OF, tampered, context)

    dropped = dict(texts, en=texts["en"].replace(line + "\n", ""))
    with pytest.raises(ReadbackMismatch, match="missing from the revisions table"):
        check_readback(settings, AS_OF, dropped, context)


def test_a_package_first_in_this_vintage_for_an_earlier_date_is_late(settings):
    context = build_context(settings, AS_OF)
    assert [(p.package, p.province_en, p.days_late) for p in context.late] == [
        ("51_20200221_v1", "Sichuan", 2)]
    assert context.corrected == ()
    assert [p.package for p in context.rejected] == ["44_20200223_v2"]
    assert build_context(settings, date(2020, 2, 22)).late == ()
