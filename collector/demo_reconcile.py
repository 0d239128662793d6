"""The end of `ronda demo`: import the sample inventory, reconcile, and show
the findings and the takedown verdicts with their reasons."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ronda.collector.inventory.db import import_apps
from ronda.collector.inventory.parse import load_inventory
from ronda.collector.output import render
from ronda.collector.present import verdict_rows
from ronda.collector.reconcile.config import ReconcileConfig
from ronda.collector.reconcile.db import run_reconcile
from ronda.collector.reconcile.queries import finding_rows
from ronda.collector.store import Store


def reconcile_demo(
    store: Store, inventory: Path, echo: Callable[[str], None], report: Path | None = None
) -> None:
    apps, warnings = load_inventory(str(inventory))
    result = import_apps(store, apps, str(inventory), "csv", inventory.read_bytes())
    echo(
        f"\nDeclared inventory: {result.records} apps imported from {inventory.name} (SPBE column names)"
        + "".join(f"\n  warning: {w}" for w in warnings)
    )
    summary = run_reconcile(store, ReconcileConfig())
    echo(
        f"Reconciled: {summary.matched} of {summary.discovered} discovered apps belong to a declared app; "
        f"{summary.findings_open} findings"
    )
    rows = finding_rows(store)
    echo(f"\nFindings ({len(rows)})")
    echo(render(rows, "table", ["kind", "hostname", "summary"]))
    echo("\nVerdicts (ronda recommends; people decide with `ronda decide`)")
    echo(
        render(
            verdict_rows(store), "table", ["verdict", "app", "hosts", "last_human", "logs_since", "summary"]
        )
    )
    if report is not None:
        from ronda.collector.report import build_report, render_html

        report.write_text(render_html(build_report(store)), encoding="utf-8")
        echo(f"\nHTML report for decision makers: {report}")
