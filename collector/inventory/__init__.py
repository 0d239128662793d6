"""The declared inventory: import (CSV/YAML/JSON, English or Indonesian columns), export, pins."""

from ronda.collector.inventory.model import DeclaredApp, InventoryError, Problem
from ronda.collector.inventory.parse import load_inventory

__all__ = ["DeclaredApp", "InventoryError", "Problem", "load_inventory"]
