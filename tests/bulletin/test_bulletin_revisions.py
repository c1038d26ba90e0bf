"""Revisions against the first published value, and late packages, on the fixture warehouse.

The fixture's Sichuan package for 2020-02-21 (12,345 returns) arrives in vintage 2020-02-23:
every figure of 21 and 22 February it touches is revised. The bulletin lists the main
figures that this vintage revised by 5% or more of their first value; revisions.csv has all.
"""

from __future__ import annotations

import csv
import re
from dataclasses import replace
from datetime import date

import pytest
from conftest import AS_OF, FLOWS
from returnstats.bulletin.context import build_context, revision_matters
from returnstats.bulletin.readback import ReadbackMismatch, check_readback

DAILY = sum(n for *_, n in FLOWS)  # 218,009 on the first day; +1 a day on the 5 large flows
LATE = 12_345


def _row(text: str, label: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(label + "  "))
    return re.split(r"\s{2,}", line.strip())


def test_the_bulletin_lists_the_revisions_that_matter_with_their_year(rendered):
    _, files = rendered
    en = files.text["en"].read_text(encoding="utf-8")
    first_new_21 = DAILY + 5  # 21 Feb as published on 21 Feb: 5 large flows, day 1
    assert LATE / first_new_21 > 0.05
    assert _row(en, "21 Feb 2020, new returns") == [
        "21 Feb 2020, new returns", "21 Feb 2020", f"{first_new_21:,}",
        f"{first_new_21 + LATE:,}", "+12,345"]
    zh = files.text["zh"].read_text(encoding="utf-8")
    assert _row(zh, "2020年2月21日新增返岗人数")[1:] == [
        "2020年2月21日", str(first_new_21), str(first_new_21 + LATE), "+12345"]
    # Cumulative returns of 21 Feb moved by 12,345 on 436,023: under 5%, so only in the CSV.
    first_cumulative_21 = 2 * DAILY + 5
    assert LATE / first_cumulative_21 < 0.05
    table = en.split("Table A3. Main figures revised in this bulletin\n")[1].splitlines()[1:]
    assert [re.split(r"\s{2,}", line)[0] for line in table if line.strip()] == [
        "21 Feb 2020, new returns", "21 Feb 2020, new cross-province returns"]


def test_revisions_csv_holds_every_revision_as_numbers(rendered):
    _, files = rendered
    with open(files.directory / "tables" / "revisions.csv", encoding="utf-8-sig") as handle:
        rows = {(r["date"], r["figure"]): r for r in csv.DictReader(handle)}
    first_cumulative_21 = 2 * DAILY + 5
    assert rows[("2020-02-21", "returns_cumulative")] == {
        "date": "2020-02-21", "figure": "returns_cumulative", "figure_zh": "累计返岗人数",
        "figure_en": "cumulative returns", "first_published": "2020-02-21",
        "first_value": str(first_cumulative_21), "value": str(first_cumulative_21 + LATE),
        "change": "12345"}
    assert rows[("2020-02-21", "provinces_reporting")]["change"] == "1"  # 30 → 31
    # 21 Feb: new, cumulative, special train, cross-province new and cumulative, provinces;
    # 22 Feb: the cumulative ones.
    assert len(rows) == 9


def test_revision_matters_is_a_main_figure_changed_today_by_the_threshold():
    assert revision_matters("returns_new", 100, 100, 106, 5.0)
    assert revision_matters("returns_new", 100, 104, 105, 5.0)  # changed today, 5% in all
    assert not revision_matters("returns_new", 100, 106, 106, 5.0)  # revised before, not today
    assert not revision_matters("returns_new", 100, 100, 104, 5.0)  # under the threshold
    assert not revision_matters("returns_cumulative_special_train", 100, 100, 200, 5.0)
    assert revision_matters("provinces_reporting", 0, 0, 1, 5.0)
    assert revision_matters("returns_new", 100, None, 90, 5.0)


def test_the_threshold_is_configurable(settings):
    every = build_context(replace(settings, revision_threshold_percent=0.0), AS_OF)
    some = build_context(settings, AS_OF)
    assert len(every.revisions.rows) > len(some.revisions.rows) == 2
    assert len(every.revision_list) == len(some.revision_list) == 9


def test_revisions_consider_only_vintages_up_to_the_as_of_date(settings):
    context = build_context(settings, date(2020, 2, 22))
    assert context.revision_list == ()  # the late package is in the 23 Feb vintage only


def test_readback_catches_a_tampered_or_missing_revision(rendered):
    settings, files = rendered
    context = build_context(settings, AS_OF)
    texts = {lang: p.read_text(encoding="utf-8") for lang, p in files.text.items()}
    line = next(x for x in texts["en"].splitlines() if x.startswith("21 Feb 2020, new returns  "))

    tampered = dict(texts, en=texts["en"].replace(line, line.replace("+12,345", "+12,346")))
    with pytest.raises(ReadbackMismatch, match="revisions"):
        check_readback(settings, AS_OF, tampered, context)

    dropped = dict(texts, en=texts["en"].replace(line + "\n", ""))
    with pytest.raises(ReadbackMismatch, match="missing from the revisions table"):
        check_readback(settings, AS_OF, dropped, context)

    short = replace(context, revision_list=context.revision_list[1:])
    with pytest.raises(ReadbackMismatch, match="revisions.csv misses"):
        check_readback(settings, AS_OF, texts, short)


def test_a_package_first_in_this_vintage_for_an_earlier_date_is_late(settings):
    context = build_context(settings, AS_OF)
    assert [(p.package, p.province_en, p.days_late) for p in context.late] == [
        ("51_20200221_v1", "Sichuan", 2)]
    assert context.corrected == ()
    assert [p.package for p in context.rejected] == ["44_20200223_v2"]
    assert build_context(settings, date(2020, 2, 22)).late == ()
