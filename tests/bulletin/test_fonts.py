"""The bulletin's CJK font is the vendored Noto Sans SC with its licence, checked by sha256."""

from __future__ import annotations

import pytest
from returnstats.bulletin import fonts


def test_the_vendored_font_is_the_recorded_file_with_its_licence():
    fonts.cjk_font_path.cache_clear()
    assert fonts.cjk_font_path() == fonts.FONT_FILE
    licence = (fonts.FONT_FILE.parent / "OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence


def test_a_changed_font_file_is_refused(tmp_path, monkeypatch):
    changed = tmp_path / fonts.FONT_FILE.name
    changed.write_bytes(fonts.FONT_FILE.read_bytes()[:-1] + b"\0")
    monkeypatch.setattr(fonts, "FONT_FILE", changed)
    fonts.cjk_font_path.cache_clear()
    try:
        with pytest.raises(fonts.FontChecksumError, match="sha256"):
            fonts.cjk_font_path()
    finally:
        fonts.cjk_font_path.cache_clear()
