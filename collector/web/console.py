"""The console: a Datasette instance over the store, read-only, with ronda's metadata and plugin.

    app = build_console("/var/lib/ronda/ronda.db", WebConfig(), lang.get("id"))
    serve(app, config)          # uvicorn, until SIGTERM

Datasette reads the store through its own read-only connections (`mode=ro`); the one write the
console makes, a decision, goes through the same function as `ronda decide`, on a store of
its own (`Console.store`).
"""

from __future__ import annotations

import os
import secrets
import socket
import sqlite3
from pathlib import Path

from datasette.app import Datasette
from datasette.database import Database
from datasette.plugins import pm

from ronda.collector.store import Store
from ronda.collector.web import hooks
from ronda.collector.web.config import WebConfig, WebConfigError, check, check_tls_files
from ronda.collector.web.metadata import DATABASE, build_metadata
from ronda.collector.web.state import Console, console_of, register
from ronda.errors import RondaError
from ronda.i18n import Lang

HERE = Path(__file__).parent
TITLE = "ronda"


class WebServeError(RondaError):
    """The console cannot start: its address is taken or cannot be bound."""


def _tables(db: str) -> list[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
    finally:
        conn.close()


def _secret(db: str) -> str:
    """The key that signs sessions and forms: kept beside the store (0600) so that a restart signs
    nobody out; $RONDA_WEB_SECRET overrides it."""
    if os.environ.get("RONDA_WEB_SECRET"):
        return os.environ["RONDA_WEB_SECRET"]
    path = Path(f"{db}-web-secret")
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    value = secrets.token_hex(32)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another console made it first
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as f:
        f.write(value + "\n")
    return value


def build_console(db: str, config: WebConfig, lang: Lang) -> Datasette:
    """A Datasette instance serving the store at `db`; refuses an unsafe `config` (WebConfigError)."""
    check(config)
    check_tls_files(config)
    if not Path(db).is_file():
        raise WebConfigError(
            f"no store at {db}: give --db (or $RONDA_DB), or make one with `ronda serve` "
            "or `ronda demo --keep DIR`"
        )
    Store(db).close()  # brings an older store's schema up to date before Datasette reads it
    if not pm.is_registered(hooks):
        pm.register(hooks, name="ronda")
    datasette = Datasette(
        metadata=build_metadata(_tables(db), lang, TITLE),
        template_dir=str(HERE / "templates"),
        static_mounts=[("ronda-static", str(HERE / "static"))],
        secret=_secret(db),
        settings={
            "default_page_size": 50,
            "sql_time_limit_ms": 3000,
            "allow_download": False,
            "default_cache_ttl": 0,
            "force_https_urls": config.proxied,
            "suggest_facets": False,
        },
    )
    datasette.add_database(Database(datasette, path=db, is_mutable=True), name=DATABASE)
    register(datasette, Console(db, config, lang))
    return datasette


def bind(config: WebConfig) -> socket.socket:
    """The listening socket (port 0: any free port), bound before serving so that its port is known
    and a port in use is one clear error."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as e:
        sock.close()
        raise WebServeError(f"cannot listen on {config.listen}: {e.strerror or e}") from None
    sock.listen(128)
    return sock


def serve(datasette: Datasette, config: WebConfig, sock: socket.socket) -> None:
    """Serve on `sock` until SIGTERM or SIGINT (uvicorn finishes the requests in flight)."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(
            datasette.app(),
            ssl_certfile=config.cert or None,
            ssl_keyfile=config.key or None,
            proxy_headers=False,  # the peer's own address: only it can vouch for proxy_user_header
            server_header=False,
            log_level="warning",
            access_log=False,
        )
    )
    try:
        server.run(sockets=[sock])
    finally:
        console = console_of(datasette)
        if console is not None:
            console.close()
