#!/usr/bin/env bash
# Create .venv if missing and install the pinned dependencies.
# torch goes first (the CPU build where no GPU is present); spikingjelly is installed
# with --no-deps because its PyPI metadata requires torchvision/torchaudio, which its
# activation_based modules never import and which have no CPU build here.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.snnvis-installed
want=$(cat requirements.lock pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi
echo "snnvis: setting up $VENV (first run only)" >&2
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip=("$VENV/bin/python" -m pip install --disable-pip-version-check -q)
"${pip[@]}" torch==2.13.0
"${pip[@]}" -r requirements.lock
# Last and with --no-deps, so pip neither pulls torchvision nor reports it as missing.
echo "snnvis: installing spikingjelly without its unused torchvision/torchaudio requirements" >&2
"${pip[@]}" --no-deps spikingjelly==2.0.0
"${pip[@]}" --no-deps -e .
echo "$want" > "$STAMP"
