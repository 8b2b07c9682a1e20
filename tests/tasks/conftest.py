"""Fixtures of the snnvis-pretrain tests: small real ImageFolders built from scikit-learn's digits
by scripts/make_task_imagefolder.py."""

from __future__ import annotations

import pytest


def _make(tmp_path_factory, name: str, *args: str):
    import importlib.util
    import sys

    from task_helpers import ROOT

    spec = importlib.util.spec_from_file_location(
        "make_task_imagefolder", ROOT / "scripts" / "make_task_imagefolder.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_task_imagefolder", module)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp(name) / name
    module.main(["digits", str(out), "--size", "16", *args])
    return out


@pytest.fixture(scope="session")
def digits4(tmp_path_factory):
    """Digits 0-3, 60 per class at 16 px: 45 train and 15 val images per class."""
    return _make(tmp_path_factory, "digits4", "--classes", "0,1,2,3", "--per-class", "60")


@pytest.fixture(scope="session")
def digits_small(tmp_path_factory):
    """Digits 0-2, 12 per class (9 train, 3 val): for the tests that need a run, not accuracy."""
    return _make(tmp_path_factory, "digits_small", "--classes", "0,1,2", "--per-class", "12")
