"""A model of your own, scored like the built-in encoders (any torch.nn.Module; spikingjelly too):

    snnvis-score model=external model.factory=docs/examples/external_model.py:make_model \
        'model.layers=[relu1,relu2]' recordings=[recordings/cowley2023_v4/210305.h5]
"""

from collections import OrderedDict

from torch import nn


def make_model(width: int = 16) -> nn.Module:
    """Two conv-ReLU stages; model.layers names the submodules whose outputs are scored."""
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(3, width, 5, stride=2, padding=2),
            relu1=nn.ReLU(),
            pool=nn.MaxPool2d(2),
            conv2=nn.Conv2d(width, 2 * width, 3, padding=1),
            relu2=nn.ReLU(),
        )
    )
