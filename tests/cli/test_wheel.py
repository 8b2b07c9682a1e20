"""The package carries its configs: every YAML under snnvis/conf is package data, and (slow) a
built wheel installed into a fresh venv runs the apps from a directory outside the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib import resources
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "snnvis" / "conf"


def _configs() -> set[str]:
    return {str(p.relative_to(ROOT)) for p in CONF.rglob("*") if p.is_file() and "local" not in p.parts}


def test_package_data_covers_every_config():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["snnvis"]
    shipped = {str(p.relative_to(ROOT)) for pat in patterns for p in (ROOT / "snnvis").glob(pat)}
    assert _configs() and _configs() <= shipped, sorted(_configs() - shipped)
    conf = resources.files("snnvis") / "conf"
    assert all((conf / f).is_file() for f in ("train.yaml", "score.yaml", "hydra/help/train.yaml"))
    assert (conf / "hydra" / "launcher" / "joblib_local.yaml").is_file()


def _run(cmd: list[str], cwd: Path, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{cmd}: {out.stderr[-2000:]}"
    return out


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    """pip wheel -> fresh venv (snnvis from the wheel only; the dependencies from this venv's
    site-packages on PYTHONPATH) -> the apps from another directory."""
    src = tmp_path / "src"  # a clean copy: no stale build/ of the checkout can add or hide files
    shutil.copytree(ROOT / "snnvis", src / "snnvis", ignore=shutil.ignore_patterns("__pycache__", "local"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)
    _run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-w", str(tmp_path)],
        src,
        env,
    )
    (wheel,) = tmp_path.glob("snnvis-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert _configs() <= names, sorted(_configs() - names)
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, env)
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "-q",
            "--no-deps",
            str(wheel),
        ],
        tmp_path,
        env,
    )
    site = next(p for p in sys.path if p.endswith("site-packages") and Path(p, "hydra").is_dir())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(env, PYTHONPATH=site, SNNVIS_DATA=str(tmp_path / "data"))
    where = _run([str(venv / "bin" / "python"), "-c", "import snnvis; print(snnvis.__file__)"], elsewhere, env)
    assert where.stdout.startswith(str(venv))  # the wheel's snnvis, not the checkout
    job = _run(
        [str(venv / "bin" / "snnvis-train"), "experiment=quickstart", "--cfg", "job", "--resolve"], elsewhere, env
    )
    assert f"- {tmp_path / 'data' / 'cowley2023_v4' / '190927.h5'}" in job.stdout and "name: quickstart" in job.stdout
    assert _run([str(venv / "bin" / "snnvis-score"), "--help"], elsewhere, env).stdout.startswith("snnvis-score:")
    data = _run([str(venv / "bin" / "snnvis-data"), "import", "--help"], elsewhere, env).stdout
    assert f"(default:{tmp_path / 'data'})" in "".join(data.split())  # argparse may wrap inside a long path
    assert not any(elsewhere.iterdir())  # nothing written where it ran
