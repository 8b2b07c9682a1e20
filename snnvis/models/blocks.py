"""Stateless building blocks shared by the encoders, in multi-step layout (T, B, C, H, W).

Convolutions, norms and pools are ordinary torch modules wrapped in spikingjelly's
``layer.SeqToANNContainer``, which folds time into the batch for one call.
"""

from __future__ import annotations

from spikingjelly.activation_based import layer
from torch import nn

__all__ = ["conv_norm", "max_pool", "seq_apply"]


def conv_norm(
    in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, norm: bool = True
) -> layer.SeqToANNContainer:
    """Conv2d ('same'-style padding ``kernel_size // 2``) + optional BatchNorm2d over (T, B, C, H, W).

    The convolution has a bias only when there is no norm after it.
    """
    modules: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2, bias=not norm)
    ]
    if norm:
        modules.append(nn.BatchNorm2d(out_channels))
    return layer.SeqToANNContainer(*modules)


def max_pool(kernel_size: int = 3, stride: int = 2) -> layer.SeqToANNContainer:
    """MaxPool2d with padding ``kernel_size // 2`` over (T, B, C, H, W)."""
    return layer.SeqToANNContainer(nn.MaxPool2d(kernel_size, stride=stride, padding=kernel_size // 2))


def seq_apply(fn, x_seq):
    """Apply a per-frame function ``fn`` (N, ...) -> (N, ...) to (T, B, ...) by folding T into N."""
    t, b = x_seq.shape[:2]
    y = fn(x_seq.flatten(0, 1))
    return y.reshape(t, b, *y.shape[1:])
