"""lighttpd's config language, read as lighttpd reads it: one pass that evaluates as it parses.

Values are strings, integers and arrays (`Array`: ordered (key or None, value)
pairs). Variables (`var.x`, any key already set), `+` concatenation, `+=`
(appends to the value the enclosing scopes hold, as lighttpd copies it into a
conditional block) and `:=` are evaluated in file order; `include` follows
globs relative to the main config's directory. `include_shell` cannot run when
reading files: the scripts Debian ships are emulated (conf-enabled/*.conf, the
IPv6 socket, MIME types), any other is reported as an error.

The output of `lighttpd -p` (the config as lighttpd itself evaluated it,
wrapped in `config { ... }`) is read by the same parser.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from ronda.agent.host import Host, HostError
from ronda.errors import InputError

_MAX_DEPTH = 16
_MAX_BYTES = 4 * 1024 * 1024

_TOKEN = re.compile(
    r"""
    (?P<space>[ \t\r\f]+|\#[^\n]*)
  | (?P<newline>\n)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<field>\$[A-Za-z_]+\[\s*"(?:[^"\\]|\\.)*"\s*\])
  | (?P<number>\d+(?![\w.-]))
  | (?P<name>[A-Za-z_][\w.-]*)
  | (?P<op>\+=|:=|==|!=|=~|!~|=\^|=\$|=>|[=+(),{}])
    """,
    re.VERBOSE,
)
CONDITION_OPS = ("==", "!=", "=~", "!~", "=^", "=$")


class Array(list):
    """A lighttpd array: (key, value) pairs in order; key is None for list items."""

    def get(self, key: str, default: object = None) -> object:
        for k, v in self:
            if k == key:
                return v
        return default

    def keyed(self) -> list[tuple[str, object]]:
        return [(k, v) for k, v in self if k is not None]


@dataclass(frozen=True)
class Condition:
    field: str  # "HTTP[host]", "SERVER[socket]", "REQUEST_HEADER[Host]" ...
    op: str
    value: str

    @property
    def text(self) -> str:
        name, _, key = self.field.partition("[")
        return f'${name}["{key.rstrip("]")}"] {self.op} "{self.value}"'


@dataclass(eq=False)
class Block:
    """The global scope or one conditional block, with what it sets itself."""

    condition: Condition | None = None  # None: the global scope, or a plain `else`
    parent: Block | None = None
    file: str = ""
    line: int = 0
    is_else: bool = False  # an `else` branch: reached only when the conditions before it did not match
    settings: dict[str, object] = field(default_factory=dict)
    where: dict[str, tuple[str, int]] = field(default_factory=dict)  # key -> file, line last set
    children: list[Block] = field(default_factory=list)

    def lookup(self, key: str) -> object | None:
        block: Block | None = self
        while block is not None:
            if key in block.settings:
                return block.settings[key]
            block = block.parent
        return None

    def located(self, key: str) -> tuple[str, int] | None:
        block: Block | None = self
        while block is not None:
            if key in block.where:
                return block.where[key]
            block = block.parent
        return None


@dataclass
class Config:
    root: Block
    files: list[str] = field(default_factory=list)
    errors: list[tuple[str, int, str]] = field(default_factory=list)  # (file, line, message)


class LighttpdSyntaxError(InputError):
    def __init__(self, message: str, file: str = "", line: int = 0) -> None:
        super().__init__(message)
        self.file, self.line = file, line


@dataclass
class _Token:
    kind: str
    text: str
    line: int


def tokenize(text: str, file: str) -> list[_Token]:
    tokens: list[_Token] = []
    line, pos = 1, 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise LighttpdSyntaxError(f"unexpected character {text[pos]!r}", file, line)
        kind = m.lastgroup or ""
        if kind == "newline":
            line += 1
        elif kind != "space":
            tokens.append(_Token(kind, m.group(), line))
        pos = m.end()
    return tokens


def _shown(tok: _Token) -> str:
    """A token for an error message: never a string's text, which may be a password."""
    return "a string" if tok.kind == "string" else repr(tok.text)


def _unquote(text: str) -> str:
    """lighttpd keeps backslashes in strings (regexes need them) except before a quote."""
    return text[1:-1].replace('\\"', '"')


def _field(text: str) -> str:
    m = re.match(r'\$([A-Za-z_]+)\[\s*"((?:[^"\\]|\\.)*)"\s*\]', text)
    assert m is not None
    return f"{m.group(1)}[{m.group(2)}]"


def read_file(host: Host, path: str) -> Config:
    """Read a lighttpd config from the host's files, following includes."""
    config = Config(root=Block(file=path, line=1))
    _Reader(host, config, posixpath.dirname(path) or "/").include(path, config.root, 0, 0, path)
    return config


def read_text(text: str, name: str) -> Config:
    """Read config text that includes nothing (what `lighttpd -p` prints)."""
    config = Config(root=Block(file=name, line=1))
    _Reader(None, config, "/").run(text, name, config.root, 0)
    return config


class _Reader:
    def __init__(self, host: Host | None, config: Config, basedir: str) -> None:
        self.host = host
        self.config = config
        self.basedir = basedir
        self.stack: list[str] = []

    # -- files ----------------------------------------------------------------------
    def include(self, pattern: str, block: Block, depth: int, line: int, at: str) -> None:
        assert self.host is not None
        path = pattern if pattern.startswith("/") else posixpath.join(self.basedir, pattern)
        if any(c in path for c in "*?["):
            try:
                paths = self.host.glob(path)
            except HostError as e:
                self.config.errors.append((at, line, f"include {pattern}: {e}"))
                return
        else:
            paths = [path]
        for p in paths:
            if p in self.stack or depth >= _MAX_DEPTH:
                self.config.errors.append((at, line, f"include loop: {p} includes itself"))
                continue
            try:
                if self.host.stat(p).size > _MAX_BYTES:
                    raise HostError(f"larger than {_MAX_BYTES} bytes")
                text = self.host.read_text(p)
            except HostError as e:
                self.config.errors.append((at if p != at else p, line, f"cannot read {p}: {e}"))
                continue
            self.config.files.append(p)
            self.stack.append(p)
            try:
                self.run(text, p, block, depth + 1)
            finally:
                self.stack.pop()

    def run(self, text: str, file: str, block: Block, depth: int) -> None:
        try:
            tokens = tokenize(text, file)
            _Parser(self, tokens, file, depth).statements(block, top=True)
        except LighttpdSyntaxError as e:
            self.config.errors.append((e.file or file, e.line, str(e)))

    def include_shell(self, command: str, block: Block, depth: int, line: int, file: str) -> None:
        """The include_shell scripts Debian's lighttpd package ships, done without running them."""
        if self.host is None:
            return
        argv = command.split()
        script = posixpath.basename(argv[0]) if argv else ""
        if script == "include-conf-enabled.pl":
            confdir = argv[1] if len(argv) > 1 else "/etc/lighttpd/"
            self.include(posixpath.join(confdir, "conf-enabled/*.conf"), block, depth, line, file)
        elif script == "use-ipv6.pl":
            port = argv[1] if len(argv) > 1 and argv[1].isdigit() else "80"
            socket = Block(Condition("SERVER[socket]", "==", f"[::]:{port}"), block, file, line)
            if port == "443":
                socket.settings["ssl.engine"] = "enable"
            block.children.append(socket)
        elif script not in ("create-mime.conf.pl", "create-mime.assign.pl"):  # MIME types only
            self.config.errors.append(
                (
                    file,
                    line,
                    f'include_shell "{command}" is not run when reading files; what it adds is not seen',
                )
            )


class _Parser:
    def __init__(self, reader: _Reader, tokens: list[_Token], file: str, depth: int) -> None:
        self.reader = reader
        self.tokens = tokens
        self.file = file
        self.depth = depth
        self.pos = 0

    def error(self, message: str) -> LighttpdSyntaxError:
        line = self.tokens[min(self.pos, len(self.tokens) - 1)].line if self.tokens else 0
        return LighttpdSyntaxError(message, self.file, line)

    def peek(self, offset: int = 0) -> _Token | None:
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def take(self, kind: str | None = None, text: str | None = None) -> _Token:
        tok = self.peek()
        if tok is None:
            raise self.error(f"unexpected end of file, expected {text or kind}")
        if (kind and tok.kind != kind) or (text and tok.text != text):
            raise self.error(f"unexpected {_shown(tok)}, expected {text or kind}")
        self.pos += 1
        return tok

    def statements(self, block: Block, top: bool = False) -> None:
        previous: Block | None = None  # the last conditional block, for an `else` after it
        while (tok := self.peek()) is not None:
            if tok.text == "}" and tok.kind == "op":
                if top:
                    raise self.error("unexpected '}'")
                return
            if tok.kind == "field":
                previous = self.condition(block, is_else=False)
            elif tok.kind == "name" and tok.text in ("else", "elseif", "elsif"):
                if previous is None:
                    raise self.error("'else' without a condition before it")
                previous = self.condition(block, is_else=True)
            elif tok.kind == "name":
                previous = None
                self.statement(block)
            else:
                raise self.error(f"unexpected {_shown(tok)}")

    def statement(self, block: Block) -> None:
        name = self.take("name")
        nxt = self.peek()
        if name.text in ("include", "include_shell") and (nxt is None or nxt.kind != "op" or nxt.text == "("):
            value = self.expression(block)
            if not isinstance(value, str):
                raise self.error(f"{name.text} needs a string")
            if name.text == "include":
                if self.reader.host is not None:
                    self.reader.include(value, block, self.depth, name.line, self.file)
            else:
                self.reader.include_shell(value, block, self.depth, name.line, self.file)
            return
        if name.text in ("config", "global") and nxt is not None and nxt.text == "{":
            self.take(
                "op", "{"
            )  # `lighttpd -p` wraps its output in config { }; global { } is the global scope
            self.statements(block)
            self.take("op", "}")
            return
        op = self.take("op")
        if op.text not in ("=", "+=", ":="):
            raise self.error(f"unexpected {op.text!r} after {name.text}, expected =, += or :=")
        value = added = self.expression(block)
        if op.text == "+=":
            current = block.lookup(name.text)
            value = value if current is None else _concat(current, value, self)
        block.settings[name.text] = value
        block.where[name.text] = (self.file, name.line)
        if isinstance(added, Array):  # where each entry was written: alias.url[/sipd]
            for key, _ in added.keyed():
                block.where[f"{name.text}[{key}]"] = (self.file, name.line)

    def condition(self, block: Block, is_else: bool) -> Block:
        start = self.peek()
        assert start is not None
        if is_else:
            self.pos += 1
            if start.text == "else" and (nxt := self.peek()) is not None and nxt.text == "if":
                self.pos += 1
        cond = None
        if (tok := self.peek()) is not None and tok.kind == "field":
            self.pos += 1
            op = self.take("op")
            if op.text not in CONDITION_OPS:
                raise self.error(f"unexpected {op.text!r} in a condition")
            value = self.expression(block)
            cond = Condition(_field(tok.text), op.text, str(value))
        child = Block(cond, block, self.file, start.line, is_else)
        self.take("op", "{")
        block.children.append(child)
        self.statements(child)
        self.take("op", "}")
        return child

    def expression(self, block: Block) -> object:
        value = self.term(block)
        while (tok := self.peek()) is not None and tok.kind == "op" and tok.text == "+":
            self.pos += 1
            value = _concat(value, self.term(block), self)
        return value

    def term(self, block: Block) -> object:
        tok = self.take()
        if tok.kind == "string":
            return _unquote(tok.text)
        if tok.kind == "number":
            return int(tok.text)
        if tok.kind == "name":
            if tok.text.startswith("env."):
                raise self.error(f"{tok.text}: lighttpd's environment is not known when reading files")
            value = block.lookup(tok.text)
            if value is None:  # a variable may be written without its "var." prefix
                value = block.lookup("var." + tok.text)
            if value is None:
                raise self.error(f"{tok.text} is used before it is set")
            return value
        if tok.text == "(":
            return self.array(block)
        raise self.error(f"unexpected {_shown(tok)}, expected a value")

    def array(self, block: Block) -> Array:
        items = Array()
        while (tok := self.peek()) is not None and tok.text != ")":
            first = self.expression(block)
            if (nxt := self.peek()) is not None and nxt.text == "=>":
                self.pos += 1
                items.append((str(first), self.expression(block)))
            else:
                items.append((None, first))
            if (nxt := self.peek()) is not None and nxt.text == ",":
                self.pos += 1
            elif nxt is None or nxt.text != ")":
                raise self.error("expected ',' or ')' in an array")
        self.take("op", ")")
        return items


def _concat(left: object, right: object, parser: _Parser) -> object:
    if isinstance(left, Array) and isinstance(right, Array):
        merged = Array(left)
        for key, value in right:
            if key is not None:
                merged[:] = [(k, v) for k, v in merged if k != key]
            merged.append((key, value))
        return merged
    if (
        isinstance(left, (str, int))
        and isinstance(right, (str, int))
        and not (isinstance(left, int) and isinstance(right, int))
    ):
        return f"{left}{right}"
    if isinstance(left, int) and isinstance(right, int):
        return left + right
    raise parser.error("cannot add an array and a string")
