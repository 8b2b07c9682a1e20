"""Encoder zoo benchmark: every snnvis/conf/model encoder, SNN and DNN twin side by side.

For each encoder config: parameter count and the time of one forward + backward pass
(mean of the output as the loss) on a batch of static uint8 images (T = the config's
``static_steps``), median over ``--repeats`` runs after ``--warmup`` runs, printed as a
markdown table. ``--quick`` is a smoke run: every config shrunk to its encoder's tiny settings,
batch 2, 32x32, one repeat.

    python scripts/bench_models.py [--device cuda] [--batch 32] [--size 64] [--repeats 5]
    python scripts/benchmark.py models --quick
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from snnvis.models import build_encoder, count_params, set_backend_for  # noqa: E402
from snnvis.models.model import plain_config  # noqa: E402
from snnvis.utils import markdown_table, seed_everything  # noqa: E402

CONFIG_DIR = ROOT / "snnvis" / "conf"


def model_configs() -> list[str]:
    """Built-in encoder config names in snnvis/conf/model (``_*.yaml`` are shared partials;
    ``external`` wraps a user's own module, so there is nothing to time without one)."""
    paths = (CONFIG_DIR / "model").glob("*.yaml")
    return sorted(p.stem for p in paths if not p.name.startswith("_") and p.stem != "external")


def compose_model(name: str, overrides: list[str]) -> dict:
    from snnvis.config import compose

    return plain_config(compose(None, [f"+model={name}", *overrides]).model)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_ms(step: Callable[[], None], device: torch.device, warmup: int, repeats: int) -> float:
    """Median wall time of ``step`` in milliseconds."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        _synchronize(device)
        start = time.perf_counter()
        step()
        _synchronize(device)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def shrink(cfg: dict) -> dict:
    """The config with the encoder's own tiny settings (its class' ``TINY``)."""
    from snnvis.models.registry import encoder_class

    return dict(cfg, **encoder_class(cfg).TINY)


def bench_config(
    name: str, device: torch.device, batch: int, size: int, warmup: int, repeats: int, tiny: bool = False
) -> dict:
    """Params, T and forward+backward milliseconds of one config's SNN and twin."""
    row: dict = {"encoder": name}
    for spiking in (True, False):
        cfg = compose_model(name, [f"model.spiking={str(spiking).lower()}", f"model.input.size={size}"])
        if tiny:
            cfg = shrink(cfg)
        seed_everything(0)
        core = build_encoder(**cfg).to(device).train()
        set_backend_for(core, device)
        stimuli = torch.randint(0, 256, (batch, 1, core.in_channels, size, size), dtype=torch.uint8, device=device)

        def step(core=core, stimuli=stimuli) -> None:
            core.zero_grad(set_to_none=True)
            core(stimuli).mean().backward()

        row["snn_ms" if spiking else "dnn_ms"] = median_ms(step, device, warmup, repeats)
        row["params"], row["T"] = count_params(core), core.static_steps
        del core
    return row


def results_table(rows: list[dict]) -> str:
    return markdown_table(
        ["encoder", "params", "T", "SNN ms", "DNN ms", "ratio"],
        [
            [
                r["encoder"],
                f"{r['params']:,}",
                r["T"],
                f"{r['snn_ms']:.1f}",
                f"{r['dnn_ms']:.1f}",
                f"{r['snn_ms'] / r['dnn_ms']:.2f}",
            ]
            for r in rows
        ],
        align="lrrrrr",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_models", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:1, ...")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=64, help="square image side")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--configs", nargs="+", default=None, help="subset of snnvis/conf/model names")
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny encoders, batch 2, 32x32, 1 repeat")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.size, args.repeats, args.warmup = 2, 32, 1, 0
    device = torch.device(
        "cuda"
        if args.device == "auto" and torch.cuda.is_available()
        else "cpu"
        if args.device == "auto"
        else args.device
    )
    names = args.configs or model_configs()
    unknown = sorted(set(names) - set(model_configs()))
    if unknown:
        parser.error(f"unknown configs {unknown}; choose from {model_configs()}")

    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(
        f"encoder forward+backward{' (tiny settings)' if args.quick else ''}, "
        f"batch {args.batch} of {args.size}x{args.size} static images, "
        f"median of {args.repeats} after {args.warmup} warm-up; {where}; torch {torch.__version__}\n"
    )
    rows = []
    for name in names:
        rows.append(bench_config(name, device, args.batch, args.size, args.warmup, args.repeats, args.quick))
        print(f"  {name}: SNN {rows[-1]['snn_ms']:.1f} ms, DNN {rows[-1]['dnn_ms']:.1f} ms", file=sys.stderr)
    print(results_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
