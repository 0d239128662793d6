"""ronda's Datasette plugin: permissions, who is signed in, cells and labels, ronda's own pages.

Every hook asks `console_of(datasette)` first and stays out of any Datasette that is not ronda's.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any
from urllib.parse import quote

from datasette import hookimpl
from datasette.utils.asgi import Request, Response
from markupsafe import Markup, escape

from ronda.collector.web import pages
from ronda.collector.web.auth import proxy_actor
from ronda.collector.web.catalog import BLANKED, DENIED
from ronda.collector.web.metadata import DATABASE, column_labels
from ronda.collector.web.state import console_of
from ronda.collector.words import Words

# What a visitor who has not signed in is asked for, when anonymous reading is off.
READ_ACTIONS = {"view-instance", "view-database", "view-table", "view-query", "execute-sql"}
CODES = {"verdict": "verdict", "decision": "decision"}  # column -> the kind of code it holds
SUBJECT_COLUMNS = {"subject", "into_subject"}
MONEY_COLUMNS = {"annual_cost", "build_cost"}
# Stored as UTC timestamps (2026-07-09T15:25:05Z): shown as the day, the timestamp on hover.
TIME_COLUMNS = {
    "last_human_request",
    "last_request",
    "coverage_start",
    "first_seen",
    "last_seen",
    "decided_at",
    "since",
    "changed_at",
    "resolved_at",
    "at",
}


@hookimpl
def actor_from_request(datasette: Any, request: Request) -> dict[str, str] | None:
    console = console_of(datasette)
    if console is None:
        return None
    peer = (request.scope.get("client") or (None,))[0]
    return proxy_actor(console.config, request.headers, peer)


@hookimpl
def permission_allowed(datasette: Any, actor: dict[str, Any] | None, action: str, resource: Any) -> Any:
    console = console_of(datasette)
    if console is None:
        return None
    if action == pages.DECIDE:
        return bool(actor and actor.get("via") in ("password", "proxy"))
    if action in READ_ACTIONS and actor is None and not console.config.anonymous_read:
        return False
    if action == "view-table" and resource and resource[1] in DENIED:
        return False
    if action == "view-database" and resource == "_internal":
        return False  # Datasette's schema database, open to an actor named "root"
    if action in ("permissions-debug", "debug-menu"):
        return False  # Datasette grants these to an actor named "root"; a ronda account may be called so
    return None


def authorizer(action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None) -> int:
    """Every statement on the console's connections: no ATTACH of another file, credentials' hashes
    read as NULL. Writes already fail: Datasette opens the store read-only."""
    if action == sqlite3.SQLITE_ATTACH:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_READ and (arg1, arg2) in BLANKED:
        return sqlite3.SQLITE_IGNORE
    return sqlite3.SQLITE_OK


@hookimpl
def prepare_connection(conn: sqlite3.Connection, database: str, datasette: Any) -> None:
    if console_of(datasette) is not None and database == DATABASE:
        conn.set_authorizer(authorizer)


@hookimpl
def render_cell(value: Any, column: str, table: str | None, database: str, datasette: Any) -> Any:
    console = console_of(datasette)
    if console is None or database != DATABASE or value is None:
        return None
    lang = console.lang
    if column in SUBJECT_COLUMNS and isinstance(value, str) and value:
        # A discovered app's subject is AGENT_ID/APP_KEY: the key says what it is, the id only where.
        shown = value.partition("/")[2] or value
        return Markup(
            f'<a class="ronda-app" href="{pages.app_path(datasette, value)}" title="{escape(value)}">'
            f"{escape(shown)}</a>"
        )
    if column in CODES and isinstance(value, str):
        label = getattr(Words(lang), CODES[column])(value)
        return Markup(f'<span class="tag {escape(value)}" title="{escape(value)}">{escape(label)}</span>')
    if column in MONEY_COLUMNS and isinstance(value, int):
        return lang.money(value)
    if column in TIME_COLUMNS and isinstance(value, str) and len(value) == 20 and value.endswith("Z"):
        day = lang.date(value, "medium")
        return Markup(f'<time datetime="{escape(value)}" title="{escape(value)}">{escape(day)}</time>')
    if column == "reasons" and isinstance(value, str) and value.startswith("[["):
        return _reasons(value, lang)
    return None


def _reasons(stored: str, lang: Any) -> Markup | None:
    """A verdict's reasons (JSON [[effect, rule, text], ...]) folded under their count."""
    try:
        reasons = json.loads(stored)
    except ValueError:
        return None
    items = "".join(f'<li class="e-{escape(e)}">{escape(text)}</li>' for e, _rule, text in reasons)
    count = lang.ngettext("{count} reason", "{count} reasons", len(reasons)).format(count=len(reasons))
    return Markup(
        f'<details class="reasons"><summary>{count}</summary><ul class="reasons">{items}</ul></details>'
    )


@hookimpl
def extra_css_urls(datasette: Any) -> list[str]:
    return ["/ronda-static/console.css"] if console_of(datasette) is not None else []


@hookimpl
def extra_js_urls(datasette: Any) -> list[str]:
    return ["/ronda-static/labels.js"] if console_of(datasette) is not None else []


@hookimpl
def extra_body_script(datasette: Any, table: str | None, view_name: str) -> str:
    """The column labels of this page, for labels.js (which shows them above each column name)."""
    console = console_of(datasette)
    if console is None:
        return ""
    labels = column_labels(console.lang)
    mine = {**labels["*"], **labels.get(table or "", {})}
    return "window.rondaLabels = " + json.dumps(mine, ensure_ascii=False).replace("</", "<\\/") + ";"


@hookimpl
def extra_template_vars(datasette: Any, request: Request | None) -> dict[str, Any]:
    console = console_of(datasette)
    if console is None:
        return {}
    return {"ronda": pages.template_context(datasette, console, request)}


@hookimpl
def menu_links(datasette: Any, actor: dict[str, Any] | None) -> list[dict[str, str]]:
    console = console_of(datasette)
    if console is None:
        return []
    _ = console.lang._
    links = [{"href": datasette.urls.path(pages.REPORT), "label": _("Report for decision makers")}]
    if actor is None and console.config.accounts:
        links.append({"href": datasette.urls.path(pages.LOGIN), "label": _("Sign in")})
    return links


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    return [
        (rf"^{pages.LOGIN}$", pages.login),
        (rf"^{pages.REPORT}$", pages.report),
        (rf"^{pages.APP}$", pages.app),
        (rf"^{pages.DECIDE_PATH}$", pages.decide),
    ]


@hookimpl
def forbidden(datasette: Any, request: Request, message: str) -> Any:
    """A visitor not signed in is sent to sign in, and back to the page afterwards."""
    console = console_of(datasette)
    if console is None or request.actor is not None or console.config.anonymous_read:
        return None
    if not console.config.accounts:
        return None
    return Response.redirect(datasette.urls.path(pages.LOGIN) + "?next=" + quote(request.full_path, safe=""))
