"""SEW-ResNet: spike-element-wise residual networks (Fang et al., NeurIPS 2021).

Topology: a stem (conv-BN-neuron, optional max-pool), then stages of basic SEW blocks.
A block computes the residual branch ``A = SN(BN(conv(SN(BN(conv(S))))))`` and combines
it with its input spikes ``S`` (or ``SN(BN(conv1x1(S)))`` when the block changes stride or
width) by a connect function ``g(A, S)``:

``ADD``   ``A + S`` (default)
``AND``   ``A * S``       (logical AND on spikes)
``IAND``  ``(1 - A) * S`` (logical (NOT A) AND S on spikes)

The DNN twin (``spiking: false``) uses the same arithmetic forms on ReLU outputs, so its
AND/IAND blocks gate multiplicatively rather than logically (IAND can then produce
negative values). Stage ``i`` (1-based) downsamples by 2 except the first.

Candidate layers are block outputs, the tensors the next block and the readout receive:
``stem.out`` (the stem after its pool, area V1) and ``stage<i>.block<j>.out``, the
connect function's output ``g(A, S)`` (not the residual branch ``A``; with ``ADD`` it
counts up to 2 spikes per step). A block output has no membrane potential; ``stem.out``
has one (its neuron's) only without the stem pool. Stage areas are a guess that spreads the stages over V2, V4 and
IT: stage ``i`` of ``n`` models ``(V1, V2, V4, IT)[round(3 * i / n)]`` (three stages:
V2, V4, IT; four: V2, V4, V4, IT).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from .blocks import conv_norm, max_pool
from .core import AREAS, EncoderCore, LayerSpec
from .registry import register_encoder

__all__ = ["CONNECT_FUNCTIONS", "SEWBlock", "SEWResNet", "SEWStem", "stage_area"]


def _add(a: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    return a + s


def _and(a: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    return a * s


def _iand(a: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    return (1.0 - a) * s


CONNECT_FUNCTIONS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "ADD": _add,
    "AND": _and,
    "IAND": _iand,
}


def stage_area(stage: int, n_stages: int) -> str:
    """Visual area guessed for 1-based ``stage`` of ``n_stages`` (the stem is V1)."""
    return AREAS[min(len(AREAS) - 1, max(1, round(3 * stage / n_stages)))]


class SEWStem(nn.Module):
    """conv(k, stride)-BN-neuron, then max-pool 3/2 if ``pool``: (T, B, C, H, W) -> (T, B, width, H', W')."""

    def __init__(
        self, in_channels: int, width: int, kernel_size: int, stride: int, pool: bool, neuron: nn.Module
    ) -> None:
        super().__init__()
        self.conv = conv_norm(in_channels, width, kernel_size, stride)
        self.sn = neuron
        self.pool = max_pool() if pool else nn.Identity()

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return self.pool(self.sn(self.conv(x_seq)))


class SEWBlock(nn.Module):
    """Basic SEW block: (T, B, in_channels, H, W) -> (T, B, out_channels, H/stride, W/stride)."""

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, connect: str, make_neuron: Callable[[], nn.Module]
    ) -> None:
        super().__init__()
        if connect not in CONNECT_FUNCTIONS:
            raise ValueError(f"unknown SEW connect function {connect!r}; expected one of {sorted(CONNECT_FUNCTIONS)}")
        self.connect = connect
        self.conv1 = conv_norm(in_channels, out_channels, 3, stride)
        self.sn1 = make_neuron()
        self.conv2 = conv_norm(out_channels, out_channels, 3)
        self.sn2 = make_neuron()
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(conv_norm(in_channels, out_channels, 1, stride), make_neuron())

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        identity = x_seq if self.downsample is None else self.downsample(x_seq)
        out = self.sn2(self.conv2(self.sn1(self.conv1(x_seq))))
        return CONNECT_FUNCTIONS[self.connect](out, identity)


@register_encoder("sew_resnet")
class SEWResNet(EncoderCore):
    """SEW-ResNet core: stimuli -> last stage's output (T, B, widths[-1], H', W').

    ``stem_width``/``stem_kernel``/``stem_stride``/``stem_pool``: the stem (ImageNet
    style: 64, 7, 2, true; small inputs: 3, 1, false). ``widths``/``blocks``: channels and
    number of SEW blocks per stage. ``connect``: ADD, AND or IAND. Other keys: see
    :class:`~snnvis.models.core.EncoderCore`.
    """

    TINY = {
        "stem_width": 4,
        "stem_kernel": 3,
        "stem_stride": 1,
        "stem_pool": False,
        "widths": [4, 8, 8],
        "blocks": [1, 1, 1],
    }

    def __init__(
        self,
        *,
        stem_width: int = 64,
        stem_kernel: int = 7,
        stem_stride: int = 2,
        stem_pool: bool = True,
        widths: Sequence[int] = (64, 128, 256, 512),
        blocks: Sequence[int] = (2, 2, 2, 2),
        connect: str = "ADD",
        **common,
    ) -> None:
        super().__init__(**common)
        if len(widths) != len(blocks) or not widths:
            raise ValueError(f"widths {list(widths)} and blocks {list(blocks)} must be non-empty and of equal length")
        if any(n < 1 for n in blocks):
            raise ValueError(f"every stage needs at least one block, got blocks {list(blocks)}")
        self.stem_width, self.widths = int(stem_width), [int(w) for w in widths]
        self.stem = SEWStem(self.in_channels, stem_width, stem_kernel, stem_stride, stem_pool, self.make_neuron())
        stages, in_channels = [], stem_width
        for i, (width, n_blocks) in enumerate(zip(widths, blocks)):
            stage = [SEWBlock(in_channels, width, 1 if i == 0 else 2, connect, self.make_neuron)]
            stage += [SEWBlock(width, width, 1, connect, self.make_neuron) for _ in range(n_blocks - 1)]
            stages.append(nn.Sequential(*stage))
            in_channels = width
        self.stages = nn.ModuleList(stages)

    def encode(self, x_seq: torch.Tensor) -> torch.Tensor:
        x = self.stem(x_seq)
        for stage in self.stages:
            x = stage(x)
        return x

    def candidate_layers(self) -> list[LayerSpec]:
        stem_neuron = self.stem.sn if isinstance(self.stem.pool, nn.Identity) else None
        layers = [LayerSpec("stem.out", 0, "V1", self.stem, stem_neuron)]
        for i, stage in enumerate(self.stages, start=1):
            area = stage_area(i, len(self.stages))
            for j, block in enumerate(stage):
                layers.append(LayerSpec(f"stage{i}.block{j}.out", len(layers), area, block))
        return layers
