"""Fixtures of the interop tests: an NWB session imported once, a one-epoch run trained on it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from nwb_fixture import N_IMAGES, N_REPEATS, N_UNITS, true_rates, write_images, write_nwb

sys.path.append(str(Path(__file__).resolve().parents[1] / "training"))  # training_helpers


@pytest.fixture(scope="session")
def nwb_session(tmp_path_factory):
    """(folder, image ids, true rates, the written spikes and order, imported recording path)."""
    from snnvis.cli.data import main as data_main

    root = tmp_path_factory.mktemp("nwb")
    ids = write_images(root / "images", N_IMAGES)
    rates = true_rates(N_IMAGES, N_UNITS)
    truth = write_nwb(root / "session1.nwb", ids, rates, N_REPEATS)
    out = root / "recordings"
    with pytest.raises(SystemExit) as done:
        data_main(
            [
                "import",
                "nwb",
                str(root / "session1.nwb"),
                "--stimuli",
                str(root / "images"),
                "--out",
                str(out),
                "-o",
                "bin_ms=100",
            ]
        )
    assert done.value.code == 0
    return root, ids, rates, truth, out / "nwb" / "session1.h5"


@pytest.fixture(scope="session")
def trained_run(nwb_session, tmp_path_factory):
    """(run dir, metrics) of one epoch of the smallest model trained on the imported NWB session."""
    from training_helpers import TINY, compose_train, recordings_override

    from snnvis.training import loop

    path = nwb_session[-1]
    run_dir = tmp_path_factory.mktemp("sweep") / "run"
    cfg = compose_train([*TINY, recordings_override([path]), "trainer.max_epochs=1"])
    return run_dir, loop.run(cfg, run_dir, model_label="sew_resnet_tiny")
