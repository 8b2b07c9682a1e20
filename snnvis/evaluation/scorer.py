"""Scoring one layer at a time against fixed targets: :class:`LayerScorer` and its rows.

For every target × applicable metric, a layer gives two :class:`ScoreRow` s, one per
split: ``selection`` (the stimuli layers are chosen on) and ``test`` (the reported score,
with its bootstrap CI). The target side of each metric (:meth:`Metric.prepare
<snnvis.evaluation.metrics.Metric.prepare>`: data and ceiling) is computed once per target
and split and reused for every layer. ``silent_fraction`` is the share of the split's
stimuli for which the layer's pattern is constant (silent).

Memory: scoring takes one layer's features (stimuli, features) at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from snnvis.evaluation.metrics import Metric, Prepared
from snnvis.evaluation.metrics.base import NAN, _f
from snnvis.evaluation.targets import Target
from snnvis.models import LayerSpec
from snnvis.similarity.rdm import silent_fraction

__all__ = ["LayerScorer", "ScoreRow", "score_layer"]


@dataclass
class ScoreRow:
    """One line of ``scores.csv``: a layer × target × metric on one split."""

    recording: str
    target: str
    area: str
    layer: str
    depth: int
    layer_area: str
    metric: str
    method: str
    split: str
    score: float
    ceiling: float
    ceiling_lower: float
    ceiling_kind: str
    normalized: float
    ci_low: float
    ci_high: float
    n_stimuli: int
    n_neurons: int
    selection: str = ""
    chosen: bool = False
    ceiling_upper: float = NAN
    normalized_ci_low: float = NAN
    normalized_ci_high: float = NAN
    silent_fraction: float = NAN  # share of the split's stimuli with a constant (silent) layer pattern
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = asdict(self)
        return {**d.pop("extra"), **d}


class LayerScorer:
    """Scores layers one at a time against fixed targets, caching the target side.

    ``splits``: ``{"selection": indices, "test": indices}`` into the stimulus axis of
    the features passed to :meth:`score`. ``recording``: the label written to the rows
    (default: each target's recording id). :attr:`skipped` says which target × metric
    pairs cannot be scored, and why.
    """

    def __init__(
        self,
        targets: Sequence[Target],
        metrics: Sequence[Metric],
        splits: Mapping[str, np.ndarray],
        recording: str | None = None,
    ):
        self.targets, self.metrics, self.splits = list(targets), list(metrics), dict(splits)
        self.recording = recording
        self._prepared: dict[tuple[int, str, str], Prepared] = {}
        reasons: dict[tuple[str, str], list[str]] = {}
        for t in self.targets:
            for m in self.metrics:
                why = m.applicable(t)
                if why:
                    where = f"{recording or t.recording} {t.name} ({t.area})"
                    reasons.setdefault((where, why), []).append(m.name)
        self.skipped = [f"{where}: {', '.join(names)} not scored: {why}" for (where, why), names in reasons.items()]

    def _prep(self, ti: int, metric: Metric, split: str) -> Prepared:
        key = (ti, metric.name, split)
        if key not in self._prepared:
            self._prepared[key] = metric.prepare(self.targets[ti], self.splits[split])
        return self._prepared[key]

    def score(self, spec: LayerSpec, features: np.ndarray) -> list[ScoreRow]:
        """Rows (selection and test split) of every applicable target × metric for one layer.

        ``features``: (n_stimuli, features) float32, stimuli in recording order.
        """
        sel, test = self.splits["selection"], self.splits["test"]
        X_sel, X_test = features[sel], features[test]
        silent = {"selection": _f(silent_fraction(X_sel)), "test": _f(silent_fraction(X_test))}
        rows = []
        for ti, target in enumerate(self.targets):
            for metric in self.metrics:
                if metric.applicable(target):
                    continue
                p_sel, p_test = self._prep(ti, metric, "selection"), self._prep(ti, metric, "test")
                for split, res, prep, n in (
                    ("selection", metric.selection(X_sel, p_sel), p_sel, len(sel)),
                    ("test", metric.test(X_sel, p_sel, X_test, p_test), p_test, len(test)),
                ):
                    rows.append(
                        ScoreRow(
                            recording=self.recording or target.recording,
                            target=target.name,
                            area=str(target.area),
                            layer=spec.name,
                            depth=int(spec.depth),
                            layer_area=spec.area,
                            metric=metric.name,
                            method=metric.method,
                            split=split,
                            score=res.score,
                            ceiling=res.ceiling,
                            ceiling_lower=res.ceiling_lower,
                            ceiling_kind=prep.ceiling_kind,
                            normalized=res.normalized,
                            ci_low=res.ci_low,
                            ci_high=res.ci_high,
                            n_stimuli=n,
                            n_neurons=res.n_neurons,
                            ceiling_upper=res.ceiling_upper,
                            normalized_ci_low=res.normalized_ci_low,
                            normalized_ci_high=res.normalized_ci_high,
                            silent_fraction=silent[split],
                        )
                    )
        return rows


def score_layer(
    spec: LayerSpec,
    features: np.ndarray,
    targets: Sequence[Target],
    metrics: Sequence[Metric],
    splits: Mapping[str, np.ndarray],
) -> list[ScoreRow]:
    """:meth:`LayerScorer.score` for a single layer (no caching across layers)."""
    return LayerScorer(targets, metrics, splits).score(spec, features)
