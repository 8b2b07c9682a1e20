"""Benchmarks: ``python scripts/benchmark.py {models,similarity,train} [options]``.

Each subcommand times snnvis side by side with its reference in one run and prints
medians over repeated runs. See each bench_*.py for its options.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
SUBCOMMANDS = ("models", "similarity", "train")

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in SUBCOMMANDS:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    sys.exit(importlib.import_module(f"bench_{sys.argv[1]}").main(sys.argv[2:]))
