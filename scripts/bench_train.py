"""Training throughput benchmark: an SNN and its DNN twin side by side, in one run.

Each row is one encoder config and one setting (device, autocast, memory format,
torch.compile, spikingjelly backend). Three models are built from the same config and
seed: the SNN (T = ``static_steps`` steps per static image), its twin with the same T
(how snnvis-train trains it) and the twin with T = 1 (one pass per image; for a
feedforward core exactly the same function). They take turns: after warm-up, ``--repeats``
rounds each time ``--steps`` single training steps per model, alternating models, so
drift on a shared machine affects all of them alike. A step is the training loop's own
``snnvis.training.epochs.train_step`` (forward through core and readout, Poisson loss,
readout L1, backward, gradient clipping, AdamW) on one fixed batch cached on the device,
so data loading is excluded. Throughput = batch / median step time.

Columns: ``SNN/(twin/T)`` is SNN img/s over (T=1 twin img/s / T): 1.0 means one SNN
image costs exactly T passes of the DNN; below 1 the neuron dynamics add overhead.
``peak mem``: ``torch.cuda.max_memory_allocated`` per model (CUDA). ``GPU util``: mean
of ``nvidia-smi --query-gpu=utilization.gpu`` sampled in a background thread while the
model's timed steps run (when nvidia-smi exists).

A second table runs full epochs through the real data path (a synthetic recording
written to a temporary file, ``RecordingDataset`` + ``SessionCycler``, batches moved to
the device) with the loop's default settings for the device: data loading alone, the SNN
and the twin, alternating with blocks of cached-batch steps, ``--repeats`` times (medians),
to show whether loading limits training.

On CPU, glibc's allocator unmaps a step's large activation buffers when they are freed
and the next step page-faults them in again; ``--keep-memory`` (``mallopt``) keeps them,
to measure how much of a CPU step that costs. The header says which was used.

    python scripts/bench_train.py [--model sew_resnet_tiny ...] [--size 64] [--batch 32]
        [--steps 10] [--repeats 3] [--device auto|cpu|cuda] [--threads N] [--compile] [--keep-memory]
        [--quick]
    python scripts/benchmark.py train --quick
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from snnvis import config  # noqa: E402
from snnvis.recordings.dataset import Batch, RecordingDataset, SessionCycler  # noqa: E402
from snnvis.training.epochs import train_step  # noqa: E402
from snnvis.training.losses import get_loss  # noqa: E402
from snnvis.training.setup import build_network, optimizer_for, place  # noqa: E402
from snnvis.utils import markdown_table, seed_everything  # noqa: E402

N_NEURONS = 64
QUICK = {"size": 32, "batch": 4, "steps": 5, "repeats": 1, "warmup": 1, "epoch_batches": 4}
MODELS = ("snn", "twin", "twin1")  # the SNN, its twin at the same T, the twin at T = 1


@dataclass(frozen=True)
class Setting:
    device: str
    amp: bool = False
    channels_last: bool = False
    compile: bool = False
    backend: str = "auto"  # spikingjelly neuron backend requested

    def label(self, bound: str | None = None) -> str:
        parts = [self.device, "bf16" if self.amp else "fp32"]
        if self.channels_last:
            parts.append("channels_last")
        if self.compile:
            parts.append("compile")
        if self.device == "cuda":
            parts.append(f"sj {bound or self.backend}")
        return " ".join(parts)


def settings_for(device: str, compile_: bool) -> list[Setting]:
    if device == "cpu":
        return [Setting("cpu")]
    rows = [
        Setting("cuda", backend="torch"),
        Setting("cuda"),
        Setting("cuda", amp=True),
        Setting("cuda", amp=True, channels_last=True),
    ]
    if compile_:
        rows.append(Setting("cuda", amp=True, channels_last=True, compile=True))
    return rows


def compose(model: str, overrides: list[str]):
    return config.compose("train", [f"model={model}", *overrides])


# ---------------------------------------------------------------------------------------
# GPU utilisation
# ---------------------------------------------------------------------------------------


class GpuSampler:
    """Samples ``nvidia-smi`` GPU utilisation in a background thread while ``active``."""

    def __init__(self, device_index: int, period_s: float = 0.1):
        self.cmd = shutil.which("nvidia-smi")
        self.index, self.period = device_index, period_s
        self.samples: list[float] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def available(self) -> bool:
        return self.cmd is not None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                out = subprocess.run(
                    [self.cmd, f"--id={self.index}", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                    capture_output=True,
                    text=True,
                    timeout=5,
                )
                self.samples.append(float(out.stdout.strip().splitlines()[0]))
            except (OSError, ValueError, IndexError, subprocess.SubprocessError):
                pass
            self._stop.wait(self.period)

    @contextlib.contextmanager
    def active(self, into: list[float]):
        if not self.available:
            yield
            return
        self.samples, self._stop = into, threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        try:
            yield
        finally:
            self._stop.set()
            self._thread.join()


# ---------------------------------------------------------------------------------------
# One model under test
# ---------------------------------------------------------------------------------------


@dataclass
class Trainee:
    name: str
    model: torch.nn.Module
    opt: torch.optim.Optimizer
    tcfg: object
    T: int
    bound: str = "torch"
    times: list[float] = field(default_factory=list)
    peak_bytes: int = 0
    util: list[float] = field(default_factory=list)

    def step(self, batch: Batch, device: torch.device, loss_fn) -> float:
        return train_step(self.model, self.model, self.opt, batch, None, loss_fn, self.tcfg, device)


def build_trainee(name: str, model_cfg_name: str, size: int, setting: Setting, device: torch.device) -> Trainee:
    overrides = [
        f"model.input.size={size}",
        f"model.spiking={'true' if name == 'snn' else 'false'}",
        f"trainer.amp={str(setting.amp).lower()}",
    ]
    if name == "twin1":
        overrides.append("model.time.static_steps=1")
    cfg = compose(model_cfg_name, overrides)
    seed_everything(0)
    model = build_network(cfg, {"bench": N_NEURONS}).train()  # snnvis-train's own set-up
    steps = model.core.static_steps
    bound = place(model, device, setting.backend, setting.channels_last, setting.compile)
    opt, _ = optimizer_for(cfg, model)
    return Trainee(name, model, opt, cfg.trainer, steps, ",".join(sorted(set(bound.values()))) or "-")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_side_by_side(
    trainees: list[Trainee],
    batch: Batch,
    device: torch.device,
    steps: int,
    repeats: int,
    warmup: int,
    sampler: GpuSampler | None,
) -> None:
    """Alternating blocks of ``steps`` timed single steps per model, ``repeats`` rounds."""
    loss_fn = get_loss("poisson")
    for t in trainees:
        for _ in range(warmup):
            t.step(batch, device, loss_fn)
    _sync(device)
    for _ in range(repeats):
        for t in trainees:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            with sampler.active(t.util) if sampler else contextlib.nullcontext():
                for _ in range(steps):
                    _sync(device)
                    start = time.perf_counter()
                    t.step(batch, device, loss_fn)
                    _sync(device)
                    t.times.append(time.perf_counter() - start)
            if device.type == "cuda":
                t.peak_bytes = max(t.peak_bytes, torch.cuda.max_memory_allocated(device))


def images_per_s(t: Trainee, batch_size: int) -> float:
    return batch_size / statistics.median(t.times)


# ---------------------------------------------------------------------------------------
# Full epoch through the real data path
# ---------------------------------------------------------------------------------------


def synthetic_train_set(directory: Path, size: int, n_train: int) -> RecordingDataset:
    """The train split of a synthetic recording with about ``n_train`` training stimuli."""
    from snnvis.recordings.format import write_recording
    from snnvis.recordings.synthetic import SynthConfig, generate_recording

    path = directory / "bench.h5"
    n_stimuli = int(n_train / 0.7) + 8
    write_recording(
        path,
        generate_recording(
            SynthConfig(n_stimuli=n_stimuli, n_neurons=N_NEURONS, n_repeats=2, size=size, recording_id="bench")
        ),
    )
    return RecordingDataset(path, "train", image_size=size)


def time_epoch(dataset: RecordingDataset, trainee: Trainee | None, batch_size: int, device: torch.device) -> float:
    """Images per second of one epoch through SessionCycler (data only when ``trainee`` is None)."""
    cycler = SessionCycler({"bench": dataset}, batch_size=batch_size, seed=0)
    cycler.set_epoch(0)
    loss_fn = get_loss("poisson")
    _sync(device)
    start, n = time.perf_counter(), 0
    for batch in cycler:
        batch = batch.to(device)
        if trainee is None:
            batch.stimuli.float().sum().item()  # make the copy happen (and wait for it)
        else:
            trainee.step(batch, device, loss_fn)
        n += len(batch.stimuli)
    _sync(device)
    return n / (time.perf_counter() - start)


# ---------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------


def _mem(t: Trainee) -> str:
    return f"{t.peak_bytes / 2**20:.0f} MiB" if t.peak_bytes else "-"


def _util(t: Trainee) -> str:
    return f"{statistics.mean(t.util):.0f}%" if t.util else "-"


def throughput_row(model_name: str, setting: Setting, ts: dict[str, Trainee], batch: int) -> dict:
    snn, twin, twin1 = (images_per_s(ts[k], batch) for k in MODELS)
    return {
        "model": model_name,
        "setting": setting.label(ts["snn"].bound),
        "T": ts["snn"].T,
        "snn": snn,
        "twin1": twin1,
        "ratio": snn / (twin1 / ts["snn"].T),
        "twin": twin,
        "mem": f"{_mem(ts['snn'])} / {_mem(ts['twin'])}",
        "util": f"{_util(ts['snn'])} / {_util(ts['twin'])}",
    }


def throughput_table(rows: list[dict]) -> str:
    return markdown_table(
        [
            "model",
            "setting",
            "T",
            "SNN img/s",
            "twin img/s (T=1)",
            "SNN/(twin/T)",
            "twin img/s (T steps)",
            "peak mem SNN / twin",
            "GPU util SNN / twin",
        ],
        [
            [
                r["model"],
                r["setting"],
                r["T"],
                f"{r['snn']:.1f}",
                f"{r['twin1']:.1f}",
                f"{r['ratio']:.2f}",
                f"{r['twin']:.1f}",
                r["mem"],
                r["util"],
            ]
            for r in rows
        ],
        align="llrrrrrll",
    )


def epoch_table(rows: list[dict]) -> str:
    return markdown_table(
        [
            "model",
            "setting",
            "data path alone img/s",
            "SNN epoch img/s",
            "twin epoch img/s (T steps)",
            "SNN cached-batch img/s",
            "twin cached-batch img/s",
        ],
        [
            [
                r["model"],
                r["setting"],
                f"{r['data']:.0f}",
                f"{r['snn']:.1f}",
                f"{r['twin']:.1f}",
                f"{r['snn_cached']:.1f}",
                f"{r['twin_cached']:.1f}",
            ]
            for r in rows
        ],
        align="llrrrrr",
    )


# ---------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench_train", description=__doc__.split("\n")[0])
    parser.add_argument("--model", nargs="+", default=["sew_resnet_tiny"], help="snnvis/conf/model names")
    parser.add_argument("--size", type=int, default=64, help="square input side (model.input.size)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per model per round (>= 5)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per model first")
    parser.add_argument("--epoch-batches", type=int, default=16, help="batches in the full-epoch measurement")
    parser.add_argument(
        "--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto: CPU, and CUDA too when available"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--compile", action="store_true", help="also a torch.compile row on CUDA")
    parser.add_argument(
        "--keep-memory",
        action="store_true",
        help="glibc mallopt: keep freed activation memory instead of unmapping it every step",
    )
    parser.add_argument("--quick", action="store_true", help=f"smoke run {QUICK}, CPU only unless --device cuda")
    args = parser.parse_args(argv)
    if args.quick:
        vars(args).update(QUICK)
        if args.device == "auto":
            args.device = "cpu"
    if args.steps < 5 and not args.quick:
        parser.error("--steps must be >= 5 (the median is over the timed steps)")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but CUDA is not available")
    return args


def bench_setting(model_name: str, setting: Setting, batch: Batch, args, sampler) -> dict:
    """One throughput row: the SNN, its twin and the T = 1 twin trained side by side."""
    device = torch.device(batch.stimuli.device)
    ts = {k: build_trainee(k, model_name, args.size, setting, device) for k in MODELS}
    time_side_by_side(list(ts.values()), batch, device, args.steps, args.repeats, args.warmup, sampler)
    return throughput_row(model_name, setting, ts, args.batch)


def bench_epoch(model_name: str, dataset: RecordingDataset, batch: Batch, args) -> dict:
    """One full epoch per model through the real data path, with the loop's defaults on the device."""
    device = torch.device(batch.stimuli.device)
    default = Setting(device.type, amp=device.type == "cuda", channels_last=device.type == "cuda")
    ts = {k: build_trainee(k, model_name, args.size, default, device) for k in ("snn", "twin")}
    runs: dict[str, list[float]] = {"data": [], "snn": [], "twin": []}
    for _ in range(args.repeats):  # alternating, like the cached-batch steps
        time_side_by_side(list(ts.values()), batch, device, args.steps, 1, args.warmup, None)
        runs["data"].append(time_epoch(dataset, None, args.batch, device))
        for k, t in ts.items():
            runs[k].append(time_epoch(dataset, t, args.batch, device))
    return {
        "model": model_name,
        "setting": default.label(ts["snn"].bound),
        **{k: statistics.median(v) for k, v in runs.items()},
        "snn_cached": images_per_s(ts["snn"], args.batch),
        "twin_cached": images_per_s(ts["twin"], args.batch),
    }


def keep_freed_memory(limit: int = 1 << 30) -> bool:
    """glibc: stop returning freed blocks below ``limit`` bytes to the OS (``mallopt``).

    By default glibc serves large blocks (activations of a batch) with mmap and unmaps
    them when freed, so every training step page-faults its activations in again; on
    CPU this costs a large share of the step. Returns False where mallopt is unavailable.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        m_trim_threshold, m_mmap_threshold = -1, -3
        return bool(libc.mallopt(m_mmap_threshold, limit)) and bool(libc.mallopt(m_trim_threshold, 4 * limit))
    except (OSError, AttributeError):
        return False


def fixed_batch(batch_size: int, size: int, device: torch.device) -> Batch:
    g = torch.Generator().manual_seed(0)
    return Batch(
        torch.randint(0, 256, (batch_size, 1, 3, size, size), dtype=torch.uint8, generator=g),
        torch.poisson(torch.full((batch_size, 1, N_NEURONS), 2.0), generator=g),
        "bench",
    ).to(device)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    kept = keep_freed_memory() if args.keep_memory else False
    devices = (
        ["cpu", "cuda"]
        if args.device == "auto" and torch.cuda.is_available()
        else ["cpu"]
        if args.device == "auto"
        else [args.device]
    )
    names = [f"CPU ({torch.get_num_threads()} threads)"] + (
        [torch.cuda.get_device_name(0)] if "cuda" in devices else []
    )
    print(
        f"training throughput, batch {args.batch} of {args.size}x{args.size} static images, "
        f"{N_NEURONS} neurons, median of {args.steps * args.repeats} steps per model after {args.warmup} "
        f"warm-up, models alternating; {'; '.join(names)}; torch {torch.__version__}; malloc: "
        f"{'freed memory kept (mallopt)' if kept else 'default'}\n"
    )
    rows, epoch_rows, failed = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        dataset = synthetic_train_set(Path(tmp), args.size, args.batch * args.epoch_batches)
        for model_name in args.model:
            for device_name in devices:
                device = torch.device("cuda:0" if device_name == "cuda" else "cpu")
                sampler = GpuSampler(0) if device.type == "cuda" else None
                batch = fixed_batch(args.batch, args.size, device)
                for setting in settings_for(device_name, args.compile) + [None]:
                    label = "full epoch" if setting is None else setting.label()
                    try:
                        if setting is None:
                            epoch_rows.append(bench_epoch(model_name, dataset, batch, args))
                            continue
                        rows.append(row := bench_setting(model_name, setting, batch, args, sampler))
                        print(
                            f"  {model_name} {row['setting']}: SNN {row['snn']:.1f} img/s, "
                            f"twin {row['twin']:.1f} img/s",
                            file=sys.stderr,
                        )
                    except Exception as err:  # a CUDA kernel or torch.compile failing: report it, go on
                        if device.type != "cuda":
                            raise
                        failed.append(
                            f"{model_name}, {label}: {type(err).__name__}: {' '.join(str(err).split())[:300]}"
                        )
                        print(f"  failed: {failed[-1]}", file=sys.stderr)
                    finally:
                        if device.type == "cuda":
                            torch.cuda.empty_cache()
    print(throughput_table(rows))
    print(
        f"\nfull epoch through RecordingDataset + SessionCycler ({len(dataset)} synthetic stimuli, "
        f"batch {args.batch}), with the loop's defaults for each device:\n"
    )
    print(epoch_table(epoch_rows))
    if failed:
        print("\nfailed settings:\n" + "\n".join(f"- {f}" for f in failed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
