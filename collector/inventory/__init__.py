"""The declared inventory: import (CSV/YAML/JSON, English or Indonesian columns), export, pins."""
from collector.inventory.model import DeclaredApp, InventoryError, Problem
from collector.inventory.parse import load_inventory

__all__ = ["DeclaredApp", "InventoryError", "Problem", "load_inventory"]
