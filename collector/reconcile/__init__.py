"""Reconciliation: the declared inventory against what the agents found.

Pure functions over plain dataclasses (`engine.reconcile`); reading and
writing the store lives in `collector.reconcile.db` alone.
"""
