"""ronda's own pages in the console: sign in, the report served live, a page per app, and the
decision form's target."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from datasette.utils.asgi import Forbidden, Request, Response
from markupsafe import Markup

from ronda.collector.reconcile.decisions import DECISIONS, DecisionError, check_decision, record_decision
from ronda.collector.reconcile.lookup import Found, find_subject
from ronda.collector.reconcile.story import story
from ronda.collector.web import appview
from ronda.collector.web.auth import actor, check_password, display_name, session_cookie_value
from ronda.collector.web.catalog import ENTRY_POINTS, SHOWN
from ronda.collector.web.metadata import DATABASE
from ronda.collector.web.queries import CANNED
from ronda.collector.web.state import Console, console_of
from ronda.collector.words import Words
from ronda.errors import InputError

LOGIN = "/-/ronda/login"
REPORT = "/-/ronda/report"
APP = "/-/ronda/app"
DECIDE_PATH = "/-/ronda/decide"
DECIDE = "ronda-decide"
FIELD_MAX = 2000  # a reason longer than this is refused rather than cut


def _console(datasette: Any) -> Console:
    console = console_of(datasette)
    if console is None:
        raise Forbidden("not a ronda console")
    return console


def app_path(datasette: Any, subject: str) -> str:
    return datasette.urls.path(APP) + "?subject=" + quote(subject, safe="")


def _local(path: str | None, default: str) -> str:
    """A path on this site to go back to; anything else (another site, `//host`) is refused."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return default


def _peer(request: Request) -> str:
    client = request.scope.get("client") or ("?", 0)
    return str(client[0])


async def _may_read(datasette: Any, request: Request) -> None:
    await datasette.ensure_permissions(request.actor, [("view-instance", None)])


def template_context(datasette: Any, console: Console, request: Request | None) -> dict[str, Any]:
    """What ronda's templates (and Datasette's, overridden) use: the words and ronda's links."""
    who = request.actor if request is not None else None
    return {
        "_": console.lang._,
        "login": datasette.urls.path(LOGIN) if console.config.accounts and not who else "",
        "report": datasette.urls.path(REPORT),
        "entry_points": [
            (console.lang._(SHOWN[name].title), _entry(datasette, name)) for name in ENTRY_POINTS
        ],
        "queries": [
            (console.lang._(query.title), datasette.urls.query(DATABASE, name))
            for name, query in CANNED.items()
        ],
    }


def _entry(datasette: Any, table: str) -> str:
    """A view's URL showing first the columns a person reads (the rest one click away)."""
    columns = SHOWN[table].columns
    return datasette.urls.table(DATABASE, table) + (
        "?" + urlencode([("_col", c) for c in columns]) if columns else ""
    )


async def login(datasette: Any, request: Request) -> Response:
    console = _console(datasette)
    config, _ = console.config, console.lang._
    target = _local(request.args.get("next"), datasette.urls.path("/"))
    error = "" if config.accounts else _("This console has no accounts: add them to web.toml.")
    username = ""
    if request.method == "POST" and config.accounts:
        form = await request.post_vars()
        username = (form.get("username") or "").strip()
        target = _local(form.get("next"), target)
        keys = (f"user:{username}", f"peer:{_peer(request)}")
        if console.throttle.blocked(*keys):
            error = _("Too many failed attempts: wait a quarter of an hour, then try again.")
        else:
            account = await asyncio.to_thread(check_password, config, username, form.get("password") or "")
            if account is not None:
                console.throttle.succeeded(*keys)
                response = Response.redirect(target)
                response.set_cookie(
                    "ds_actor",
                    session_cookie_value(datasette.sign, actor(account), config.session_hours),
                    max_age=config.session_hours * 3600,
                    httponly=True,
                    secure=config.secure_cookies,
                    samesite="lax",
                )
                return response
            console.throttle.failed(*keys)
            error = _("Wrong user name or password.")
    return Response.html(
        await datasette.render_template(
            "ronda_login.html",
            {"error": error, "username": username, "next": target, "title": _("Sign in")},
            request=request,
        ),
        status=200 if not error or request.method == "GET" else 403,
    )


async def report(datasette: Any, request: Request) -> Response:
    """The HTML report, built from the store as it is now."""
    await _may_read(datasette, request)
    console = _console(datasette)
    page = await asyncio.to_thread(appview.report_page, console.store, console.lang)
    return Response.html(page, headers=appview.REPORT_HEADERS)


async def app(datasette: Any, request: Request) -> Response:
    """What `ronda explain` shows of one app, and the form to decide on it."""
    await _may_read(datasette, request)
    return await _app_page(datasette, request, request.args.get("subject") or "")


async def _app_page(
    datasette: Any,
    request: Request,
    subject: str,
    form: dict[str, str] | None = None,
    error: str = "",
    forcible: bool = False,
) -> Response:
    """The app's page; with `form` and `error`, the decision form as it was sent, and why it was refused
    (nothing a person typed is lost)."""
    console = _console(datasette)
    try:
        found = await asyncio.to_thread(find_subject, console.store, subject)
    except InputError as e:
        return Response.html(
            await datasette.render_template(
                "ronda_app.html", {"title": subject, "missing": str(e), "subject": subject}, request=request
            ),
            status=404,
        )
    told = await asyncio.to_thread(story, console.store, found)
    words = Words(console.lang)
    context = {
        "title": appview.title(told),
        "subject": found.subject,
        "evidence": appview.evidence_html(told, console.lang),
        "evidence_css": Markup(appview.evidence_css()),
        "decisions": [(code, words.decision(code)) for code in DECISIONS],
        "may_decide": await datasette.permission_allowed(request.actor, DECIDE, default=False),
        "decide_path": datasette.urls.path(DECIDE_PATH),
        "decided_by": display_name(request.actor) if request.actor else "",
        "form": form or {},
        "error": error,
        "forcible": forcible,
    }
    page = await datasette.render_template("ronda_app.html", context, request=request)
    return Response.html(page, status=400 if error else 200)


async def decide(datasette: Any, request: Request) -> Response:
    """Record a decision with the function `ronda decide` uses, in the signed-in person's name."""
    console = _console(datasette)
    _ = console.lang._
    if request.method != "POST":
        return Response.text("POST only", status=405)
    if not await datasette.permission_allowed(request.actor, DECIDE, default=False):
        raise Forbidden(_("Sign in to record a decision."))
    form = {k: v or "" for k, v in (await request.post_vars()).items() if k != "csrftoken"}
    subject, decision, reason = form.get("subject", ""), form.get("decision", ""), form.get("reason", "")
    by, into, force = display_name(request.actor), form.get("into", ""), form.get("force") == "yes"
    try:
        if len(reason) > FIELD_MAX:
            raise InputError(_("The reason is too long: keep it under 2,000 characters."))
        row = await asyncio.to_thread(_record, console.store, subject, decision, reason, by, into, force)
    except DecisionError as e:
        against = await asyncio.to_thread(_against, console.store, subject, decision, reason, by, into)
        if not against:
            return await _app_page(datasette, request, subject, form, str(e))
        why = _(
            "Refused: {why}. Taking it down would cut off whoever still uses it; if that is what was "
            "decided, tick “Record it anyway” and send it again, with the reason saying why."
        ).format(why=against)
        return await _app_page(datasette, request, subject, form, why, forcible=True)
    except InputError as e:
        return await _app_page(datasette, request, subject, form, str(e))
    recorded = _("Recorded: {decision} by {by}.").format(
        decision=Words(console.lang).decision(row["decision"]), by=row["decided_by"]
    )
    datasette.add_message(request, recorded, datasette.INFO)
    if row["forced"]:
        forced = _("Recorded against ronda's evidence: {why}.").format(why=row["forced"])
        datasette.add_message(request, forced, datasette.WARNING)
    return Response.redirect(app_path(datasette, subject))


def _found(store: Any, subject: str, into: str) -> tuple[Found, str]:
    """The app decided on, and the one that takes over (consolidate); InputError if either is unknown."""
    return find_subject(store, subject), find_subject(store, into.strip()).subject if into.strip() else ""


def _record(
    store: Any, subject: str, decision: str, reason: str, by: str, into: str, force: bool
) -> dict[str, Any]:
    found, target = _found(store, subject, into)
    return record_decision(store, found, decision, reason, by, target, datetime.now(UTC), force)


def _against(store: Any, subject: str, decision: str, reason: str, by: str, into: str) -> str:
    """Why ronda's evidence argues against the decision, when that alone refused it (the form then
    offers to record it anyway); "" when the decision is wrong in itself (no reason, no app, ...)."""
    try:
        found, target = _found(store, subject, into)
        with store.reading() as conn:
            return check_decision(conn, found, decision, reason, by, target, force=True).forced
    except InputError:
        return ""
