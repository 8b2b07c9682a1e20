"""The five brain-similarity metrics behind one typed interface, and :func:`build_metrics`.

Every metric is a :class:`Metric` (:mod:`.base`): ``prepare`` returns a frozen
:class:`Prepared` dataclass of the target side (one subclass per family), and
``selection``/``test`` return a :class:`Result`. Ceilings are computed by callables in
:mod:`snnvis.similarity` and only described here.

==========  ==================================================  =====================
``rsa``     RDMs compared by Spearman, fold/subject ceiling     :mod:`.rsa`
``cka``     linear CKA, expected CKA of the truth as ceiling    :mod:`.cka`
``svcca``   cross-validated SVCCA, no ceiling                   :mod:`.svcca`
``ridge``   held-out ridge predictivity, sqrt(reliability)      :mod:`.regression`
``pls``     the same with PLS regression                        :mod:`.regression`
==========  ==================================================  =====================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from snnvis.errors import UserError
from snnvis.evaluation.metrics.base import Metric, Prepared, Result, Unfitted
from snnvis.evaluation.metrics.cka import CKA, GramSide
from snnvis.evaluation.metrics.regression import PLS, RegressionSide, Ridge
from snnvis.evaluation.metrics.rsa import RSA, RDMSide
from snnvis.evaluation.metrics.svcca import SVCCA, ResponseSide

__all__ = [
    "CKA",
    "METRICS",
    "PLS",
    "RSA",
    "SVCCA",
    "GramSide",
    "Metric",
    "Prepared",
    "RDMSide",
    "RegressionSide",
    "ResponseSide",
    "Result",
    "Ridge",
    "Unfitted",
    "build_metrics",
]

METRICS: dict[str, type[Metric]] = {"rsa": RSA, "cka": CKA, "svcca": SVCCA, "ridge": Ridge, "pls": PLS}


def build_metrics(
    names: Sequence[str],
    options: Mapping[str, Mapping[str, Any]] | None = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> list[Metric]:
    """Metric objects for ``names`` with their ``options[name]`` keyword arguments."""
    options = dict(options or {})
    names = list(names)
    if not names:
        raise UserError("metrics", f"no metric selected; choose from {sorted(METRICS)}")
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise UserError("metrics", f"unknown metric(s) {unknown}; choose from {sorted(METRICS)}")
    if len(set(names)) != len(names):
        raise UserError("metrics", f"a metric is listed twice: {names}")
    if not 0 < ci < 1:
        raise UserError("ci", f"must be in (0, 1), got {ci}")
    metrics = []
    for name in names:
        kwargs = dict(options.get(name) or {})
        try:
            metrics.append(METRICS[name](n_boot=n_boot, ci=ci, seed=seed, **kwargs))
        except TypeError as err:
            raise UserError(f"metric_options.{name}", " ".join(str(err).split())) from None
    return metrics
