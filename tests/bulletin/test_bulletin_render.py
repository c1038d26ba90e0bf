"""Rendering on the fixture warehouse, and the read-back check."""

import csv
import re

import pytest
from conftest import AS_OF
from returnstats.bulletin.context import build_context
from returnstats.bulletin.readback import ReadbackMismatch, check_readback
from returnstats.bulletin.rounding import headline_number


def test_render_writes_every_file_with_the_headline_in_both_languages(rendered):
    settings, files = rendered
    directory = settings.output / "bulletins" / "2020-02-23"
    for name in ("bulletin.zh.html", "bulletin.en.html", "bulletin.zh.txt", "bulletin.en.txt",
                 "bulletin.pdf"):
        assert (directory / name).is_file(), name
    assert len(files.charts) == 4 and all(p.suffix == ".png" for p in files.charts.values())
    assert {p.name for p in files.tables} >= {"returns_by_mode.csv", "top_flows.csv",
                                              "region_flows.csv", "enterprises_by_province.csv"}
    assert files.pdf.read_bytes().startswith(b"%PDF")

    zh = files.text["zh"].read_text(encoding="utf-8")
    en = files.text["en"].read_text(encoding="utf-8")
    context = build_context(settings, AS_OF)
    assert f"返岗复工{headline_number(context.returns_cumulative, 'zh')}人" in zh
    assert "余万人" in zh
    assert f"{headline_number(context.returns_cumulative, 'en')} migrant workers" in en
    assert en.count("more than ") >= 1
    assert f"已解决{context.key_enterprises_resolved}家" in zh
    assert "报送省份：29/31。未报送：西藏自治区、青海省。" in zh
    assert "Not reported: Xizang, Qinghai." in en
    assert "51_20200221_v1" in zh and "44_20200223_v2" in en  # late and rejected named
    assert "+12,345" in en  # the late package revised 21 and 22 February


def test_saved_html_links_charts_by_path_and_mail_html_by_content_id(rendered):
    _, files = rendered
    assert 'src="charts/daily_new.png"' in files.html["zh"].read_text(encoding="utf-8")
    mail = files.mail_html.read_text(encoding="utf-8")
    assert 'src="cid:daily_new@returnstats"' in mail and "charts/" not in mail


def test_small_cells_are_suppressed_in_tables_and_csv(rendered):
    _, files = rendered
    en = files.text["en"].read_text(encoding="utf-8")
    assert re.search(r"^Charter flights +<5 +8$", en, re.M)  # 2 on the day, 8 in all
    assert re.search(r"^Reserved train carriages +x +100,006$", en, re.M)  # its complement
    with open(files.directory / "tables" / "returns_by_mode.csv", encoding="utf-8-sig") as handle:
        rows = {r["label_en"]: r for r in csv.DictReader(handle)}
    assert rows["Charter flights"]["New"] == "<5"
    assert rows["Total"]["New"].isdigit()


def test_readback_catches_a_tampered_number(rendered):
    settings, files = rendered
    context = build_context(settings, AS_OF)
    texts = {lang: p.read_text(encoding="utf-8") for lang, p in files.text.items()}
    check_readback(settings, AS_OF, texts, context)  # the rendered texts pass

    new = f"{context.returns_new:,}"
    tampered = dict(texts, en=texts["en"].replace(f"A further {new}", "A further 1,234"))
    with pytest.raises(ReadbackMismatch, match="returns_new"):
        check_readback(settings, AS_OF, tampered, context)

    cell = f"{context.modes.rows[0].cells[1].value:,}"
    tampered = dict(texts, en=texts["en"].replace(cell, f"{int(cell.replace(',', '')) + 1:,}"))
    with pytest.raises(ReadbackMismatch, match="returns_by_mode"):
        check_readback(settings, AS_OF, tampered, context)

    tampered = dict(texts, zh=texts["zh"].replace("88余万人", "89余万人"))
    with pytest.raises(ReadbackMismatch, match="returns_cumulative"):
        check_readback(settings, AS_OF, tampered, context)


def test_a_send_task_finds_the_rendered_files_again(rendered):
    from returnstats.bulletin.render import load_bulletin_files

    settings, files = rendered
    again = load_bulletin_files(settings, AS_OF)
    assert again == files and again.digest() == files.digest()
