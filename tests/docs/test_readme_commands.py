"""Every command README.md shows is run here: the short ones by default on tiny data, the long ones
under ``-m slow``; a command that is neither fails the suite.

What counts as a command: each line of a fenced ```bash / ```sh / ```shell / ```console block
(backslash continuations joined, the trailing ``# comment`` dropped, blank and comment lines
skipped), and each inline code span that starts with a program a user runs (``snnvis-*``,
``python``, ``bash``, ``torchrun``, ``tensorboard``) and has arguments (the README's "run this"
mentions in prose).

How to mark a command: add it to :data:`COMMANDS`, keyed by the text exactly as extracted (the
failure message of :func:`test_every_readme_command_is_listed` prints it), with one of

* ``Run(tiny, needs)``: run by the default suite. ``tiny`` is the command as run here: the README
  command itself (``SAME``) or the same command with tiny overrides appended or tiny paths put in;
  ``{root}`` stands for the checkout. Tiny sweeps keep their tiny overrides out of the run-folder
  names (:func:`_unnamed`), so their runs sit where the README says. ``needs`` lists the
  README commands that must have run first (they run once per module, in a shared folder).
* ``Slow(reason, tiny, needs)``: too long (or needing what the default suite cannot have) for the
  default suite; ``reason`` says why, and ``tiny`` is what ``pytest -m slow`` runs.

An entry whose command is no longer in the README fails :func:`test_no_stale_entries`, so the list
follows the README. Commands run with ``bash -c`` in a temporary folder laid out like a checkout
(``scripts/`` linked, ``../shared/datasets`` linked to the real data when present, else the
commands that need it skip), with this venv's ``bin`` first on ``PATH`` and ``SNNVIS_DATA`` set
to the folder's ``recordings/``.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
VENV_BIN = Path(sys.executable).parent
DATASETS = Path(os.environ.get("SNNVIS_SHARED_DATASETS", ROOT.parent / "shared" / "datasets"))
SAME = "SAME"
PROGRAMS = ("snnvis-", "python ", "bash ", "torchrun ", "tensorboard ")

# Tiny variants of the README's training and scoring commands (a few seconds each on one core).
TINY_CORE = "model.input.size=16 model.widths=[4,8,8] model.stem_width=4 model.time.static_steps=2"
TINY_TRAIN = (
    f"{TINY_CORE} data.batch_size=32 trainer.max_epochs=1 trainer.tensorboard=false trainer.threads=1 baseline=false"
)
SYNTH = "recordings/synthetic/synth.h5"
TINY_DATA = f"data.recordings=[{SYNTH}]"
TINY_SCORE = "n_boot=20 projection_dim=64 bn_calibration_stimuli=32"
QUICKSTART_SWEEP = "snnvis-train -m experiment=quickstart"
# the README's perturbation analysis on its 4-frame synthetic movie: two levels of each perturbation
TINY_PERTURB = (
    "model.input.size=16 model.widths=[4,8,8] model.stem_width=4 n_draws=1 ceiling.n_splits=4 "
    "'perturbations.shuffle_windows=[1,2]' 'perturbations.noise_rates=[0,0.5]' 'perturbations.clip_lengths=[3,4]'"
)


def _unnamed(overrides: str) -> str:
    """A Hydra override that keeps the keys of ``overrides`` out of sweep run-folder names, so a tiny
    sweep's runs have the names the README prints (e.g. experiment=quickstart,model.spiking=True)."""
    keys = sorted({o.split("=", 1)[0].lstrip("+~") for o in overrides.split()} | {"hydra/launcher"})
    return "hydra.job.config.override_dirname.exclude_keys=[" + ",".join(keys) + "]"


TINY_SWEEP = f"{TINY_DATA} {TINY_TRAIN} hydra/launcher=basic {_unnamed(f'{TINY_DATA} {TINY_TRAIN}')}"


@dataclass(frozen=True)
class Run:
    tiny: str = SAME
    needs: tuple[str, ...] = ()
    real_data: bool = False


@dataclass(frozen=True)
class Slow:
    reason: str
    tiny: str = SAME
    needs: tuple[str, ...] = ()
    real_data: bool = False


SYNTH_KEY = "snnvis-data synth --out recordings/synthetic/synth.h5"
DIGITS = "python scripts/make_task_imagefolder.py digits tasks/digits4 --classes 0,1,2,3 --size 32"
PRETRAIN_SNN = "snnvis-pretrain data.root=tasks/digits4 model.input.size=32 trainer.max_epochs=6 hydra.run.dir=pre/snn"
PRETRAIN_TWIN = (
    "snnvis-pretrain data.root=tasks/digits4 model.input.size=32 trainer.max_epochs=6 model.spiking=false "
    "hydra.run.dir=pre/twin"
)
TINY_PRETRAIN = f"{TINY_CORE} trainer.max_epochs=1 trainer.tensorboard=false trainer.threads=1 bn_calibration_batches=2"
SEARCH_SNN = "snnvis-train -m experiment=v4_best hparams_search=v4_snn"
SEARCH_TWIN = "snnvis-train -m experiment=v4_best hparams_search=v4_twin"
V4_ENSEMBLE = "snnvis-train -m experiment=v4_best name=v4_ensemble trainer.ensemble=3 trainer.threads=2 seed=1"
V4_TWIN_T1 = "experiment=v4_best model.spiking=false model.time.static_steps=1"  # the twin at one step
V4_ENS6 = f"{V4_TWIN_T1} trainer.ensemble=6 seed=1 name=v4_ens6"
V4_WIDE = f"{V4_TWIN_T1} model.stem_width=32 'model.widths=[32,64,128]' trainer.ensemble=2 seed=1 name=v4_wide"
# the equal-budget search on the quickstart sessions, size and widths pinned
QS_SEARCH = (
    "snnvis-train -m experiment=quickstart hparams_search=v4_{f} model.input.size=48 'model.widths=[16,32,64]' "
    "name=hparams_quickstart_{f} search.n_trials=6"
)
QS_SEARCH_SNN, QS_SEARCH_TWIN = QS_SEARCH.format(f="snn"), QS_SEARCH.format(f="twin")


def _search(budget: str, command: str) -> Slow:
    """A README search: ``budget`` is what it costs; the slow suite runs one tiny trial on synthetic data."""
    return Slow(
        f"{budget}; here one tiny trial on synthetic data", f"{command} search.n_trials=1 {TINY_SWEEP}", (SYNTH_KEY,)
    )


V1_COMPARE = (
    "python -m snnvis.training.summary multirun/v1_psth multirun/recurrence --compare lorafb_tiny,sew_resnet_tiny"
)
SETUP_STAMP = "setup.sh would reinstall .venv here (its stamp is not current); run bash scripts/setup.sh first"

COMMANDS: dict[str, Run | Slow] = {
    # Quick start
    "bash scripts/run.sh": Slow(
        "sets up .venv, imports three V4 sessions and trains the quickstart pair (minutes)",
        f"bash scripts/run.sh {TINY_TRAIN}",
        real_data=True,
    ),
    "bash scripts/test.sh": Slow(
        "runs the whole suite, this test included; here: lint and collect only",
        "bash {root}/scripts/test.sh --collect-only -q",
    ),
    "bash scripts/run.sh --synthetic": Slow(
        "sets up .venv when needed and trains the quickstart pair on a simulated population",
        f"bash scripts/run.sh --synthetic {TINY_TRAIN}",
    ),
    "bash .ci/run": Slow(
        "the CI entry point, which is bash scripts/test.sh: the whole suite; here: lint and collect only",
        "bash {root}/scripts/test.sh --co -q",
    ),
    "bash scripts/test.sh -m slow": Slow(
        "the slow suite, this test included; here: collect only", "bash {root}/scripts/test.sh -m slow --co -q"
    ),
    # Data
    "snnvis-data list": Run(),
    "snnvis-data import cowley2023_v4 --mirror ../shared/datasets": Slow(
        "reads every session's images for the near-duplicate join (about 25 s); here one session",
        "snnvis-data import cowley2023_v4 --mirror ../shared/datasets --only 210305",
        real_data=True,
    ),
    "snnvis-data info recordings/cowley2023_v4/190925.h5": Slow(
        "needs the import above; here the session it imports",
        "snnvis-data info recordings/cowley2023_v4/210305.h5",
        needs=("snnvis-data import cowley2023_v4 --mirror ../shared/datasets",),
        real_data=True,
    ),
    SYNTH_KEY: Run(f"snnvis-data synth --out {SYNTH} --n-stimuli 160 --size 16 --n-neurons 24"),
    "snnvis-data synth --movie --out recordings/synthetic/movie.h5": Run(
        "snnvis-data synth --movie --out recordings/synthetic/movie.h5 --n-clips 9 --clip-frames 4 --n-neurons 8"
    ),
    "snnvis-perturb recording=recordings/synthetic/movie.h5": Run(
        f"snnvis-perturb recording=recordings/synthetic/movie.h5 {TINY_PERTURB}",
        needs=("snnvis-data synth --movie --out recordings/synthetic/movie.h5",),
    ),
    "snnvis-perturb recording=recordings/synthetic/movie.h5 'checkpoints=[RUN_SNN,RUN_TWIN]'": Slow(
        "needs two training runs on a movie recording; here the composed config",
        "snnvis-perturb recording=recordings/synthetic/movie.h5 'checkpoints=[RUN_SNN,RUN_TWIN]' --cfg job",
    ),
    "snnvis-data import nwb session.nwb --stimuli images/ -o bin_ms=25": Slow(
        "needs an NWB file; tests/recordings write one with pynwb and import it through this command",
        "snnvis-data import nwb --help",
    ),
    "snnvis-data import SOURCE --help": Run("snnvis-data import cowley2023_v4 --help"),
    "snnvis-data info --json": Run(f"snnvis-data info --json {SYNTH}", needs=(SYNTH_KEY,)),
    # Training
    "snnvis-train experiment=quickstart model.spiking=false": Run(
        f"snnvis-train experiment=quickstart model.spiking=false {TINY_DATA} {TINY_TRAIN}", needs=(SYNTH_KEY,)
    ),
    QUICKSTART_SWEEP: Run(f"{QUICKSTART_SWEEP} {TINY_SWEEP}", needs=(SYNTH_KEY,)),
    "snnvis-train data.recordings=[recordings/cowley2023_v4/190925.h5,recordings/cowley2023_v4/210621.h5] "
    "model=cornet_rt readout=gaussian trainer.max_epochs=50": Slow(
        "50 epochs of CORnet-RT on two real sessions; here one epoch on 210305",
        "snnvis-train data.recordings=[recordings/cowley2023_v4/210305.h5] model=cornet_rt readout=gaussian "
        "model.input.size=16 trainer.max_epochs=1 trainer.tensorboard=false baseline=false",
        needs=("snnvis-data import cowley2023_v4 --mirror ../shared/datasets",),
        real_data=True,
    ),
    "python -m pip wheel . --no-deps -w dist": Slow(
        "builds the wheel; tests/cli/test_wheel.py (-m slow) builds, installs it into a fresh venv, runs the apps",
        "python -m pip wheel {root} --no-deps --no-build-isolation -w dist",
    ),
    "snnvis-train --help": Run(),
    "snnvis-train -m experiment=v4_snn_vs_dnn": Slow(
        "the full V4 comparison (GPU-sized); here its sweep with tiny models for one epoch on synthetic data",
        f"snnvis-train -m experiment=v4_snn_vs_dnn {TINY_SWEEP}",
        needs=(SYNTH_KEY,),
    ),
    "snnvis-train -m experiment=v1_sequences": Slow(
        "Hénaff sequences with temporal targets; here --cfg job (the composed config)",
        "snnvis-train experiment=v1_sequences --cfg job",
    ),
    "torchrun --nproc_per_node=2 -m snnvis.cli.train experiment=quickstart": Slow(
        "two DDP processes; tests/training/test_ddp.py covers DDP; here the same command, tiny",
        f"torchrun --nproc_per_node=2 -m snnvis.cli.train experiment=quickstart {TINY_DATA} {TINY_TRAIN}",
        needs=(SYNTH_KEY,),
    ),
    "snnvis-train -m experiment=quickstart seed=0,1,2": Slow(
        "six runs; here the same sweep, tiny",
        f"snnvis-train -m experiment=quickstart seed=0,1,2 {TINY_SWEEP}",
        needs=(SYNTH_KEY,),
    ),
    "tensorboard --logdir multirun/quickstart": Slow("starts a web server; here its version", "tensorboard --version"),
    # Task-trained cores, weights, external models
    DIGITS: Run(f"{DIGITS} --per-class 40"),
    PRETRAIN_SNN: Run(f"{PRETRAIN_SNN} {TINY_PRETRAIN}", needs=(DIGITS,)),
    PRETRAIN_TWIN: Run(f"{PRETRAIN_TWIN} {TINY_PRETRAIN}", needs=(DIGITS,)),
    "snnvis-train experiment=quickstart model.weights=pre/snn core.frozen=true": Run(
        f"snnvis-train experiment=quickstart model.weights=pre/snn core.frozen=true {TINY_DATA} {TINY_TRAIN}",
        needs=(SYNTH_KEY, PRETRAIN_SNN),
    ),
    "snnvis-score model=external model.factory=docs/examples/external_model.py:make_model "
    "'model.layers=[relu1,relu2]' recordings=[recordings/cowley2023_v4/210305.h5]": Run(
        "snnvis-score model=external model.factory={root}/docs/examples/external_model.py:make_model "
        f"'model.layers=[relu1,relu2]' recordings=[{SYNTH}] metrics=[rsa,ridge] model.input.size=16 {TINY_SCORE}",
        needs=(SYNTH_KEY,),
    ),
    "snnvis-train -m +sweep=task_vs_neural task_vs_neural.pretrained.snn=pre/snn "
    "task_vs_neural.pretrained.twin=pre/twin": Slow(
        "18 runs on eight V4 sessions; here seed 0 of each condition and family, tiny, on synthetic data",
        "snnvis-train -m +sweep=task_vs_neural task_vs_neural.pretrained.snn=pre/snn "
        f"task_vs_neural.pretrained.twin=pre/twin seed=0 {TINY_SWEEP}",
        needs=(SYNTH_KEY, PRETRAIN_SNN, PRETRAIN_TWIN),
    ),
    "python scripts/reproduce_figures.py multirun": Slow(
        "draws every figure of every sweep under multirun/; the figure commands below run it on tiny sweeps",
        "python scripts/reproduce_figures.py --help",
    ),
    # Tuning, ensembles
    SEARCH_SNN: _search("20 trials of 12 epochs on eight V4 sessions", SEARCH_SNN),
    SEARCH_TWIN: _search("20 trials of 12 epochs on eight V4 sessions", SEARCH_TWIN),
    "python -m snnvis.training.search multirun/hparams_v4_snn multirun/hparams_v4_twin": Slow(
        "needs both searches; tests/training/test_hparams_search.py checks the table by default",
        needs=(SEARCH_SNN, SEARCH_TWIN),
    ),
    QS_SEARCH_SNN: _search("6 trials of up to 12 epochs on three V4 sessions (47 min)", QS_SEARCH_SNN),
    QS_SEARCH_TWIN: _search("6 trials of up to 12 epochs on three V4 sessions (28 min)", QS_SEARCH_TWIN),
    "python -m snnvis.training.search multirun/hparams_quickstart_snn multirun/hparams_quickstart_twin": Slow(
        "needs both searches; here the table of their tiny trials",
        needs=(QS_SEARCH_SNN, QS_SEARCH_TWIN),
    ),
    "snnvis-train experiment=quickstart model.spiking=false trainer.ensemble=5": Run(
        f"snnvis-train experiment=quickstart model.spiking=false trainer.ensemble=2 {TINY_DATA} {TINY_TRAIN}",
        needs=(SYNTH_KEY,),
    ),
    # Scoring
    "snnvis-score recordings=[recordings/cowley2023_v4/210305.h5] model=sew_resnet_tiny model.spiking=false": Run(
        f"snnvis-score recordings=[{SYNTH}] model=sew_resnet_tiny model.spiking=false metrics=[rsa] "
        f"{TINY_CORE} {TINY_SCORE}",
        needs=(SYNTH_KEY,),
    ),
    "snnvis-score 'checkpoint=\"multirun/quickstart/experiment=quickstart,model.spiking=True\"' "
    "recordings=[recordings/cowley2023_v4/210305.h5] metrics=[rsa,cka,svcca,ridge,pls]": Run(
        "snnvis-score 'checkpoint=\"multirun/quickstart/experiment=quickstart,model.spiking=True\"' "
        f"recordings=[{SYNTH}] metrics=[rsa,cka,svcca,ridge,pls] {TINY_SCORE}",
        needs=(QUICKSTART_SWEEP,),
    ),
    "snnvis-score 'checkpoint=\"multirun/quickstart/experiment=quickstart,model.spiking=True\"' "
    "'recordings=[recordings/cowley2023_v4/190927.h5,recordings/cowley2023_v4/210224.h5,"
    "recordings/cowley2023_v4/210305.h5]'": Slow(
        "the scoring command above again, on the run's three sessions (tests/evaluation/test_scores_next_to_run.py "
        "covers scores next to a run by default); here on the tiny sweep's data",
        "snnvis-score 'checkpoint=\"multirun/quickstart/experiment=quickstart,model.spiking=True\"' "
        f"'recordings=[{SYNTH}]' {TINY_SCORE}",
        needs=(QUICKSTART_SWEEP,),
    ),
    "snnvis-report multirun/quickstart --score": Slow(
        "scores every run of the sweep first; tests/evaluation/test_scores_next_to_run.py covers keeping scores "
        "made by the same config by default",
        f"snnvis-report multirun/quickstart --score {TINY_SCORE}",
        needs=(
            QUICKSTART_SWEEP,
            "snnvis-score 'checkpoint=\"multirun/quickstart/experiment=quickstart,model.spiking=True\"' "
            "'recordings=[recordings/cowley2023_v4/190927.h5,recordings/cowley2023_v4/210224.h5,"
            "recordings/cowley2023_v4/210305.h5]'",
        ),
    ),
    # Sweeps, reports, figures
    "snnvis-train -m +sweep=snn_vs_dnn hydra/launcher=joblib_local": Slow(
        "encoders × {SNN, twin} × 3 seeds; here one tiny encoder pair, one seed, one epoch",
        f"snnvis-train -m +sweep=snn_vs_dnn hydra/launcher=joblib_local model=sew_resnet_tiny seed=0 "
        f"{TINY_DATA} {TINY_TRAIN}",
        needs=(SYNTH_KEY,),
    ),
    "snnvis-train -m +sweep=recurrence": Slow(
        "feedforward vs feedback on the V1 PSTHs, 12 runs; here --cfg job",
        "snnvis-train +sweep=recurrence --cfg job",
    ),
    "snnvis-train -m +sweep=snn_vs_dnn hydra/launcher=slurm hydra.launcher.partition=gpu": Slow(
        "needs a Slurm cluster; here the composed launcher config (--cfg hydra)",
        "snnvis-train +sweep=snn_vs_dnn hydra/launcher=slurm hydra.launcher.partition=gpu --cfg hydra",
    ),
    "snnvis-report multirun/snn_vs_dnn": Run(
        "snnvis-report multirun/quickstart",
        needs=(
            QUICKSTART_SWEEP,
            "snnvis-score 'checkpoint=\"multirun/quickstart/experiment=quickstart,model.spiking=True\"' "
            "recordings=[recordings/cowley2023_v4/210305.h5] metrics=[rsa,cka,svcca,ridge,pls]",
        ),
    ),
    "python scripts/reproduce_figures.py --quick --train": Slow(
        "imports, trains and scores tiny sweeps, then every figure (about 5 min)", real_data=True
    ),
    "python scripts/reproduce_figures.py multirun --quick --out figures": Slow(
        "scores every run of multirun/ and draws every figure; here (a)-(c) of the tiny quickstart sweep",
        "python scripts/reproduce_figures.py multirun --quick --out figures --only abc",
        needs=(QUICKSTART_SWEEP,),
        real_data=True,
    ),
    "snnvis-train -m experiment=v4_best": Slow(
        "SNN and twin on eight V4 sessions (about 50 min); here tiny, on synthetic data",
        f"snnvis-train -m experiment=v4_best {TINY_SWEEP}",
        needs=(SYNTH_KEY,),
    ),
    "snnvis-train -m experiment=v4_best seed=1": Slow(
        "the second seed of the pair (about 55 min); here its composed config",
        "snnvis-train experiment=v4_best seed=1 model.spiking=false --cfg job",
    ),
    "python -m snnvis.training.summary multirun/v4_best": Slow(
        "needs the run above", needs=("snnvis-train -m experiment=v4_best",)
    ),
    V4_ENSEMBLE: Slow(
        "both families' ensembles of three (about 2 h 15 min, one after the other); here tiny, on synthetic data",
        f"{V4_ENSEMBLE} {TINY_SWEEP}",
        needs=(SYNTH_KEY,),
    ),
    "python -m snnvis.training.summary multirun/v4_ensemble": Slow("needs the runs above", needs=(V4_ENSEMBLE,)),
    f"snnvis-train -m {V4_ENS6}": Slow(
        "six twins one after the other (about 50 min); here the composed config",
        f"snnvis-train {V4_ENS6} --cfg job",
    ),
    f"snnvis-train -m {V4_WIDE}": Slow(
        "two wide twins one after the other (about 45 min); here the composed config",
        f"snnvis-train {V4_WIDE} --cfg job",
    ),
    # V1 time courses
    "snnvis-data import henaff2021_v1 --mirror ../shared/datasets": Slow(
        "reads the seven sessions' frames and PSTHs (about 90 s); here one session",
        "snnvis-data import henaff2021_v1 --mirror ../shared/datasets --only ay4_u001",
        real_data=True,
    ),
    "snnvis-train -m experiment=v1_psth seed=0,1,2": Slow(
        "SNN and twin, seeds 0-2, on seven V1 sessions at 96 px; tests/training/test_psth_target.py trains "
        "the psth target by default; here the composed config of one",
        "snnvis-train experiment=v1_psth seed=2 --cfg job",
    ),
    "snnvis-train -m experiment=v1_psth model.spiking=false trainer.ensemble=3": Slow(
        "trains the runs of seeds 0-2 again as members (about 8 min); tests/training/test_psth_target.py scores "
        "a psth ensemble; here the composed config",
        "snnvis-train experiment=v1_psth model.spiking=false trainer.ensemble=3 --cfg job",
    ),
    "snnvis-train -m +sweep=recurrence model=lorafb_tiny seed=0": Slow(
        "the feedback SNN and twin of seed 0 (about 90 min, one after the other); here the composed config",
        "snnvis-train +sweep=recurrence model=lorafb_tiny seed=0 --cfg job",
    ),
    "snnvis-train -m +sweep=recurrence seed=1": Slow(
        "the four runs of seed 1 (about 3 h on two cores); here the composed config of one",
        "snnvis-train +sweep=recurrence seed=1 model=lorafb_tiny model.spiking=true --cfg job",
    ),
    "python -m snnvis.training.summary multirun/recurrence --compare lorafb_tiny,sew_resnet_tiny": Slow(
        "needs the runs above", needs=("snnvis-train -m +sweep=recurrence seed=1",)
    ),
    "python -m snnvis.training.summary multirun/v1_psth": Slow(
        "needs the runs above", needs=("snnvis-train -m experiment=v1_psth model.spiking=false trainer.ensemble=3",)
    ),
    V1_COMPARE: Slow(
        "needs the runs above; tests/report/test_paired_report.py covers --compare on hand-made runs",
        needs=("snnvis-train -m +sweep=recurrence model=lorafb_tiny seed=0",),
    ),
    # Hénaff curvature
    "python -m snnvis.analysis.henaff_table recordings/henaff2021_v1/*.h5 --mirror ../shared/datasets": Slow(
        "imports the seven Hénaff sessions and estimates every sequence's curvature",
        "snnvis-data import henaff2021_v1 --mirror ../shared/datasets && "
        "python -m snnvis.analysis.henaff_table recordings/henaff2021_v1/*.h5 --mirror ../shared/datasets",
        real_data=True,
    ),
    # Speed
    "python scripts/benchmark.py similarity": Slow("minutes of timing on 2,000 × 5,000 features"),
    "python scripts/benchmark.py models --repeats 5": Slow("times every model's forward pass, five repeats"),
    "python scripts/benchmark.py train": Slow("times training epochs of every model"),
}


# ---------------------------------------------------------------------------------------
# Extraction
# ---------------------------------------------------------------------------------------

FENCE = re.compile(r"^```\s*(\w*)\s*$")
SHELL = {"bash", "sh", "shell", "console"}
INLINE = re.compile(r"`([^`\n]+)`")


def _strip_comment(line: str) -> str:
    """``line`` without a ``#`` comment that starts outside quotes after whitespace."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def readme_commands(text: str) -> list[tuple[int, str]]:
    """(line number, command) of every shell block line and "run this" inline command, in order."""
    out: list[tuple[int, str]] = []
    lines = text.splitlines()
    in_block, lang, pending, start = False, "", "", 0
    for no, line in enumerate(lines, 1):
        m = FENCE.match(line.strip())
        if m and not in_block:
            in_block, lang = True, m.group(1).lower()
            continue
        if m and in_block and not m.group(1):
            in_block = False
            continue
        if in_block:
            if lang not in SHELL:
                continue
            body = line.strip()
            if body.startswith("$ "):
                body = body[2:]
            if not pending:
                start = no
            if body.endswith("\\"):
                pending += body[:-1].rstrip() + " "
                continue
            cmd = _strip_comment(pending + body).strip()
            pending = ""
            if cmd:
                out.append((start, re.sub(r"\s+", " ", cmd)))
            continue
        for span in INLINE.findall(line):
            span = span.strip()
            if span.startswith(PROGRAMS) and " " in span:
                out.append((no, span))
    seen: set[str] = set()
    return [(no, c) for no, c in out if not (c in seen or seen.add(c))]


def _key(cmd: str) -> str:
    return re.sub(r"\s+", " ", _strip_comment(cmd)).strip()


ENTRIES = {_key(k): v for k, v in COMMANDS.items()}


def _readme() -> list[tuple[int, str]]:
    return readme_commands(README.read_text())


# ---------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------


def _setup_current() -> bool:
    stamp = ROOT / ".venv" / ".snnvis-installed"
    want = hashlib.sha256(
        b"".join((ROOT / p).read_bytes() for p in ("requirements.lock", "pyproject.toml", "scripts/setup.sh"))
    ).hexdigest()
    return stamp.is_file() and stamp.read_text().strip() == want


class Workspace:
    """A folder laid out like a checkout; each README command runs there at most once."""

    def __init__(self, base: Path):
        self.dir = base / "checkout"
        self.dir.mkdir(parents=True)
        for name in ("scripts", ".venv", "requirements.lock", "pyproject.toml"):
            if (ROOT / name).exists():
                (self.dir / name).symlink_to(ROOT / name)
        if DATASETS.is_dir():
            (base / "shared").mkdir()
            (base / "shared" / "datasets").symlink_to(DATASETS)
        self.env = dict(
            os.environ,
            PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            SNNVIS_DATA=str(self.dir / "recordings"),
            OMP_NUM_THREADS="1",
            PYTHONWARNINGS="ignore",
            MPLBACKEND="Agg",
        )
        self.done: dict[str, subprocess.CompletedProcess] = {}

    def command(self, key: str) -> str:
        entry = ENTRIES[key]
        return (key if entry.tiny == SAME else entry.tiny).replace("{root}", str(ROOT))

    def run(self, key: str, timeout: float = 900) -> subprocess.CompletedProcess:
        if key in self.done:
            return self.done[key]
        entry = ENTRIES[key]
        if entry.real_data and not DATASETS.is_dir():
            pytest.skip(f"needs the real datasets at {DATASETS} (set SNNVIS_SHARED_DATASETS)")
        for need in entry.needs:
            dep = self.run(_key(need), timeout)
            assert dep.returncode == 0, f"{need!r} (needed first) failed:\n{dep.stdout[-2000:]}\n{dep.stderr[-3000:]}"
        proc = subprocess.run(
            ["bash", "-c", self.command(key)],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        self.done[key] = proc
        return proc


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("readme"))


def _check(workspace: Workspace, key: str) -> None:
    if key.startswith(("bash scripts/", "bash .ci/")) and not _setup_current():
        pytest.skip(SETUP_STAMP)
    proc = workspace.run(key)
    assert proc.returncode == 0, (
        f"README command failed (rc {proc.returncode}): {key}\nran: {workspace.command(key)}\n"
        f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    )


def _params(kind) -> list:
    return [pytest.param(k, id=k[:60]) for k, v in ENTRIES.items() if isinstance(v, kind)]


# ---------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------


def test_extraction_joins_continuations_and_drops_comments():
    text = (
        "intro `snnvis-data list` and `snnvis-score` (no arguments: not a command)\n"
        "```bash\n"
        "snnvis-train a=1 \\\n"
        "             b='x # y'   # a comment\n"
        "# only a comment\n"
        "\n"
        "$ snnvis-report out\n"
        "```\n"
        "```\nplain output `snnvis-data no`\n```\n"
        "```python\nprint(1)\n```\n"
        "Then run `bash scripts/run.sh --synthetic`.\n"
    )
    assert readme_commands(text) == [
        (1, "snnvis-data list"),
        (3, "snnvis-train a=1 b='x # y'"),
        (7, "snnvis-report out"),
        (15, "bash scripts/run.sh --synthetic"),
    ]


def test_every_readme_command_is_listed():
    missing = [(no, c) for no, c in _readme() if c not in ENTRIES]
    assert not missing, (
        "README commands that tests/docs/test_readme_commands.py neither runs nor lists as slow; add each "
        "to COMMANDS (see the module docstring):\n" + "\n".join(f"  README.md:{no}: {c}" for no, c in missing)
    )


def test_no_stale_entries():
    present = {c for _, c in _readme()}
    stale = [k for k in ENTRIES if k not in present]
    assert not stale, "COMMANDS entries no longer in README.md (remove them):\n" + "\n".join(stale)


def test_the_readme_training_commands_are_covered_by_default():
    """The train → score → report path of the README runs in the default suite, not only under slow."""
    default = {k for k, v in ENTRIES.items() if isinstance(v, Run)}
    assert QUICKSTART_SWEEP in default and any(k.startswith("snnvis-report ") for k in default)
    assert any(k.startswith("snnvis-score 'checkpoint=") for k in default)


@pytest.mark.parametrize("key", _params(Run))
def test_readme_command(workspace, key):
    _check(workspace, key)
    if key.startswith("snnvis-score 'checkpoint="):
        run = workspace.dir / "multirun" / "quickstart" / "experiment=quickstart,model.spiking=True"
        assert list(run.glob("**/scores.csv")), "scores of a sweep run belong next to that run"
    if key.startswith("snnvis-report multirun/quickstart"):
        assert (workspace.dir / "multirun" / "quickstart" / "report" / "report.html").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("key", _params(Slow))
def test_readme_command_slow(workspace, key):
    _check(workspace, key)
