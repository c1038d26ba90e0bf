"""A correction bulletin (SPEC §7: a rerun that changes an approved day's figures goes out
marked as a correction), and the body the approver reads (issue 16)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest
from conftest import AS_OF, PUBLIC_BASE_URL
from returnstats.bulletin.approval import approval_body
from returnstats.bulletin.context import CorrectedFigure, build_context
from returnstats.bulletin.mail import build_message
from returnstats.bulletin.readback import ReadbackMismatch, check_readback
from returnstats.bulletin.render import load_bulletin_files, render_bulletin
from returnstats.bulletin.templates import template_environment

NEW_ON_23 = 218_024  # the fixture's new returns on 23 Feb (test_bulletin_render, by hand)
CUMULATIVE = 884_411


def _texts(context):
    env = template_environment()
    return {lang: env.get_template(f"bulletin.{lang}.txt.j2").render(c=context)
            for lang in ("zh", "en")}


@pytest.fixture
def correction():
    # What the lead's approval state would pass: figures of D that differ from the bulletin
    # approved before (here, as if that bulletin had 2,000 returns fewer on the day).
    return (CorrectedFigure(AS_OF, "returns_cumulative", CUMULATIVE - 2_000, CUMULATIVE),
            CorrectedFigure(AS_OF, "returns_new", NEW_ON_23 - 2_000, NEW_ON_23))


def test_a_correction_says_so_at_the_top_and_lists_what_changed(settings, correction):
    files = render_bulletin(settings, AS_OF, correction=correction)
    zh = files.text["zh"].read_text(encoding="utf-8")
    en = files.text["en"].read_text(encoding="utf-8")
    assert zh.index("【更正】") < zh.index("截至")
    assert en.index("CORRECTION:") < en.index("As of")
    assert re.search(r"^2020年2月23日新增返岗人数 +216024 +218024 +\+2000$", zh, re.M)
    assert re.search(r"^23 Feb 2020, cumulative returns +882,411 +884,411 +\+2,000$", en, re.M)
    html = files.mail_html.read_text(encoding="utf-8")
    assert html.index("更正 / Correction") < html.index('<section id="release-zh">')
    assert html.index("Correction / 更正") < html.index("As of 23 February 2020")
    again = load_bulletin_files(settings, AS_OF)
    assert again.correction
    message = build_message(settings, AS_OF, again, settings.recipients)
    assert message["Subject"].startswith("【更正】全国农民工点对点返岗复工日报 2020-02-23")
    assert message["Subject"].endswith("(correction)")


def test_a_first_release_is_no_correction(rendered):
    settings, files = rendered
    assert "【更正】" not in files.text["zh"].read_text(encoding="utf-8")
    assert "更正 / Correction" not in files.mail_html.read_text(encoding="utf-8")
    assert "Correction" not in build_message(settings, AS_OF, files, settings.recipients)["Subject"]


def test_readback_checks_the_corrected_values_against_the_warehouse(settings, correction):
    wrong = (replace(correction[0], value=CUMULATIVE + 1),)  # not what vintage D holds
    context = build_context(settings, AS_OF, wrong)
    with pytest.raises(ReadbackMismatch, match="correction row"):
        check_readback(settings, AS_OF, _texts(context), context)
    context = build_context(settings, AS_OF, correction)
    check_readback(settings, AS_OF, _texts(context), context)


def test_approval_body_has_both_headlines_coverage_revisions_and_links(settings, correction):
    body = approval_body(build_context(replace(settings, public_base_url=PUBLIC_BASE_URL), AS_OF,
                                       correction))
    assert "截至2020年2月23日" in body and "输送农民工返岗复工88万余人" in body
    assert "As of 23 February 2020, more than 880,000 migrant workers" in body
    assert "Provinces reporting: 29/31; not reported: Xizang, Qinghai." in body
    assert "**更正 / Correction**" in body and "| 23 Feb 2020, new returns | 216,024 | 218,024 |" in body
    # Largest first, relative to the first value: the late package's 12,345 special-train
    # returns on 21 Feb's 180,015 (2 × 90,007 + 1) is +6.9%, on its 215,013 cross-province
    # returns +5.74%, on its 218,014 new returns +5.66%.
    rows = body[body.index("Largest revisions"):].splitlines()[4:7]
    assert rows[0] == ("| 21 Feb 2020, cumulative returns by special train | 2020-02-21 | 180,015 | "
                       "192,360 | +12,345 (+6.9%) |")
    assert rows[1].startswith("| 21 Feb 2020, new cross-province returns | 2020-02-21 | 215,013 |")
    assert rows[2].startswith("| 21 Feb 2020, new returns | 2020-02-21 | 218,014 | 230,359 |")
    assert f"({PUBLIC_BASE_URL}bulletins/2020-02-23/preview.zh.png)" in body
    assert f"({PUBLIC_BASE_URL}bulletins/2020-02-23/bulletin.en.html)" in body


def test_approval_body_links_nothing_without_a_base_url(settings):
    body = approval_body(build_context(settings, date(2020, 2, 22)))
    assert "http" not in body and "](" not in body
    assert "No previously published figure has been revised." in body
    assert "Correction" not in body
