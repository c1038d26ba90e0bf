"""Dates carry their year wherever it can differ from the as-of date's (issue 16): a
campaign across a new year renders, reads back and says which year each date is in."""

from __future__ import annotations

import re
from datetime import date

import pytest
from conftest import Campaign, write_campaign
from returnstats.bulletin.context import build_context
from returnstats.bulletin.dates import chart_date, long_date, parse_table_date, table_date
from returnstats.bulletin.render import render_bulletin
from returnstats.config import Settings

# 2019-12-20 → 2020-01-10; Sichuan's package for 31 Dec 2019 arrives with the last vintage.
NEW_YEAR = Campaign(date(2019, 12, 20), (date(2019, 12, 31), date(2020, 1, 1), date(2020, 1, 10)),
                    late=date(2019, 12, 31))


@pytest.mark.parametrize(("d", "zh", "en"), [
    (date(2019, 12, 31), "2019年12月31日", "31 Dec 2019"),
    (date(2020, 1, 1), "2020年1月1日", "1 Jan 2020"),
    (date(2020, 2, 9), "2020年2月9日", "9 Feb 2020"),
])
def test_table_dates_carry_their_year_and_read_back(d, zh, en):
    assert (table_date(d, "zh"), table_date(d, "en")) == (zh, en)
    assert parse_table_date(zh, "zh") == parse_table_date(en, "en") == d


@pytest.mark.parametrize(("text", "lang"), [("2月16日", "zh"), ("16 Feb", "en"), ("31 Feb 2020", "en"),
                                            ("16 FEB 2020", "en"), ("2020年02月16日", "zh")])
def test_a_date_without_its_year_or_not_as_written_is_refused(text, lang):
    with pytest.raises(ValueError):
        parse_table_date(text, lang)


def test_chart_ticks_are_short_and_add_the_year_only_when_it_differs():
    as_of = date(2020, 1, 10)
    assert chart_date(date(2020, 1, 2), as_of, "zh") == "1月2日"
    assert chart_date(date(2020, 1, 2), as_of, "en") == "2 Jan"
    assert chart_date(date(2019, 12, 31), as_of, "zh") == "2019年12月31日"
    assert chart_date(date(2019, 12, 31), as_of, "en") == "31 Dec 2019"
    assert long_date(as_of, "en") == "10 January 2020"


def test_a_campaign_across_the_new_year_renders_and_reads_back(tmp_path):
    warehouse = tmp_path / "warehouse"
    write_campaign(warehouse, NEW_YEAR)
    settings = Settings(landing=tmp_path / "l", warehouse=warehouse, output=tmp_path / "out",
                        staging=tmp_path / "s", campaign_start=NEW_YEAR.start)
    as_of = NEW_YEAR.last
    files = render_bulletin(settings, as_of)  # raises ReadbackMismatch on any misread figure
    en = files.text["en"].read_text(encoding="utf-8")
    zh = files.text["zh"].read_text(encoding="utf-8")
    assert "As of 10 January 2020" in en
    assert re.search(r"^31 Dec 2019, new returns +31 Dec 2019 +[\d,]+ +[\d,]+ +\+12,345$", en, re.M)
    assert re.search(r"^2019年12月31日新增返岗人数 +2019年12月31日 +\d+ +\d+ +\+12345$", zh, re.M)
    assert "Sichuan for 31 Dec 2019 (51_20191231_v1, 10 days late)" in en
    context = build_context(settings, as_of)
    assert {r.date for r in context.revision_list} == {date(2019, 12, 31), date(2020, 1, 1)}


def test_a_run_in_a_later_year_reads_back_the_campaigns_dates(tmp_path):
    """Issue 16's failure: a run as of 2026-12-04 over the 2020 campaign revised 2020 dates,
    printed them without a year, and the read-back took them for 2026."""
    from returnstats.bulletin.readback import check_readback
    from returnstats.bulletin.templates import template_environment

    later = Campaign(date(2020, 2, 20), (date(2020, 2, 21), date(2020, 2, 22), date(2026, 12, 4)),
                     late=date(2020, 2, 21))
    write_campaign(tmp_path / "warehouse", later)
    settings = Settings(landing=tmp_path / "l", warehouse=tmp_path / "warehouse",
                        output=tmp_path / "out", staging=tmp_path / "s",
                        campaign_start=later.start)
    context = build_context(settings, later.last)
    assert {r.date.year for r in context.revision_list} == {2020}
    texts = {lang: template_environment().get_template(f"bulletin.{lang}.txt.j2").render(c=context)
             for lang in ("zh", "en")}
    assert "21 Feb 2020, new returns" in texts["en"]
    check_readback(settings, later.last, texts, context)  # raises on a misread date
