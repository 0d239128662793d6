"""Where ronda keeps its data when no option says: one rule for every default path.

An environment variable wins; else, as root, the system path under /var/lib;
else a path of the user's own, under the XDG base directory of its kind
(`$XDG_DATA_HOME`, default ~/.local/share, for data a user would back up;
`$XDG_STATE_HOME`, default ~/.local/state, for state that can be rebuilt).

    what          variable          as root                   as a user
    db            RONDA_DB          /var/lib/ronda/ronda.db   $XDG_DATA_HOME/ronda/ronda.db
    ca            RONDA_CA_DIR      /var/lib/ronda/ca         $XDG_DATA_HOME/ronda/ca
    agent-state   RONDA_STATE_DIR   /var/lib/ronda-agent      $XDG_STATE_HOME/ronda-agent
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

Kind = Literal["db", "ca", "agent-state"]

_XDG = {"data": ("XDG_DATA_HOME", "~/.local/share"), "state": ("XDG_STATE_HOME", "~/.local/state")}


@dataclass(frozen=True)
class _Rule:
    variable: str
    system: str
    xdg: str  # "data" or "state"
    user: str


_RULES: dict[str, _Rule] = {
    "db": _Rule("RONDA_DB", "/var/lib/ronda/ronda.db", "data", "ronda/ronda.db"),
    "ca": _Rule("RONDA_CA_DIR", "/var/lib/ronda/ca", "data", "ronda/ca"),
    "agent-state": _Rule("RONDA_STATE_DIR", "/var/lib/ronda-agent", "state", "ronda-agent"),
}


def default_path(kind: Kind) -> str:
    """The path of `kind` ("db", "ca" or "agent-state") when no option names one."""
    rule = _RULES[kind]
    if os.environ.get(rule.variable):
        return os.environ[rule.variable]
    if os.geteuid() == 0:
        return rule.system
    variable, fallback = _XDG[rule.xdg]
    return os.path.join(os.environ.get(variable) or os.path.expanduser(fallback), rule.user)
