"""The terms a decision maker meets in the report, each explained once in the reader's language."""

from __future__ import annotations

from ronda.collector.report.parts import e
from ronda.collector.words import Words
from ronda.i18n import N_

TERMS = (
    (
        N_("Safe to take down"),
        N_(
            "Nobody used the app in the idle window, its access logs cover that whole window, its server "
            "reported recently, no other app depends on it, and it is not a shared service still in use. "
            "ronda recommends; people decide."
        ),
    ),
    (
        N_("Review"),
        N_(
            "Something needs a person's judgement first: another app depends on it, it is barely used, it is "
            "declared in development, or it is superseded but still used."
        ),
    ),
    (N_("Keep"), N_("People used the app inside the idle window.")),
    (
        N_("Insufficient evidence"),
        N_(
            "ronda cannot tell whether anyone uses the app: its access logs are missing, unreadable or "
            "do not "
            "reach back far enough, or its server has not reported recently. No verdict is given without "
            "evidence."
        ),
    ),
    (
        N_("Idle window"),
        N_("The number of days without human use after which an app counts as idle (90 by default)."),
    ),
    (
        N_("Log coverage"),
        N_(
            "How far back the access logs reach. Full: every request of the period is in the logs; partial: "
            "a log shared by several sites without the site's name in each line; no log: the web server "
            "writes none for the app."
        ),
    ),
    (
        N_("People, bots and monitors"),
        N_(
            "Every request in the access logs is counted as one of: people (a browser, a person), bots "
            "(search engines and crawlers), monitors (uptime checks and health probes), errors and scanners. "
            "Only people count as use; bots and monitors keep an app busy without anyone needing it."
        ),
    ),
    (
        N_("Idle"),
        N_("Nobody used the app inside the idle window: bots and monitors alone do not count as use."),
    ),
    (N_("Hidden app"), N_("An app that runs and answers on a server but is not in the declared inventory.")),
    (N_("Missing app"), N_("An app in the declared inventory that ronda found on no server it covers.")),
    (
        N_("Status mismatch"),
        N_(
            "The declared status disagrees with reality: declared inactive but still served, "
            "or declared active but idle."
        ),
    ),
    (
        N_("No owner"),
        N_(
            "A declared app whose owner (OPD) or contact is empty in the inventory: nobody can be asked "
            "whether it is still needed."
        ),
    ),
    (N_("Drift"), N_("The app runs on another server, or with another framework or version, than declared.")),
    (
        N_("Unmanaged host"),
        N_(
            "A server the network sweep found answering on web ports, "
            "which has no ronda agent and no SSH scan."
        ),
    ),
    (
        N_("Exposed port"),
        N_("A port open on a public address that belongs to no app ronda knows."),
    ),
    (
        N_("Unsupported version"),
        N_(
            "The app runs a release whose makers no longer fix it, security problems included "
            "(past its end of support)."
        ),
    ),
    (N_("Stale server"), N_("A server whose last report is older than the limit (48 hours by default).")),
    (
        N_("App key"),
        N_(
            "ronda's technical name of an app: web server, the name it answers to, port and path, as in "
            "nginx:dinkes.example.go.id:80/sipd. An underscore (_) is a default server that answers to any "
            "name that no other site claims."
        ),
    ),
    (
        N_("OPD"),
        N_("Organisasi Perangkat Daerah: the agency that owns an app in the declared inventory."),
    ),
    (N_("Annual cost"), N_("The yearly cost declared in the inventory: hosting, licences, maintenance.")),
)


def glossary(words: Words) -> str:
    items = "".join(f"<dt>{e(words._(term))}</dt><dd>{e(words._(text))}</dd>" for term, text in TERMS)
    return f'<dl class="glossary">{items}</dl>'
