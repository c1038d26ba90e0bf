"""The rendered bulletin as officials see it: HTML through headless Chromium, the PDF
through poppler. Expected headlines are computed here from the fixture's flows with the
press-release rounding written out by hand, not taken from the code under test.

These tests need `chromium` and `poppler-utils` (scripts/install-system-deps). Without
them they fail when CI=true and are skipped, with the reason, on a workstation.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from datetime import timedelta

import pytest
from conftest import AS_OF, CAMPAIGN_START, FLOWS, LATE_ROWS
from PIL import Image, ImageStat


def require(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return
    reason = f"{', '.join(missing)} not installed: run scripts/install-system-deps"
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"CI: {reason}")
    pytest.skip(reason)


def fixture_cumulative_returns() -> int:
    """Cumulative returns at AS_OF in the fixture: every flow of every day, plus the late rows."""
    total, d = 0, CAMPAIGN_START
    while d <= AS_OF:
        k = (d - CAMPAIGN_START).days
        total += sum(n + k if n > 100 else n for *_, n in FLOWS)
        d += timedelta(days=1)
    return total + sum(n for *_, n in LATE_ROWS)


def _assert_real_png(path, size):
    assert path.is_file(), path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 20_000, "a rendered bulletin page weighs more than this"
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == size
        grey = image.convert("L")
        assert ImageStat.Stat(grey).stddev[0] > 20, "the page is (nearly) blank"
        dark = sum(grey.histogram()[:128])
        assert dark > 0.005 * grey.width * grey.height, "hardly any text or chart on the page"


def test_html_editions_render_to_non_blank_pngs_with_headless_chromium(rendered):
    require("chromium", "pdftoppm")
    _, files = rendered  # render_bulletin wrote the previews beside the bulletin
    for lang in ("zh", "en"):
        _assert_real_png(files.directory / f"preview.{lang}.png", (1000, 2400))


def test_first_pdf_page_renders_to_a_non_blank_png(rendered):
    require("chromium", "pdftoppm")
    _, files = rendered
    path = files.directory / "preview.pdf-page1.png"
    _assert_real_png(path, Image.open(path).size)
    width, height = Image.open(path).size
    assert 800 < width < 840 and 1150 < height < 1190  # A4 at 100 dpi


def test_pdf_text_holds_the_headline_in_both_languages(rendered):
    require("pdftotext")
    _, files = rendered
    text = subprocess.run(["pdftotext", "-layout", str(files.pdf), "-"], check=True,
                          capture_output=True, timeout=60).stdout.decode("utf-8")
    flat = " ".join(text.split())
    compact = "".join(text.split())

    total = fixture_cumulative_returns()
    assert total == 884_411  # the fixture's arithmetic, checked once by hand
    wan = total // 10_000
    zh = f"{wan}余万人" if total % 10_000 else f"{wan}万人"
    en = f"more than {wan * 10_000:,}" if total % 10_000 else f"{wan * 10_000:,}"
    assert (zh, en) == ("88余万人", "more than 880,000")
    enterprises = 7_000 + 300 * (AS_OF - CAMPAIGN_START).days

    assert f"输送农民工返岗复工{zh}" in compact
    assert f"已解决{enterprises}家重点企业用工需求" in compact
    assert f"{en} migrant workers had been taken back" in flat
    assert f"the labour needs of {enterprises:,} key enterprises" in flat


def test_without_chromium_the_bulletin_renders_and_warns(settings, monkeypatch, caplog):
    from returnstats.bulletin import render

    monkeypatch.setattr(render, "missing_tools", lambda: ["chromium"])
    with caplog.at_level(logging.WARNING, logger=render.__name__):
        files = render.render_bulletin(settings, AS_OF)
    assert files.pdf.is_file() and files.html["zh"].is_file()
    assert not list(files.directory.glob("preview.*.png"))
    assert "previews skipped: chromium" in caplog.text


def test_render_previews_without_the_tools_raises_a_clear_error(tmp_path, monkeypatch):
    from returnstats.bulletin import preview

    monkeypatch.setattr(preview.shutil, "which", lambda name: None)
    with pytest.raises(preview.PreviewToolMissing, match="install-system-deps"):
        preview.render_previews(tmp_path)
