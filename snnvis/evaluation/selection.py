"""Held-out choice of one layer per (recording, target, metric).

Each metric is computed on the *selection* stimuli (the recording's ``train`` +
``validation`` splits; regression and SVCCA by k-fold cross-validation within them) and on
the *test* stimuli (regression and SVCCA: fit on all selection stimuli, evaluated on the
test stimuli). The best layer for an area and a metric is the one with the highest
selection score, and the score reported for it is its test score, so the choice of layer
does not inflate the reported value. With ``selection="max_on_test"`` the layer with the
highest test score is reported instead, labelled ``max_on_test (optimistic)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from snnvis.errors import UserError

if TYPE_CHECKING:
    from snnvis.evaluation.scorer import ScoreRow

__all__ = ["SELECTIONS", "choose_layers"]

NAN = float("nan")
SELECTIONS = {"held_out": "held_out (chosen on train+validation)", "max_on_test": "max_on_test (optimistic)"}


def choose_layers(rows: Iterable[ScoreRow], selection: str = "held_out") -> list[dict]:
    """Mark the chosen layer per (recording, target, metric) and return one summary each.

    ``held_out``: the layer with the best *selection* score; its *test* score is
    reported. ``max_on_test``: the layer with the best test score (optimistic). Every
    row gets ``selection`` set to the protocol's label and ``chosen`` to whether it
    belongs to the chosen layer. Groups where no layer has a finite score report no
    layer (``layer`` None, NaN values).
    """
    if selection not in SELECTIONS:
        raise UserError("selection", f"must be one of {sorted(SELECTIONS)}, got {selection!r}")
    label = SELECTIONS[selection]
    rows = list(rows)
    groups: dict[tuple, dict[str, dict[str, ScoreRow]]] = {}
    for row in rows:
        row.selection, row.chosen = label, False
        key = (row.recording, row.target, row.area, row.metric)
        groups.setdefault(key, {}).setdefault(row.layer, {})[row.split] = row
    best = []
    for (recording, target, area, metric), layers in groups.items():
        by = "selection" if selection == "held_out" else "test"
        candidates = [
            (r[by].score, -r[by].depth, name) for name, r in layers.items() if by in r and np.isfinite(r[by].score)
        ]
        summary = {
            "recording": recording,
            "target": target,
            "area": area,
            "metric": metric,
            "selection": label,
            "layer": None,
        }
        if candidates:
            _, _, name = max(candidates)  # ties: the shallower layer
            for r in layers[name].values():
                r.chosen = True
            chosen_sel, chosen_test = layers[name].get("selection"), layers[name]["test"]
            summary.update(
                layer=name,
                depth=chosen_test.depth,
                layer_area=chosen_test.layer_area,
                method=chosen_test.method,
                selection_score=chosen_sel.score if chosen_sel else NAN,
                score=chosen_test.score,
                ceiling=chosen_test.ceiling,
                ceiling_lower=chosen_test.ceiling_lower,
                ceiling_upper=chosen_test.ceiling_upper,
                ceiling_kind=chosen_test.ceiling_kind,
                normalized=chosen_test.normalized,
                normalized_ci_low=chosen_test.normalized_ci_low,
                normalized_ci_high=chosen_test.normalized_ci_high,
                silent_fraction=chosen_test.silent_fraction,
                ci_low=chosen_test.ci_low,
                ci_high=chosen_test.ci_high,
                n_stimuli=chosen_test.n_stimuli,
                n_selection_stimuli=chosen_sel.n_stimuli if chosen_sel else 0,
                n_neurons=chosen_test.n_neurons,
                n_layers=len(layers),
            )
        best.append(summary)
    return best
