"""Rendering on the fixture warehouse: the files, the structure of SPEC §7 (release
section, tables with charts, annex), and the read-back check."""

import csv
import re

import jinja2
import pytest
from conftest import AS_OF, FLOWS, LATE_ROWS
from returnstats.bulletin.context import DisplayTable, TableRow, build_context, count_cell
from returnstats.bulletin.readback import ReadbackMismatch, check_readback
from returnstats.bulletin.templates import template_environment

# The fixture by hand: every flow of 20..23 Feb (the large ones one more each day), the late
# Sichuan rows, and on 23 Feb the flows alone.
CUMULATIVE = sum(4 * n + 6 if n > 100 else 4 * n for *_, n in FLOWS) + sum(n for *_, n in LATE_ROWS)
NEW_ON_23 = sum(n + 3 if n > 100 else n for *_, n in FLOWS)


def test_render_writes_every_file(rendered):
    _, files = rendered
    for lang in ("zh", "en"):
        for path in (files.html[lang], files.text[lang], files.pdf[lang],
                     *files.charts[lang].values()):
            assert path.is_file() and path.stat().st_size > 0, path
        assert files.pdf[lang].read_bytes().startswith(b"%PDF")
        assert len(files.charts[lang]) == 5
    assert {p.name for p in files.tables} == {
        "key_figures.csv", "returns_by_mode.csv", "top_flows.csv", "region_flows.csv",
        "enterprises_by_province.csv", "quarantined_by_rule.csv", "revisions.csv",
        "report_checks.csv"}


def test_release_section_has_headline_key_figures_definitions_source_and_release_time(rendered):
    _, files = rendered
    assert (CUMULATIVE, NEW_ON_23) == (884_411, 218_024)  # the fixture's arithmetic, by hand
    zh = files.text["zh"].read_text(encoding="utf-8")
    en = files.text["en"].read_text(encoding="utf-8")
    release_zh = zh.split("一、分方式返岗情况")[0]
    release_en = en.split("RETURNS BY MODE")[0]
    assert "输送农民工返岗复工88万余人，已解决7900家重点企业用工需求" in release_zh
    assert "As of 23 February 2020, more than 880,000 migrant workers" in release_en
    assert re.search(r"^累计返岗人数（人） +884411$", release_zh, re.M)
    assert re.search(r"^Cumulative returns \(persons\) +884,411$", release_en, re.M)
    assert re.search(r"^New returns on the day \(persons\) +218,024$", release_en, re.M)
    for text in ("点对点返岗：", "按人统计：", "跨省返岗：", "初步统计数", "数据来源：",
                 "发布机构：国家统计测试局", "联系方式：press@example.gov.cn",
                 "发布时间：2020年2月23日21:00（北京时间）"):
        assert text in release_zh, text
    for text in ("Point-to-point return:", "Persons, not reports:", "provisional", "Source:",
                 "Issued by Test Statistics Office", "Contact: press@example.gov.cn",
                 "Released 23 February 2020, 21:00 Beijing time"):
        assert text in release_en, text


def test_annex_names_packages_rules_and_report_checks(rendered):
    _, files = rendered
    zh = files.text["zh"].read_text(encoding="utf-8")
    en = files.text["en"].read_text(encoding="utf-8")
    annex_en = en.split("ANNEX FOR STATISTICIANS")[1]
    assert "报送省份：29/31。未报送：西藏自治区、青海省。" in zh
    assert "Not reported: Xizang, Qinghai." in annex_en
    assert "51_20200221_v1" in annex_en and "44_20200223_v2" in annex_en  # late and rejected
    assert "unknown mode (worker.mode.unknown)" in annex_en
    assert ("declared totals differ from the records (report.declared_totals.mismatch): "
            "Guangdong, 23 Feb 2020, 44_20200223_v1, returns_by_mode.special_train declared 400, "
            "observed 398;") in annex_en
    assert "迟报（report.package.late）：四川省，2020年2月21日，51_20200221_v1；" in zh
    assert annex_en.count("(report.province.missing): ") == 2
    assert "Report checks found 4 issues:" in annex_en
    with open(files.directory / "tables" / "report_checks.csv", encoding="utf-8-sig") as handle:
        assert len(list(csv.DictReader(handle))) == 4


def test_html_editions_put_each_chart_beside_its_table(rendered):
    _, files = rendered
    html = files.html["en"].read_text(encoding="utf-8")
    blocks = re.findall(r'<div class="block".*?</div></div>', html, re.S)
    pairs = (("Key figures", "daily_new"), ("Table 1.", "cumulative_by_mode"),
             ("Table 2.", "top_flows"), ("Table 3.", "region_flows"), ("Table 4.", "enterprises"))
    assert len(blocks) == len(pairs)
    for block, (title, chart) in zip(blocks, pairs, strict=True):
        assert "<caption" in block and title in block and f'src="charts/{chart}.en.png"' in block
    mail = files.mail_html.read_text(encoding="utf-8")
    assert 'src="cid:daily_new.zh@returnstats"' in mail and 'src="cid:daily_new.en@returnstats"' in mail
    assert "charts/" not in mail


def test_small_cells_are_suppressed_in_tables_and_csv(rendered):
    _, files = rendered
    en = files.text["en"].read_text(encoding="utf-8")
    assert re.search(r"^Charter flights +<5 +8$", en, re.M)  # 2 on the day, 8 in all
    assert re.search(r"^Reserved train carriages +x +100,006$", en, re.M)  # its complement
    with open(files.directory / "tables" / "returns_by_mode.csv", encoding="utf-8-sig") as handle:
        rows = {r["label_en"]: r for r in csv.DictReader(handle)}
    assert rows["Charter flights"]["New"] == "<5"
    assert rows["Total"]["New"] == str(NEW_ON_23)


def test_readback_catches_a_tampered_number(rendered):
    settings, files = rendered
    context = build_context(settings, AS_OF)
    texts = {lang: p.read_text(encoding="utf-8") for lang, p in files.text.items()}
    check_readback(settings, AS_OF, texts, context)  # the rendered texts pass

    tampered = dict(texts, en=texts["en"].replace("A further 218,024", "A further 1,234"))
    with pytest.raises(ReadbackMismatch, match="returns_new"):
        check_readback(settings, AS_OF, tampered, context)

    tampered = dict(texts, en=texts["en"].replace("372,379", "372,380"))
    with pytest.raises(ReadbackMismatch, match="returns_by_mode"):
        check_readback(settings, AS_OF, tampered, context)

    tampered = dict(texts, zh=texts["zh"].replace("88万余人", "89万余人"))
    with pytest.raises(ReadbackMismatch, match="returns_cumulative"):
        check_readback(settings, AS_OF, tampered, context)

    tampered = dict(texts, zh=texts["zh"].replace("88万余人", "88余万人"))  # the wrong idiom
    with pytest.raises(ReadbackMismatch, match="returns_cumulative"):
        check_readback(settings, AS_OF, tampered, context)

    line = next(x for x in texts["en"].splitlines() if x.startswith("Cumulative returns (persons)"))
    tampered = dict(texts, en=texts["en"].replace(line, line.replace("884,411", "884,412")))
    with pytest.raises(ReadbackMismatch, match="key figure"):
        check_readback(settings, AS_OF, tampered, context)


def test_a_send_task_finds_the_rendered_files_again(rendered):
    from returnstats.bulletin.render import load_bulletin_files

    settings, files = rendered
    again = load_bulletin_files(settings, AS_OF)
    assert again == files and again.digest() == files.digest()
    assert not again.correction


def test_every_html_template_escapes_including_the_macros(tmp_path):
    env = template_environment()
    html_templates = [name for name in env.list_templates() if not name.endswith(".txt.j2")]
    assert "_macros.html.j2" in html_templates and "bulletin.mail.html.j2" in html_templates
    for name in html_templates:
        assert env.get_template(name).environment.autoescape(name) is True, name
    evil = "<script>alert(1)</script>"
    table = DisplayTable("t", evil, evil, (evil, "n"), (evil, "n"),
                         (TableRow(evil, evil, (count_cell(1),)),))
    html = env.from_string('{% from "_macros.html.j2" import html_table %}{{ html_table(t, "en") }}'
                           ).render(t=table)
    assert "<script>" not in html and html.count("&lt;script&gt;") == 3
    with pytest.raises(jinja2.UndefinedError):
        env.get_template("bulletin.html.j2").render()
