"""Layer activations of an encoder on a recording's stimuli, streamed in batches.

The model to score is either a trained core (from a training run's checkpoint) or an
untrained one built from a ``snnvis/conf/model`` entry and a seed (:func:`load_encoder`).
:func:`extract_activations` runs the recording's stimuli through it in batches and keeps,
for every candidate layer (:meth:`~snnvis.models.core.EncoderCore.candidate_layers`),
float32 activity of shape ``(n_stimuli, T, features)``: the time axis is kept, one entry
per simulation step. Full feature maps are never held for all stimuli: a layer with more
than ``projection_dim`` features is projected batch by batch with the seeded Gaussian
matrix of :func:`snnvis.models.capture.layer_hooks` (the same matrix for every batch, so the
result does not depend on the batch size), and layers are grouped into passes over the
stimuli so that what is kept stays under a memory budget. :func:`reduce_time` averages a
window of steps, e.g. the model's static window for images, giving ``(n_stimuli, features)``.

Every forward of an :class:`~snnvis.models.core.EncoderCore` starts from reset neuron
states, so spiking and recurrent state never leaks from one batch into the next, and the
core runs in eval mode (batch-independent BatchNorm).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from snnvis.errors import UserError
from snnvis.models import EncoderCore, LayerSpec, build_encoder
from snnvis.models.capture import KINDS, layer_hooks, select_layers
from snnvis.models.model import calibrate_batchnorm, plain_config
from snnvis.models.neurons import set_backend_for
from snnvis.models.timing import response_window
from snnvis.recordings.dataset import resize_uint8
from snnvis.recordings.recording import Recording
from snnvis.utils import seed_everything

__all__ = [
    "ModelInfo",
    "calibrate_batchnorm",
    "extract_activations",
    "layer_feature_counts",
    "load_encoder",
    "prepare_core",
    "reduce_time",
    "resolve_device",
    "stimulus_batches",
    "time_window",
]


# ---------------------------------------------------------------------------------------
# Building or loading the model
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelInfo:
    """What is being scored: architecture ``name``, ``spiking``, ``seed``, ``source``
    (``"untrained"``, ``"checkpoint"``, ``"weights"``: ``model.weights``, or ``"external"``: a
    ``model=external`` module as its factory made it) and that file or factory (or None)."""

    name: str
    spiking: bool
    seed: int
    source: str
    checkpoint: str | None = None


def _find_run_config(checkpoint: Path) -> Path | None:
    """``.hydra/config.yaml`` of the training run a checkpoint belongs to (searching upwards)."""
    start = checkpoint if checkpoint.is_dir() else checkpoint.parent
    for folder in (start, *start.parents[:2]):
        if (folder / ".hydra" / "config.yaml").is_file():
            return folder / ".hydra" / "config.yaml"
    return None


def _core_state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The core's entries of a NeuralEncoderModel state dict (``core.`` prefix removed;
    a ``torch.compile`` wrapper's ``_orig_mod.`` prefix too)."""
    out = {}
    for key, value in state.items():
        if key.startswith("core."):
            key = key[len("core.") :]
            out[key[len("_orig_mod.") :] if key.startswith("_orig_mod.") else key] = value
    return out


def load_encoder(
    model_cfg: Mapping[str, Any] | None = None, checkpoint: str | Path | None = None, seed: int = 0
) -> tuple[EncoderCore, ModelInfo]:
    """The encoder core to score, in eval mode on the CPU, and what it is.

    Args:
        model_cfg: a ``snnvis/conf/model`` entry (``name``, ``spiking``, ...). With a
            checkpoint it is used only when the checkpoint's run has no
            ``.hydra/config.yaml``.
        checkpoint: a training run directory (``checkpoints/best.pt`` is loaded) or a
            ``.pt`` file written by the training loop (a dict whose ``"model"`` is the
            state dict of a :class:`~snnvis.models.NeuralEncoderModel`). The architecture
            is the training config saved in the checkpoint (``"config"``), never a YAML
            file that may have changed since; checkpoints without one fall back to the
            run's ``.hydra/config.yaml``. None: an untrained network initialised from ``seed``.
        seed: seeds Python, numpy and torch before the network is built. The returned
            info names the training run's seed instead when the checkpoint's run config
            has one (the weights come from that run, not from ``seed``).

    Raises:
        UserError: missing or unreadable checkpoint, a config that does not build, or a
            state dict that does not fit the architecture.
    """
    from omegaconf import OmegaConf

    ckpt_file, source, model_seed = None, "untrained", int(seed)
    if checkpoint is not None:
        path = Path(checkpoint)
        if not path.exists():
            raise UserError("checkpoint", "not found", path)
        ckpt_file = path / "checkpoints" / "best.pt" if path.is_dir() else path
        if not ckpt_file.is_file():
            raise UserError("checkpoint", "the run directory has no checkpoints/best.pt", path)
        try:
            saved = torch.load(ckpt_file, map_location="cpu", weights_only=False)
        except Exception as err:  # noqa: BLE001 - any unreadable file is the user's input
            raise UserError("checkpoint", f"cannot be read ({' '.join(str(err).split())})", ckpt_file) from None
        trained = saved.get("config") if isinstance(saved, dict) else None
        run_cfg = None if isinstance(trained, Mapping) else _find_run_config(path)
        if isinstance(trained, Mapping):  # the config the weights were trained with, saved with them
            model_cfg = trained.get("model")
            model_seed = int(trained.get("seed", seed))
        elif run_cfg is not None:  # older checkpoints: the training run's .hydra/config.yaml
            run = OmegaConf.load(run_cfg)
            model_cfg = run.get("model")
            model_seed = int(run.get("seed", seed))
        if model_cfg is None:
            raise UserError(
                "checkpoint",
                "no .hydra/config.yaml with a model section next to it; pass the "
                "training run directory, or give the architecture with model=<config>",
                path,
            )
        source = "checkpoint"
    if model_cfg is None:
        raise UserError("model", "no model config given")
    cfg = plain_config(model_cfg)
    if ckpt_file is not None:  # the checkpoint's weights replace any the run started from
        cfg.pop("weights", None)
    elif cfg.get("weights"):
        source = "weights"
    elif cfg.get("factory"):  # model=external: the factory's weights, whatever they are (no recalibration)
        source = "external"
    seed_everything(int(seed))
    try:
        core = build_encoder(**cfg)
    except (TypeError, ValueError) as err:
        raise UserError("model config", " ".join(str(err).split())) from None
    if ckpt_file is not None:
        state = saved.get("model") if isinstance(saved, dict) else None
        if not isinstance(state, Mapping):
            raise UserError("checkpoint", "has no 'model' state dict", ckpt_file)
        try:
            core.load_state_dict(_core_state(state))
        except RuntimeError as err:
            why = " ".join(str(err).split())
            raise UserError(
                "checkpoint", f"does not fit the {cfg.get('name')} architecture ({why[:300]})", ckpt_file
            ) from None
    core.eval()
    origin = {"checkpoint": ckpt_file, "weights": cfg.get("weights"), "external": cfg.get("factory")}.get(source)
    info = ModelInfo(
        str(cfg.get("name", type(core).__name__)),
        bool(core.spiking),
        model_seed,
        source,
        None if origin is None else str(origin),
    )
    return core, info


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; a CUDA device without CUDA is a UserError."""
    name = str(name)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("device", f"{name!r} requested but CUDA is not available")
    try:
        return torch.device(name)
    except RuntimeError as err:
        raise UserError("device", str(err)) from None


def prepare_core(core: EncoderCore, device: torch.device) -> EncoderCore:
    """Move ``core`` to ``device`` in eval mode and bind its neuron implementation there."""
    core = core.to(device).eval()
    set_backend_for(core, device)
    return core


# ---------------------------------------------------------------------------------------
# Stimuli
# ---------------------------------------------------------------------------------------


def _progress(iterable, total: int, desc: str, progress: bool | str):
    show = sys.stderr.isatty() if progress == "auto" else bool(progress)
    return tqdm(iterable, total=total, desc=desc, disable=not show, leave=False)


def stimulus_batches(
    rec: Recording, idx: Sequence[int] | np.ndarray, batch_size: int, size: int | None = None
) -> Iterator[torch.Tensor]:
    """uint8 (batch, frames, C, H, W) stimuli ``idx`` of ``rec``, read lazily batch by batch
    and resized to ``size`` (None keeps the recorded size)."""
    if not rec.has_pixels:
        raise UserError("recording", "has no images, so a model cannot be run on it", rec.path)
    idx = np.asarray(idx, dtype=np.int64)
    for start in range(0, len(idx), batch_size):
        pixels = torch.from_numpy(rec.stimuli(idx[start : start + batch_size]))  # (b, F, H, W, C)
        yield resize_uint8(pixels.permute(0, 1, 4, 2, 3).contiguous(), size)


@torch.no_grad()
# ---------------------------------------------------------------------------------------
# Extraction
# ---------------------------------------------------------------------------------------

def time_window(core: EncoderCore, n_frames: int) -> tuple[int, int]:
    """``(start, stop)`` steps averaged into one response per stimulus: the model's static
    window for images (``n_frames == 1``), all steps for a sequence."""
    return response_window(core.time, n_frames)


def reduce_time(activations: np.ndarray | torch.Tensor, window: tuple[int, int] | None = None):
    """Mean over the steps ``[start, stop)`` of (n_stimuli, T, features) -> (n_stimuli, features).

    ``window=None`` averages all steps. The result keeps the input's type and dtype.
    """
    if activations.ndim != 3:
        raise ValueError(f"activations must be (n_stimuli, T, features), got shape {tuple(activations.shape)}")
    start, stop = (0, activations.shape[1]) if window is None else window
    if not 0 <= start < stop <= activations.shape[1]:
        raise ValueError(f"time window {(start, stop)} outside the {activations.shape[1]} steps")
    return activations[:, start:stop].mean(1)


def _select_layers(core: EncoderCore, layers: Sequence[str] | None) -> list[LayerSpec]:
    try:
        return select_layers(core, layers)
    except ValueError as err:
        raise UserError("layers", str(err)) from None


@torch.no_grad()
def layer_feature_counts(
    core: EncoderCore, n_frames: int = 1, layers: Sequence[str] | None = None, device: torch.device | str = "cpu"
) -> dict[str, tuple[int, int]]:
    """Layer name -> (T, features) of the unprojected activity for one stimulus of ``n_frames``."""
    specs = _select_layers(core, layers)
    probe = torch.zeros(1, n_frames, core.in_channels, core.input_size, core.input_size, device=device)
    with layer_hooks(specs) as records:
        core(probe)
    return {name: (sum(c.shape[0] for c in chunks), chunks[0].shape[-1]) for name, chunks in records.items()}


def _plan_passes(
    counts: dict[str, tuple[int, int]],
    n_stimuli: int,
    projection_dim: int | None,
    keep_time: bool,
    max_memory_mb: float,
) -> list[list[str]]:
    """Group layers into passes whose kept activations fit ``max_memory_mb`` (float32).
    A layer bigger than the budget still gets a pass of its own."""
    budget = max_memory_mb * 2**20
    passes, current, used = [], [], 0.0
    for name, (steps, features) in counts.items():
        kept = min(features, projection_dim) if projection_dim else features
        size = 4.0 * n_stimuli * (steps if keep_time else 1) * kept
        if current and used + size > budget:
            passes.append(current)
            current, used = [], 0.0
        current.append(name)
        used += size
    if current:
        passes.append(current)
    return passes


@torch.no_grad()
def extract_activations(
    core: EncoderCore,
    rec: Recording,
    idx: Sequence[int] | np.ndarray | None = None,
    layers: Sequence[str] | None = None,
    kind: str = "spikes",
    projection_dim: int | None = 1000,
    seed: int = 0,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    window: tuple[int, int] | str | None = None,
    max_memory_mb: float = 4096,
    progress: bool | str = "auto",
    heartbeat=None,
) -> Iterator[tuple[LayerSpec, np.ndarray]]:
    """Stream the activity of each candidate layer of ``core`` on the stimuli ``idx`` of ``rec``.

    Args:
        core: encoder core (already on ``device``, in eval mode).
        rec: the recording whose stimuli (``rec.stimuli``) drive the model.
        idx: stimulus indices (default: all, in order).
        layers: candidate-layer names (default: all).
        kind: ``"spikes"`` (neuron outputs; ReLU outputs for a twin) or ``"membrane"``.
        projection_dim: layers with more features than this are projected to this many
            by the seeded Gaussian matrix of :mod:`snnvis.models.capture` (determined by
            ``seed`` and the layer name); smaller layers are kept as they are. None: no
            projection.
        seed: seed of the projection.
        batch_size: stimuli per forward pass.
        device: where the model runs; activations come back as CPU numpy arrays.
        window: None keeps the time axis; ``(start, stop)`` averages those steps per
            batch (:func:`reduce_time`); ``"model"`` uses :func:`time_window`.
        max_memory_mb: budget for the activations kept during one pass over the stimuli;
            layers are grouped into as few passes as fit (a large layer gets its own).
        progress: tqdm bar over batches: ``"auto"`` (when stderr is a terminal), True, False.
        heartbeat: a :class:`snnvis.progress.Heartbeat` told the stimuli done after each batch.

    Yields:
        ``(LayerSpec, activations)`` in depth order; activations are float32
        ``(n_stimuli, T, features)``, or ``(n_stimuli, features)`` with a ``window``.
    """
    if kind not in KINDS:
        raise UserError("kind", f"must be one of {list(KINDS)}, got {kind!r}")
    if projection_dim is not None and int(projection_dim) < 1:
        raise UserError("projection_dim", f"must be a positive integer or null, got {projection_dim}")
    device = torch.device(device)
    idx = np.arange(rec.n_stimuli) if idx is None else np.asarray(idx, dtype=np.int64)
    n_frames = rec.n_frames
    if window == "model":
        window = time_window(core, n_frames)
    specs = {s.name: s for s in _select_layers(core, layers)}
    if kind == "membrane" and any(s.membrane_module is None for s in specs.values()):
        blocks = [n for n, s in specs.items() if s.membrane_module is None]
        raise UserError(
            "layers",
            f"{blocks} are block outputs, not a neuron's output, and have no membrane "
            "potential; with kind=membrane name layers that are neuron outputs, or use kind=spikes",
        )
    counts = layer_feature_counts(core, n_frames, list(specs), device)
    passes = _plan_passes(counts, len(idx), projection_dim, window is None, max_memory_mb)
    for p, names in enumerate(passes):
        big = [specs[n] for n in names if projection_dim is not None and counts[n][1] > projection_dim]
        small = [specs[n] for n in names if specs[n] not in big]
        out: dict[str, np.ndarray] = {}
        desc = f"{rec.id}: activations" + (f" (pass {p + 1}/{len(passes)})" if len(passes) > 1 else "")
        n_batches = -(-len(idx) // batch_size)
        offset = 0
        batches = stimulus_batches(rec, idx, batch_size, core.input_size)
        with contextlib.ExitStack() as stack:  # hooks (and projection matrices) live for the whole pass
            records: dict[str, list[torch.Tensor]] = {}
            if big:
                records.update(stack.enter_context(layer_hooks(big, kind, int(projection_dim), seed)))
            if small:
                records.update(stack.enter_context(layer_hooks(small, kind, None, seed)))
            for batch in _progress(batches, n_batches, desc, progress):
                core(batch.to(device))
                for name, chunks in records.items():
                    act = torch.cat(chunks).float()  # (T, b, features)
                    chunks.clear()
                    if window is not None:
                        act = act[window[0] : window[1]].mean(0)  # (b, features)
                    else:
                        act = act.transpose(0, 1)  # (b, T, features)
                    act = act.cpu().numpy()
                    if name not in out:
                        out[name] = np.empty((len(idx), *act.shape[1:]), dtype=np.float32)
                    out[name][offset : offset + len(act)] = act
                offset += len(batch)
                if heartbeat is not None:
                    heartbeat.set(f"{desc}: {offset}/{len(idx)} stimuli")
        for name in names:
            yield specs[name], out.pop(name)
