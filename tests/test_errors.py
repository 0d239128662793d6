"""One error tree: every exception ronda defines derives from RondaError, with the exit code of its family."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import ronda
from ronda.errors import EXIT_FAILED, EXIT_REFUSED, ConfigError, InputError, RondaError
from ronda.transport import TransportError

# Signals that never leave their module; they are not errors a user sees.
NOT_ERRORS = {
    "ronda.collector.inventory.db._DryRun",  # rolls a dry-run import back
    "ronda.collector.store.wirelayout.LayoutChanged",  # ronda's own wire code out of step: a bug, at import
}


def ronda_exceptions() -> dict[str, type[BaseException]]:
    found = {}
    for module in pkgutil.walk_packages(ronda.__path__, "ronda."):
        if module.name.startswith("ronda.wire") or module.name.endswith("__main__"):
            continue
        for _, value in inspect.getmembers(importlib.import_module(module.name), inspect.isclass):
            if issubclass(value, BaseException) and value.__module__.startswith("ronda."):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


def test_every_exception_ronda_defines_is_a_ronda_error():
    found = ronda_exceptions()
    assert len(found) > 25
    outside = sorted(name for name, cls in found.items() if not issubclass(cls, RondaError))
    assert outside == sorted(NOT_ERRORS & set(found))


@pytest.mark.parametrize(
    "name, family, code",
    [
        ("ronda.agent.config.AgentConfigError", ConfigError, EXIT_REFUSED),
        ("ronda.collector.scan_config.ScanConfigError", ConfigError, EXIT_REFUSED),
        ("ronda.collector.reconcile.config.ReconcileConfigError", ConfigError, EXIT_REFUSED),
        ("ronda.collector.scans.scope.ScopeError", ConfigError, EXIT_REFUSED),
        ("ronda.collector.inventory.model.InventoryError", InputError, EXIT_REFUSED),
        ("ronda.collector.reconcile.lookup.NotFound", InputError, EXIT_REFUSED),
        ("ronda.collector.validate.InvalidSnapshot", ValueError, EXIT_REFUSED),
        ("ronda.transport.TransportError", RondaError, EXIT_REFUSED),
        ("ronda.agent.sender.SendError", TransportError, EXIT_FAILED),
        ("ronda.collector.server.ServeError", TransportError, EXIT_FAILED),
        ("ronda.collector.store.store.StoreBusy", RondaError, EXIT_FAILED),
        ("ronda.collector.reconcile.db.ReconcileError", RondaError, EXIT_FAILED),
        ("ronda.agent.spool.SpoolError", RondaError, EXIT_FAILED),
        ("ronda.collector.scans.nmap_sweep.NmapMissing", RondaError, EXIT_REFUSED),
        ("ronda.collector.scans.nmap_sweep.NmapFailed", RondaError, EXIT_FAILED),
    ],
)
def test_families_and_exit_codes(name, family, code):
    cls = ronda_exceptions()[name]
    assert issubclass(cls, family) and cls.exit_code == code


def test_no_two_errors_share_a_name():
    """There were two ConfigErrors; each config's error now says which config it is."""
    names = [name.rsplit(".", 1)[1] for name in ronda_exceptions()]
    assert len(names) == len(set(names))
    assert [n for n in ronda_exceptions() if n.endswith(".ConfigError")] == ["ronda.errors.ConfigError"]
