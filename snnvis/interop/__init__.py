"""Exports that other tools read directly.

* :mod:`snnvis.interop.rsatoolbox_io`: RDMs and activations as rsatoolbox ``RDMs`` /
  ``Dataset`` / ``TemporalDataset`` (descriptors for layer, area, model and time step);
* :mod:`snnvis.interop.assembly`: recordings and model activations as Brain-Score /
  BrainIO-style ``xarray`` assemblies (``presentation x neuroid x time_bin``).

Results tables load as pandas DataFrames with :func:`snnvis.outputs.load_results`.
The third-party packages are imported only when an export is called.
"""
