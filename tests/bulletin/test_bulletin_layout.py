"""The bulletin as its readers see it: the PDF editions through poppler, the e-mail's HTML
through headless Chromium at 600 px (a phone) and 1,200 px (a desktop), the previews.

Expected figures are read here from the fixture warehouse's national_summary with DuckDB,
not from the code under test. The tools are system packages (scripts/install-system-deps):
without them these tests fail when CI=true and are skipped, with the reason, otherwise.
"""

from __future__ import annotations

import logging
import re
from email import message_from_bytes
from email.policy import default

import duckdb
import pytest
from conftest import AS_OF
from PIL import Image, ImageStat
from returnstats.bulletin.chromium import Browser
from returnstats.bulletin.mail import build_message

from tests.documents import (
    FOLD,
    JUMP_TO_ENGLISH,
    LAYOUT_SCRIPT,
    mail_page,
    pdf_info,
    pdf_pages,
    require,
)


def national(settings) -> dict[str, int]:
    """national_summary of date D in vintage D, straight from the Parquet files."""
    path = settings.warehouse / "national_summary" / f"as_of={AS_OF}" / "*.parquet"
    con = duckdb.connect()
    row = con.execute("SELECT * FROM read_parquet(?) WHERE date = ?", [str(path), AS_OF])
    return dict(zip([c[0] for c in row.description], row.fetchone(), strict=True))


def _assert_real_png(path, size=None):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    with Image.open(path) as image:
        if size:
            assert image.size == size
        grey = image.convert("L")
        assert ImageStat.Stat(grey).stddev[0] > 20, f"{path.name} is (nearly) blank"
        assert sum(grey.histogram()[:128]) > 0.005 * grey.width * grey.height, \
            f"hardly any text or chart in {path.name}"


def test_pdf_editions_are_tagged_a4_of_at_most_four_pages(rendered):
    require("pdfinfo")
    _, files = rendered
    for lang in ("zh", "en"):
        info = pdf_info(files.pdf[lang])
        assert info["Tagged"] == "yes"
        assert info["Page size"].endswith("pts (A4)"), info["Page size"]
        assert 1 <= int(info["Pages"]) <= 4, (lang, info["Pages"])


def test_every_pdf_page_shows_the_warehouse_figures(rendered):
    require("pdftotext")
    settings, files = rendered
    n = national(settings)
    zh, en = pdf_pages(files.pdf["zh"]), pdf_pages(files.pdf["en"])
    # Page 1 is the release section: the headline, then the exact key figures.
    first_zh, first_en = "".join(zh[0].split()), " ".join(en[0].split())
    wan = n["returns_cumulative"] // 10_000
    assert f"输送农民工返岗复工{wan}万余人" in first_zh  # 884,411 → 88万余人 (SPEC §7)
    assert f"more than {wan * 10_000:,} migrant workers" in first_en
    for figure, label_zh, label_en in (
            ("returns_cumulative", "累计返岗人数（人）", "Cumulative returns (persons)"),
            ("returns_new", "当日新增返岗人数（人）", "New returns on the day (persons)"),
            ("cross_province_cumulative", "累计跨省返岗人数（人）",
             "Cumulative cross-province returns (persons)"),
            ("key_enterprises_resolved_cumulative", "已解决用工需求的重点企业（家）",
             "Key enterprises with labour needs met"),
            ("provinces_reporting", "当日报送省份（个）", "Provinces reporting for the day")):
        assert f"{label_zh}{n[figure]}" in first_zh, figure
        # A long label wraps its unit to the next line; the figure stays on the first.
        words = label_en.removesuffix(" (persons)")
        assert re.search(rf"^ *{re.escape(words)}( \(persons\))? +{n[figure]:,}$", en[0], re.M), figure
    assert "发布时间：2020年2月23日21:00（北京时间）" in first_zh
    assert "Released 23 February 2020, 21:00 Beijing time" in first_en
    # The tables follow, Table 1's cumulative column holding national_summary's figures.
    rest_en = " ".join(" ".join(en[1:]).split())
    for mode, label in (("special_train", "Special trains"), ("chartered_bus", "Chartered buses")):
        assert f"{label} " in rest_en and f"{n['returns_cumulative_' + mode]:,}" in rest_en
    assert f"Total {n['returns_new']:,} {n['returns_cumulative']:,}" in rest_en
    rest_zh = "".join("".join(zh[1:]).split())
    assert f"合计{n['returns_new']}{n['returns_cumulative']}" in rest_zh
    assert "Page" not in en[0] or "page 1 of" in en[0]
    assert f"of {len(en)}" in en[-1] and f"共{len(zh)}页" in "".join(zh[-1].split())


def test_no_identifier_is_broken_across_lines_in_the_pdf(rendered):
    require("pdftotext")
    _, files = rendered
    identifiers = ("worker.mode.unknown", "report.declared_totals.mismatch",
                   "report.province.missing", "returns_by_mode.special_train",
                   "44_20200223_v1", "44_20200223_v2", "51_20200221_v1")
    for lang in ("zh", "en"):
        lines = [line for page in pdf_pages(files.pdf[lang]) for line in page.splitlines()]
        for identifier in identifiers:
            assert any(identifier in line for line in lines), (lang, identifier)


def test_mail_html_fits_a_phone_and_a_desktop_with_the_release_section_above_the_fold(
        rendered, tmp_path):
    require("chromium")
    settings, files = rendered
    message = message_from_bytes(
        build_message(settings, AS_OF, files, settings.recipients).as_bytes(), policy=default)
    page_file = mail_page(message, tmp_path / "mail")
    with Browser() as browser:
        for width, mobile in ((600, True), (1200, False)):
            page = browser.open(page_file.as_uri(), width, FOLD, mobile=mobile)
            layout = page.evaluate(LAYOUT_SCRIPT)
            assert layout["width"] == width
            assert layout["scrollWidth"] <= width, layout
            assert layout["overflowing"] == [], layout
            assert layout["releaseTop"] < 100, "the contents line and nothing else above"
            assert layout["zhHeadlineBottom"] <= FOLD, layout
            shot = page.screenshot(tmp_path / f"mail-{width}.png")
            _assert_real_png(shot, (width, FOLD))
            assert page.evaluate(JUMP_TO_ENGLISH) <= FOLD  # the contents line's second link
            page.close()


def test_previews_are_written_beside_the_bulletin(rendered):
    require("chromium", "pdftoppm")
    _, files = rendered
    for lang in ("zh", "en"):
        _assert_real_png(files.directory / f"preview.{lang}.png", (1000, 1400))
        page = files.directory / f"preview.{lang}.pdf-page1.png"
        _assert_real_png(page)
        width, height = Image.open(page).size
        assert 655 < width < 665 and 930 < height < 940  # A4 at 80 dpi


def test_without_chromium_rendering_stops_with_what_to_install(settings, monkeypatch):
    from returnstats.bulletin import chromium, render

    monkeypatch.setattr(chromium, "chromium", lambda: None)
    with pytest.raises(chromium.ChromiumMissing, match="install-system-deps"):
        render.render_bulletin(settings, AS_OF)


def test_without_pdftoppm_the_bulletin_renders_and_warns(settings, monkeypatch, caplog):
    require("chromium")
    from returnstats.bulletin import preview, render

    real_which = preview.shutil.which
    monkeypatch.setattr(preview.shutil, "which",
                        lambda name: None if name == "pdftoppm" else real_which(name))
    with caplog.at_level(logging.WARNING, logger=render.__name__):
        files = render.render_bulletin(settings, AS_OF)
    assert all(p.is_file() for p in files.pdf.values())
    assert not list(files.directory.glob("preview.*.pdf-page1.png"))
    assert "pdftoppm is not installed" in caplog.text


@pytest.mark.parametrize(("script", "message"), [
    ("exit 3", "closed the pipe"),     # a browser that dies at start
    ("exec sleep 30", "did not answer"),  # one that never answers
])
def test_a_browser_that_fails_gives_a_clear_error_not_a_hang(tmp_path, monkeypatch, script,
                                                               message):
    from returnstats.bulletin import chromium

    fake = tmp_path / "chromium"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    monkeypatch.setattr(chromium, "chromium", lambda: str(fake))
    with pytest.raises(chromium.ChromiumError, match=message):
        with chromium.Browser(timeout=1) as browser:
            browser.open("about:blank")
