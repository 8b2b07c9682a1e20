#!/usr/bin/env bash
# Set up if needed, lint (ruff check, ruff format --check), then run the default test suite on
# $SNNVIS_TEST_WORKERS processes (default 2; pytest-xdist, one test file per worker at a time).
# pytest arguments pass through, e.g. `bash scripts/test.sh -m slow`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest -n "${SNNVIS_TEST_WORKERS:-2}" --dist loadfile "$@"
