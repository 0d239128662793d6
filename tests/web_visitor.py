"""The console in-process: a Datasette built by `build_console` over a small store, and a visitor
that keeps its cookies and comes from the address a test chooses (a proxy, a person, loopback)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
from reconcile_fleet import FLEET, INVENTORY, cli_run, snapshot

from ronda.collector.store import Store
from ronda.collector.web.config import Account, WebConfig
from ronda.collector.web.console import build_console
from ronda.collector.web.passwords import hash_password
from ronda.i18n import get

PASSWORD = "kata-sandi-rahasia-2026"
# A cheap hash for tests (the default's 600,000 iterations cost 0.3 s each); the format is the same.
BUDI = Account("budi", "Budi Santoso", hash_password(PASSWORD, iterations=1000))


def small_store(tmp: Path) -> Path:
    """One server with three apps, an inventory of three with gaps, reconciled: the shape
    `ronda reconcile` leaves after a province's first import."""
    db = tmp / "ronda.db"
    store = Store(db)
    store.ingest(snapshot(1, FLEET))
    store.close()
    (tmp / "inventory.csv").write_text(INVENTORY)
    cli_run(db, "inventory", "import", str(tmp / "inventory.csv"))
    cli_run(db, "reconcile")
    return db


class Visitor:
    """One browser's worth of requests to an in-process console: cookies kept, CSRF tokens read
    from the forms the way a browser submits them."""

    def __init__(self, datasette: Any, peer: str = "127.0.0.1") -> None:
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=datasette.app(), client=(peer, 40000)),
            base_url="http://localhost",
        )

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.client.get(path, **kwargs))

    def post(self, path: str, data: dict[str, str], **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.client.post(path, data=data, **kwargs))

    def form_token(self, path: str) -> str:
        """The CSRF token of the form on `path` (its cookie is kept as a browser keeps it)."""
        page = self.get(path)
        found = re.search(r'name="csrftoken" value="([^"]+)"', page.text)
        assert found, f"no form with a CSRF token on {path}: {page.status_code}"
        return found.group(1)

    def sign_in(self, username: str = "budi", password: str = PASSWORD) -> httpx.Response:
        token = self.form_token("/-/ronda/login")
        return self.post("/-/ronda/login", {"username": username, "password": password, "csrftoken": token})

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


def console(db: Path, lang: str = "en", **settings: Any) -> Any:
    settings.setdefault("accounts", {"budi": BUDI})
    return build_console(str(db), WebConfig(**settings), get(lang, "UTC"))
