"""Reference score: ridge regression on the features of the same core, untrained.

A trained encoder is only interesting if it beats a linear readout of random features of
the same architecture. The untrained core (the trained run's own initial weights, with
BatchNorm statistics taken from the training stimuli) is run on every split; its output,
averaged over the static window and randomly projected, is regressed onto the responses
with ridge (penalty per neuron by closed-form leave-one-out on the training split only)
and scored on the test split exactly like the trained model.
"""

from __future__ import annotations

import numpy as np
import torch

from snnvis.models.capture import GaussianProjection
from snnvis.models.model import calibrate_batchnorm
from snnvis.models.timing import response_window
from snnvis.similarity import ridge_fit_predict
from snnvis.training.metrics import group_summaries, neuron_metrics

ALPHAS = tuple(10.0 ** np.arange(-2, 6))


@torch.no_grad()
def core_features(core, stimuli: torch.Tensor, device, batch_size: int, projection: GaussianProjection) -> np.ndarray:
    """(n, projection_dim) time-averaged, projected core output for uint8 stimuli (n, F, C, H, W)."""
    start, stop = response_window(core.time, 1)
    out = []
    for i in range(0, len(stimuli), batch_size):
        y = core(stimuli[i : i + batch_size].to(device))[start:stop].float().mean(0)  # (B, C, H, W)
        out.append(projection(y.flatten(1).cpu().double()))
    return torch.cat(out).numpy()


def random_core_baseline(
    initial_core, sessions, device, batch_size: int, seed: int, projection_dim: int = 2000
) -> dict:
    """Test-split summaries (the metrics.json layout) of ridge on untrained-core features."""
    core = initial_core.to(device)
    calibrate_batchnorm(
        core,
        (
            s.splits["train"].stimuli[i : i + batch_size]
            for s in sessions
            for i in range(0, len(s.splits["train"]), batch_size)
        ),
        device,
    )
    c, h, w = core.output_shape()
    projection = GaussianProjection(c * h * w, min(projection_dim, c * h * w), seed, "baseline")
    per_neuron, areas, ids = [], [], []
    for s in sessions:
        x = {k: core_features(core, s.splits[k].stimuli, device, batch_size, projection) for k in ("train", "test")}
        y = s.splits["train"].responses[:, 0].numpy().astype(np.float64)
        pred = ridge_fit_predict(x["train"], y, x["test"], ALPHAS)
        test = s.splits["test"]
        trials = None if test.trials is None else test.trials.numpy()
        per_neuron.append(neuron_metrics(np.asarray(pred)[:, None, :], test.responses.numpy(), trials, seed=seed))
        areas.append(s.recording.neuron_areas)
        ids.append(np.full(test.n_neurons, s.id))
    keys = sorted({k for m in per_neuron for k in m})
    merged = {k: np.concatenate([m.get(k, np.full(len(m["pearson_r"]), np.nan)) for m in per_neuron]) for k in keys}
    out = group_summaries(merged, np.concatenate(areas), np.concatenate(ids), seed=seed)
    out["method"] = (
        f"ridge (alpha per neuron by leave-one-out on the train split) on the untrained core's output, "
        f"averaged over steps {list(core.time.static_window())} and projected to "
        f"{projection.out_features} dims; BatchNorm statistics from the training stimuli"
    )
    return out
