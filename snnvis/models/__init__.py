"""Encoder zoo: spiking networks and their ReLU twins, readouts, activation capture.

Encoders (``snnvis/conf/model``): SEW-ResNet (``sew_resnet``), CORnet-Z/-RT/-S
(``cornet_z``, ``cornet_rt``, ``cornet_s``) and a long-range feedback SEW-ResNet
(``lorafb``). Each maps stimuli (batch, frames, C, H, W) to features (T, batch, C', H', W');
``spiking: false`` builds the DNN twin with identical topology. Readouts
(``snnvis/conf/readout``): ``factorized`` and ``gaussian``.
"""

import logging

# torch logs a warning for every spikingjelly kernel module it scans when triton is not
# installed (every CPU machine); the CPU path does not use triton, so that is noise.
logging.getLogger("torch._library.triton").setLevel(logging.ERROR)

from .capture import capture_activations, layer_hooks  # noqa: E402
from .core import AREAS, EncoderCore, LayerSpec
from .input import StimulusInput
from .model import NeuralEncoderModel, build_model, calibrate_batchnorm, count_params
from .neurons import make_neuron, set_backend_for
from .readouts import build_readout
from .registry import available_encoders, build_encoder, register_encoder
from .timing import TimeConfig, frame_means, response_bins, response_window, step_window_matrix, time_bin_matrix

__all__ = [
    "AREAS",
    "EncoderCore",
    "LayerSpec",
    "NeuralEncoderModel",
    "StimulusInput",
    "TimeConfig",
    "available_encoders",
    "build_encoder",
    "build_model",
    "build_readout",
    "calibrate_batchnorm",
    "capture_activations",
    "count_params",
    "make_neuron",
    "layer_hooks",
    "register_encoder",
    "frame_means",
    "response_bins",
    "response_window",
    "set_backend_for",
    "step_window_matrix",
    "time_bin_matrix",
]
