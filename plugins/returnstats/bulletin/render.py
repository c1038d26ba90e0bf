"""Render the bulletin for an as-of date into `<output>/bulletins/<D>/` (SPEC §7)."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import jinja2

from returnstats.config import INCLUDE, Settings

from .charts import CHART_NAMES, render_charts
from .context import (
    BulletinContext,
    build_context,
    date_en,
    date_zh,
    short_date_en,
    short_date_zh,
)
from .csvout import write_csv
from .pdf import write_pdf
from .preview import missing_tools, render_previews
from .readback import check_readback
from .texttable import format_text_table

log = logging.getLogger(__name__)

LANGS = ("zh", "en")
SUBJECT = "全国农民工点对点返岗复工日报 {d} / Point-to-point return-to-work bulletin"


@dataclass(frozen=True)
class BulletinFiles:
    directory: Path
    html: dict[str, Path]
    text: dict[str, Path]
    mail_html: Path
    pdf: Path
    charts: dict[str, Path]
    tables: tuple[Path, ...]

    def digest(self) -> str:
        """SHA-256 over the editions and tables: what "the same bulletin" means for resends."""
        h = hashlib.sha256()
        for path in (*self.text.values(), *self.html.values(), self.mail_html, *self.tables):
            h.update(path.name.encode())
            h.update(path.read_bytes())
        return h.hexdigest()


def bulletin_dir(settings: Settings, as_of: date) -> Path:
    return settings.output / "bulletins" / as_of.isoformat()


def load_bulletin_files(settings: Settings, as_of: date) -> BulletinFiles:
    """The files of an already rendered bulletin (for a task that only sends)."""
    d = bulletin_dir(settings, as_of)
    files = BulletinFiles(
        directory=d,
        html={lang: d / f"bulletin.{lang}.html" for lang in LANGS},
        text={lang: d / f"bulletin.{lang}.txt" for lang in LANGS},
        mail_html=d / "mail" / "bulletin.html",
        pdf=d / "bulletin.pdf",
        charts={name: d / "charts" / f"{name}.png" for name in CHART_NAMES},
        tables=tuple(sorted((d / "tables").glob("*.csv"))),
    )
    missing = [p for p in (*files.html.values(), *files.text.values(), files.mail_html, files.pdf,
                           *files.charts.values()) if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"bulletin for {as_of} is incomplete: {missing}")
    return files


def content_id(name: str) -> str:
    """Content-ID (without angle brackets) of an inline chart in the mail."""
    return f"{name}@returnstats"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(INCLUDE / "templates"),
        autoescape=jinja2.select_autoescape(["html.j2"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["text_table"] = format_text_table
    env.filters["date_zh"] = date_zh
    env.filters["date_en"] = date_en
    env.filters["short_date_zh"] = short_date_zh
    env.filters["short_date_en"] = short_date_en
    # Plain str lines (not Markup), so that autoescaping applies to each line again.
    env.filters["lines"] = lambda text: [str.__str__(line) for line in str(text).splitlines()
                                         if line.strip()]
    return env


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def _write_tables(context: BulletinContext, directory: Path) -> tuple[Path, ...]:
    paths = []
    for table in context.tables:
        header = ["label_zh", "label_en", *table.headers_en[1:]]
        rows = [[row.label_zh, row.label_en,
                 *(cell.value if cell.status == "shown" else cell.en for cell in row.cells)]
                for row in table.rows]
        paths.append(write_csv(directory / f"{table.key}.csv", header, rows))
    return tuple(paths)


def _previews(directory: Path) -> None:
    """PNG previews when Chromium and pdftoppm are installed; a warning, never a failure."""
    missing = missing_tools()
    if missing:
        log.warning("bulletin previews skipped: %s not installed (scripts/install-system-deps)",
                    ", ".join(missing))
        return
    try:
        render_previews(directory)
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        log.warning("bulletin previews failed: %s", error)


def render_bulletin(settings: Settings, as_of: date) -> BulletinFiles:
    """Write every file of the bulletin for `as_of` and read the figures back."""
    context = build_context(settings, as_of)
    directory = bulletin_dir(settings, as_of)
    charts = render_charts(context, directory / "charts")
    tables = _write_tables(context, directory / "tables")
    env = _environment()
    title = SUBJECT.format(d=as_of.isoformat())
    data_docs = None
    if context.data_docs is not None:  # relative to the bulletin directory
        data_docs = Path(os.path.relpath(context.data_docs, directory))

    texts = {lang: env.get_template(f"bulletin.{lang}.txt.j2").render(c=context, data_docs=data_docs)
             for lang in LANGS}
    # Fail before anything else is written for the readers if a figure does not read back.
    check_readback(settings, as_of, texts, context)

    text_paths = {lang: _write(directory / f"bulletin.{lang}.txt", texts[lang]) for lang in LANGS}
    file_src = {name: f"charts/{path.name}" for name, path in charts.items()}
    html_paths = {
        lang: _write(directory / f"bulletin.{lang}.html",
                     env.get_template(f"bulletin.{lang}.html.j2").render(
                         c=context, chart_src=file_src, title=title, data_docs=data_docs))
        for lang in LANGS
    }
    cid_src = {name: f"cid:{content_id(name)}" for name in charts}
    mail_html = _write(directory / "mail" / "bulletin.html",
                       env.get_template("bulletin.mail.html.j2").render(
                           c=context, chart_src=cid_src, title=title, data_docs=None))
    pdf = write_pdf(context, texts, charts, directory / "bulletin.pdf")
    _previews(directory)
    return BulletinFiles(directory, html_paths, text_paths, mail_html, pdf, charts,
                         tuple(sorted(tables)))
