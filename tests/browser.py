"""Headless Chromium for tests, driven over the DevTools protocol on a pipe (no extra packages).

with Browser(tmp) as b:
    page = b.load("file:///.../report.html", width=390)
    page.requests, page.errors, b.evaluate(page, "document.title")
    b.screenshot(page, tmp / "report.png")          # the whole page, as a person sees it
    b.print_pdf(page, tmp / "report.pdf", landscape=True)   # A4, as a person prints it
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-sync",
    "--remote-debugging-pipe",
]


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError("chromium is not installed: .ci/run installs it (apt-get install chromium)")


# Copied before either is moved, so that one already at 3 or 4 is not written over by the other.
_PLUMBED = """import os, sys
given = int(sys.argv[1]), int(sys.argv[2])
copies = [os.dup(fd) for fd in given]
for fd, target in zip(copies, (3, 4)):
    os.dup2(fd, target)
    os.set_inheritable(target, True)  # a copy may already be there, and copies close on exec
for fd in {*given, *copies} - {3, 4}:
    os.close(fd)
os.execv(sys.argv[3], sys.argv[3:])
"""


@dataclass
class Page:
    session: str
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    errors: list[str] = field(default_factory=list)  # console errors, exceptions, failed loads, CSP refusals


class Browser:
    def __init__(self, tmp: Path) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        profile = tmp / "chromium-profile"
        profile.mkdir(parents=True, exist_ok=True)
        # The DevTools pipe is fd 3 (commands in) and fd 4 (replies out), set by a fresh interpreter that
        # then becomes Chromium. Set between fork and exec (preexec_fn), they were set in a copy of this
        # process, which has gRPC loaded, over whatever its descriptors 3 and 4 were.
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _PLUMBED,
                str(to_child_r),
                str(from_child_w),
                chromium_binary(),
                *FLAGS,
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            pass_fds=(to_child_r, from_child_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_child], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._from_child, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(
        self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30
    ) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)

    def _wait_event(self, method: str, session: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method and e.get("sessionId") == session for e in self._events):
            self._events.append(self._read_message(deadline))

    def load(self, url: str, settle: float = 0.5, width: int | None = None, height: int = 900) -> Page:
        """Open `url` in a new tab; `width` sets the viewport in CSS pixels (a phone is 390)."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=session)
        if width is not None:
            self.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
                session=session,
            )
        self._events.clear()
        self.send("Page.navigate", {"url": url}, session=session)
        self._wait_event("Page.loadEventFired", session)
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline:  # late requests and console messages
            try:
                self._events.append(self._read_message(deadline))
            except TimeoutError:
                break
        page = Page(session)
        for e in self._events:
            if e.get("sessionId") != session:
                continue
            method, p = e.get("method"), e.get("params", {})
            if method == "Network.requestWillBeSent":
                page.requests.append(p["request"]["url"])
            elif method == "Network.loadingFailed" and not p.get("canceled"):
                page.errors.append(f"load failed: {p.get('errorText')} {p.get('blockedReason', '')}")
            elif method == "Runtime.exceptionThrown":
                page.errors.append(f"exception: {p['exceptionDetails'].get('text')}")
            elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                page.errors.append(
                    "console: "
                    + " ".join(str(a.get("value", a.get("description"))) for a in p.get("args", []))
                )
            elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
                page.errors.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return page

    def evaluate(self, page: Page, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=page.session
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluate failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, page: Page, path: Path, full_page: bool = True) -> Path:
        """A PNG of the page (all of it, by default) as the viewport's width lays it out."""
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            size = self.evaluate(
                page, "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
            )
            params["clip"] = {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}
        data = self.send("Page.captureScreenshot", params, session=page.session, timeout=60)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def print_pdf(self, page: Page, path: Path, landscape: bool = False) -> Path:
        """The page printed to PDF on A4, as the browser's print dialog would with default margins
        left to the page's own @page rules."""
        data = self.send(
            "Page.printToPDF",
            {
                "landscape": landscape,
                "paperWidth": 8.27,  # A4, in inches
                "paperHeight": 11.69,
                "preferCSSPageSize": False,
                "printBackground": True,
                "marginTop": 0.47,
                "marginBottom": 0.55,
                "marginLeft": 0.39,
                "marginRight": 0.39,
            },
            session=page.session,
            timeout=120,
        )["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.send("Browser.close", timeout=5)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_child)
        os.close(self._from_child)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
