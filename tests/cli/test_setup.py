"""First contact (slow): ``scripts/setup.sh`` on a copy of the checkout with no ``.venv`` installs
everything, says in one line why spikingjelly goes in without its requirements, prints no pip
error, and a second call returns at once without touching pip."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_setup_from_nothing_is_quiet_and_idempotent(tmp_path):
    copy = tmp_path / "checkout"
    (copy / "scripts").mkdir(parents=True)
    shutil.copytree(ROOT / "snnvis", copy / "snnvis", ignore=shutil.ignore_patterns("__pycache__", "local"))
    for name in ("pyproject.toml", "README.md", "requirements.lock", "scripts/setup.sh"):
        shutil.copy(ROOT / name, copy / name)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    out = subprocess.run(["bash", "scripts/setup.sh"], cwd=copy, env=env, capture_output=True, text=True, timeout=1100)
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout + out.stderr
    assert "ERROR" not in text and "dependency resolver" not in text, text[-3000:]
    ours = [line for line in text.splitlines() if line.startswith("snnvis:")]
    assert ours == [
        "snnvis: setting up .venv (first run only)",
        "snnvis: installing spikingjelly without its unused torchvision/torchaudio requirements",
    ]
    check = subprocess.run(
        [str(copy / ".venv" / "bin" / "python"), "-c", "import spikingjelly.activation_based, snnvis, hydra"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    t0 = time.perf_counter()
    again = subprocess.run(["bash", "scripts/setup.sh"], cwd=copy, env=env, capture_output=True, text=True)
    assert again.returncode == 0 and again.stdout == again.stderr == "" and time.perf_counter() - t0 < 5
