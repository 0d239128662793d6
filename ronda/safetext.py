"""Text made safe for where it goes: a spreadsheet cell, a terminal.

What ronda shows comes partly from the hosts it watches and from inventories
people typed, so any of it may be hostile: a `server_name` or inventory cell
written as a formula, a location prefix or /etc/hostname holding escape
sequences (an OSC 52 sequence writes the operator's clipboard).

- `spreadsheet_cell`: every cell that leaves for CSV (`--format csv`,
  `inventory export`) goes through it: a cell that a spreadsheet would run as
  a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return, as
  OWASP's CSV injection guidance lists) gets a leading `'`; a plain number
  such as `-5` is left as it is.
- `terminal_text`: every string `ronda` and `ronda-agent` print as a table or
  a list passes it: control characters, escape sequences and the invisible
  bidirectional overrides are shown as visible escapes (`\\x1b`, `\\u202e`).
"""

from __future__ import annotations

import re

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d+)*|\d*[.,]\d+)(?:[eE][+-]?\d+)?")
# C0 controls, DEL, C1 controls, and the bidirectional overrides/isolates (Trojan Source)
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
# in a CSV cell, line breaks and tabs inside a quoted value are data
_UNSAFE_IN_CELL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]"
)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def needs_escaping(text: str) -> bool:
    return _UNSAFE.search(text) is not None


def terminal_text(text: str) -> str:
    """`text` with every control character and escape sequence shown, not obeyed."""
    return _UNSAFE.sub(_visible, text)


def spreadsheet_cell(text: str) -> str:
    """`text` as a spreadsheet shows it and never runs it."""
    text = _UNSAFE_IN_CELL.sub(_visible, text)
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text
