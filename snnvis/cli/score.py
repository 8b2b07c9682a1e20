"""``snnvis-score``."""
from __future__ import annotations

import sys


def main() -> int:
    print("snnvis-score: not implemented yet", file=sys.stderr)
    return 1
