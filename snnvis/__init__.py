"""snnvis: spiking and conventional deep networks as models of primate visual cortex."""

__version__ = "0.1.0"
