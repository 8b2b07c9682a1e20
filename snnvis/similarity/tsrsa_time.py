"""Time-series RSA over temporal windows, its neuron split-half ceiling, and RSA per bin.

Huang et al. 2024 (NeurIPS, "Long-range feedback spiking network captures dynamic and
static representations of the visual cortex under movie stimuli") compare a model with
the brain on a movie by time-series RSA: the movie's time bins are cut into windows, an
RDM over the time points of each window is built from the population vectors (model
features or neurons), and model and brain RDMs are compared (Spearman); the score is the
mean over windows. :func:`tsrsa_windows` does this with :func:`snnvis.similarity.tsrsa`
on each window.

Ceiling (:func:`tsrsa_split_half_ceiling`): the recorded neurons are split into two
random halves, the TSRSA between the halves is Spearman-Brown corrected to the full
population, rho = 2 r / (1 + r), and rho is averaged over ``n_splits`` random splits. It
estimates the TSRSA between two independent populations of the recorded size. A model
identical to the data scores 1, above its ceiling; a noise-free ground-truth model scores
near rho where the data are reliable (synthetic latent trajectories with independent
noise: within about 10% at rho 0.65-0.85; at rho < 0.5 both scatter widely over a few
windows), so a score normalised by rho can exceed 1 and then reads "at ceiling".

:func:`rsa_per_bin` is the complementary time-resolved RSA: an RDM over stimuli at each
time bin, compared between model and brain bin by bin.
"""

from __future__ import annotations

import torch

from ._backend import dispatch, rng
from .ceilings import spearman_brown
from .compare import compare_rdms
from .rdm import rdm
from .tsrsa import tsrsa


def _windows(x: torch.Tensor, window: int | None, stride: int | None) -> torch.Tensor:
    """(..., frames, features) -> (..., n_windows, window, features)."""
    n = x.shape[-2]
    window = n if window is None else window
    stride = window if stride is None else stride
    if window < 3 or window > n or stride < 1:
        raise ValueError(f"need 3 <= window <= frames ({n}) and stride >= 1, got window {window}, stride {stride}")
    return x.unfold(-2, window, stride).transpose(-1, -2)


@dispatch("model_traj", "neural_traj")
def tsrsa_windows(
    model_traj,
    neural_traj,
    window: int | None = None,
    stride: int | None = None,
    rdm_method: str = "correlation",
    compare: str = "spearman",
    per_window: bool = False,
):
    """TSRSA over temporal windows.

    Args:
        model_traj: (frames, features) or (sequences, frames, features).
        neural_traj: (frames, neurons) or (sequences, frames, neurons), same frames.
        window: frames per window (>= 3); None uses the whole sequence as one window.
        stride: frames between window starts; None for non-overlapping windows (a last
            partial window is dropped).
        rdm_method, compare: as :func:`snnvis.similarity.tsrsa`.
        per_window: return every window's value instead of the mean.

    Returns:
        Mean over windows (and sequences) of the per-window TSRSA, or the
        (n_windows,) / (sequences, n_windows) values if ``per_window``.
    """
    if (
        model_traj.ndim not in (2, 3)
        or model_traj.shape[:-1] != neural_traj.shape[:-1]
        or model_traj.ndim != neural_traj.ndim
    ):
        raise ValueError(
            "trajectories must both be (frames, features) or (sequences, frames, features) "
            f"with the same frames; got {tuple(model_traj.shape)} and {tuple(neural_traj.shape)}"
        )
    a, b = _windows(model_traj, window, stride), _windows(neural_traj, window, stride)
    if not per_window:
        return tsrsa(a.reshape(-1, *a.shape[-2:]), b.reshape(-1, *b.shape[-2:]), rdm_method, compare)
    return compare_rdms(rdm(a, rdm_method), rdm(b, rdm_method), compare)


@dispatch("neural_traj")
def tsrsa_split_half_ceiling(
    neural_traj,
    window: int | None = None,
    stride: int | None = None,
    n_splits: int = 20,
    seed: int = 0,
    rdm_method: str = "correlation",
    compare: str = "spearman",
):
    """Neuron split-half ceiling of :func:`tsrsa_windows` (Huang et al. 2024).

    For each of ``n_splits`` random splits of the neurons into two halves (an odd neuron
    is left out), the TSRSA between the halves, Spearman-Brown corrected to the full
    population (2 r / (1 + r)); the ceiling is the mean over splits.

    Args:
        neural_traj: (frames, neurons) or (sequences, frames, neurons), >= 4 neurons.
        window, stride, rdm_method, compare: as :func:`tsrsa_windows`.
        n_splits: number of random splits; seed: their seed (numpy draws, so numpy and
            torch inputs see the same splits).

    Returns:
        Scalar ceiling (mean of the corrected split values).
    """
    n = neural_traj.shape[-1]
    if neural_traj.ndim not in (2, 3) or n < 4:
        raise ValueError(
            f"neural_traj must be (frames, neurons >= 4) or (sequences, frames, neurons >= 4), "
            f"got {tuple(neural_traj.shape)}"
        )
    generator = rng(seed)
    half = n // 2
    values = []
    for _ in range(n_splits):
        perm = torch.as_tensor(generator.permutation(n), device=neural_traj.device)
        a = neural_traj.index_select(-1, perm[:half])
        b = neural_traj.index_select(-1, perm[half : 2 * half])
        values.append(spearman_brown(tsrsa_windows(a, b, window, stride, rdm_method, compare)))
    return torch.stack(values).mean()


@dispatch("model", "neural")
def rsa_per_bin(model, neural, rdm_method: str = "correlation", compare: str = "spearman"):
    """RSA at each time bin: RDMs over stimuli per bin, compared between model and brain.

    Args:
        model: (stimuli, bins, features); neural: (stimuli, bins, neurons), same stimuli
            and bins.

    Returns:
        (bins,) similarity per bin.
    """
    if model.ndim != 3 or neural.ndim != 3 or model.shape[:2] != neural.shape[:2]:
        raise ValueError(
            f"model and neural must be (stimuli, bins, features) with the same stimuli and bins, "
            f"got {tuple(model.shape)} and {tuple(neural.shape)}"
        )
    return compare_rdms(rdm(model.transpose(0, 1), rdm_method), rdm(neural.transpose(0, 1), rdm_method), compare)
