"""`python -m ronda.agent`: the same program as `ronda-agent`."""

from ronda.agent.cli import main

main()
