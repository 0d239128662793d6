"""`python -m ronda.collector`: the same program as `ronda`."""

from ronda.collector.cli import main

main()
