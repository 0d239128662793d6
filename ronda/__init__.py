"""ronda: find every web app on a fleet of servers, who still uses it, and which ones are safe to switch off.

One import name holds the whole product:

- ``ronda.agent``: the edge (discovery, usage, snapshots, sending); never imports the collector.
- ``ronda.collector``: the centre (gRPC server, store, inventory, reconciliation, scans, reports, CLI).
- the shared kernel both import, and nothing else: ``ronda.model`` (the plain dataclasses),
  ``ronda.convert`` (the one conversion to and from the wire), ``ronda.wire`` (generated from
  ``proto/``, never edited), ``ronda.transport`` (addresses and TLS), ``ronda.ids``,
  ``ronda.errors`` (the exception tree), ``ronda.paths`` and ``ronda.tomlfile``.

In the repository, ``agent/`` and ``collector/`` are top-level folders; ``ronda/agent`` and
``ronda/collector`` are links to them, so a checkout imports exactly as an installed wheel does.
"""

__version__ = "0.1.0"
