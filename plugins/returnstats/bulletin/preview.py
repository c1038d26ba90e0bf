"""PNG previews of a rendered bulletin: what an official sees, for a quick look and for tests.

The HTML editions are rendered by headless Chromium, the first PDF page by `pdftoppm`
(poppler-utils). Both are system tools (`scripts/install-system-deps`); a worker without
them still renders the bulletin, only without previews (render_bulletin logs a warning).

Chromium finds the bulletin's CJK font (Noto Sans SC, from the pip font package, as the
charts and the PDF use) through a private fontconfig file, so no system CJK font is needed
and the preview shows the glyphs the readers' clients show.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from xml.sax.saxutils import escape

from .fonts import cjk_font_path

log = logging.getLogger(__name__)

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
WINDOW = (1000, 2400)
PDF_DPI = 100
TIMEOUT_SECONDS = 120
HTML_EDITIONS = ("zh", "en")


class PreviewToolMissing(RuntimeError):
    """Chromium or pdftoppm is not installed on this machine."""


def chromium() -> str | None:
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def missing_tools() -> list[str]:
    """Names of the system tools the previews need and this machine lacks."""
    missing = [] if chromium() else ["chromium"]
    if not shutil.which("pdftoppm"):
        missing.append("pdftoppm (poppler-utils)")
    return missing


def preview_paths(directory: Path) -> dict[str, Path]:
    return {
        **{lang: directory / f"preview.{lang}.png" for lang in HTML_EDITIONS},
        "pdf": directory / "preview.pdf-page1.png",
    }


def _fontconfig(workdir: Path) -> Path:
    """A fontconfig file: the system fonts plus the directory of the bulletin's CJK font."""
    conf = workdir / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
        f"  <dir>{escape(str(cjk_font_path().parent))}</dir>\n"
        f"  <cachedir>{escape(str(workdir / 'fontcache'))}</cachedir>\n"
        "</fontconfig>\n",
        encoding="utf-8",
    )
    return conf


def html_to_png(html: Path, png: Path, window: tuple[int, int] = WINDOW) -> Path:
    """Screenshot `html` with headless Chromium (fresh profile, no network services)."""
    browser = chromium()
    if browser is None:
        raise PreviewToolMissing("chromium is not installed (scripts/install-system-deps)")
    png.parent.mkdir(parents=True, exist_ok=True)
    tmp_png = png.with_name(png.name + ".tmp.png")
    with tempfile.TemporaryDirectory(prefix="returnstats-chromium-") as workdir:
        work = Path(workdir)
        env = dict(os.environ, FONTCONFIG_FILE=str(_fontconfig(work)), HOME=workdir)
        command = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--hide-scrollbars", f"--user-data-dir={work / 'profile'}",
            f"--screenshot={tmp_png}", f"--window-size={window[0]},{window[1]}",
            html.resolve().as_uri(),
        ]
        _run(command, env)
    if not tmp_png.is_file() or tmp_png.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no screenshot of {html}")
    tmp_png.replace(png)
    return png


def pdf_page1_to_png(pdf: Path, png: Path, dpi: int = PDF_DPI) -> Path:
    """The first page of `pdf` as PNG (pdftoppm)."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        raise PreviewToolMissing("pdftoppm is not installed (poppler-utils)")
    png.parent.mkdir(parents=True, exist_ok=True)
    prefix = png.with_name(png.stem + ".tmp")  # pdftoppm appends ".png"
    _run([pdftoppm, "-png", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile",
          str(pdf), str(prefix)], None)
    prefix.with_name(prefix.name + ".png").replace(png)
    return png


def _run(command: list[str], env: dict[str, str] | None) -> None:
    result = subprocess.run(command, env=env, capture_output=True, timeout=TIMEOUT_SECONDS,
                            stdin=subprocess.DEVNULL, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} failed ({result.returncode}): "
                           f"{result.stderr.decode(errors='replace')[-2000:]}")


def render_previews(directory: Path) -> list[Path]:
    """Write preview.zh.png, preview.en.png and preview.pdf-page1.png beside the bulletin.

    The three are separate processes (each Chromium start-up takes about a second), so
    they run side by side."""
    missing = missing_tools()
    if missing:
        raise PreviewToolMissing(f"missing: {', '.join(missing)} (scripts/install-system-deps)")
    paths = preview_paths(directory)
    with ThreadPoolExecutor(max_workers=len(paths)) as pool:
        jobs = [pool.submit(html_to_png, directory / f"bulletin.{lang}.html", paths[lang])
                for lang in HTML_EDITIONS]
        jobs.append(pool.submit(pdf_page1_to_png, directory / "bulletin.pdf", paths["pdf"]))
        return [job.result() for job in jobs]
