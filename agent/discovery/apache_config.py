"""Load an Apache httpd configuration through the host seam, as httpd would read it.

Includes (with globs and directories, relative to ServerRoot) are spliced in
place; `Define`/`${VAR}` (and Debian's envvars) are expanded in order;
IfDefine/IfModule/IfVersion/IfFile are evaluated; mod_macro's `Use` is
expanded. Include loops, unreadable and broken files become errors and the
rest of the configuration still loads.
"""

from __future__ import annotations

import copy
import posixpath
import re
from dataclasses import dataclass, field

from ronda.agent.discovery.apache_syntax import Directive, parse
from ronda.agent.host import Host, HostError

# (main config file, layout) in the order distributions are tried.
DEFAULT_CONFS = (
    ("/etc/apache2/apache2.conf", "debian"),
    ("/etc/httpd/conf/httpd.conf", "rhel"),
    ("/etc/apache2/httpd.conf", "suse"),
    ("/usr/local/apache2/conf/httpd.conf", "source"),
    ("/etc/httpd/httpd.conf", "arch"),
    ("/usr/local/etc/apache24/httpd.conf", "freebsd"),
)
# Compiled into every httpd build ronda has met; IfModule on them is always true.
STATIC_MODULES = frozenset(
    {"core", "so", "watchdog", "http", "http_core", "log_config", "logio", "version", "unixd", "mpm_common"}
)
ASSUMED_VERSION = (2, 4, 99)
_MAX_DEPTH = 32
_MAX_FILE_BYTES = 8 * 1024 * 1024
_MAX_DIR_FILES = 2000
_VAR = re.compile(r"\$\{([^}\s]+)\}")
_CONDITIONALS = {"ifdefine", "ifmodule", "ifversion", "iffile", "ifdirective", "ifsection"}


@dataclass
class Settings:
    """What is known before reading: from the binary, envvars and the service's flags."""

    server_root: str = ""
    document_root: str = ""  # the main server's when the config sets none (compiled into httpd)
    env: dict[str, str] = field(default_factory=dict)
    defines: dict[str, str] = field(default_factory=dict)
    modules: set[str] | None = None  # None: unknown (no binary) -> learnt from LoadModule
    version: tuple[int, ...] = ASSUMED_VERSION


@dataclass
class LoadedConfig:
    main_file: str
    server_root: str
    directives: list[Directive] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    errors: list[tuple[str, int, str]] = field(default_factory=list)  # (file, line, message)
    defines: dict[str, str] = field(default_factory=dict)
    default_document_root: str = ""


def find_main_conf(host: Host, explicit: str = "") -> tuple[str, str] | None:
    """(main config file, layout name) or None when Apache is not configured on this host."""
    if explicit:
        return explicit, next((layout for path, layout in DEFAULT_CONFS if path == explicit), "")
    for path, layout in DEFAULT_CONFS:
        try:
            if host.stat(path).is_file:
                return path, layout
        except HostError:
            continue
    return None


def module_name(token: str) -> str:
    """mod_alias.c, alias_module and modules/mod_alias.so all name "alias"."""
    base = posixpath.basename(token.strip()).lower()
    for suffix in (".c", ".cpp", ".so"):
        base = base.removesuffix(suffix)
    base = base.removeprefix("mod_")
    base = base.removesuffix("_module")
    return base


def read_envvars(host: Host, conf_dir: str) -> dict[str, str]:
    """The variables Debian's apache2ctl exports from $APACHE_CONFDIR/envvars (e.g. APACHE_LOG_DIR)."""
    try:
        text = host.read_text(posixpath.join(conf_dir, "envvars"), limit=256 * 1024)
    except HostError:
        return {}
    name = posixpath.basename(conf_dir.rstrip("/"))
    env = {"SUFFIX": name[len("apache2") :] if name.startswith("apache2-") else ""}
    for line in text.splitlines():
        m = re.match(r"\s*(?:export\s+)?([A-Za-z_]\w*)=(.*)$", line)
        if not m or m.group(1) == "SUFFIX":
            continue
        value = m.group(2).strip().strip("\"'")
        value = re.sub(r"\$\{?([A-Za-z_]\w*)\}?", lambda v: env.get(v.group(1), v.group(0)), value)
        env[m.group(1)] = value
    return env


def read_service_defines(host: Host) -> dict[str, str]:
    """-D flags the service is started with: RHEL's OPTIONS, SUSE's APACHE_SERVER_FLAGS."""
    defines: dict[str, str] = {}
    for path, var in (("/etc/sysconfig/httpd", "OPTIONS"), ("/etc/sysconfig/apache2", "APACHE_SERVER_FLAGS")):
        try:
            text = host.read_text(path, limit=256 * 1024)
        except HostError:
            continue
        for line in text.splitlines():
            m = re.match(rf"\s*{var}=(.*)$", line)
            if not m:
                continue
            words = m.group(1).strip().strip("\"'").split()
            for i, word in enumerate(words):
                if word == "-D" or not word:
                    continue
                if word.startswith("-D"):
                    defines[word[2:]] = ""
                elif var == "APACHE_SERVER_FLAGS" or (i and words[i - 1] == "-D"):
                    defines[word] = ""
    return defines


def load(host: Host, main: str, settings: Settings) -> LoadedConfig:
    loader = _Loader(host, main, settings)
    loaded = LoadedConfig(
        main_file=main, server_root=loader.server_root, default_document_root=settings.document_root
    )
    loader.loaded = loaded
    loaded.directives = loader.load_file(main, (), None)
    loaded.server_root = loader.server_root
    loaded.defines = dict(loader.defines)
    return loaded


class _Loader:
    def __init__(self, host: Host, main: str, settings: Settings) -> None:
        self.host = host
        self.server_root = settings.server_root or posixpath.dirname(main)
        self.env = settings.env
        self.defines = dict(settings.defines)
        self.modules = set(settings.modules or ()) | STATIC_MODULES
        self.modules_known = settings.modules is not None
        self.version = settings.version
        self.macros: dict[str, Directive] = {}
        self.loaded: LoadedConfig

    def error(self, file: str, line: int, message: str) -> None:
        self.loaded.errors.append((file, line, message))

    # -- files -------------------------------------------------------------
    def load_file(self, path: str, stack: tuple[str, ...], origin: Directive | None) -> list[Directive]:
        where = f" (included from {origin.file}:{origin.line})" if origin else ""
        try:
            real = self.host.realpath(path)
        except HostError:
            real = path
        if real in stack:
            self.error(
                origin.file if origin else path,
                origin.line if origin else 0,
                f"include loop: {path} is already being read{where}",
            )
            return []
        if len(stack) >= _MAX_DEPTH:
            self.error(path, 0, f"includes nested deeper than {_MAX_DEPTH}{where}")
            return []
        try:
            st = self.host.stat(path)
            if st.is_dir:
                raise HostError(f"{path}: is a directory, not a configuration file")
            if st.size > _MAX_FILE_BYTES:
                raise HostError(f"{path}: larger than {_MAX_FILE_BYTES} bytes, not an Apache config")
            text = self.host.read_text(path)
        except HostError as e:
            self.error(path, 0, f"cannot read: {e}{where}")
            return []
        self.loaded.files.append(path)
        parsed = parse(text, path)
        for line, message in parsed.errors:
            self.error(path, line, message)
        return self.resolve(parsed.directives, stack + (real,))

    def include(self, d: Directive, stack: tuple[str, ...]) -> list[Directive]:
        optional = d.key == "includeoptional"
        pattern = d.arg()
        if not pattern:
            self.error(d.file, d.line, f"{d.name} without a file name")
            return []
        path = pattern if pattern.startswith("/") else posixpath.join(self.server_root, pattern)
        if any(c in path for c in "*?["):
            try:
                names = self.host.glob(path)
            except HostError as e:
                self.error(d.file, d.line, f"{d.name} {pattern}: {e}")
                return []
            if not names and not optional:
                self.error(d.file, d.line, f"Include {pattern}: no file matches")
            return [x for name in names for x in self.load_path(name, d, stack, optional)]
        if optional and not self.host.exists(path):
            return []
        return self.load_path(path, d, stack, optional)

    def load_path(self, path: str, d: Directive, stack: tuple[str, ...], optional: bool) -> list[Directive]:
        try:
            is_dir = self.host.stat(path).is_dir
        except HostError:
            is_dir = False
        if not is_dir:
            return self.load_file(path, stack, d)
        out: list[Directive] = []
        for name in self._dir_files(path, d):
            out.extend(self.load_file(name, stack, d))
        return out

    def _dir_files(self, path: str, d: Directive) -> list[str]:
        """httpd includes every file under a directory, recursively, in name order."""
        found: list[str] = []
        pending = [path]
        while pending and len(found) < _MAX_DIR_FILES:
            current = pending.pop(0)
            try:
                names = self.host.listdir(current)
            except HostError as e:
                self.error(d.file, d.line, f"{d.name} {current}: {e}")
                continue
            for name in names:
                full = posixpath.join(current, name)
                try:
                    (pending if self.host.stat(full).is_dir else found).append(full)
                except HostError:
                    found.append(full)  # dangling link: reading it reports the error
        return found

    # -- directives ----------------------------------------------------------
    def resolve(self, directives: list[Directive], stack: tuple[str, ...], depth: int = 0) -> list[Directive]:
        out: list[Directive] = []
        for d in directives:
            key = d.key
            args = [self.expand(a, d) for a in d.args]
            if key in _CONDITIONALS:
                if self.condition(key, args, d):
                    out.extend(self.resolve(d.children or [], stack, depth))
                continue
            if key == "macro" and d.is_section and args:
                self.macros[args[0].lower()] = Directive(d.name, args, d.file, d.line, d.children)
                continue
            if key == "use":
                out.extend(self.use(d, args, stack, depth))
                continue
            if key in ("include", "includeoptional"):
                out.extend(self.include(Directive(d.name, args, d.file, d.line), stack))
                continue
            if key == "define" and args:
                self.defines[args[0]] = args[1] if len(args) > 1 else ""
            elif key == "undefine" and args:
                self.defines.pop(args[0], None)
            elif key == "loadmodule" and args:
                self.modules.add(module_name(args[0]))
                self.modules_known = True
            elif key == "serverroot" and args:
                self.server_root = args[0].rstrip("/") or "/"
            resolved = Directive(d.name, args, d.file, d.line)
            if d.is_section:
                resolved.children = self.resolve(d.children or [], stack, depth)
            out.append(resolved)
        return out

    def expand(self, text: str, d: Directive) -> str:
        if "${" not in text:
            return text

        def value(m: re.Match) -> str:
            name = m.group(1)
            if name in self.defines:
                return self.defines[name]
            if name in self.env:
                return self.env[name]
            self.error(d.file, d.line, f"variable ${{{name}}} is not defined")
            return m.group(0)

        return _VAR.sub(value, text)

    def condition(self, key: str, args: list[str], d: Directive) -> bool:
        test = " ".join(args)
        negate = test.startswith("!")
        name = test[1:].strip() if negate else test.strip()
        if key == "ifdefine":
            result = name in self.defines
        elif key == "ifmodule":
            result = module_name(name) in self.modules or not self.modules_known
        elif key == "iffile":
            path = name if name.startswith("/") else posixpath.join(self.server_root, name)
            result = self.host.exists(path)
        elif key == "ifversion":
            return _version_matches(args, self.version)
        else:  # IfDirective, IfSection: assume this httpd has it
            result = True
        return result != negate

    def use(self, d: Directive, args: list[str], stack: tuple[str, ...], depth: int) -> list[Directive]:
        macro = self.macros.get(args[0].lower()) if args else None
        if macro is None:
            self.error(d.file, d.line, f"Use of undefined macro {args[0] if args else ''}".strip())
            return []
        if depth >= _MAX_DEPTH:
            self.error(d.file, d.line, f"macro {args[0]} expands itself")
            return []
        params, values = macro.args[1:], args[1:]
        if len(params) != len(values):
            self.error(d.file, d.line, f"macro {args[0]} takes {len(params)} arguments, got {len(values)}")
            return []
        pairs = sorted(zip(params, values, strict=True), key=lambda p: -len(p[0]))

        def subst(text: str) -> str:
            for param, value in pairs:
                text = text.replace(param, value)
            return text

        def instantiate(node: Directive) -> Directive:
            clone = copy.copy(node)
            clone.args = [subst(a) for a in node.args]
            if node.children is not None:
                clone.children = [instantiate(c) for c in node.children]
            return clone

        return self.resolve([instantiate(c) for c in macro.children or []], stack, depth + 1)


def _version_matches(args: list[str], version: tuple[int, ...]) -> bool:
    if not args:
        return True
    op, wanted = ("=", args[0]) if len(args) == 1 else (args[0], args[1])
    if op in ("~", "=~") or wanted.startswith("/"):
        return True  # regular-expression forms: assume a current httpd matches
    try:
        target = tuple(int(x) for x in wanted.split("."))
    except ValueError:
        return True
    have = version[: len(target)]
    return {
        "=": have == target,
        "==": have == target,
        ">": have > target,
        ">=": have >= target,
        "<": have < target,
        "<=": have <= target,
    }.get(op, True)
