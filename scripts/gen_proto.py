#!/usr/bin/env python3
"""Regenerate ronda/wire/ (the package ronda.wire) from proto/ with the pinned grpcio-tools.

    python scripts/gen_proto.py           # rewrite ronda/wire/
    python scripts/gen_proto.py --check   # exit 1 if ronda/wire/ has drifted

The generated files are never edited by hand.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

GRPCIO_TOOLS = "1.85.1"  # keep in step with pyproject.toml [dev] and the grpcio/protobuf minimums

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto" / "ronda"
PACKAGE = "ronda/wire"  # as a path: the package ronda.wire
INIT = '"""Generated gRPC code for the ronda wire contract. Do not edit: run scripts/gen_proto.py."""\n'


def generate(out: Path) -> None:
    import grpc_tools
    from grpc_tools import protoc

    installed = version("grpcio-tools")
    if installed != GRPCIO_TOOLS:
        sys.exit(f"grpcio-tools {installed} is installed; this script is pinned to {GRPCIO_TOOLS}")
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    protos = sorted(p.relative_to(PROTO_DIR) for p in PROTO_DIR.rglob("*.proto"))
    for proto in protos:
        # Map proto/ronda/... to ronda/wire/... so generated imports name ronda.wire.
        rc = protoc.main(
            [
                "protoc",
                f"-I{PACKAGE}={PROTO_DIR}",
                f"-I{well_known}",
                f"--python_out={out}",
                f"--pyi_out={out}",
                f"--grpc_python_out={out}",
                f"{PACKAGE}/{proto.as_posix()}",
            ]
        )
        if rc != 0:
            sys.exit(f"protoc failed on {proto}")
    for directory in [out / PACKAGE, *(p for p in (out / PACKAGE).rglob("*") if p.is_dir())]:
        (directory / "__init__.py").write_text(INIT)


def drifted(generated: Path, committed: Path) -> list[str]:
    def files(base: Path) -> set[str]:
        return {
            p.relative_to(base).as_posix()
            for p in base.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }

    want, have = files(generated), files(committed)
    diffs = sorted(want ^ have)
    diffs += [f for f in sorted(want & have) if not filecmp.cmp(generated / f, committed / f, shallow=False)]
    return diffs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only report drift, write nothing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        generate(out)
        diffs = drifted(out / PACKAGE, ROOT / PACKAGE)
        if args.check:
            if diffs:
                print(f"{PACKAGE}/ differs from proto/:", *diffs, sep="\n  ")
                sys.exit(1)
            print(f"{PACKAGE}/ is up to date")
            return
        shutil.rmtree(ROOT / PACKAGE, ignore_errors=True)
        shutil.copytree(out / PACKAGE, ROOT / PACKAGE)
        print(f"regenerated {PACKAGE}/ ({len(diffs)} files changed)")


if __name__ == "__main__":
    main()
