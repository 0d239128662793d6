"""`ronda web` as the tests start it (a real process on a free loopback port, over a real store)
and drive it (headless Chromium, through tests/browser.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from browser import Browser, Page
from servers import free_port, wait_for_port

STARTUP_SECONDS = 30
BIN = Path(sys.executable).parent  # the virtual environment's scripts


@contextmanager
def ronda_web(
    db: Path,
    *args: str,
    config: Path | None = None,
    env: dict[str, str] | None = None,
    scheme: str = "http",
) -> Iterator[str]:
    """`ronda web --db DB ARGS` on 127.0.0.1 and a free port, until the block ends; yields its URL."""
    port = free_port()
    argv = [str(BIN / "ronda"), "web", "--db", str(db), "--listen", f"127.0.0.1:{port}"]
    argv += ["--config", str(config) if config else os.devnull, *args]
    process = subprocess.Popen(
        argv,
        env={**os.environ, "RONDA_LANG": "en", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"{scheme}://127.0.0.1:{port}"
    try:
        wait_until_serving(port, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_serving(port: int, process: subprocess.Popen) -> None:
    """Until the port takes connections: `ronda web` binds it only once the console is built."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ronda web exited {process.returncode}: {process.stderr.read()}")  # type: ignore[union-attr]
        try:
            wait_for_port(port, timeout=0.5)
            return
        except TimeoutError:
            continue
    raise RuntimeError(f"ronda web did not listen on {port} within {STARTUP_SECONDS} s")


def run_web(
    db: Path, *args: str, config: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    """`ronda web ...` expected to stop by itself (a refusal): its exit code and output."""
    argv = [str(BIN / "ronda"), "web", "--db", str(db)]
    argv += ["--config", str(config) if config else os.devnull, *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def wait_for_load(browser: Browser, page: Page, action: str) -> str:
    """Run `action` (JavaScript that navigates: a click, a form's submit) and wait for the next
    page of the same tab; returns its URL."""
    browser._events.clear()
    browser.evaluate(page, action)
    browser._wait_event("Page.loadEventFired", page.session)
    return str(browser.evaluate(page, "location.href"))


def fill(browser: Browser, page: Page, values: dict[str, str]) -> None:
    """Type values into the form fields named by CSS selector, as a person would (input events)."""
    for selector, value in values.items():
        browser.evaluate(
            page,
            f"(() => {{ const e = document.querySelector({selector!r}); e.focus(); "
            f"e.value = {value!r}; e.dispatchEvent(new Event('input', {{bubbles: true}})); }})()",
        )


def text(browser: Browser, page: Page, selector: str = "body") -> str:
    return str(browser.evaluate(page, f"document.querySelector({selector!r})?.innerText ?? ''"))


def awaited(browser: Browser, page: Page, expression: str) -> Any:
    """The value of a JavaScript expression that gives a promise (a fetch), once it settles."""
    result = browser.send(
        "Runtime.evaluate",
        {"expression": expression, "returnByValue": True, "awaitPromise": True},
        session=page.session,
    )
    if "exceptionDetails" in result:
        raise RuntimeError(f"evaluate failed: {result['exceptionDetails']}")
    return result["result"].get("value")
