"""A log and its rotated generations, read through the Host seam.

Rotation schemes recognised beside `access.log`: `access.log.1`,
`access.log.2.gz`, `access.log-20260101(.gz)`, `access.log.2026-01-01`, and
the same compressed with gzip, bzip2 or xz. A file is identified by a
fingerprint of its first bytes (decompressed), so renaming, compressing and
inode reuse cannot make ronda read a line twice.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import hashlib
import io
import lzma
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ronda.agent.host import Host
from ronda.agent.host.base import FileStat, HostError

FINGERPRINT_BYTES = 512
_ROTATED = re.compile(r"^(?:\.\d+|[-._]\d{8}(?:\d{2})?|[-._]\d{4}-\d\d-\d\d|\.old)?(\.gz|\.bz2|\.xz)?$")
_OPENERS = {".gz": gzip.GzipFile, ".bz2": bz2.BZ2File, ".xz": lzma.LZMAFile}
# A log file's bytes: the host's file, or a decompressing reader over it.
Content = BinaryIO | io.BufferedIOBase


@dataclass
class Candidate:
    path: str
    stat: FileStat
    compression: str  # "", ".gz", ".bz2", ".xz"
    live: bool  # the file the server writes to now

    @property
    def identity(self) -> tuple[int, int, int, float]:
        return (self.stat.dev, self.stat.ino, self.stat.size, self.stat.mtime)


def candidates(host: Host, path: str) -> list[Candidate]:
    """The log itself and its rotated generations that exist, oldest first. Raises HostError if unlistable."""
    found: list[Candidate] = []
    if glob.has_magic(path):  # rotatelogs/cronolog: one file per period, the newest is written now
        for name in host.glob(path):
            try:
                st = host.stat(name)
            except HostError:
                continue
            if st.is_file:
                compression = next((ext for ext in _OPENERS if name.endswith(ext)), "")
                found.append(Candidate(name, st, compression, False))
        found.sort(key=lambda c: (c.stat.mtime, c.path))
        if found and not found[-1].compression:
            found[-1].live = True
        return found
    for name in host.glob(glob.escape(path) + "*"):
        suffix = name[len(path) :]
        m = _ROTATED.match(suffix)
        if not m:
            continue
        try:
            st = host.stat(name)
        except HostError:
            continue
        if not st.is_file:
            continue
        found.append(Candidate(name, st, m.group(1) or "", name == path))
    found.sort(key=lambda c: (c.live, c.stat.mtime, _generation(c.path, path)))
    return found


def _generation(name: str, base: str) -> int:
    m = re.match(r"\.(\d+)", name[len(base) :])
    return -int(m.group(1)) if m else 0


def fingerprint(head: bytes) -> str:
    return hashlib.blake2b(head, digest_size=16).hexdigest()


def open_content(host: Host, candidate: Candidate) -> Content:
    """The file's content, decompressed if needed. The caller closes it."""
    raw = host.open_binary(candidate.path)
    opener = _OPENERS.get(candidate.compression)
    if opener is None:
        return raw
    try:
        return opener(fileobj=raw) if opener is not lzma.LZMAFile else lzma.LZMAFile(raw)
    except Exception:
        raw.close()
        raise


def read_head(host: Host, candidate: Candidate) -> bytes:
    with open_content(host, candidate) as f:
        try:
            return f.read(FINGERPRINT_BYTES)
        except (OSError, EOFError, lzma.LZMAError) as e:
            raise HostError(f"{candidate.path}: {e}") from None


def content_size(host: Host, candidate: Candidate) -> int | None:
    """Uncompressed size when it is cheap to know: plain files, and gzip's trailer (mod 4 GiB)."""
    if not candidate.compression:
        return candidate.stat.size
    if candidate.compression == ".gz" and candidate.stat.size >= 18:
        with host.open_binary(candidate.path) as f:
            f.seek(-4, 2)
            return int.from_bytes(f.read(4), "little")
    return None


def chunks(stream: Content, start: int, size: int) -> Iterator[tuple[bytes, int]]:
    """Blocks of the content from `start`; each with how far the underlying file has been read."""
    raw = getattr(stream, "fileobj", None) or getattr(stream, "_fp", None)
    if start:
        if stream.seekable() and not isinstance(stream, (gzip.GzipFile, bz2.BZ2File, lzma.LZMAFile)):
            stream.seek(start)
        else:
            left = start
            while left > 0:  # compressed: decompress and drop what was already counted
                block = stream.read(min(left, size))
                if not block:
                    return
                left -= len(block)
    while True:
        try:
            block = stream.read(size)
        except (OSError, EOFError, lzma.LZMAError) as e:
            raise HostError(f"{e}") from None
        if not block:
            return
        position = raw.tell() if raw is not None and hasattr(raw, "tell") else stream.tell()
        yield block, position
