"""A toy encoder defined outside ``snnvis.models``: one module (this) + one config
(``toy_configs/model/toy.yaml``) is all it takes to train and score it."""

from __future__ import annotations

from spikingjelly.activation_based import layer
from torch import nn

from snnvis.models.core import EncoderCore, LayerSpec


class ToyEncoder(EncoderCore):
    """conv-BN-neuron, twice: stimuli -> (T, B, width, H/2, W/2)."""

    TINY = {"width": 2}

    def __init__(self, *, width: int = 16, **common) -> None:
        super().__init__(**common)
        self.conv1 = layer.SeqToANNContainer(nn.Conv2d(self.in_channels, width, 3, 1, 1), nn.BatchNorm2d(width))
        self.sn1 = self.make_neuron()
        self.conv2 = layer.SeqToANNContainer(nn.Conv2d(width, width, 3, 2, 1), nn.BatchNorm2d(width))
        self.sn2 = self.make_neuron()

    def encode(self, x_seq):
        return self.sn2(self.conv2(self.sn1(self.conv1(x_seq))))

    def candidate_layers(self) -> list[LayerSpec]:
        return [LayerSpec("toy1", 0, "V1", self.sn1), LayerSpec("toy2", 1, "V4", self.sn2)]
