"""Tomcat's XML configs (server.xml, Context descriptors) as small trees that keep line numbers.

expat reads the text (no external entities are fetched); `${name}` in
attribute values is replaced from the given properties (catalina.base,
catalina.home, catalina.properties, the JVM's -D flags) as Tomcat's digester
does, and `${name:-default}` by its default when the property is not set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.parsers import expat

from ronda.errors import InputError

_PROPERTY = re.compile(r"\$\{([^}]+)\}")


@dataclass
class Element:
    tag: str
    attrib: dict[str, str]
    line: int
    children: list[Element] = field(default_factory=list)
    text: str = ""

    def get(self, name: str, default: str = "") -> str:
        return self.attrib.get(name, default)

    def all(self, tag: str) -> list[Element]:
        return [c for c in self.children if c.tag == tag]


class XmlError(InputError):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def parse(text: str, properties: dict[str, str]) -> Element:
    parser = expat.ParserCreate()
    stack: list[Element] = []
    root: list[Element] = []

    def start(tag: str, attrib: dict[str, str]) -> None:
        values = {k: expand(v, properties) for k, v in attrib.items()}
        element = Element(tag, values, parser.CurrentLineNumber)
        (stack[-1].children if stack else root).append(element)
        stack.append(element)

    def end(tag: str) -> None:
        stack.pop()

    def data(text: str) -> None:
        if stack:
            stack[-1].text += text

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    try:
        parser.Parse(text, True)
    except expat.ExpatError as e:
        raise XmlError(f"not well-formed XML: {expat.ErrorString(e.code)}", e.lineno) from None
    if not root:
        raise XmlError("empty XML document", 0)
    return root[0]


def expand(value: str, properties: dict[str, str]) -> str:
    """${name} from `properties`; ${name:-default} falls back to `default`; unknown ones stay as written."""

    def one(m: re.Match) -> str:
        name, has_default, default = m.group(1).partition(":-")
        if name in properties:
            return properties[name]
        return default if has_default else m.group(0)

    return _PROPERTY.sub(one, value)


def unset_properties_removed(value: str) -> str:
    """What is left of a value once the properties nobody set are taken as empty."""
    return _PROPERTY.sub("", value)


def read_properties(text: str) -> dict[str, str]:
    """key=value lines of a .properties file (enough for catalina.properties)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        m = re.match(r"([^=:\s]+)\s*[=:]\s*(.*)$", line)
        if m:
            values[m.group(1)] = m.group(2)
    return values
