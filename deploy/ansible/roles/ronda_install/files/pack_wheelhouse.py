"""Pack a wheelhouse directory into one tar, the same bytes for the same wheels.

One file crosses to each host instead of one per wheel. Run on the controller:
    python pack_wheelhouse.py WHEELHOUSE_DIR ARCHIVE
prints "changed" when ARCHIVE was (re)written, "unchanged" otherwise.
"""

import io
import os
import sys
import tarfile
from pathlib import Path


def pack(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path in sorted(directory.glob("*.whl")):
            info = tarfile.TarInfo(path.name)
            info.size = path.stat().st_size
            info.mode = 0o644
            with path.open("rb") as f:
                tar.addfile(info, f)
    return buffer.getvalue()


def main() -> int:
    directory, archive = Path(sys.argv[1]), Path(sys.argv[2])
    data = pack(directory)
    if not data or not any(directory.glob("*.whl")):
        print(f"no wheels in {directory}", file=sys.stderr)
        return 1
    if archive.exists() and archive.read_bytes() == data:
        print("unchanged")
        return 0
    tmp = archive.with_name(f"{archive.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(archive)
    print("changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
