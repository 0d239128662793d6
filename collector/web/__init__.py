"""`ronda web`: the store in a browser, through Datasette, with ronda's metadata and plugin.

The package needs the `web` extra (Datasette) only where it serves: `config`, `lang` and
`passwords` import nothing of it, so `ronda web hash-password` works without it.
"""
