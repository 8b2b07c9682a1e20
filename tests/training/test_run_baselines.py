"""metrics.json carries the leakage baseline (pixel lookup) beside the ridge baseline, and the
per-session noise ceilings wherever the recording has repeats."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from scipy.stats import pearsonr
from training_helpers import TINY, compose_train, recordings_override

from snnvis.recordings.recording import Recording
from snnvis.training import loop


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_recordings):
    run_dir = tmp_path_factory.mktemp("baselines") / "run"
    cfg = compose_train(
        [*TINY, recordings_override(tiny_recordings), "trainer.max_epochs=1", "baseline=true", "model.spiking=false"]
    )  # the twin: a non-constant prediction, so r2_er is defined
    return loop.run(cfg, run_dir, model_label="sew_resnet_tiny"), run_dir, tiny_recordings


def _lookup_r(path) -> np.ndarray:
    """Independent pixel lookup: nearest training image by Pearson r of the pixels, then r per neuron."""
    rec = Recording(path)
    tr, te = rec.split("train"), rec.split("test")
    x_tr = rec.stimuli(tr).reshape(len(tr), -1).astype(float)
    x_te = rec.stimuli(te).reshape(len(te), -1).astype(float)
    sim = np.corrcoef(x_te, x_tr)[: len(te), len(te) :]
    pred = rec.mean(None, tr)[sim.argmax(1)].reshape(len(te), -1, rec.n_neurons)
    target = rec.mean(None, te).reshape(len(te), -1, rec.n_neurons)
    return np.array([pearsonr(pred[..., k].ravel(), target[..., k].ravel())[0] for k in range(rec.n_neurons)])


def test_lookup_baseline_beside_the_ridge_baseline(finished):
    metrics, _, paths = finished
    assert {"baseline", "baseline_lookup"} <= set(metrics)
    look = metrics["baseline_lookup"]
    assert set(look["sessions"]) == set(metrics["baseline"]["sessions"]) == {"a", "b"}
    per_session = {Recording(p).id: _lookup_r(p) for p in paths}
    for sid, r in per_session.items():
        assert look["sessions"][sid]["pearson_r_median"] == pytest.approx(float(np.median(r)), abs=1e-6)
        assert look["sessions"][sid]["n_neurons"] == len(r)
    allr = np.concatenate(list(per_session.values()))
    assert look["overall"]["pearson_r_median"] == pytest.approx(float(np.median(allr)), abs=1e-6)


def test_per_session_ceilings_where_there_are_repeats(finished):
    metrics, run_dir, _ = finished
    with h5py.File(run_dir / "predictions.h5", "r") as f:
        for sid in ("a", "b"):
            s = metrics["test"]["sessions"][sid]
            for key in ("reliability", "r2_er", "reliability_split_half"):
                assert s[f"{key}_median"] is not None
                assert s[f"{key}_median"] == pytest.approx(float(np.nanmedian(f[f"{sid}/metrics/{key}"][()])))
            # equal repeat counts: the reliability of the mean is the Spearman-Brown split-half value
            np.testing.assert_allclose(
                f[f"{sid}/metrics/reliability"][()],
                f[f"{sid}/metrics/reliability_split_half"][()],
                rtol=1e-5,
                atol=1e-6,
            )
            np.testing.assert_allclose(
                f[f"{sid}/metrics/pearson_r_corrected"][()],
                f[f"{sid}/metrics/pearson_r"][()] / np.sqrt(f[f"{sid}/metrics/reliability"][()]),
                rtol=1e-5,
            )
