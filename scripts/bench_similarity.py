"""Similarity-metric benchmark: snnvis.similarity against its references on the same data.

Synthetic model features X (stimuli x features) and brain responses Y (stimuli x
neurons, a noisy linear readout of X). Each row times snnvis and its reference on the
same arrays, as the median over ``--repeats`` runs (time.perf_counter, after one warm-up
call of the snnvis side), checks that both give the same numbers (max |difference|) and
prints the speed-up (reference time / snnvis time):

* RSA: correlation RDMs of X and Y plus their Spearman comparison, against rsatoolbox
  (``calc_rdm`` + ``compare``).
* Leave-one-out ridge: closed form against refitting sklearn ``Ridge`` once per
  stimulus. Refitting n times is too slow to run in full: ``--refits`` refits are timed
  and their time is extrapolated linearly to n (the table says so), and the predictions
  for those stimuli are compared.
* Linear CKA: against the textbook numpy version (centred n x n Gram matrices).
* CCA: canonical correlations between Y and the first ``n_neurons`` features, against
  numpy whitening by inverse square roots of the covariances + SVD.

    python scripts/bench_similarity.py [--n-stimuli 2000] [--n-features 5000]
        [--n-neurons 300] [--repeats 3] [--refits 20] [--device cpu|cuda] [--threads N]
        [--quick]
    python scripts/benchmark.py similarity --quick
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from snnvis.similarity import cca, cka, compare_rdms, loo_ridge, rdm  # noqa: E402
from snnvis.similarity._backend import to_numpy  # noqa: E402
from snnvis.utils import markdown_table  # noqa: E402

QUICK = {"n_stimuli": 120, "n_features": 150, "n_neurons": 30, "refits": 5}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench_similarity", description=__doc__.split("\n")[0])
    parser.add_argument("--n-stimuli", type=int, default=2000)
    parser.add_argument("--n-features", type=int, default=5000)
    parser.add_argument("--n-neurons", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per entry (median)")
    parser.add_argument("--refits", type=int, default=20, help="sklearn Ridge refits timed")
    parser.add_argument("--alpha", type=float, default=10.0, help="ridge penalty")
    parser.add_argument("--device", default="cpu", help="torch device for snnvis (cpu, cuda)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quick", action="store_true", help=f"small smoke-test sizes {QUICK}, overriding the size options"
    )
    args = parser.parse_args(argv)
    if args.quick:
        vars(args).update(QUICK)
    if args.repeats < 1 or min(args.n_stimuli, args.n_features, args.n_neurons) < 4:
        parser.error("--repeats must be >= 1 and every size >= 4")
    args.refits = min(args.refits, args.n_stimuli)
    return args


def timed(fn: Callable[[], Any], repeats: int, device: torch.device) -> tuple[float, Any]:
    """Median seconds over ``repeats`` calls of ``fn`` and its last result."""
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        result = fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def max_diff(a: Any, b: Any) -> float:
    return float(np.max(np.abs(np.asarray(to_numpy(a), dtype=float) - np.asarray(b, dtype=float))))


def rsatoolbox_rsa(X: np.ndarray, Y: np.ndarray) -> float:
    from rsatoolbox.data import Dataset
    from rsatoolbox.rdm import calc_rdm, compare

    return compare(
        calc_rdm(Dataset(X), method="correlation"), calc_rdm(Dataset(Y), method="correlation"), method="spearman"
    )[0, 0]


def sklearn_loo(X: np.ndarray, Y: np.ndarray, alpha: float, stimuli: np.ndarray) -> np.ndarray:
    from sklearn.linear_model import Ridge

    out = np.empty((len(stimuli), Y.shape[1]))
    for row, i in enumerate(stimuli):
        keep = np.arange(len(X)) != i
        out[row] = Ridge(alpha=alpha).fit(X[keep], Y[keep]).predict(X[i : i + 1])[0]
    return out


def numpy_linear_cka(X: np.ndarray, Y: np.ndarray) -> float:
    h = np.eye(len(X)) - 1.0 / len(X)
    k, l = h @ (X @ X.T) @ h, h @ (Y @ Y.T) @ h
    return float(np.sum(k * l) / (np.linalg.norm(k) * np.linalg.norm(l)))


def numpy_cca(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    def inv_sqrt(c: np.ndarray) -> np.ndarray:
        w, v = np.linalg.eigh(c)
        return (v / np.sqrt(w)) @ v.T

    xc, yc = X - X.mean(0), Y - Y.mean(0)
    m = inv_sqrt(xc.T @ xc) @ (xc.T @ yc) @ inv_sqrt(yc.T @ yc)
    return np.linalg.svd(m, compute_uv=False)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rng = np.random.default_rng(args.seed)
    n, p, q = args.n_stimuli, args.n_features, args.n_neurons
    X = rng.normal(size=(n, p))
    Y = X @ rng.normal(size=(p, q)) / np.sqrt(p) + rng.normal(size=(n, q))
    Xt, Yt = (torch.as_tensor(a, device=device) for a in (X, Y))
    ours_args = (Xt, Yt) if device.type != "cpu" else (X, Y)
    refit_stimuli = rng.choice(n, size=args.refits, replace=False)
    rows = []

    def bench(
        name: str,
        ours: Callable[[], Any],
        reference_name: str,
        reference: Callable[[], Any],
        compare_to: Callable[[Any], Any] = lambda r: r,
        scale: float = 1.0,
        note: str = "measured",
    ) -> None:
        ours()  # warm-up
        t_ours, r_ours = timed(ours, args.repeats, device)
        t_ref, r_ref = timed(reference, args.repeats, torch.device("cpu"))
        t_ref *= scale
        rows.append((name, t_ours, reference_name, t_ref, t_ref / t_ours, max_diff(compare_to(r_ours), r_ref), note))

    x, y = ours_args
    bench(
        "RSA (corr RDMs + Spearman)",
        lambda: compare_rdms(rdm(x), rdm(y), "spearman"),
        "rsatoolbox calc_rdm + compare",
        lambda: rsatoolbox_rsa(X, Y),
    )
    bench(
        "LOO ridge (closed form)",
        lambda: loo_ridge(x, y, args.alpha),
        f"sklearn Ridge refit x {n}",
        lambda: sklearn_loo(X, Y, args.alpha, refit_stimuli),
        compare_to=lambda pred: to_numpy(pred)[refit_stimuli],
        scale=n / args.refits,
        note=f"reference extrapolated from {args.refits} refits; diff on those stimuli",
    )
    bench("linear CKA", lambda: cka(x, y), "numpy Gram-matrix CKA", lambda: numpy_linear_cka(X, Y))
    k = min(q, p, n // 4)
    bench(
        f"CCA ({k} features vs {q} neurons)",
        lambda: cca(x[:, :k], y),
        "numpy whitening + SVD",
        lambda: numpy_cca(X[:, :k], Y),
    )

    print(
        f"snnvis.similarity benchmark: {n} stimuli x {p} features (model), {n} x {q} neurons "
        f"(brain); snnvis on {device}; median of {args.repeats} runs; torch threads "
        f"{torch.get_num_threads()}"
    )
    print()
    print(
        markdown_table(
            ["metric", "snnvis (s)", "reference", "reference (s)", "speed-up", "max abs diff", "timing"],
            [
                [name, f"{t_ours:.4f}", ref_name, f"{t_ref:.4f}", f"{ratio:.1f}x", f"{diff:.1e}", note]
                for name, t_ours, ref_name, t_ref, ratio, diff, note in rows
            ],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
