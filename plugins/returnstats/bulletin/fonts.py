"""The CJK font the charts and the PDF use: Noto Sans SC (SIL OFL 1.1), vendored in
`include/fonts/` with its licence, checked against its sha256 before first use (never a
system font: every machine renders the same glyphs). include/fonts/README.md says where
it comes from.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from returnstats.config import INCLUDE

FONT_FILE = INCLUDE / "fonts" / "NotoSansSC-Regular.otf"
FONT_SHA256 = "faa6c9df652116dde789d351359f3d7e5d2285a2b2a1f04a2d7244df706d5ea9"


class FontChecksumError(RuntimeError):
    """The vendored font is not the file whose checksum the project recorded."""


@lru_cache(maxsize=1)
def cjk_font_path() -> Path:
    """Path of the vendored Noto Sans SC, after checking its sha256."""
    digest = hashlib.sha256(FONT_FILE.read_bytes()).hexdigest()
    if digest != FONT_SHA256:
        raise FontChecksumError(f"{FONT_FILE}: sha256 {digest}, expected {FONT_SHA256}")
    return FONT_FILE
