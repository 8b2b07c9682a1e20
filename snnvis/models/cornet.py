"""CORnet-style encoders (Kubilius et al. 2018, 2019): areas V1 -> V2 -> V4 -> IT.

All three share :class:`CORnet` (four areas of configurable ``widths``, one candidate
layer per area, named after it: the area's output, the tensor the next area and the
readout receive) and differ in the area block. For CORnet-RT and CORnet-S that is the
output of the area's last neuron (CORnet-S adds its skip before that neuron), whose
membrane potential is then the layer's; CORnet-Z's area output is its neuron's output
after the max-pool, which has no membrane potential:

``cornet_z``   feedforward: conv-BN-neuron-maxpool per area.
``cornet_rt``  within-area recurrence over simulation steps,
               ``state_t = neuron(BN(conv_in(x_t) + conv_rec(state_{t-1})))``, with
               ``state_{-1} = 0`` and ``x_t`` the previous area's output at the same step.
``cornet_s``   CORnet-S-like: V1 is a two-conv stem; V2, V4 and IT are bottleneck
               blocks applied ``repeats`` times within each step with shared
               convolution weights and per-repeat BatchNorms (the first repeat
               downsamples and uses a 1x1 conv skip). Each repeat has its own neurons,
               whose states carry over simulation steps.

``norm: false`` removes the BatchNorms (the convolutions then get biases). The twins
(``spiking: false``) keep every recurrence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import conv_norm, max_pool, seq_apply
from .core import AREAS, EncoderCore, LayerSpec
from .registry import register_encoder

__all__ = [
    "CORBlockRT",
    "CORBlockS",
    "CORBlockZ",
    "CORStemS",
    "CORnet",
    "CORnetRT",
    "CORnetS",
    "CORnetZ",
    "ConvAreaCORnet",
]


class CORBlockZ(nn.Module):
    """conv-BN-neuron-maxpool: (T, B, C_in, H, W) -> (T, B, C_out, H/(2*stride), W/(2*stride))."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int, norm: bool, neuron: nn.Module
    ):
        super().__init__()
        self.conv = conv_norm(in_channels, out_channels, kernel_size, stride, norm)
        self.sn = neuron
        self.pool = max_pool()

    output_is_neuron = False  # the area's output is its neuron's output max-pooled

    @property
    def output_neuron(self) -> nn.Module:
        return self.sn

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return self.pool(self.sn(self.conv(x_seq)))


class CORBlockRT(nn.Module):
    """Recurrent area: (T, B, C_in, H, W) -> (T, B, C_out, H/stride, W/stride), stepped over T."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int, norm: bool, neuron: nn.Module
    ):
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, bias=not norm)
        self.conv_rec = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.norm = nn.BatchNorm2d(out_channels) if norm else nn.Identity()
        self.sn = neuron

    output_is_neuron = True

    @property
    def output_neuron(self) -> nn.Module:
        return self.sn

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        drive = seq_apply(self.conv_in, x_seq)  # the feedforward input for all steps at once
        state, states = None, []
        for x_t in drive:
            if state is not None:
                x_t = x_t + self.conv_rec(state)
            state = self.sn(self.norm(x_t).unsqueeze(0))[0]
            states.append(state)
        return torch.stack(states)


class CORBlockS(nn.Module):
    """CORnet-S bottleneck area: (T, B, C_in, H, W) -> (T, B, C_out, H/2, W/2).

    ``x = conv_input(x)``; then for each repeat ``r``:
    ``x = N3_r(BN3_r(conv3(N2_r(BN2_r(conv2(N1_r(BN1_r(conv1(x)))))))) + skip_r)``,
    where conv2 has stride 2 and ``skip_0 = BN_skip(conv1x1_s2(x))`` at ``r = 0`` and
    stride 1 and ``skip_r = x`` after. conv1/conv3 expand/reduce channels by ``scale``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        repeats: int,
        scale: int,
        norm: bool,
        make_neuron: Callable[[], nn.Module],
    ):
        super().__init__()
        if repeats < 1:
            raise ValueError(f"CORnet-S areas need at least one repeat, got {repeats}")
        hidden = out_channels * scale

        def norms(channels: int) -> nn.ModuleList:
            return nn.ModuleList(nn.BatchNorm2d(channels) if norm else nn.Identity() for _ in range(repeats))

        def neurons() -> nn.ModuleList:
            return nn.ModuleList(make_neuron() for _ in range(repeats))

        self.conv_input = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.skip = conv_norm(out_channels, out_channels, 1, stride=2, norm=norm)
        self.conv1 = nn.Conv2d(out_channels, hidden, 1, bias=False)
        self.conv2 = nn.Conv2d(hidden, hidden, 3, padding=1, bias=False)
        self.conv3 = nn.Conv2d(hidden, out_channels, 1, bias=False)
        self.norm1, self.norm2, self.norm3 = norms(hidden), norms(hidden), norms(out_channels)
        self.sn1, self.sn2, self.sn3 = neurons(), neurons(), neurons()

    output_is_neuron = True

    @property
    def output_neuron(self) -> nn.Module:
        return self.sn3[-1]

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        x = seq_apply(self.conv_input, x_seq)
        for r in range(len(self.sn1)):
            skip = self.skip(x) if r == 0 else x
            stride = 2 if r == 0 else 1
            x = self.sn1[r](seq_apply(lambda v, r=r: self.norm1[r](self.conv1(v)), x))
            x = self.sn2[r](
                seq_apply(lambda v, r=r, s=stride: self.norm2[r](F.conv2d(v, self.conv2.weight, None, s, 1)), x)
            )
            x = seq_apply(lambda v, r=r: self.norm3[r](self.conv3(v)), x)
            x = self.sn3[r](x + skip)
        return x


class CORnet(EncoderCore):
    """Four areas V1, V2, V4, IT with ``widths`` channels: stimuli -> IT output (T, B, widths[3], H', W')."""

    TINY = {"widths": [4, 8, 8, 8]}

    def __init__(self, *, widths: Sequence[int] = (64, 128, 256, 512), norm: bool = True, **common) -> None:
        super().__init__(**common)
        if len(widths) != len(AREAS):
            raise ValueError(f"CORnet needs one width per area {list(AREAS)}, got {list(widths)}")
        self.norm = bool(norm)
        in_channels, areas = self.in_channels, {}
        for i, (area, width) in enumerate(zip(AREAS, widths)):
            areas[area] = self.make_area(i, in_channels, width)
            in_channels = width
        self.areas = nn.ModuleDict(areas)

    def make_area(self, index: int, in_channels: int, out_channels: int) -> nn.Module:
        """The block of area ``AREAS[index]``; it exposes its last neuron as ``output_neuron`` and
        whether the block's output is that neuron's output unchanged as ``output_is_neuron``."""
        raise NotImplementedError

    def encode(self, x_seq: torch.Tensor) -> torch.Tensor:
        for block in self.areas.values():
            x_seq = block(x_seq)
        return x_seq

    def candidate_layers(self) -> list[LayerSpec]:
        return [
            LayerSpec(area, i, area, block, block.output_neuron if block.output_is_neuron else None)
            for i, (area, block) in enumerate(self.areas.items())
        ]


def _per_area(values: Sequence[int], key: str) -> list[int]:
    if len(values) != len(AREAS):
        raise ValueError(f"{key} needs one value per area {list(AREAS)}, got {list(values)}")
    return [int(v) for v in values]


class ConvAreaCORnet(CORnet):
    """A CORnet whose areas are ``block(in, out, kernel, stride, norm, neuron)``.

    ``kernels``/``strides``: the area convolution's kernel size and stride per area
    (default strides: the subclass' ``default_strides``).
    """

    block: type[nn.Module]
    default_strides: tuple[int, ...]

    def __init__(self, *, kernels: Sequence[int] = (7, 3, 3, 3), strides: Sequence[int] | None = None, **cfg) -> None:
        self.kernels = _per_area(kernels, "kernels")
        self.strides = _per_area(self.default_strides if strides is None else strides, "strides")
        super().__init__(**cfg)

    def make_area(self, index: int, in_channels: int, out_channels: int) -> nn.Module:
        return self.block(
            in_channels, out_channels, self.kernels[index], self.strides[index], self.norm, self.make_neuron()
        )


@register_encoder("cornet_z")
class CORnetZ(ConvAreaCORnet):
    """Feedforward CORnet-Z: conv-BN-neuron-maxpool areas."""

    block = CORBlockZ
    default_strides = (2, 1, 1, 1)


@register_encoder("cornet_rt")
class CORnetRT(ConvAreaCORnet):
    """Recurrent CORnet-RT: input conv (stride per area) plus within-area recurrence."""

    block = CORBlockRT
    default_strides = (4, 2, 2, 2)


class CORStemS(nn.Module):
    """CORnet-S V1: conv7x7/2-BN-neuron-maxpool-conv3x3-BN-neuron: (T, B, C, H, W) -> (T, B, width, H/4, W/4)."""

    def __init__(self, in_channels: int, width: int, norm: bool, make_neuron: Callable[[], nn.Module]):
        super().__init__()
        self.conv1 = conv_norm(in_channels, width, 7, 2, norm)
        self.sn1 = make_neuron()
        self.pool = max_pool()
        self.conv2 = conv_norm(width, width, 3, 1, norm)
        self.sn2 = make_neuron()

    output_is_neuron = True

    @property
    def output_neuron(self) -> nn.Module:
        return self.sn2

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return self.sn2(self.conv2(self.pool(self.sn1(self.conv1(x_seq)))))


@register_encoder("cornet_s")
class CORnetS(CORnet):
    """CORnet-S-like. ``repeats``: repeats of the V2, V4 and IT blocks; ``scale``: bottleneck expansion."""

    TINY = {**CORnet.TINY, "repeats": [1, 2, 1], "scale": 2}

    def __init__(self, *, repeats: Sequence[int] = (2, 4, 2), scale: int = 4, **cfg) -> None:
        if len(repeats) != len(AREAS) - 1:
            raise ValueError(f"repeats needs one value for each of {list(AREAS[1:])}, got {list(repeats)}")
        self.repeats, self.scale = [int(r) for r in repeats], int(scale)
        super().__init__(**cfg)

    def make_area(self, index: int, in_channels: int, out_channels: int) -> nn.Module:
        if index == 0:
            return CORStemS(in_channels, out_channels, self.norm, self.make_neuron)
        return CORBlockS(in_channels, out_channels, self.repeats[index - 1], self.scale, self.norm, self.make_neuron)
