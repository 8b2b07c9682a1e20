#!/usr/bin/env bash
# The main job: set up if needed, import the Cowley V4 sessions if needed, then train a small
# SNN and its DNN twin (experiment=quickstart) and print their held-out scores side by side.
#   bash scripts/run.sh                 # real data, from $SNNVIS_DATA_MIRROR, ../shared/datasets or the web
#   bash scripts/run.sh --synthetic     # no download: a synthetic LNP population with known ground truth
# Extra arguments are passed to snnvis-train as Hydra overrides.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bin=.venv/bin
if [ "${1:-}" = "--synthetic" ]; then
  shift
  $bin/snnvis-data synth --out recordings/synthetic/synth.h5 --n-stimuli 600 --size 48 >/dev/null
  set -- "data.recordings=[recordings/synthetic/synth.h5]" name=quickstart_synthetic "$@"
else
  mirror=${SNNVIS_DATA_MIRROR:-}
  [ -z "$mirror" ] && [ -d ../shared/datasets ] && mirror=../shared/datasets
  if ! err=$($bin/snnvis-data import cowley2023_v4 ${mirror:+--mirror "$mirror"} --only 190927 210224 210305 2>&1 >/dev/null); then
    echo "${err##*$'\n'} — no data reachable; the synthetic fallback needs no download: bash scripts/run.sh --synthetic" >&2
    exit 2
  fi
fi
$bin/snnvis-train -m experiment=quickstart "$@"
name=quickstart; for a in "$@"; do case $a in name=*) name=${a#name=};; esac; done
echo
$bin/python -m snnvis.training.summary "multirun/$name"
