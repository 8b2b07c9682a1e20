"""The data root: presets resolve their recordings under ``paths.data`` ($SNNVIS_DATA, else the
checkout's recordings/ or ./recordings) from any working directory; given paths stay as given;
a missing file names the resolved path and the variable; the hash does not depend on the root."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from snnvis.config import compose
from snnvis.errors import UserError
from snnvis.recordings import root
from snnvis.training.identity import config_hash
from snnvis.training.setup import load_sessions

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from training_helpers import TINY, write_synthetic  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ["190927", "210224", "210305"]


def test_presets_follow_snnvis_data_from_another_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SNNVIS_DATA", str(tmp_path / "data"))
    cfg = compose("train", ["experiment=quickstart"])
    assert cfg.paths.data == str(tmp_path / "data")
    assert list(cfg.data.recordings) == [str(tmp_path / "data" / "cowley2023_v4" / f"{s}.h5") for s in QUICKSTART]
    assert compose("score", []).paths.data == str(tmp_path / "data")
    with pytest.raises(UserError) as err:
        load_sessions(cfg.data)
    msg = err.value.message
    assert f"in {tmp_path / 'data' / 'cowley2023_v4' / '190927.h5'}: file not found under the data root" in msg
    assert "$SNNVIS_DATA" in msg and "snnvis-data import" in msg


def test_default_root_is_the_checkout_else_the_cwd(tmp_path, monkeypatch):
    monkeypatch.delenv("SNNVIS_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert compose("train", ["experiment=quickstart"]).data.recordings[0] == str(
        ROOT / "recordings" / "cowley2023_v4" / "190927.h5"
    )
    monkeypatch.setattr(root, "_CHECKOUT", tmp_path / "site-packages")  # an installed wheel
    assert root.data_root() == tmp_path / "recordings"
    monkeypatch.setenv("SNNVIS_DATA", "rel")  # a relative root is taken from the working directory
    assert root.data_root() == tmp_path / "rel"


def test_given_paths_stay_and_the_hash_ignores_where_the_data_live(tmp_path, monkeypatch):
    a = write_synthetic(tmp_path / "a" / "s.h5", n_stimuli=40, n_neurons=3, n_repeats=2, size=16, seed=0)
    b = tmp_path / "b" / "s.h5"
    b.parent.mkdir()
    shutil.copy(a, b)
    monkeypatch.chdir(tmp_path)
    rel = compose("train", [*TINY, "data.recordings=[a/s.h5]"])
    assert list(rel.data.recordings) == ["a/s.h5"]  # relative to the working directory, as given
    moved = compose("train", [*TINY, f"data.recordings=[{b}]", f"paths.data={tmp_path / 'b'}"])
    assert list(moved.data.recordings) == [str(b)]
    assert config_hash(rel) == config_hash(moved)  # same content, same run
    other = write_synthetic(tmp_path / "c.h5", n_stimuli=40, n_neurons=3, n_repeats=2, size=16, seed=1)
    assert config_hash(compose("train", [*TINY, f"data.recordings=[{other}]"])) != config_hash(rel)
