"""Shared test fixtures.

Real data lives in ``../shared/datasets`` beside the checkout (or ``$SNNVIS_SHARED_DATASETS``).
Tests that need it skip with a clear message when it is missing.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("SNNVIS_SHARED_DATASETS", ROOT.parent / "shared" / "datasets"))
# pyproject's timeout (5 min) bounds a default-suite test; a slow one runs for minutes by design
SLOW_TIMEOUT_S = 3600


def pytest_collection_modifyitems(items):
    """Slow tests without their own ``timeout`` mark get :data:`SLOW_TIMEOUT_S`."""
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT_S))


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    if not DATASETS.is_dir():
        pytest.skip(f"real datasets not found at {DATASETS} (set SNNVIS_SHARED_DATASETS)")
    return DATASETS


@pytest.fixture(scope="session")
def imported(datasets_dir, tmp_path_factory):
    """``imported(source, session=None)``: the path of one session (or the only file) of ``source``
    imported from the real datasets, once per test run: the pytest-xdist workers share the
    import through a file lock. The file is shared: read it, or copy it before changing it."""
    import warnings

    from filelock import FileLock

    from snnvis.recordings.importing import import_source

    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "imported"
    root.mkdir(exist_ok=True)

    def get(source: str, session: str | None = None) -> Path:
        out = root / f"{source}-{session or 'all'}"
        with FileLock(f"{out}.lock"):
            done = out / "done"
            if not done.exists():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    (path,) = import_source(source, mirror=datasets_dir, out=out, only=[session] if session else None)
                done.write_text(str(path))
            return Path(done.read_text())

    return get


@pytest.fixture
def load_script(monkeypatch):
    """``load_script(name)``: scripts/<name>.py imported as a module, registered in
    sys.modules for the test (dataclasses look their module up there)."""

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, name, module)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(autouse=True)
def _environment_restored():
    """Each test leaves os.environ as it found it: a DDP variable (RANK, WORLD_SIZE) left behind
    would make every later training run wait for a rendezvous that never comes."""
    before = dict(os.environ)
    yield
    if os.environ != before:
        os.environ.clear()
        os.environ.update(before)


@pytest.fixture(autouse=True)
def _deterministic_single_thread():
    """Seeded torch on one thread: the test models and arrays are small, and on a busy
    2-core machine a thread pool costs far more than it gains."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def _root_logging_at_start():
    import logging

    root = logging.getLogger()
    return list(root.handlers), root.level


@pytest.fixture(autouse=True)
def _restore_root_logging(_root_logging_at_start):
    """After each test the root logger is as it was when the session began: an app run in-process
    (Hydra's job logging, also from module-scoped fixtures) attaches handlers to streams that
    pytest closes, and a later log record written there would land in another test's stderr."""
    import logging

    yield
    handlers, level = _root_logging_at_start
    root = logging.getLogger()
    for h in root.handlers[:]:
        if h not in handlers:
            root.removeHandler(h)
    root.setLevel(level)
