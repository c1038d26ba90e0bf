"""Headless Chromium driven over the DevTools protocol, on a pipe (no network port).

The bulletin has one layout for screen and paper: the PDF editions are the HTML editions
printed by Chromium (tagged PDF, A4, page size and margins from the page's CSS), and the
previews are Chromium screenshots of the same pages. One browser process serves a whole
rendering; it starts when the `Browser` is created, so it can come up while the charts
are drawn.

Chromium runs with a fresh profile in a temporary directory, no network (every host name
resolves to nothing), and a private fontconfig file that adds the directory of the
bulletin's CJK font (Noto Sans SC, from its pip package), so no system CJK font is needed.
The protocol messages are JSON, each ended by a NUL byte, on file descriptors 3 (to the
browser) and 4 (from it): `--remote-debugging-pipe`.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from .fonts import cjk_font_path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT_SECONDS = 60.0
A4_INCHES = (8.27, 11.69)


class ChromiumMissing(RuntimeError):
    """No Chromium on this machine: the PDF editions and the previews need it."""


class ChromiumError(RuntimeError):
    """Chromium failed, closed the pipe or did not answer in time."""


def chromium() -> str | None:
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


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


_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
          "--no-first-run", "--no-default-browser-check", "--disable-extensions",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--disable-quic", "--mute-audio", "--hide-scrollbars", "--disable-dev-shm-usage",
          "--host-resolver-rules=MAP * ~NOTFOUND")


_TRAMPOLINE = ("import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
               "os.close(int(sys.argv[1])); os.close(int(sys.argv[2])); "
               "os.execv(sys.argv[3], sys.argv[3:])")


def _above_nine(fd: int) -> int:
    """`fd` moved to a descriptor number of 10 or more (close-on-exec, as Python's are)."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Browser:
    """One headless Chromium process; use as a context manager (`with Browser() as b:`)."""

    def __init__(self, timeout: float = TIMEOUT_SECONDS):
        path = chromium()
        if path is None:
            raise ChromiumMissing("chromium is not installed (scripts/install-system-deps): "
                                  "the bulletin's PDF is printed by headless Chromium")
        self.timeout = timeout
        self._workdir = tempfile.TemporaryDirectory(prefix="returnstats-chromium-")
        work = Path(self._workdir.name)
        env = dict(os.environ, FONTCONFIG_FILE=str(_fontconfig(work)), HOME=str(work))
        # The protocol's pipe ends go to the browser as fds 3 and 4. They are first moved
        # above 9, so that neither can sit on the 3 or 4 the other is copied to; a bare
        # Python (-I -S) copies them and execs Chromium (a preexec_fn is unsafe in a process
        # with threads, and sh takes no fd above 9).
        to_browser_r, self._to_browser = (_above_nine(fd) for fd in os.pipe())
        self._from_browser, from_browser_w = (_above_nine(fd) for fd in os.pipe())
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _TRAMPOLINE, str(to_browser_r),
                 str(from_browser_w), path, *_FLAGS, f"--user-data-dir={work / 'profile'}"],
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, pass_fds=(to_browser_r, from_browser_w),
            )
        except OSError as error:
            for fd in (to_browser_r, from_browser_w, self._to_browser, self._from_browser):
                os.close(fd)
            self._workdir.cleanup()
            raise ChromiumError(f"chromium could not start: {error}") from error
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                self._send({"id": 0, "method": "Browser.close"})
                self._process.wait(timeout=min(5.0, self.timeout))
            except (ChromiumError, OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        self._workdir.cleanup()

    def _send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self._to_browser, data):]
        except BrokenPipeError as error:
            raise ChromiumError(f"chromium closed the pipe (exit {self._process.poll()})") from error

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_browser], [], [], max(0.0, remaining))
            if not ready:
                raise ChromiumError(f"chromium did not answer within {self.timeout:.0f} s")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise ChromiumError(f"chromium closed the pipe (exit {self._process.poll()})")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None) -> dict[str, Any]:
        """Send one command and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._send(message)
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise ChromiumError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)

    def wait_for(self, event: str, session: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            for i, message in enumerate(self._events):
                if message["method"] == event and message.get("sessionId") == session:
                    return self._events.pop(i)
            self._events.append(self._receive(deadline))

    def open(self, url: str, width: int = 1000, height: int = 1400, mobile: bool = False) -> Page:
        """A new tab of `width` × `height` CSS pixels with `url` loaded (images included)."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, target, session)
        self.call("Page.enable", session=session)
        page.resize(width, height, mobile)
        self.call("Page.navigate", {"url": url}, session=session)
        self.wait_for("Page.loadEventFired", session)
        return page


class Page:
    """A loaded tab of a `Browser`."""

    def __init__(self, browser: Browser, target: str, session: str):
        self.browser, self.target, self.session = browser, target, session

    def _call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.call(method, params, self.session)

    def resize(self, width: int, height: int, mobile: bool = False) -> None:
        self._call("Emulation.setDeviceMetricsOverride",
                   {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression evaluated in the page."""
        result = self._call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise ChromiumError(f"script failed: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        """PNG of the viewport."""
        data = self._call("Page.captureScreenshot", {"format": "png"})["data"]
        return _write_atomically(path, base64.b64decode(data))

    def print_pdf(self, path: Path, footer: str = "") -> Path:
        """The page printed to a tagged A4 PDF with an outline, as the page's CSS lays it out
        for print; `footer` (HTML, Chromium's page-number classes allowed) on every page."""
        data = self._call("Page.printToPDF", {
            "paperWidth": A4_INCHES[0], "paperHeight": A4_INCHES[1], "preferCSSPageSize": True,
            "printBackground": True, "generateTaggedPDF": True, "generateDocumentOutline": True,
            "displayHeaderFooter": bool(footer), "headerTemplate": "<span></span>",
            "footerTemplate": footer or "<span></span>",
        })["data"]
        return _write_atomically(path, base64.b64decode(data))

    def close(self) -> None:
        self.browser.call("Target.closeTarget", {"targetId": self.target})


def _write_atomically(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path
