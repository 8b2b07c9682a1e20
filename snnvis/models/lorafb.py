"""Long-range feedback spiking network, after LoRaFB-SNet (Huang et al., NeurIPS 2024).

A SEW-ResNet (:mod:`snnvis.models.sew_resnet`: same stem, stages, candidate layers and
config keys) in which every stage receives top-down feedback from its own output at the
previous step: the output ``y_{t-1}`` of stage ``i`` (several layers later than the
stage's input) is upsampled to the input's resolution by a depthwise transposed
convolution (stride = the stage's downsampling; skipped for stride 1), batch-normed and
passed through a neuron, then concatenated with the stage's feedforward input ``x_t`` and
fused by a 1x1 conv-BN-neuron (equivalently: 1x1 projections of both, added) before the
stage's blocks::

    u_t = neuron(BN(conv1x1([x_t, neuron(BN(convT(y_{t-1})))])))     y_t = stage(u_t)

with ``y_{-1} = 0``. Because step ``t`` needs step ``t-1`` of a later layer, the stages run
in a true step loop (every layer is called on one-step slices (1, B, ...), and neuron
states carry over the calls); the stem is feedforward and runs over all steps at once.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .blocks import conv_norm
from .registry import register_encoder
from .sew_resnet import SEWResNet

__all__ = ["FeedbackFusion", "LoRaFBNet"]


class FeedbackFusion(nn.Module):
    """Fuse a stage's input (T, B, C_in, H, W) with its previous output (T, B, C_out, h, w) -> (T, B, C_in, H, W)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, make_neuron: Callable[[], nn.Module]) -> None:
        super().__init__()
        self.stride = stride
        self.up = None
        if stride > 1:
            self.up = nn.ConvTranspose2d(
                out_channels, out_channels, 3, stride=stride, padding=1, groups=out_channels, bias=False
            )
            self.up_norm = nn.BatchNorm2d(out_channels)
            self.up_sn = make_neuron()
        self.fuse = conv_norm(in_channels + out_channels, in_channels, 1)
        self.fuse_sn = make_neuron()

    def feedback_shape(self, x_seq: torch.Tensor, out_channels: int) -> tuple[int, ...]:
        """Shape of the stage's output for input ``x_seq`` (the zero feedback at the first step)."""
        t, b, _, h, w = x_seq.shape
        return (t, b, out_channels, -(-h // self.stride), -(-w // self.stride))

    def forward(self, x_seq: torch.Tensor, y_prev: torch.Tensor) -> torch.Tensor:
        if self.up is not None:
            t, b = y_prev.shape[:2]
            up = self.up(y_prev.flatten(0, 1), output_size=x_seq.shape[-2:])
            y_prev = self.up_sn(self.up_norm(up).reshape(t, b, *up.shape[1:]))
        return self.fuse_sn(self.fuse(torch.cat([x_seq, y_prev], dim=2)))


@register_encoder("lorafb")
class LoRaFBNet(SEWResNet):
    """SEW-ResNet with per-stage long-range feedback: stimuli -> (T, B, widths[-1], H', W').

    Takes the keys of :class:`~snnvis.models.sew_resnet.SEWResNet`.
    """

    def __init__(self, **cfg) -> None:
        super().__init__(**cfg)
        in_channels = [self.stem_width] + self.widths[:-1]
        self.feedback = nn.ModuleList(
            FeedbackFusion(c_in, c_out, 1 if i == 0 else 2, self.make_neuron)
            for i, (c_in, c_out) in enumerate(zip(in_channels, self.widths))
        )

    def encode(self, x_seq: torch.Tensor) -> torch.Tensor:
        x = self.stem(x_seq)
        previous: list[torch.Tensor | None] = [None] * len(self.stages)
        outputs = []
        for t in range(x.shape[0]):
            h = x[t : t + 1]
            for i, (fusion, stage) in enumerate(zip(self.feedback, self.stages)):
                y_prev = previous[i]
                if y_prev is None:
                    y_prev = h.new_zeros(fusion.feedback_shape(h, self.widths[i]))
                h = stage(fusion(h, y_prev))
                previous[i] = h
            outputs.append(h)
        return torch.cat(outputs)
