"""Training: one job per module.

``loop`` (the run, top to bottom, and DDP set-up), ``setup`` (sessions, network built from
its ``_target_`` nodes, device placement, optimizer, scheduler, loss; shared with
``scripts/bench_train.py``), ``epochs`` (the epoch loop, one training step),
``early_stopping``, ``predict`` (split predictions, validation score), ``schema`` (typed
trainer/data configs and value checks), ``rundir`` (lock, default name, .hydra record,
starting over), ``identity`` (config + recording hash), ``checkpoint`` (save, load,
resume), ``losses``, ``metrics`` (per-neuron values and summaries), ``results``
(metrics.json, log.csv, predictions.h5, lookup baseline), ``baseline`` (untrained-core
ridge), ``summary`` (tables of finished runs).
"""
