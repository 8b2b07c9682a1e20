#!/usr/bin/env bash
# Set up if needed, then run the default test suite (pass pytest arguments through,
# e.g. `bash scripts/test.sh -m slow`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
