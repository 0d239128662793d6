"""Identifiers both sides agree on."""

from __future__ import annotations

import re

_AGENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")


def valid_agent_id(value: str) -> bool:
    """An agent id: 1-128 characters, letters, digits and ``._:@-``, starting with a letter or digit."""
    return bool(_AGENT_ID.match(value))
