"""ronda collector: receives agents' snapshots, stores them, and answers operators."""
