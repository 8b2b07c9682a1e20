"""Compute accounting of an encoder core: MACs, spike rates, synaptic operations, wall time.

:func:`compute_report` runs one batch of stimuli through a core (SNN or ReLU twin) in
eval mode without gradients, with forward hooks on every convolution, linear layer and
neuron layer, and reports per layer and in total, **per image** (totals over the batch
divided by the batch size):

``macs``
    Multiply-accumulates of the dense computation. For a convolution one call costs
    ``out.numel() * in_channels / groups * prod(kernel_size)`` (the textbook count: every
    output element, padding positions included); for a linear layer ``out.numel() *
    in_features``. Convolutions see time folded into the batch (or one call per step), so
    the count is per step times ``T``. Bias additions, BatchNorm, pooling and the neuron
    updates are not counted. A twin and its SNN have identical MACs.
``input_rate``
    Mean input value of the layer: for spike inputs the events per input element per
    step (binary spikes: the fraction of 1s; a SEW ``ADD`` sum can carry 2 events).
``input_is_spikes``
    Whether the layer's input counts as spikes: only in a spiking core, and only when every
    input value is a non-negative integer (spikes, sums of spikes, max-pooled spikes).
    The first layer receives analog normalised pixels, so it is not spike driven.
``sops``
    Synaptic operations (Merolla et al. 2014; the convention of spikingjelly's and
    syops-counter's SOP counting): for a layer whose input is spikes, the number of input
    events times their fan-out, computed as ``macs * input_rate`` per call and summed over
    steps (it neglects that border inputs have a smaller fan-out under zero padding).
    Layers with analog input (the first layer) cost their full MACs, reported separately
    as ``analog_macs``; ``synaptic_ops = sops + analog_macs`` is the SNN's total.
    For a twin every layer is analog: ``sops`` is 0 and ``analog_macs == macs``.
``rate`` (neuron layers)
    Fraction of neuron outputs that are non-zero, over all steps and neurons: for a
    spiking neuron the spike rate per step (its outputs are 0 or 1), for a twin's ReLU its
    activation density. ``rate_per_step`` lists it per time step where the neuron sees
    the whole sequence at once (multi-step layout ``(T, B, ...)``).
``seconds_per_image``
    Wall time of one forward pass on the batch divided by the batch size, the median over
    ``repeats`` timed passes after one warm-up pass.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from typing import Any

import torch
from spikingjelly.activation_based import functional
from torch import nn

from ..models.neurons import SPIKING_NEURONS

__all__ = ["compute_report", "count_compute", "layer_macs"]

log = logging.getLogger(__name__)

_SYNAPTIC = (nn.modules.conv._ConvNd, nn.Linear)


def layer_macs(module: nn.Module, output: torch.Tensor, x: torch.Tensor | None = None) -> int:
    """Textbook MACs of one call of a convolution or linear ``module`` that produced ``output``; a
    transposed convolution (LoRaFB's feedback upsampling) scatters every element of its input ``x``
    over ``out_channels / groups`` channels and its kernel."""
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        if x is None:
            raise TypeError(f"a transposed convolution's MACs need its input: {module}")
        return x.numel() * (module.out_channels // module.groups) * math.prod(module.kernel_size)
    return output.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)


def _is_spikes(x: torch.Tensor) -> bool:
    return bool(x.numel()) and bool(((x >= 0) & (x == torch.round(x))).all())


class _Counter:
    """Forward hooks accumulating per-module counts over every call."""

    def __init__(self, model: nn.Module, spiking: bool, steps: int | None) -> None:
        self.spiking, self.steps = spiking, steps
        self.synapses: dict[str, dict[str, Any]] = {}
        self.neurons: dict[str, dict[str, Any]] = {}
        self.handles = []
        for name, module in model.named_modules():
            if isinstance(module, _SYNAPTIC):
                self.handles.append(module.register_forward_hook(self._synapse_hook(name or "<root>")))
            elif isinstance(module, SPIKING_NEURONS + (nn.ReLU,)):
                self.handles.append(module.register_forward_hook(self._neuron_hook(name or "<root>")))

    def _synapse_hook(self, name: str):
        def hook(module, inputs, output):
            x = inputs[0].detach()
            macs = layer_macs(module, output, x)
            rec = self.synapses.setdefault(
                name,
                {
                    "type": type(module).__name__,
                    "macs": 0,
                    "events": 0.0,
                    "inputs": 0,
                    "sops": 0.0,
                    "analog_macs": 0,
                    "spike_calls": 0,
                    "calls": 0,
                },
            )
            rec["macs"] += macs
            rec["calls"] += 1
            rec["inputs"] += x.numel()
            if self.spiking and _is_spikes(x):
                events = float(x.double().sum())
                rec["events"] += events
                rec["sops"] += macs * events / x.numel()
                rec["spike_calls"] += 1
            else:
                rec["analog_macs"] += macs
                rec["events"] += float(x.double().sum())

        return hook

    def _neuron_hook(self, name: str):
        def hook(module, inputs, output):
            y = output.detach()
            rec = self.neurons.setdefault(
                name, {"type": type(module).__name__, "active": 0, "outputs": 0, "per_step": None, "calls": 0}
            )
            rec["calls"] += 1
            nonzero = y != 0
            rec["active"] += int(nonzero.sum())
            rec["outputs"] += y.numel()
            if self.steps is not None and y.dim() >= 2 and y.shape[0] == self.steps:
                per_step = nonzero.flatten(1).double().mean(1)
                rec["per_step"] = per_step

        return hook

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def count_compute(
    model: nn.Module, inputs: torch.Tensor, batch_size: int, spiking: bool, steps: int | None = None
) -> dict[str, Any]:
    """Run ``model(inputs)`` once with hooks; counts per image (totals divided by ``batch_size``).

    ``spiking``: whether integer-valued inputs count as spikes (False for a twin).
    ``steps``: the number of time steps, for the per-step spike rates of multi-step neurons.
    Works on any module (a bare convolution included); :func:`compute_report` wraps it for cores.
    """
    counter = _Counter(model, spiking, steps)
    try:
        with torch.no_grad():
            model(inputs)
    finally:
        counter.remove()
    layers = {}
    for name, rec in counter.synapses.items():
        rate = rec["events"] / rec["inputs"] if rec["inputs"] else 0.0
        is_spikes = rec["spike_calls"] == rec["calls"]
        if 0 < rec["spike_calls"] < rec["calls"]:
            log.warning("%s: %d of %d calls had spike inputs", name, rec["spike_calls"], rec["calls"])
        layers[name] = {
            "type": rec["type"],
            "macs": rec["macs"] / batch_size,
            "input_rate": rate,
            "input_is_spikes": is_spikes,
            "sops": rec["sops"] / batch_size,
            "analog_macs": rec["analog_macs"] / batch_size,
        }
    neurons = {}
    for name, rec in counter.neurons.items():
        per_step = rec["per_step"] if rec["calls"] == 1 else None  # one step per call: no per-step split
        neurons[name] = {
            "type": rec["type"],
            "rate": rec["active"] / rec["outputs"] if rec["outputs"] else 0.0,
            "neurons_per_image": rec["outputs"] / batch_size / (steps or 1),
            "rate_per_step": None if per_step is None else [float(v) for v in per_step],
        }
    total_sops = sum(v["sops"] for v in layers.values())
    total_analog = sum(v["analog_macs"] for v in layers.values())
    active = sum(r["active"] for r in counter.neurons.values())
    outputs = sum(r["outputs"] for r in counter.neurons.values())
    total = {
        "macs": sum(v["macs"] for v in layers.values()),
        "sops": total_sops,
        "analog_macs": total_analog,
        "synaptic_ops": total_sops + total_analog,
        "rate": active / outputs if outputs else 0.0,
    }
    return {"layers": layers, "neurons": neurons, "total": total}


def _time_forward(core: nn.Module, stimuli: torch.Tensor, repeats: int) -> float:
    sync = torch.cuda.synchronize if stimuli.is_cuda else (lambda: None)
    times = []
    with torch.no_grad():
        for i in range(repeats + 1):
            sync()
            start = time.perf_counter()
            core(stimuli)
            sync()
            if i:  # the first pass warms up
                times.append(time.perf_counter() - start)
    return statistics.median(times) / stimuli.shape[0]


def compute_report(core: nn.Module, stimuli: torch.Tensor, repeats: int = 5) -> dict[str, Any]:
    """Per-layer and total MACs, spike rates, SOPs and wall time per image of ``core`` on ``stimuli``.

    ``core``: an :class:`~snnvis.models.core.EncoderCore` (SNN or twin); it runs in eval mode
    (BatchNorm's running statistics: calibrate an untrained core first) and its modes are
    restored after. ``stimuli``: (batch, frames, C, H, W). ``repeats``: timed passes.
    See the module docstring for the definitions.
    """
    if stimuli.dim() != 5:
        raise ValueError(f"stimuli must be (batch, frames, channels, H, W), got shape {tuple(stimuli.shape)}")
    spiking = bool(getattr(core, "spiking", any(isinstance(m, SPIKING_NEURONS) for m in core.modules())))
    steps = core.time.n_steps(stimuli.shape[1]) if hasattr(core, "time") else None
    modes = {m: m.training for m in core.modules()}
    core.eval()
    try:
        report = count_compute(core, stimuli, stimuli.shape[0], spiking, steps)
        report["total"]["seconds_per_image"] = _time_forward(core, stimuli, max(1, int(repeats)))
    finally:
        for m, training in modes.items():
            m.training = training
        functional.reset_net(core)
    report.update(
        {
            "spiking": spiking,
            "steps": steps,
            "batch_size": int(stimuli.shape[0]),
            "input_size": getattr(core, "input_size", None),
            "device": str(stimuli.device),
            "parameters": sum(p.numel() for p in core.parameters()),
        }
    )
    return report
