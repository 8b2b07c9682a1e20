"""Progress a person can follow: per-job line prefixes under Hydra's parallel launchers, whether
to draw tqdm bars, and :class:`Heartbeat`, a status line at least every ``every`` seconds.

Lines go through :func:`snnvis.utils.say` or :func:`note`, so a run's log file
(``train.log``, ``score.log``) holds them too; they are written with ``tqdm.write`` so a bar
on the terminal is redrawn below them instead of overwriting them.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable

from tqdm import tqdm

from snnvis.utils import PRINTED

MAX_PREFIX = 60


def _hydra():
    try:
        from hydra.core.hydra_config import HydraConfig

        return HydraConfig.get() if HydraConfig.initialized() else None
    except ImportError:  # pragma: no cover - hydra is a dependency
        return None


def job_prefix(what: str = "", hc=None) -> str:
    """``[job N: k=v,...]`` in a job of a Hydra multirun: the job's values of the keys swept by the
    config (``hydra.sweeper.params``, as in ``experiment=quickstart``), else ``what`` (e.g. the model
    and its ``spiking``); ``""`` outside a multirun."""
    hc = _hydra() if hc is None else hc
    if hc is None or str(hc.mode) != "RunMode.MULTIRUN":
        return ""
    swept = set((hc.sweeper.get("params") or {}).keys())
    items = [str(o) for o in hc.overrides.task if str(o).split("=", 1)[0].lstrip("+~") in swept]
    text = ",".join(items) or what
    if len(text) > MAX_PREFIX:
        text = text[: MAX_PREFIX - 1] + "…"
    return f"[job {hc.job.num}: {text}]" if text else f"[job {hc.job.num}]"


def parallel_jobs(hc=None) -> bool:
    """True in a job that Hydra's joblib launcher runs next to others (n_jobs != 1)."""
    hc = _hydra() if hc is None else hc
    if hc is None or str(hc.mode) != "RunMode.MULTIRUN":
        return False
    launcher = hc.get("launcher") or {}
    return "joblib" in str(launcher.get("_target_", "")) and launcher.get("n_jobs", -1) != 1


def bar_options(setting, hc=None) -> dict:
    """tqdm keyword arguments for ``progress: auto | true | false``: ``auto`` draws a bar when
    stderr is a terminal and the job is not one of parallel jobs (whose bars would overwrite each
    other); ``true`` under parallel jobs gives each job its own terminal row (``position``)."""
    hc = _hydra() if hc is None else hc
    parallel = parallel_jobs(hc)
    if setting is True or str(setting).lower() == "true":
        return {"disable": False, "position": int(hc.job.num) if parallel else None}
    if str(setting).lower() == "auto":
        return {"disable": parallel or not sys.stderr.isatty(), "position": None}
    return {"disable": True, "position": None}


def note(logger: logging.Logger, message: str, *, level: int = logging.INFO) -> None:
    """Write ``message`` to stderr above any bar and log it (the console handler skips it)."""
    tqdm.write(message, file=sys.stderr)
    logger.log(level, message, extra={PRINTED: True})


class Heartbeat:
    """Emits the current status (with the elapsed time) at most once per ``every`` seconds.

    The work calls :meth:`set` with what it is doing (cheap: a line only when one is due);
    :meth:`start` (or ``with``) adds a daemon thread that ticks once a second, so a line appears
    even while one long step (scoring a layer) runs. ``status`` is a string or a callable;
    ``clock`` and ``emit`` are replaceable (tests pass a fake clock).
    """

    def __init__(
        self,
        status: str | Callable[[], str] = "",
        every: float = 30.0,
        emit: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger | None = None,
    ):
        self.status, self.every, self.clock = status, every, clock
        self.emit = emit or (lambda line: note(logger or logging.getLogger("snnvis.progress"), line))
        self.t0 = self.last = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def set(self, status: str) -> None:
        """The work's current status; emitted now if a line is due."""
        self.status = status
        self.tick()

    def line(self, text: str) -> None:
        """Emit ``text`` now (a milestone); the next status line is due ``every`` seconds later."""
        with self._lock:
            self.last = self.clock()
            self.emit(text)

    def tick(self, force: bool = False) -> bool:
        """Emit a line when ``every`` seconds have passed since the last one (or ``force``)."""
        with self._lock:
            now = self.clock()
            if not force and now - self.last < self.every:
                return False
            self.last = now
            status = self.status() if callable(self.status) else self.status
            self.emit(f"{status} ({_elapsed(now - self.t0)})")
            return True

    def start(self) -> Heartbeat:
        self._thread = threading.Thread(target=self._run, name="snnvis-heartbeat", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(max(0.01, min(1.0, self.every / 4))):
            self.tick()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _elapsed(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m} min {s:02d} s elapsed" if m else f"{s} s elapsed"
