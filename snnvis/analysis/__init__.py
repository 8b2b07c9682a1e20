"""Scientific analyses built on recordings and run outputs.

Modules: :mod:`.curvature` (trajectory curvature from noisy single trials),
:mod:`.henaff` (the Hénaff et al. 2021 curvature reproduction), :mod:`.runs` (reading
training runs' metrics and per-neuron predictions), :mod:`.shuffle` (sequence
perturbations for the TSRSA shuffling experiment).
"""
