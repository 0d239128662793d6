"""ronda collector: receives agents' snapshots, stores them, and answers operators."""

__version__ = "0.1.0"
