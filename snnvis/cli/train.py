"""``snnvis-train``."""
from __future__ import annotations

import sys


def main() -> int:
    print("snnvis-train: not implemented yet", file=sys.stderr)
    return 1
