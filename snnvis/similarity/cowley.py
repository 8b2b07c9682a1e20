"""Single-neuron noise ceilings exactly as Cowley et al. compute them for their V4 data.

Cowley, Stan, Pillow & Smith, "Compact deep neural network models of visual cortex"
(github.com/cowleygroup/V4_compact_models, ``compute_r2_ER`` and ``compute_brain_score``
/ ``split_responses`` of their linear-mapping classes). Responses are NaN-padded repeats:
an image with fewer repeats has trailing NaNs. Their conventions, kept here so that
values can be compared with the paper:

* **Split-half reliability**: each image's valid repeats are permuted at random and
  split into two halves of floor(n/2) repeats; the half means are correlated across
  images per neuron; the correlation is averaged over 50 runs and Spearman-Brown
  corrected, 2r / (1 + r). Images with fewer than 2 repeats cannot be split; here they
  are left out of the correlation (in the authors' code they would make it NaN).
* **r2_ER** (Pospisil & Bair 2021) with a single repeat count for all images: the
  *median* over images of the number of valid repeats, and sigma^2 the mean over images
  (with >= 2 repeats) of the unbiased variance across repeats:

      r2_ER = [(x.y)^2 - sigma^2 / n |x|^2] / [|x|^2 |y|^2 - sigma^2 / n (m - 1) |x|^2]

  with x the prediction and y the repeat mean, both centred over the m images.
  :func:`snnvis.similarity.noise_corrected_r2` is the same estimator with each image's
  own repeat count; the two agree when every image has the same number of repeats.

Duplicated images whose copies are independent repeat-averages (Cowley session 190925)
enter as stimuli with 2 "repeats" and NaN elsewhere.
"""

from __future__ import annotations

import torch

from ._backend import dispatch
from .ceilings import check_trials, split_half_reliability, trial_stats

N_RUNS = 50


@dispatch("trials")
def cowley_split_half(trials, n_runs: int = N_RUNS, seed: int = 0):
    """Spearman-Brown corrected split-half reliability per neuron (Cowley et al.'s
    convention, see the module docstring). ``trials``: (stimuli, repeats, neurons)."""
    return split_half_reliability(trials, n_splits=n_runs, seed=seed)


@dispatch("pred", "trials")
def cowley_r2_er(pred, trials):
    """r2_ER per neuron with the median repeat count (Cowley et al.'s ``compute_r2_ER``).

    Args:
        pred: (stimuli, neurons) predictions.
        trials: (stimuli, repeats, neurons), NaN-padded; every stimulus needs >= 1 valid
            repeat. The repeat count is taken from the first neuron, as in their code.

    Returns:
        (neurons,) r2_ER (can fall outside [0, 1]).
    """
    check_trials(trials, pred)
    stats = trial_stats(trials)
    if bool((stats.count < 1).any()):
        raise ValueError("every stimulus needs at least one valid repeat")
    n = torch.quantile(stats.count[:, 0], 0.5)
    m = trials.shape[0]
    sigma2 = torch.nanmean(stats.var, dim=0)
    x = pred - pred.mean(0)
    y = stats.mean - stats.mean.mean(0)
    ss_x = (x * x).sum(0)
    numerator = (x * y).sum(0) ** 2 - sigma2 / n * ss_x
    denominator = ss_x * (y * y).sum(0) - sigma2 / n * (m - 1) * ss_x
    return numerator / denominator
