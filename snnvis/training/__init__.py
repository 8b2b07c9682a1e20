"""Training: one job per module.

``loop`` (set-up, epochs, early stopping, resume, DDP), ``schema`` (typed trainer/data
configs and value checks), ``rundir`` (lock, default name, .hydra record, starting over),
``identity`` (config + recording hash), ``checkpoint``, ``losses``, ``metrics`` (per-neuron
values and summaries), ``results`` (metrics.json, log.csv, predictions.h5, lookup
baseline), ``baseline`` (untrained-core ridge), ``summary`` (tables of finished runs).
"""
