"""``snnvis-data import nwb``: an NWB file written by pynwb imports to its known rates and trains for one epoch."""

from __future__ import annotations

import numpy as np
import pytest
from nwb_fixture import BASE_HZ, GAP_S, N_IMAGES, N_REPEATS, N_UNITS, ON_S, true_rates, write_images, write_nwb

from snnvis.cli.data import main as data_main
from snnvis.recordings.recording import Recording


def test_import_matches_spike_counts_and_known_rates(nwb_session):
    root, ids, rates, truth, path = nwb_session
    rec = Recording(path)
    assert list(rec.stimulus_ids) == ids and rec.n_neurons == N_UNITS
    assert list(rec.neuron_areas) == ["V4", "IT"] * (N_UNITS // 2)
    assert rec.stimuli().shape == (N_IMAGES, 1, 16, 16, 1)
    assert rec.default_response == "rate"
    trials = rec.trials("rate")[:, :, 0, :]  # (images, repeats, units)
    assert trials.shape == (N_IMAGES, N_REPEATS, N_UNITS)
    # independent count: spikes in [onset, onset + 300 ms) of each presentation, per image in presentation order
    for s in range(N_IMAGES):
        for r, k in enumerate(np.flatnonzero(truth["order"] == s)):
            a = truth["onsets"][k]
            want = [np.sum((t >= a) & (t < a + ON_S)) / ON_S for t in truth["spikes"]]
            np.testing.assert_allclose(trials[s, r], want, rtol=1e-5)
    # the mean rate estimates the Poisson rate: z-scores of (estimate - truth) are standard normal
    est = rec.mean("rate")[:, 0, :]
    z = (est - rates) / np.sqrt(rates / (ON_S * N_REPEATS))
    assert abs(z.mean()) < 0.3 and 0.7 < z.std() < 1.3
    assert np.corrcoef(est.ravel(), rates.ravel())[0, 1] > 0.95
    # the PSTH bins average to the whole-window rate, and the 2 Hz background outside the window is not counted
    psth = rec.mean("psth")
    np.testing.assert_array_equal(rec.response_info("psth").windows_ms, [[0, 100], [100, 200], [200, 300]])
    np.testing.assert_allclose(psth.mean(axis=1), est, rtol=1e-5)
    assert BASE_HZ < rates.min()
    # the protocol: independent flashes in the recorded order, 300 ms on, 200 ms off
    pr = rec.protocol
    assert (pr.mode, pr.on_ms, pr.off_ms) == ("independent", ON_S * 1000, GAP_S * 1000)
    np.testing.assert_array_equal(pr.order[:, 0], truth["order"])
    assert list(pr.order_ids) == [ids[s] for s in truth["order"]]


def test_window_before_onset_counts_the_background(nwb_session, tmp_path):
    """-o start_ms=-100: the first PSTH bin is the 100 ms blank before onset (background rate only)."""
    from snnvis.recordings.importers.nwb import read_nwb

    root, ids, rates, truth, _ = nwb_session
    data = read_nwb(root / "session1.nwb", root / "images", start_ms="-100", stop_ms="300", bin_ms="100")
    psth = data.responses["psth"]
    np.testing.assert_array_equal(psth.windows_ms[:, 0], [-100, 0, 100, 200])
    first = [k for k in range(len(truth["order"])) if k > 0]  # a blank of 200 ms precedes these
    want = np.mean(
        [
            [np.sum((t >= truth["onsets"][k] - 0.1) & (t < truth["onsets"][k])) / 0.1 for t in truth["spikes"]]
            for k in first
        ]
    )
    got = np.nanmean(psth.trials[:, :, 0, :])
    assert abs(got - want) < 0.2 and abs(got - BASE_HZ) < 1.0


def test_one_epoch_of_training_on_the_import(trained_run):
    _, metrics = trained_run
    assert metrics["validation"]["epochs_trained"] == 1
    assert metrics["test"]["overall"]["n_neurons"] == N_UNITS
    assert np.isfinite(metrics["test"]["overall"]["pearson_r_median"])


@pytest.mark.parametrize(
    "case, message",
    [
        ("no_units", "no units with spike times"),
        ("no_table", "no stimulus presentation table"),
        ("wrong_column", "no presentation table with an image id column"),
        ("missing_image", "image id 'img005'"),
    ],
)
def test_bad_files_stop_with_one_line(tmp_path, capsys, case, message):
    ids = write_images(tmp_path / "images", 6)
    kw = {"no_units": {"units": False}, "no_table": {"table": False}, "wrong_column": {"image_column": "picture"}}.get(
        case, {}
    )
    write_nwb(tmp_path / "s.nwb", ids, true_rates(6, 2), 2, **kw)
    if case == "missing_image":
        (tmp_path / "images" / "img005.png").unlink()
    with pytest.raises(SystemExit) as err:
        data_main(
            [
                "import",
                "nwb",
                str(tmp_path / "s.nwb"),
                "--stimuli",
                str(tmp_path / "images"),
                "--out",
                str(tmp_path / "out"),
            ]
        )
    assert err.value.code == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith("snnvis: error: ") and message in line and "\n" not in line
    assert not (tmp_path / "out").exists()
