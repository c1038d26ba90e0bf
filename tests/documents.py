"""Read a bulletin the way its readers get it, for the tests of tests/bulletin and tests/e2e:
the PDF through poppler (`pdfinfo`, `pdftotext` page by page), the e-mail's HTML through
headless Chromium with its inline images resolved as a mail client does.

The tools are system packages (scripts/install-system-deps). Without them a test fails
when CI=true and is skipped, with the reason, on a workstation.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from email.message import EmailMessage
from pathlib import Path

import pytest

# Patterns of what the release section must not show (SPEC §7: internal detail in the annex).
PACKAGE_NAME = re.compile(r"\b\d{2}_\d{8}_v\d+\b")
RULE_ID = re.compile(r"\b(?:package|worker|enterprise|report)\.[a-z_]+(?:\.[a-z_]+)*")
FOLD = 800
"""CSS pixels of a mail client's first screen, on a phone and on a desktop."""


def require(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return
    reason = f"{', '.join(missing)} not installed: run scripts/install-system-deps"
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"CI: {reason}")
    pytest.skip(reason)


def pdf_info(pdf: Path) -> dict[str, str]:
    out = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True,
                         timeout=60).stdout
    return {key.strip(): value.strip() for key, _, value in
            (line.partition(":") for line in out.splitlines())}


def pdf_pages(pdf: Path) -> list[str]:
    """The text of every page (pdftotext -layout), one string per page."""
    count = int(pdf_info(pdf)["Pages"])
    return [subprocess.run(["pdftotext", "-layout", "-f", str(n), "-l", str(n), str(pdf), "-"],
                           check=True, capture_output=True, timeout=60).stdout.decode("utf-8")
            for n in range(1, count + 1)]


def pdf_link_uris(pdf: Path) -> list[str]:
    """The URIs of the PDF's link annotations (Chromium writes them as plain objects)."""
    return [uri.decode("latin-1") for uri in re.findall(rb"/URI\s*\(([^)]*)\)", pdf.read_bytes())]


def html_part(message: EmailMessage) -> str:
    return next(p for p in message.walk() if p.get_content_type() == "text/html").get_content()


def text_part(message: EmailMessage) -> str:
    return next(p for p in message.walk() if p.get_content_type() == "text/plain").get_content()


def mail_page(message: EmailMessage, directory: Path) -> Path:
    """The HTML body as a mail client shows it: each `cid:` image replaced by the inline part
    it names, written beside the page."""
    directory.mkdir(parents=True, exist_ok=True)
    html = html_part(message)
    for part in message.walk():
        cid = part.get("Content-ID")
        if cid and part.get_content_maintype() == "image":
            name = cid.strip("<>").replace("@", "_")
            (directory / f"{name}.png").write_bytes(part.get_content())
            html = html.replace(f"cid:{cid.strip('<>')}", f"{name}.png")
    page = directory / "mail.html"
    page.write_text(html, encoding="utf-8")
    return page


# The layout, measured in the page: elements wider than the window, and where the release
# section's headline (its first paragraph) ends.
LAYOUT_SCRIPT = """(() => {
  const width = document.documentElement.clientWidth;
  const overflowing = [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > width + 0.5 || e.scrollWidth > e.clientWidth + 1
                 && getComputedStyle(e).overflowX !== 'visible')
    .map(e => e.tagName + (e.id ? '#' + e.id : '') + ' ' + Math.round(e.getBoundingClientRect().right));
  const headline = id => document.querySelector('#release-' + id + ' h1 ~ p ~ p');
  return {width, scrollWidth: document.documentElement.scrollWidth, overflowing,
          zhHeadlineBottom: headline('zh').getBoundingClientRect().bottom,
          releaseTop: document.getElementById('release-zh').getBoundingClientRect().top};
})()"""

JUMP_TO_ENGLISH = """(() => {
  document.getElementById('en').scrollIntoView();
  return document.querySelector('#release-en h1 ~ p ~ p').getBoundingClientRect().bottom;
})()"""
