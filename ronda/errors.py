"""Every error ronda raises on purpose derives from `RondaError`.

Each CLI's `main()` catches `RondaError` once, prints `PROGRAM: message` on
stderr (the traceback too with `-v` or `RONDA_DEBUG=1`) and exits with the
error's `exit_code`:

    0  done
    1  failed: an operation could not be done (a database locked or full, a
       collector unreachable, a file that cannot be written); retry later
    2  refused: a config, an option or an input ronda will not use; fix it, don't retry
    3  partial: some of the work was done, some failed (`ronda scan ssh`)

The families live here; each leaf lives beside the code that raises it.

    RondaError                          1
    ├── ConfigError                     2  a setting ronda refuses (a config file or an option)
    │   ├── AgentConfigError               ronda.agent.config: agent.toml, --sources
    │   ├── ScanConfigError                ronda.collector.scan_config: collector.toml
    │   ├── ReconcileConfigError           ronda.collector.reconcile.config: reconcile.toml
    │   ├── ScopeError                     ronda.collector.scans.scope: a target outside the scopes
    │   ├── StoreMissing                   ronda.collector.cli_common: --db names no database
    │   ├── CaError                        ronda.collector.trust.ca: no CA, a CA already there, a bad name
    │   ├── LanguageError                  ronda.i18n: a language or time zone ronda does not know
    │   └── FilterError                    ronda.collector.listing: a list filter (--since, --sort)
    ├── InputError                      2  data ronda refuses: a file, a name, a message
    │   ├── InventoryError                 ronda.collector.inventory.model: every problem, by line
    │   ├── InvalidSnapshot                ronda.collector.validate (also a ValueError)
    │   ├── DecisionError                  ronda.collector.reconcile.decisions (also a ValueError)
    │   ├── NotFound                       ronda.collector.reconcile.lookup: no app, or several
    │   ├── FormatError                    ronda.agent.usage.formats: a log format (also a ValueError)
    │   ├── XmlError                       ronda.agent.discovery.tomcat_xml
    │   ├── LighttpdSyntaxError            ronda.agent.discovery.lighttpd_syntax
    │   └── SequenceConflict               ronda.collector.store.apply: a sequence used by another report
    ├── TransportError                  2  ronda.transport: a bad address, certificate files, plain text
    │   │                                  off loopback
    │   ├── ServeError                  1  ronda.collector.server: the server cannot start
    │   ├── SendError                   1  ronda.agent.sender: the collector refused or did not answer
    │   ├── EnrolError                  1  ronda.agent.enrol: enrolment refused or not possible
    │   └── Refused                     1  ronda.collector.trust.registry: a call the collector refuses
    ├── StoreError                      1  ronda.collector.store: the database cannot be opened or used
    │   ├── StoreBusy                      another write held it too long
    │   └── ReconcileError                 ronda.collector.reconcile.db: a run could not read or write it
    ├── StateError                      1  ronda.agent.state: the agent's state directory
    │   └── SpoolError                     ronda.agent.spool
    ├── HostError                       1  ronda.agent.host: a host could not answer (file, command)
    │   ├── CommandNotAvailable
    │   └── TlsError                       ronda.agent.inspect.tls: a certificate file
    ├── ScanError                       1  a sweep or an SSH scan could not be done
    │   ├── NmapMissing                 2  ronda.collector.scans.nmap_sweep
    │   ├── NmapFailed                     ronda.collector.scans.nmap_sweep
    │   └── SshError                       ronda.collector.scans.ssh_connect
    └── OutputError                     1  a file ronda was asked to write cannot be written

A few exceptions are not errors and stay outside the tree: signals that never
leave their module, such as the one that rolls an inventory dry run back
(tests/test_errors.py lists them, and fails on any other exception outside).

Python's own exceptions that mean "the machine said no" (sqlite3's "database
is locked" or "disk is full", an OSError on a path) are turned into one line
and exit code 1 by `operational_message`, the last resort of each `main()`.
Anything else (a TypeError, a KeyError) is a bug in ronda and keeps its
traceback.
"""

from __future__ import annotations

import os
import sqlite3

EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_PARTIAL = 0, 1, 2, 3


class RondaError(Exception):
    """An error ronda raises on purpose; the message is one line a user can act on."""

    exit_code = EXIT_FAILED


class ConfigError(RondaError):
    """A setting ronda refuses: a config file that cannot be read or has bad values, a bad option."""

    exit_code = EXIT_REFUSED


class InputError(RondaError):
    """Data ronda refuses: an inventory file, an app name, a snapshot, a log format."""

    exit_code = EXIT_REFUSED


class ScanError(RondaError):
    """A network sweep or an SSH scan could not be done."""


class OutputError(RondaError):
    """A file ronda was asked to write (a report, an export) cannot be written."""


def operational_message(error: BaseException, database: str | None = None) -> str | None:
    """One line for an operational failure of the standard library, or None for anything else.

    `database` is the store's path when the command had one, so that the line names it.
    """
    if isinstance(error, sqlite3.Error):
        where = f"database {database}" if database else "database"
        text = str(error) or type(error).__name__
        if "locked" in text or "busy" in text:
            text += " (another process is writing to it; try again)"
        elif "full" in text or "I/O error" in text:
            text += " (is the disk full, or failing?)"
        return f"{where}: {text}"
    if isinstance(error, OSError):
        reason = error.strerror or str(error) or type(error).__name__
        path = error.filename if error.filename is not None else None
        return f"{os.fsdecode(path)}: {reason}" if path is not None else reason
    return None
