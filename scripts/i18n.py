#!/usr/bin/env python3
"""Keep the message catalogs in step with the code (see ronda/i18n/catalog.py).

python scripts/i18n.py           # update ronda/i18n/locale/ronda.pot, every .po and every .mo
python scripts/i18n.py --check   # exit 1, naming each problem, if a translation is missing or stale
"""

from __future__ import annotations

import argparse
import sys

from ronda.i18n import LANGUAGES
from ronda.i18n.catalog import extract_messages, problems, update


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 on any problem")
    args = parser.parse_args()
    if not args.check:
        for path in update():
            print(f"wrote {path}")
    template = extract_messages()
    found = [p for language in LANGUAGES if language != "en" for p in problems(language, template)]
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
