"""``snnvis-report``."""
from __future__ import annotations

import sys


def main() -> int:
    print("snnvis-report: not implemented yet", file=sys.stderr)
    return 1
