"""The --help texts: each app says what it does, lists the config groups that matter (never the
hidden ``_common``) with two examples, and every snnvis-data argument has help and its default."""

from __future__ import annotations

import argparse
import re
import string
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _help(app: str, *overrides: str) -> str:
    """The app's --help text as Hydra renders it (its template, the composed config's interpolations)."""
    from snnvis.config import compose

    cfg = compose(app, list(overrides), return_hydra_config=True)
    return string.Template(cfg.hydra.help.template).substitute(
        FLAGS_HELP="", HYDRA_CONFIG_GROUPS="", APP_CONFIG_GROUPS="", CONFIG=""
    )


def _groups(text: str) -> dict[str, list[str]]:
    block = text.split("== Config groups")[1].split("== Examples ==")[0]
    return {
        m[1]: m[2].split("  (")[0].split(", ") for m in re.finditer(r"^([+\w/]+): (.+)$", block, flags=re.MULTILINE)
    }


def _examples(text: str, app: str) -> list[str]:
    block = text.split("== Examples ==")[1]
    return [line for line in block.splitlines() if line.strip().startswith(app + " ")]


def test_train_help():
    text = _help("train")
    assert text.startswith("snnvis-train: fit one encoder") and "powered by Hydra" not in text
    groups = _groups(text)
    models = sorted(p.stem for p in (ROOT / "snnvis/conf/model").glob("*.yaml") if not p.stem.startswith("_"))
    assert groups["model"] == models and "_common" not in text
    assert {"experiment", "data", "readout", "trainer", "optimizer", "+sweep", "hydra/launcher"} <= set(groups)
    assert "quickstart" in groups["experiment"] and "snn_vs_dnn" in groups["+sweep"]
    assert len(_examples(text, "snnvis-train")) == 2
    assert "$SNNVIS_DATA" in text and "trainer.resume=true" in text


def test_score_help_lists_only_scoring_groups():
    text = _help("score")
    assert text.startswith("snnvis-score: every candidate layer") and "RUN/scores/" in text
    groups = _groups(text)
    assert list(groups) == ["model"] and "_common" not in text
    assert len(_examples(text, "snnvis-score")) == 2


def _run_app(monkeypatch, capsys, module, argv: list[str]) -> str:
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")  # restored afterwards (the app sets it)
    try:
        module.main()
    except SystemExit as exit_:
        assert exit_.code in (0, None)
    return capsys.readouterr().out


def test_app_help_with_a_user_config_dir(tmp_path, monkeypatch, capsys):
    """The real ``snnvis-train --help``; ``--config-dir``: a user's configs join the packaged ones
    (listed by --help, composed by name, the user's values over the packaged base)."""
    from snnvis.cli import train

    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "my_tiny.yaml").write_text("defaults:\n  - sew_resnet_tiny\n  - _self_\nstem_width: 3\n")
    monkeypatch.chdir(tmp_path)
    text = _run_app(monkeypatch, capsys, train, ["snnvis-train", "--config-dir", str(tmp_path), "--help"])
    assert text.startswith("snnvis-train: fit one encoder") and "my_tiny" in _groups(text)["model"]
    job = _run_app(
        monkeypatch, capsys, train, ["snnvis-train", "--config-dir", str(tmp_path), "model=my_tiny", "--cfg", "job"]
    )
    assert "stem_width: 3" in job and "widths:" in job


def _actions(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from ((f"{name} {a.dest}", a, sub) for a in sub._actions if a.dest != "help")
        elif action.dest != "help":
            yield action.dest, action, parser


def test_data_arguments_have_help_and_defaults():
    from snnvis.cli.data import build_parser
    from snnvis.recordings.root import data_root

    parser = build_parser()
    seen = set()
    for name, action, sub in _actions(parser):
        seen.add(name)
        assert action.help and action.help.strip(), f"{name} has no help"
        if action.default not in (None, False, []) and action.default is not argparse.SUPPRESS:
            text = "".join(sub.format_help().split())  # argparse may wrap inside a long path
            shown = str(action.default) if not isinstance(action.default, float) else f"{action.default:.1f}"
            assert f"(default:{shown})" in text, f"{name}: default {action.default!r} not shown"
    assert {"synth n_neurons", "synth frame_ms", "synth scene_clips", "import out", "info json"} <= seen
    imp = parser.parse_args(["import", "cowley2023_v4"])
    assert Path(imp.out) == data_root()  # snnvis-data import writes where the presets read


@pytest.mark.parametrize("cmd", [["--help"], ["synth", "--help"], ["info", "--help"]])
def test_data_help_runs(cmd, capsys):
    from snnvis.cli.data import main

    with pytest.raises(SystemExit) as exit_:
        main(cmd)
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: snnvis-data") and "None" not in out


def test_pretrain_help():
    text = _help("pretrain")
    assert text.startswith("snnvis-pretrain: train an encoder core") and "_common" not in text
    groups = _groups(text)
    assert groups["task_data"] == ["clips", "imagefolder"] and "readout" not in groups
    assert len(_examples(text, "snnvis-pretrain")) == 2


def test_perturb_help():
    text = _help("analysis/tsrsa_perturbations")
    assert text.startswith("snnvis-perturb: TSRSA of model layers") and "powered by Hydra" not in text
    models = sorted(p.stem for p in (ROOT / "snnvis/conf/model").glob("*.yaml") if not p.stem.startswith("_"))
    assert _groups(text) == {"model": models}
    assert len(_examples(text, "snnvis-perturb")) == 2
