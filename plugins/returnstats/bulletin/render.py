"""Render the bulletin for an as-of date into `<output>/bulletins/<D>/` (SPEC §7).

One layout for screen and paper: the HTML editions are the web pages, the e-mail body (both
editions) and, printed by headless Chromium, the PDF editions. The text editions carry the
same words and tables, and are what the read-back check parses.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from returnstats.config import Settings

from .charts import CHART_NAMES, LANGS, chart_file, render_charts
from .chromium import Browser
from .context import BulletinContext, CorrectedFigure, build_context
from .csvout import write_csv
from .pdf import pdf_path, print_edition
from .preview import WINDOW, PreviewToolMissing, pdf_page1_to_png, preview_paths
from .readback import check_readback, revision_csv_rows
from .templates import template_environment

log = logging.getLogger(__name__)

SUBJECT = "全国农民工点对点返岗复工日报 {d} / Point-to-point return-to-work bulletin"
CORRECTION_SUBJECT = "【更正】" + SUBJECT + " (correction)"
META_FILE = "bulletin.json"
REVISIONS_CSV = "revisions.csv"
REPORT_CHECKS_CSV = "report_checks.csv"


def subject(as_of: date, correction: bool) -> str:
    return (CORRECTION_SUBJECT if correction else SUBJECT).format(d=as_of.isoformat())


@dataclass(frozen=True)
class BulletinFiles:
    directory: Path
    html: dict[str, Path]
    text: dict[str, Path]
    mail_html: Path
    pdf: dict[str, Path]
    charts: dict[str, dict[str, Path]]
    """lang → chart name → PNG."""
    tables: tuple[Path, ...]
    correction: bool = False

    def digest(self) -> str:
        """SHA-256 over the editions and tables: what "the same bulletin" means for resends."""
        h = hashlib.sha256()
        for path in (*self.text.values(), *self.html.values(), self.mail_html, *self.tables):
            h.update(path.name.encode())
            h.update(path.read_bytes())
        return h.hexdigest()


def bulletin_dir(settings: Settings, as_of: date) -> Path:
    return settings.output / "bulletins" / as_of.isoformat()


def _files(directory: Path, correction: bool) -> BulletinFiles:
    return BulletinFiles(
        directory=directory,
        html={lang: directory / f"bulletin.{lang}.html" for lang in LANGS},
        text={lang: directory / f"bulletin.{lang}.txt" for lang in LANGS},
        mail_html=directory / "mail" / "bulletin.html",
        pdf={lang: pdf_path(directory, lang) for lang in LANGS},
        charts={lang: {name: chart_file(directory / "charts", name, lang) for name in CHART_NAMES}
                for lang in LANGS},
        tables=tuple(sorted((directory / "tables").glob("*.csv"))),
        correction=correction,
    )


def load_bulletin_files(settings: Settings, as_of: date) -> BulletinFiles:
    """The files of an already rendered bulletin (for a task that only sends)."""
    directory = bulletin_dir(settings, as_of)
    meta = directory / META_FILE
    correction = bool(json.loads(meta.read_text())["correction"]) if meta.is_file() else False
    files = _files(directory, correction)
    missing = [p for p in (meta, *files.html.values(), *files.text.values(), files.mail_html,
                           *files.pdf.values(),
                           *(p for charts in files.charts.values() for p in charts.values()))
               if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"bulletin for {as_of} is incomplete: {missing}")
    return files


def content_id(name: str, lang: str) -> str:
    """Content-ID (without angle brackets) of an inline chart in the mail."""
    return f"{name}.{lang}@returnstats"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def _csv_value(cell) -> object:
    if cell.status != "shown":
        return cell.en
    if isinstance(cell.value, date):
        return cell.value.isoformat()
    return "" if cell.value is None else cell.value


def _write_tables(context: BulletinContext, directory: Path) -> tuple[Path, ...]:
    """Every table of the editions as CSV; the revisions and report checks in full."""
    for stale in directory.glob("*.csv"):  # a table that is empty today leaves no old copy
        stale.unlink()
    paths = []
    for table in (context.key_figures, context.modes, context.top_flows, context.region_flows,
                  context.enterprises, context.quarantine):
        header = ["label_zh", "label_en", *table.headers_en[1:]]
        rows = [[row.label_zh, row.label_en, *(_csv_value(cell) for cell in row.cells)]
                for row in table.rows]
        paths.append(write_csv(directory / f"{table.key}.csv", header, rows))
    paths.append(write_csv(
        directory / REVISIONS_CSV,
        ["date", "figure", "figure_zh", "figure_en", "first_published", "first_value", "value",
         "change"],
        revision_csv_rows(context.revision_list)))
    paths.append(write_csv(
        directory / REPORT_CHECKS_CSV,
        ["check", "province", "report_date", "package", "figure", "declared", "observed",
         "detail"],
        [[c.check, c.province or "", c.report_date.isoformat() if c.report_date else "",
          c.package or "", c.figure or "", "" if c.declared is None else c.declared,
          "" if c.observed is None else c.observed, c.detail or ""]
         for c in context.report_check_list]))
    return tuple(sorted(paths))


def render_bulletin(settings: Settings, as_of: date,
                    correction: tuple[CorrectedFigure, ...] | None = None) -> BulletinFiles:
    """Write every file of the bulletin for `as_of` and read the figures back.

    `correction`: the figures that changed since the bulletin approved before for `as_of`
    (issue 16's approval wires it); the bulletin then says "更正 / Correction" at the top
    and lists them."""
    context = build_context(settings, as_of, correction)
    directory = bulletin_dir(settings, as_of)
    env = template_environment()
    texts = {lang: env.get_template(f"bulletin.{lang}.txt.j2").render(c=context)
             for lang in LANGS}
    # Fail before anything is written for the readers if a figure does not read back.
    check_readback(settings, as_of, texts, context)

    title = subject(as_of, correction is not None)
    _write_tables(context, directory / "tables")
    for lang in LANGS:
        _write(directory / f"bulletin.{lang}.txt", texts[lang])
    charts = {lang: {name: chart_file(directory / "charts", name, lang) for name in CHART_NAMES}
              for lang in LANGS}
    # Chromium starts now and comes up while the charts are drawn. It then prints each
    # edition from a thread of its own (which mostly waits on the browser) while the charts
    # of the next edition are drawn here.
    with Browser() as browser, ThreadPoolExecutor(max_workers=1) as printer:
        printed = []
        for lang in LANGS:
            render_charts(context, directory / "charts", lang)
            html = _write(directory / f"bulletin.{lang}.html",
                          env.get_template("bulletin.html.j2").render(
                              c=context, title=title, lang=lang,
                              charts={lang: {name: f"charts/{path.name}"
                                             for name, path in charts[lang].items()}}))
            printed.append(printer.submit(_print_and_preview, browser, directory, html, lang, as_of))
        cid_src = {lang: {name: f"cid:{content_id(name, lang)}" for name in CHART_NAMES}
                   for lang in LANGS}
        _write(directory / "mail" / "bulletin.html",
               env.get_template("bulletin.mail.html.j2").render(c=context, charts=cid_src,
                                                                title=title))
        _write(directory / META_FILE, json.dumps(
            {"as_of": as_of.isoformat(), "correction": correction is not None}))
        for job in printed:
            job.result()
    return _files(directory, correction is not None)


def _print_and_preview(browser: Browser, directory: Path, html: Path, lang: str,
                       as_of: date) -> None:
    """Print an edition to PDF and take its previews: the HTML one from the page just
    printed, the first PDF page by pdftoppm (a warning without it)."""
    page = browser.open(html.resolve().as_uri(), *WINDOW)
    pdf = print_edition(page, directory, lang, as_of)
    page.screenshot(preview_paths(directory, lang)["html"])
    page.close()
    try:
        pdf_page1_to_png(pdf, preview_paths(directory, lang)["pdf"])
    except (PreviewToolMissing, RuntimeError, OSError, subprocess.SubprocessError) as error:
        log.warning("bulletin PDF preview skipped: %s", error)
