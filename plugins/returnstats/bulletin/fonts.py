"""The CJK font the charts and the PDF use, loaded from its pip package (never the system).

Package: `pylopdf-fonts-zh-cn` (Noto Sans SC, SIL OFL 1.1), pinned in requirements.txt.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

FONT_PACKAGE = "pylopdf_fonts_zh_cn"
FONT_FILE = "NotoSansSC-Regular.otf"


@lru_cache(maxsize=1)
def cjk_font_path() -> Path:
    """Path of Noto Sans SC inside the installed font package."""
    path = Path(str(resources.files(FONT_PACKAGE).joinpath(FONT_FILE)))
    if not path.is_file():
        raise FileNotFoundError(f"{FONT_FILE} missing from the {FONT_PACKAGE} package")
    return path
