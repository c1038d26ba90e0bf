"""PNG previews of a rendered bulletin: what an official sees, for a quick look, for the
approver and for tests.

`preview.<lang>.png` is the top of each HTML edition as Chromium shows it in a window of
`WINDOW` CSS pixels (taken in the rendering's own browser, see render.py);
`preview.<lang>.pdf-page1.png` is the first page of each PDF edition, by `pdftoppm`
(poppler-utils, `scripts/install-system-deps`). Without pdftoppm those two are skipped with
a warning: previews are not part of the e-mail or its digest.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

WINDOW = (1000, 1400)
PDF_DPI = 80
TIMEOUT_SECONDS = 120


class PreviewToolMissing(RuntimeError):
    """pdftoppm is not installed on this machine."""


def preview_paths(directory: Path, lang: str) -> dict[str, Path]:
    return {"html": directory / f"preview.{lang}.png",
            "pdf": directory / f"preview.{lang}.pdf-page1.png"}


def pdf_page1_to_png(pdf: Path, png: Path, dpi: int = PDF_DPI) -> Path:
    """The first page of `pdf` as PNG (pdftoppm)."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        raise PreviewToolMissing("pdftoppm is not installed (poppler-utils, "
                                 "scripts/install-system-deps)")
    png.parent.mkdir(parents=True, exist_ok=True)
    prefix = png.with_name(png.stem + ".tmp")  # pdftoppm appends ".png"
    result = subprocess.run(
        [pdftoppm, "-png", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile", str(pdf),
         str(prefix)],
        capture_output=True, timeout=TIMEOUT_SECONDS, stdin=subprocess.DEVNULL, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"pdftoppm failed ({result.returncode}): "
                           f"{result.stderr.decode(errors='replace')[-2000:]}")
    prefix.with_name(prefix.name + ".png").replace(png)
    return png
