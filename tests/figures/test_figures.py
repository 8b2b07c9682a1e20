"""Every figure function on small inputs: a Figure with the expected panels, saved as PNG and PDF."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure
from scipy import stats

from snnvis.figures import (
    curvature_reproduction,
    kriegeskorte_rdms,
    prediction_accuracy,
    psth_examples,
    rank_transform,
    save_figure,
    similarity_heatmaps,
    tsrsa_shuffle,
)


def _saved(fig, tmp_path, name):
    assert isinstance(fig, Figure)
    paths = save_figure(fig, tmp_path / name)
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    for p in paths:
        assert p.stat().st_size > 1000
    return fig


def _runs(rng, models=("sew_resnet",), seeds=(0, 1, 2), n=20):
    records = []
    for model in models:
        for seed in seeds:
            base = rng.uniform(0, 0.6, n)
            ids = [f"s/n{i}" for i in range(n)]
            records.append(
                {
                    "model": model,
                    "spiking": True,
                    "seed": seed,
                    "neuron_ids": ids,
                    "pearson_r": base + rng.normal(0, 0.05, n),
                }
            )
            records.append(
                {
                    "model": model,
                    "spiking": False,
                    "seed": seed,
                    "neuron_ids": ids[::-1],
                    "pearson_r": base[::-1] + rng.normal(0, 0.05, n),
                }
            )
    return records


def test_prediction_accuracy(tmp_path):
    rng = np.random.default_rng(0)
    fig = _saved(prediction_accuracy(_runs(rng, models=("sew_resnet", "cornet_z"))), tmp_path, "pred")
    axes = fig.get_axes()
    assert len(axes) == 3  # two paired scatters + bars
    assert len(axes[0].collections[0].get_offsets()) == 60  # 20 neurons x 3 seeds
    assert len(axes[-1].patches) == 4  # SNN + twin bars per model
    assert "t-CI across seeds" in axes[-1].get_ylabel()


def test_prediction_accuracy_pairs_neurons_by_id():
    rng = np.random.default_rng(1)
    runs = _runs(rng, seeds=(0,), n=5)
    snn, twin = runs
    fig = prediction_accuracy(runs)
    xy = fig.get_axes()[0].collections[0].get_offsets()
    twin_r = dict(zip(twin["neuron_ids"], twin["pearson_r"]))
    assert np.allclose(xy[:, 0], [twin_r[i] for i in snn["neuron_ids"]])
    assert np.allclose(xy[:, 1], snn["pearson_r"])


def test_prediction_accuracy_needs_twins():
    rng = np.random.default_rng(2)
    only_snn = [r for r in _runs(rng) if r["spiking"]]
    with pytest.raises(ValueError, match="twin"):
        prediction_accuracy(only_snn)


def test_similarity_heatmaps(tmp_path):
    rng = np.random.default_rng(3)
    layers = [("layer4", 4), ("conv1", 0), ("layer2", 2)]
    rows = [
        {"layer": l, "depth": d, "area": a, "metric": m, "score": rng.uniform(), "normalized": rng.uniform()}
        for m in ("RSA", "CKA")
        for l, d in layers
        for a in ("V1", "V4")
    ]
    fig = _saved(similarity_heatmaps(rows, value="normalized"), tmp_path, "heat")
    panels = [ax for ax in fig.get_axes() if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["RSA", "CKA"]
    assert len(fig.get_axes()) == 3  # panels + one shared colour bar
    assert [t.get_text() for t in panels[0].get_yticklabels()] == ["conv1", "layer2", "layer4"]
    assert len(panels[0].texts) == 6  # annotated cells
    with pytest.raises(ValueError, match="two rows"):
        similarity_heatmaps(rows + rows[:1])
    silent = [dict(r, score=None) if r["layer"] == "layer4" else r for r in rows]  # e.g. a layer without spikes
    panel = next(ax for ax in similarity_heatmaps(silent).get_axes() if ax.get_title() == "RSA")
    texts = [t.get_text() for t in panel.texts]
    assert texts.count("n/a") == 2 and len(texts) == 6  # the layer stays, marked undefined
    assert [t.get_text() for t in panel.get_yticklabels()] == ["conv1", "layer2", "layer4"]


def test_psth_examples(tmp_path):
    rng = np.random.default_rng(4)
    t = np.arange(-45, 295, 10.0)
    resp = rng.poisson(5.0, size=(3, t.size, 5)).astype(float)  # 3 stimuli x bins x 5 neurons
    pred = resp + rng.normal(size=resp.shape)
    fig = _saved(
        psth_examples(pred, resp, t, [f"u{i}" for i in range(5)], ["a", "b", "c"], resp_sem=0 * resp + 0.3),
        tmp_path,
        "psth",
    )
    axes = np.reshape(fig.get_axes(), (5, 3))  # one row per neuron, one column per stimulus
    assert all(len(ax.lines) == 2 and len(ax.collections) == 1 for ax in axes.ravel())  # 2 curves + s.e.m. band
    assert [ax.get_title() for ax in axes[0]] == ["a", "b", "c"] and axes[1, 0].get_title() == ""
    assert axes[2, 0].get_ylabel().startswith("u2")
    r_21 = stats.pearsonr(pred[1, :, 2], resp[1, :, 2])[0]  # neuron 2, stimulus 1
    assert axes[2, 1].texts[0].get_text() == f"r = {r_21:.2f}"
    silent = psth_examples(np.ones_like(resp[0]), resp[0], t, list("abcde"), xlabel="bin")  # (bins, neurons)
    assert len(silent.get_axes()) == 5 and silent.get_axes()[0].texts[0].get_text() == "r = flat"
    assert silent.get_axes()[-1].get_xlabel() == "bin"
    with pytest.raises(ValueError):
        psth_examples(resp, resp, t[:-1], list("abcde"))
    with pytest.raises(ValueError):
        psth_examples(resp, resp, t, list("abcde"), resp_sem=resp[:2])


def test_curvature_reproduction(tmp_path):
    rng = np.random.default_rng(5)
    records = [
        {"category": c, "pixel_curvature": p, "v1_curvature": p + d, "delta": d, "frame_step": 1}
        for c, p0, d0 in (("natural", 95, -3), ("synthetic", 10, 60))
        for p, d in zip(rng.normal(p0, 5, 30), rng.normal(d0, 15, 30))
    ]
    authors = [
        {"category": r["category"], "pixel_curvature": r["pixel_curvature"], "delta": r["delta"] + 5} for r in records
    ]
    models = {"conv1": {"natural": [-20, -10], "synthetic": [5, 15]}, "layer4": {"natural": [0], "synthetic": [40]}}
    fig = _saved(curvature_reproduction(records, authors=authors, model_deltas=models), tmp_path, "curv")
    ax_sc, ax_d = fig.get_axes()
    assert len(ax_sc.collections) == 4  # snnvis + authors per category
    medians = [t.get_text() for t in ax_d.texts]
    assert len(medians) == 4 and all("°" in m for m in medians)
    fig2 = curvature_reproduction(records)
    assert len(fig2.get_axes()) == 2


def test_kriegeskorte_rdms(tmp_path):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(12, 4))
    brain = np.linalg.norm(x[:, None] - x[None], axis=-1)
    models = {"layer2": brain + rng.uniform(0, 1, brain.shape), "layer4": brain.copy()}
    fig = _saved(kriegeskorte_rdms(brain, models, {"layer2": 0.3, "layer4": 0.6}, (0.5, 0.7)), tmp_path, "rdm")
    axes = fig.get_axes()
    assert len(axes) == 5  # 3 RDMs + bars + colour bar
    bar = next(ax for ax in axes if ax.get_title().startswith("similarity"))
    assert len([p for p in bar.patches if p.get_height() in (0.3, 0.6)]) == 2
    with_ci = kriegeskorte_rdms(
        brain,
        models,
        {"layer2": 0.3, "layer4": 0.6},
        (0.5, 0.7),
        intervals={"layer2": (0.2, 0.5), "layer4": (0.55, 0.62)},
    )
    bar = next(ax for ax in with_ci.get_axes() if ax.get_title().startswith("similarity"))
    (segments,) = [c.get_segments() for c in bar.collections if len(c.get_segments()) == 2]
    np.testing.assert_allclose([seg[:, 1] for seg in segments], [[0.2, 0.5], [0.55, 0.62]])
    with pytest.raises(ValueError):
        kriegeskorte_rdms(brain, {"bad": brain[:5, :5]}, {}, (0, 1))


def test_rank_transform():
    d = np.array([[0, 3, 1], [3, 0, 2], [1, 2, 0]], dtype=float)
    r = rank_transform(d)
    assert np.allclose(r, r.T) and np.allclose(np.diag(r), 0)
    assert (r[0, 2], r[1, 2], r[0, 1]) == (0.0, 50.0, 100.0)


def test_tsrsa_shuffle(tmp_path):
    rng = np.random.default_rng(7)
    w = [1, 2, 4, 8]
    scores = {"snn": 0.5 - 0.05 * np.log2(w) + rng.normal(0, 0.01, (4, 4)), "dnn": np.full(4, 0.3)}
    fig = _saved(tsrsa_shuffle(w, scores), tmp_path, "tsrsa")
    (ax,) = fig.get_axes()
    assert len(ax.lines) == 2 and len(ax.collections) == 1  # a CI band only for the 2-D scores
    with pytest.raises(ValueError):
        tsrsa_shuffle(w, {"bad": np.zeros(3)})
