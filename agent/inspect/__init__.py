"""Inspection: what each discovered app is (product, version, owning package, support) and what it
costs (processes, disk, certificate expiry, database), after `agent.discovery.discover()` found the apps.

    result = discover(host, options)
    inspect_apps(host, result)        # fills framework, resources, tls, database; appends sub-apps, errors
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

from ronda.agent.discovery.base import SourceResult
from ronda.agent.host import Host
from ronda.agent.inspect.database import find_database
from ronda.agent.inspect.diskwalk import Walk, walk
from ronda.agent.inspect.files import Files
from ronda.agent.inspect.fingerprints import fingerprint
from ronda.agent.inspect.identify import identify
from ronda.agent.inspect.packages import PackageIndex
from ronda.agent.inspect.resources import Machine, app_processes, build_resources
from ronda.agent.inspect.subapps import find_subapps
from ronda.agent.inspect.tls import TlsError, read_certificate
from ronda.model import App, Framework, TlsCertificate

log = logging.getLogger("ronda.inspect")


@dataclass
class InspectOptions:
    max_files: int = 50_000  # per app root
    max_seconds: float = 5.0  # per app root
    total_seconds: float = 60.0  # all disk walks of one scan together
    subapps: bool = True


def inspect_apps(
    host: Host, result: SourceResult, options: InspectOptions | None = None, machine: Machine | None = None
) -> None:
    options = options or InspectOptions()
    started = time.monotonic()
    problems: list[Files] = []
    for app in result.apps:
        if app.framework is None and app.labels.get("redirect") and not app.root:
            app.framework = Framework(name="redirect")
        if app.framework is None:
            app.framework = fingerprint(
                host, app.root, app.upstream or app.labels.get("handler", ""), files=problems
            )
    _flush(result, problems, "fingerprint")
    if options.subapps:
        subs = find_subapps(host, result.apps, problems)
        result.apps.extend(subs)
        _flush(result, problems, "fingerprint")
    packages = PackageIndex(host)
    identify(host, result.apps, packages, problems)
    _flush(result, problems, "fingerprint")
    for path, message in packages.errors[:20]:
        result.error("packages", message, path)
    machine = machine or Machine.load(host)
    for what, message in machine.errors:
        result.error("resources", f"cannot list {what}: {message}")
    _flush(result, machine.problems, "php-fpm")
    walks: dict[str, Walk] = {}
    certificates: dict[str, TlsCertificate | None] = {}
    for app in result.apps:
        _certificate(host, app, result, certificates)
        try:
            app.database = app.database or find_database(host, app, problems)
        except Exception as e:  # a config shape ronda did not expect must not stop the scan
            result.error("database", f"{type(e).__name__} while reading the database settings", app.root)
        _flush(result, problems, "database")
        disk = None
        if app.root:
            if app.root not in walks:
                budget = options.total_seconds - (time.monotonic() - started)
                walks[app.root] = walk(
                    host, app.root, options.max_files, max(0.0, min(options.max_seconds, budget))
                )
                for p in walks[app.root].problems[:20]:
                    result.error("disk", p.message, p.path)
            disk = walks[app.root]
        app.resources = build_resources(app_processes(machine, app), disk)
    log.debug("inspected %d apps in %.2fs", len(result.apps), time.monotonic() - started)


def _certificate(host: Host, app: App, result: SourceResult, seen: dict[str, TlsCertificate | None]) -> None:
    """Read each certificate file once; apps sharing it share the answer (and its one error)."""
    if app.tls is None or not app.tls.file or app.tls.not_after is not None:
        return
    if "$" in app.tls.file:  # set per request from a variable: no file to read
        return
    path = app.tls.file
    if path not in seen:
        try:
            seen[path] = read_certificate(host, path)
        except TlsError as e:
            seen[path] = None
            result.error("tls", str(e), path)
    cert = seen[path]
    if cert is not None:
        app.tls = replace(cert, dns_names=list(cert.dns_names))


def _flush(result: SourceResult, problems: list[Files], source: str) -> None:
    seen = {(e.source, e.path, e.message) for e in result.errors}
    for f in problems:
        for p in f.problems:
            if (source, p.path, p.message) not in seen:
                seen.add((source, p.path, p.message))
                result.error(source, p.message, p.path)
        f.problems.clear()
    problems.clear()


__all__ = ["InspectOptions", "inspect_apps"]
