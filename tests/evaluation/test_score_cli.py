"""``snnvis-score`` end to end on real recordings (Cowley V4, Kriegeskorte IT) and its
failure modes."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from snnvis.cli import score as score_cli
from snnvis.errors import UserError
from snnvis.evaluation.pipeline import CSV_COLUMNS
from snnvis.recordings.format import write_recording
from snnvis.recordings.synthetic import SynthConfig, generate_recording

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["stem.out", "stage1.block0.out", "stage2.block0.out", "stage3.block0.out"]
QUICK = ["projection_dim=64", "n_boot=50", "bn_calibration_stimuli=64", "batch_size=100"]


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def check_outputs(run_dir: Path, spiking: bool, metrics: list[str], areas: list[str]) -> list[dict]:
    rows = read_csv(run_dir / "scores.csv")
    assert set(CSV_COLUMNS) <= set(rows[0])
    keys = {(r["layer"], r["area"], r["metric"], r["split"]) for r in rows}
    assert keys == {(l, a, m, s) for l in LAYERS for a in areas for m in metrics for s in ("selection", "test")}
    assert len(rows) == len(keys)
    for r in rows:
        assert r["model"] == "sew_resnet" and r["spiking"] == str(spiking) and r["source"] == "untrained"
        assert r["seed"] == "0" and r["selection"] == "held_out (chosen on train+validation)"
        score = float(r["score"])
        assert math.isfinite(score) and -1 <= score <= 1, r
        if r["split"] == "test":
            assert float(r["ci_low"]) <= score <= float(r["ci_high"]), r
    best = json.loads((run_dir / "scores.json").read_text())
    assert best["model"]["spiking"] is spiking and best["model"]["source"] == "untrained"
    assert {(b["area"], b["metric"]) for b in best["best"]} == {(a, m) for a in areas for m in metrics}
    for b in best["best"]:
        assert b["layer"] in LAYERS and b["n_stimuli"] > 0
        (row,) = [
            r
            for r in rows
            if r["layer"] == b["layer"]
            and r["metric"] == b["metric"]
            and r["area"] == b["area"]
            and r["split"] == "test"
        ]
        assert row["chosen"] == "True" and float(row["score"]) == pytest.approx(b["score"])
        assert b["ci_low"] <= b["score"] <= b["ci_high"]
    return rows


def test_cowley_untrained_snn(cowley, compose_score, tmp_path, capsys):
    cfg = compose_score(f"recordings=[{cowley}]", "metrics=[rsa,cka,ridge]", *QUICK)
    result = score_cli.run(cfg, tmp_path)
    rows = check_outputs(tmp_path, True, ["rsa", "cka", "ridge"], ["V4"])
    assert {r["recording"] for r in rows} == {"cowley2023_v4/210305"}
    assert {r["n_neurons"] for r in rows} == {"70"}
    # 210305 has no single trials: no ceilings, said so
    assert all(r["ceiling"] == "nan" and r["ceiling_kind"] == "none" for r in rows)
    # every test stimulus is scored, silent ones included; the silent share is reported per layer
    from snnvis.recordings.recording import Recording

    assert {int(r["n_stimuli"]) for r in rows if r["split"] == "test"} == {len(Recording(cowley).split("test"))}
    assert all(0 <= float(r["silent_fraction"]) <= 1 for r in rows)
    table = capsys.readouterr().out
    assert "held_out (chosen on train+validation)" in table and "best layer" in table
    assert sum(line.startswith("cowley2023_v4/210305  V4") for line in table.splitlines()) == 3
    assert len(result.best) == 3


def test_cowley_dnn_twin_console_entry(cowley, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "snnvis-score",
            f"recordings=[{cowley}]",
            "metrics=[rsa,cka,ridge]",
            "model.spiking=false",
            "model.stem_width=4",
            "model.widths=[4,8,8]",
            "model.input.size=32",
            "model.time.static_steps=3",
            "progress=false",
            f"hydra.run.dir={tmp_path}",
            *QUICK,
        ],
    )
    score_cli.main()
    check_outputs(tmp_path, False, ["rsa", "cka", "ridge"], ["V4"])
    assert (tmp_path / ".hydra" / "config.yaml").is_file()
    assert "DNN twin" in capsys.readouterr().out


def test_kriegeskorte_reference_rdms(kriegeskorte, compose_score, tmp_path):
    cfg = compose_score(
        f"recordings=[{kriegeskorte}]", "metrics=[rsa,ridge]", "layers=[stem.out,stage3.block0.out]", *QUICK
    )
    result = score_cli.run(cfg, tmp_path)
    rows = read_csv(tmp_path / "scores.csv")
    assert {(r["target"], r["area"], r["metric"]) for r in rows} == {
        ("human_IT", "IT", "rsa"),
        ("monkey_IT", "IT", "rsa"),
    }
    assert any("ridge" in note and "reference RDM" in note for note in result.skipped)
    test = {(r["target"], r["layer"]): r for r in rows if r["split"] == "test"}
    for layer in ("stem.out", "stage3.block0.out"):
        human, monkey = test[("human_IT", layer)], test[("monkey_IT", layer)]
        assert math.isfinite(float(human["score"])) and math.isfinite(float(monkey["score"]))
        # human IT: 4 subjects (2 sessions each) give the noise ceiling; monkey IT has none
        lower, upper = float(human["ceiling_lower"]), float(human["ceiling"])
        assert 0 < lower < upper < 1 and "4 subject RDMs" in human["ceiling_kind"]
        assert float(human["normalized"]) == pytest.approx(float(human["score"]) / upper)
        assert monkey["ceiling"] == "nan" and monkey["n_neurons"] == "674"
        assert int(human["n_stimuli"]) == 18  # the test split of the 92 images
    best = json.loads((tmp_path / "scores.json").read_text())["best"]
    assert {(b["target"], b["metric"]) for b in best} == {("human_IT", "rsa"), ("monkey_IT", "rsa")}


def test_trained_checkpoint(tmp_path, compose_score):
    """A training run directory: architecture from its .hydra/config.yaml, weights from
    checkpoints/best.pt; BatchNorm statistics are the trained ones (no calibration)."""
    import torch
    from omegaconf import OmegaConf

    from snnvis.models import build_model

    rec = write_recording(tmp_path / "synth.h5", generate_recording(SynthConfig(n_stimuli=60, n_neurons=6)))
    from snnvis.config import compose

    train_cfg = compose_score("model.spiking=true")  # the score section is typed: the readout comes on its own
    model = build_model(train_cfg.model, compose(None, ["+readout=gaussian"]).readout, {"synth": 6})
    run = tmp_path / "train_run"
    (run / ".hydra").mkdir(parents=True)
    OmegaConf.save(OmegaConf.create({"model": OmegaConf.to_container(train_cfg.model)}), run / ".hydra/config.yaml")
    (run / "checkpoints").mkdir()
    torch.save({"model": model.state_dict(), "epoch": 1, "score": 0.1}, run / "checkpoints" / "best.pt")
    # the score config's own model group (a twin here) is overridden by the run's config
    cfg = compose_score(
        f"checkpoint={run}", f"recordings=[{rec}]", "metrics=[rsa,ridge]", "model.spiking=false", *QUICK
    )
    result = score_cli.run(cfg, tmp_path / "out")
    assert result.model.source == "checkpoint" and result.model.spiking is True
    rows = read_csv(tmp_path / "out" / "scores.csv")
    assert len(rows) == len(LAYERS) * 2 * 2
    assert {r["source"] for r in rows} == {"checkpoint"}
    assert {r["checkpoint"] for r in rows} == {str(run / "checkpoints" / "best.pt")}
    saved = json.loads((tmp_path / "out" / "scores.json").read_text())
    assert saved["settings"]["bn_calibration"] is False and saved["model"]["source"] == "checkpoint"


def test_missing_checkpoint_is_one_line_exit_2(tmp_path):
    rec = write_recording(tmp_path / "synth.h5", generate_recording(SynthConfig(n_stimuli=40, n_neurons=4)))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "snnvis.cli.score",
            f"checkpoint={tmp_path / 'nope'}",
            f"recordings=[{rec}]",
            f"hydra.run.dir={tmp_path / 'out'}",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "Triton" not in line and line.strip()]
    assert lines == [f"snnvis: error: checkpoint in {tmp_path / 'nope'}: not found"]
    assert not (tmp_path / "out" / "scores.csv").exists()


def test_bad_input_errors(tmp_path, compose_score):
    data = generate_recording(SynthConfig(n_stimuli=40, n_neurons=4))
    rec = write_recording(tmp_path / "synth.h5", data)
    data.pixels = None
    blind = write_recording(tmp_path / "blind.h5", data)
    cases = [
        ([f"recordings=[{rec}]", "metrics=[rsa,brainscore]"], "unknown metric"),
        ([f"recordings=[{blind}]"], "has no images"),
        (["recordings=[]"], "no recordings"),
        ([f"recordings=[{tmp_path / 'missing.h5'}]"], "file not found"),
        ([f"recordings=[{rec}]", "layers=[stem.out,fc9]"], "unknown layer"),
        ([f"recordings=[{rec}]", "selection=best_on_test"], "selection"),
    ]
    for overrides, message in cases:
        with pytest.raises(UserError, match=message):
            score_cli.run(compose_score(*overrides), tmp_path / "out")
    assert not (tmp_path / "out").exists()
