"""Which OS package owns an app's files, and its version, from the package manager's own database.

dpkg's database is read as files (`/var/lib/dpkg/info/*.list` and `/var/lib/dpkg/status`), so it works
the same locally, under `--root` and over SSH; where the host runs commands, `dpkg-query --search`
first names the packages that list each root, so only their file lists are read (over SSH, a few
reads instead of one per installed package). rpm is asked with `rpm -qf` where the host can run it;
otherwise its SQLite database (`/var/lib/rpm/rpmdb.sqlite`, RHEL 9 and later, Fedora 33 and later) is
read. Not covered: the Berkeley DB rpmdb (`/var/lib/rpm/Packages`, CentOS 7 and RHEL 8) on a host
where `rpm` cannot be run (a `--root` copy of such a server).

Only the app roots asked about are looked for, in one regex pass over each file list, and only counts
of files under them are kept, so memory stays small whatever the system. The answer is kept while the
package database is unchanged, so a daemon's later scans read nothing more.
"""

from __future__ import annotations

import posixpath
import re
import sqlite3
import struct
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from ronda.agent.host import Host, HostError

DPKG_INFO = "/var/lib/dpkg/info"
DPKG_STATUS = "/var/lib/dpkg/status"
RPMDB = "/var/lib/rpm"
RPMDB_SQLITE = "/var/lib/rpm/rpmdb.sqlite"
MAX_LIST_BYTES = 16 * 1024 * 1024  # one package's file list
MAX_STATUS_BYTES = 64 * 1024 * 1024
MAX_RPMDB_BYTES = 512 * 1024 * 1024
RPM_QUERY = "%{NAME}\\t%{VERSION}\\t%{RELEASE}\\n"

_RPM_NAME, _RPM_VERSION, _RPM_RELEASE = 1000, 1001, 1002
_RPM_DIRINDEXES, _RPM_BASENAMES, _RPM_DIRNAMES, _RPM_OLDFILENAMES = 1116, 1117, 1118, 1027


@dataclass(frozen=True)
class OsPackage:
    system: str  # dpkg or rpm
    name: str
    version: str  # as the package manager states it: 4:5.2.1+dfsg-1+deb12u1, 5.2.1-1.el9
    database: str  # the database the answer comes from

    @property
    def upstream(self) -> str:
        """The product's own version inside the package's: 4:5.2.1+dfsg-1+deb12u1 -> 5.2.1."""
        return upstream_version(self.version)


def upstream_version(version: str) -> str:
    """4:5.2.1+dfsg-1+deb12u1 (dpkg) or 6.0.25-1.el9 (rpm) -> the product's own version."""
    v = re.sub(r"^\d+:", "", version)  # the epoch
    if "-" in v:  # dpkg's revision, rpm's release: the distribution's own numbering
        v = v.rsplit("-", 1)[0]
    return re.split(r"[+~]", v)[0]


class PackageIndex:
    """Owners of app roots on one host. `owner(root)` answers after `prepare(roots)` read the databases.

    Where the host runs commands, `dpkg-query --search` names the few packages whose file lists to
    read; `commands=False` reads them all, as on a `--root` copy.
    """

    def __init__(self, host: Host, commands: bool = True) -> None:
        self.host = host
        self.commands = commands
        self.owners: dict[str, OsPackage | None] = {}
        self.errors: list[tuple[str, str]] = []  # (path, message)

    def prepare(self, roots: list[str]) -> None:
        wanted = sorted({r.rstrip("/") or "/" for r in roots if r} - set(self.owners))
        if not wanted:
            return
        paths = {r: self._real(r) for r in wanted}
        found = self._dpkg(paths) if self._exists(DPKG_STATUS) else {}
        missing = [r for r in wanted if r not in found]
        if missing:
            found.update(self._rpm({r: paths[r] for r in missing}))
        for r in wanted:
            self.owners[r] = found.get(r)

    def owner(self, root: str) -> OsPackage | None:
        key = root.rstrip("/") or "/"
        if key not in self.owners:
            self.prepare([key])
        return self.owners[key]

    # -- dpkg -------------------------------------------------------------------------------------
    def _dpkg(self, paths: dict[str, str]) -> dict[str, OsPackage]:
        key = (self.host.name, self.commands, _stamp(self.host, DPKG_STATUS), tuple(sorted(paths.items())))
        if _DPKG_CACHE.get(self.host.name, (None, None))[0] == key:
            return dict(_DPKG_CACHE[self.host.name][1])
        status = self._read(DPKG_STATUS, MAX_STATUS_BYTES)
        versions = dpkg_versions(status) if status else {}
        targets = _targets(paths)
        lists = self._candidate_lists(targets)
        if lists is None:
            try:
                lists = self.host.glob(posixpath.join(DPKG_INFO, "*.list"))
            except HostError as e:
                self.errors.append((DPKG_INFO, str(e)))
                lists = []
        # One pass of C-speed regex over each file list: a line that is a target or lies under one.
        # Longer targets first, so a line under nested roots counts for the innermost.
        alternatives = "|".join(re.escape(t) for t in sorted(targets, key=len, reverse=True))
        lines = re.compile(rf"^({alternatives})(/[^\n]*)?$", re.M)
        counts: Counter[tuple[str, str]] = Counter()  # (root, package) -> entries under the root
        exact: dict[str, str] = {}  # a root that is itself a file of a package (a .war)
        for path in lists:
            package = posixpath.basename(path)[: -len(".list")].split(":")[0]
            for m in lines.finditer(self._read(path, MAX_LIST_BYTES) or ""):
                for root in targets[m.group(1)]:
                    if m.group(2):
                        counts[root, package] += 1
                    else:
                        exact.setdefault(root, package)
        out = {
            root: OsPackage("dpkg", package, versions[package], DPKG_STATUS)
            for root, package in _owners(paths, counts, exact, self._is_file).items()
            if package in versions
        }
        _DPKG_CACHE[self.host.name] = (key, dict(out))
        return out

    def _candidate_lists(self, targets: dict[str, list[str]]) -> list[str] | None:
        """Where the host runs commands, dpkg names the packages that list each root (a package lists
        every directory it puts files in), and only their file lists are read: over SSH a few reads
        instead of one per installed package. None: read them all."""
        if not (self.commands and self.host.which("dpkg-query")):
            return None
        try:
            done = self.host.run(["dpkg-query", "--search", *sorted(targets)], timeout=60)
        except HostError as e:
            self.errors.append((DPKG_INFO, f"dpkg-query --search: {e}"))
            return None
        packages: set[str] = set()
        for line in done.stdout.splitlines():
            names, sep, _ = line.partition(": ")
            if sep and not names.startswith("diversion by"):
                packages.update(n.strip() for n in names.split(","))
        return [posixpath.join(DPKG_INFO, f"{p}.list") for p in sorted(packages)]

    # -- rpm --------------------------------------------------------------------------------------
    def _rpm(self, paths: dict[str, str]) -> dict[str, OsPackage]:
        if self.host.which("rpm"):
            return {root: p for root, real in paths.items() if (p := self._rpm_qf(real))}
        if self._exists(RPMDB_SQLITE):
            return self._rpmdb(paths)
        return {}

    def _rpm_qf(self, path: str) -> OsPackage | None:
        try:
            done = self.host.run(["rpm", "-qf", "--queryformat", RPM_QUERY, path], timeout=20)
        except HostError as e:
            self.errors.append((path, f"rpm -qf: {e}"))
            return None
        line = done.stdout.strip().splitlines()[0] if done.returncode == 0 and done.stdout.strip() else ""
        parts = line.split("\t")
        if len(parts) != 3:
            return None  # "not owned by any package"
        return OsPackage("rpm", parts[0], f"{parts[1]}-{parts[2]}", RPMDB)

    def _rpmdb(self, paths: dict[str, str]) -> dict[str, OsPackage]:
        data = self._read_bytes(RPMDB_SQLITE, MAX_RPMDB_BYTES)
        if not data:
            return {}
        wal = (
            self._read_bytes(RPMDB_SQLITE + "-wal", MAX_RPMDB_BYTES)
            if self._exists(RPMDB_SQLITE + "-wal")
            else b""
        )
        try:
            packages = rpmdb_packages(data, wal or b"")
        except (sqlite3.Error, struct.error, ValueError) as e:
            self.errors.append((RPMDB_SQLITE, f"cannot read the rpm database ({type(e).__name__}: {e})"))
            return {}
        out: dict[str, OsPackage] = {}
        for root, real in paths.items():
            best: tuple[int, OsPackage | None] = (0, None)
            for name, version, files in packages:
                n = sum(1 for f in files if f == real or f.startswith(real.rstrip("/") + "/"))
                if n > best[0]:
                    best = (n, OsPackage("rpm", name, version, RPMDB_SQLITE))
            if best[1]:
                out[root] = best[1]
        return out

    # -- host access ------------------------------------------------------------------------------
    def _real(self, path: str) -> str:
        try:
            return self.host.realpath(path)
        except HostError:
            return path

    def _exists(self, path: str) -> bool:
        try:
            return self.host.exists(path)
        except HostError:
            return False

    def _is_file(self, path: str) -> bool:
        try:
            return self.host.stat(path).is_file
        except HostError:
            return False

    def _read(self, path: str, limit: int) -> str | None:
        try:
            return self.host.read_text(path, limit)
        except HostError as e:
            self.errors.append((path, str(e)))
            return None

    def _read_bytes(self, path: str, limit: int) -> bytes | None:
        try:
            return self.host.read_bytes(path, limit)
        except HostError as e:
            self.errors.append((path, str(e)))
            return None


# host name -> (the key it was built for, its answers): a daemon rescans an unchanged database for free
_DPKG_CACHE: dict[str, tuple[tuple, dict[str, OsPackage]]] = {}


def _targets(paths: dict[str, str]) -> dict[str, list[str]]:
    """Each path to look for (a root as configured, and where it really is) -> the roots it stands for."""
    targets: dict[str, list[str]] = {}
    for root, real in paths.items():
        for p in {root, real}:
            targets.setdefault(p, []).append(root)
    return targets


def _owners(
    paths: dict[str, str],
    counts: Counter[tuple[str, str]],
    exact: dict[str, str],
    is_file: Callable[[str], bool],
) -> dict[str, str]:
    """Each root's owner: the package with the most files under it, else (a root that is itself a file,
    a .war) the package that lists it. A directory packages only create (/var/www/html) has no owner."""
    best: dict[str, tuple[int, str]] = {}
    for (root, package), n in counts.items():
        held = best.get(root, (0, ""))
        if n > held[0] or (n == held[0] and package < held[1]):  # a tie (a shared directory): by name
            best[root] = (n, package)
    out = {}
    for root in paths:
        if root in best:
            out[root] = best[root][1]
        elif root in exact and is_file(root):
            out[root] = exact[root]
    return out


def _stamp(host: Host, path: str) -> tuple[float, int]:
    try:
        st = host.stat(path)
    except HostError:
        return (0.0, -1)
    return (st.mtime, st.size)


def dpkg_versions(status: str) -> dict[str, str]:
    """Installed packages in dpkg's status file: name -> version."""
    out: dict[str, str] = {}
    for stanza in status.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line[:1] not in (" ", "\t") and ":" in line:
                k, _, v = line.partition(":")
                fields[k] = v.strip()
        if (
            fields.get("Package")
            and fields.get("Status", "").endswith(" installed")
            and fields.get("Version")
        ):
            out[fields["Package"]] = fields["Version"]
    return out


def rpmdb_packages(data: bytes, wal: bytes = b"") -> list[tuple[str, str, list[str]]]:
    """(name, version-release, file paths) of every package in an rpmdb.sqlite database's bytes (and its
    write-ahead log's: rpm keeps the database in WAL mode), opened from a private copy."""
    with tempfile.TemporaryDirectory(prefix="ronda-rpmdb-") as tmp:
        db = posixpath.join(tmp, "rpmdb.sqlite")
        with open(db, "wb") as out:
            out.write(data)
        if wal:
            with open(db + "-wal", "wb") as out:
                out.write(wal)
        conn = sqlite3.connect(db)
        try:
            rows = conn.execute("SELECT blob FROM Packages").fetchall()
        finally:
            conn.close()
    found: list[tuple[str, str, list[str]]] = []
    for (blob,) in rows:
        tags = rpm_header(bytes(blob))
        name = _first(tags.get(_RPM_NAME))
        if not name:
            continue
        version = f"{_first(tags.get(_RPM_VERSION))}-{_first(tags.get(_RPM_RELEASE))}"
        dirs, bases, indexes = tags.get(_RPM_DIRNAMES), tags.get(_RPM_BASENAMES), tags.get(_RPM_DIRINDEXES)
        if dirs and bases and indexes:
            files = [dirs[i] + b for i, b in zip(indexes, bases, strict=False) if i < len(dirs)]
        else:
            files = list(tags.get(_RPM_OLDFILENAMES) or [])
        found.append((name, version, [f.rstrip("/") for f in files]))
    return found


def rpm_header(blob: bytes) -> dict[int, list]:
    """An rpm header (as rpmdb stores it: entry count, data length, entries, data) -> tag: values.
    Only the string, string array and 32-bit integer tags ronda needs are decoded."""
    count, length = struct.unpack_from(">II", blob, 0)
    if count > 100_000 or 8 + 16 * count + length > len(blob):
        raise ValueError("rpm header sizes do not fit the blob")
    store = 8 + 16 * count
    out: dict[int, list] = {}
    for i in range(count):
        tag, kind, offset, n = struct.unpack_from(">iiii", blob, 8 + 16 * i)
        start = store + offset
        if kind in (6, 8, 9):  # STRING, STRING_ARRAY, I18NSTRING
            values, pos = [], start
            for _ in range(n if kind != 6 else 1):
                end = blob.index(b"\0", pos)
                values.append(blob[pos:end].decode("utf-8", "replace"))
                pos = end + 1
            out[tag] = values
        elif kind == 4:  # INT32
            out[tag] = list(struct.unpack_from(f">{n}i", blob, start))
    return out


def _first(values: list | None) -> str:
    return str(values[0]) if values else ""
