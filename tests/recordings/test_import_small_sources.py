"""kriegeskorte2008_it, majajhong2015_excerpt, zhang_desimone_it, allen_visp_scenes:
import each source once and compare what is read back with the source files."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from snnvis.cli.data import main as data_main
from snnvis.recordings.importing import import_source
from snnvis.recordings.recording import Recording


def cli(*argv: str) -> int:
    with pytest.raises(SystemExit) as exit_:
        data_main(list(argv))
    return exit_.value.code


# =====================================================================================================
# kriegeskorte2008_it
# =====================================================================================================
@pytest.fixture(scope="module")
def kriegeskorte(datasets_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("kriegeskorte")
    (path,) = import_source("kriegeskorte2008_it", mirror=datasets_dir, out=out)
    return Recording(path)


def test_kriegeskorte_images_and_rdms(kriegeskorte, datasets_dir):
    import scipy.io as sio
    from scipy.spatial.distance import squareform

    rec = kriegeskorte
    mat = sio.loadmat(datasets_dir / "kriegeskorte2008_it/Kriegeskorte_Neuron2008_supplementalData.mat")
    stim = mat["stimuli_92objs"].ravel()
    assert rec.n_stimuli == 92 and rec.image_shape == (175, 175, 3) and rec.n_frames == 1
    np.testing.assert_array_equal(rec.stimuli([0])[0, 0], stim[0]["image"])
    np.testing.assert_array_equal(rec.stimuli([91])[0, 0], stim[91]["image"])
    assert rec.stimulus_ids[0] == "obj01_human-bodypart" and rec.stimulus_ids[91].startswith("obj92_")
    assert len(set(rec.content_hash)) == 92
    # no neurons, no response sets
    assert rec.n_neurons == 0 and rec.response_sets == {} and rec.default_response is None
    assert list(rec.neuron_ids) == [] and rec.areas == ["IT"]
    assert rec.species == "macaque (and human fMRI reference)"
    fig1 = {str(e["name"].ravel()[0]): e["RDM"] for e in mat["RDMs_mIT_hIT_fig1"].ravel()}
    monkey, attrs = rec.reference_rdm("monkey_IT")
    np.testing.assert_array_equal(monkey, squareform(fig1["mIT_674neurons"].ravel()))
    assert monkey.shape == (92, 92) and np.allclose(monkey, monkey.T) and not np.diag(monkey).any()
    assert attrs["area"] == "IT" and int(attrs["n_neurons"]) == 674 and "Pearson" in attrs["method"]
    assert attrs["description"]
    assert json.loads(attrs["category_labels"])[:2] == ["animate", "inanim"]
    np.testing.assert_array_equal(json.loads(attrs["category_vectors"]), mat["categoryVectors"])
    human, hattrs = rec.reference_rdm("human_IT")
    np.testing.assert_array_equal(human, squareform(fig1["hITvisStim_316vx"].ravel()))
    assert hattrs["species"] == "human" and int(hattrs["n_voxels"]) == 316
    brain = sio.loadmat(datasets_dir / "kriegeskorte2008_it/92_brainRDMs.mat")["RDMs"].ravel()
    per_subject = [n for n in rec.reference_rdm_names if n.startswith("human_IT_")]
    assert len(per_subject) == len(brain) == 8
    np.testing.assert_array_equal(rec.reference_rdm("human_IT_BE_session1")[0], brain[0]["RDM"])


def test_kriegeskorte_info_json(kriegeskorte, capsys):
    assert cli("info", str(kriegeskorte.path), "--json") == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_neurons"] == 0 and info["n_bins"] == 0 and info["n_repeats"] == 0
    assert info["n_stimuli"] == 92 and info["areas"] == ["IT"] and "monkey_IT" in info["reference_rdms"]
    assert cli("info", str(kriegeskorte.path)) == 0  # text form copes with no responses
    assert "RDM       monkey_IT" in capsys.readouterr().out


# =====================================================================================================
# majajhong2015_excerpt
# =====================================================================================================
@pytest.fixture(scope="module")
def majaj(datasets_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("majaj")
    assert cli("import", "majajhong2015_excerpt", "--mirror", str(datasets_dir), "--out", str(out)) == 0
    return Recording(out / "majajhong2015_excerpt" / "test_data.h5")


@pytest.fixture(scope="module")
def majaj_source(datasets_dir):
    with h5py.File(datasets_dir / "majajhong2015_excerpt/test_data.nc", "r") as f:
        s = lambda k: f[k][()].astype(str)  # noqa: E731
        return {
            "data": f["dicarlo.Majaj2015"][()],
            "image_id": s("image_id"),
            "repetition": f["repetition"][()],
            "neuroid_id": s("neuroid_id"),
            "region": s("region"),
        }


def test_majaj_shapes_areas_and_values(majaj, majaj_source, datasets_dir):
    rec, src = majaj, majaj_source
    assert rec.n_stimuli == 25 and rec.n_neurons == 296
    assert list(rec.stimulus_ids) == list(dict.fromkeys(src["image_id"]))
    assert list(rec.neuron_ids) == list(src["neuroid_id"])
    areas = list(rec.neuron_areas)
    assert areas == list(src["region"]) and areas.count("V4") == 128 and areas.count("IT") == 168
    assert rec.areas == ["IT", "V4"]
    info = rec.response_info()
    np.testing.assert_array_equal(info.windows_ms, [[70.0, 170.0]])
    assert info.n_repeats == 28 and info.units.startswith("normalised")
    trials, mean = rec.trials(), rec.mean()
    assert trials.shape == (25, 28, 1, 296) and not np.isnan(trials).any()
    np.testing.assert_allclose(mean, trials.mean(axis=1), rtol=1e-5, atol=1e-6)
    # spot checks through the image_id/repetition coordinates, not by order
    for s, r, k in [(0, 0, 0), (7, 13, 150), (24, 27, 295)]:
        img = rec.stimulus_ids[s]
        (p,) = np.flatnonzero((src["image_id"] == img) & (src["repetition"] == r))
        assert trials[s, r, 0, k] == src["data"][k, p, 0]
    sel = src["image_id"] == rec.stimulus_ids[3]
    np.testing.assert_allclose(mean[3, 0], src["data"][:, sel, 0].mean(axis=1), rtol=1e-5, atol=1e-6)


def test_majaj_pixels_linked_by_image_id(majaj, datasets_dir):
    for s in (0, 24):
        png = np.asarray(Image.open(datasets_dir / f"majajhong2015_excerpt/images/{majaj.stimulus_ids[s]}.png"))
        np.testing.assert_array_equal(majaj.stimuli([s])[0, 0], png)
    assert majaj.image_shape == (256, 256, 3)


# =====================================================================================================
# zhang_desimone_it
# =====================================================================================================
def read_rda(path: Path):
    import rdata

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = rdata.read_rda(path)["raster_data"]
    tcols = [c for c in df.columns if str(c).startswith("time.")]
    cond = (df["labels.stimulus_ID"].astype(str) + "@" + df["labels.stimulus_position"].astype(str)).to_numpy()
    return df[tcols].to_numpy(), cond, tcols


@pytest.fixture(scope="module")
def zhang(datasets_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("zhang")
    (path,) = import_source("zhang_desimone_it", mirror=datasets_dir, out=out)
    return Recording(path)


def test_zhang_conditions_neurons_and_bins(zhang, datasets_dir):
    rec = zhang
    files = sorted((datasets_dir / "zhang_desimone_it/raster_rda").glob("*.rda"))
    assert rec.n_stimuli == 21 and rec.n_neurons == len(files) == 132
    assert all("@" in s for s in rec.stimulus_ids) and "car@upper" in rec.stimulus_ids
    assert not rec.has_pixels and rec.n_frames == 1
    assert list(rec.frame_hash[:, 0]) == [f"id:zhang_desimone_it:{s}" for s in rec.stimulus_ids]
    assert set(rec.neuron_areas) == {"IT"} and rec.neuron_ids[0] == files[0].name[: -len("_raster_data.rda")]
    info = rec.response_info()
    assert info.units == "spikes/s" and info.align == "stimulus" and info.n_bins == 20
    np.testing.assert_array_equal(info.windows_ms[:, 0], np.arange(-500, 500, 50))
    np.testing.assert_array_equal(info.windows_ms[:, 1], np.arange(-450, 550, 50))
    assert info.n_repeats == 20


@pytest.mark.parametrize("neuron", [0, 77])
def test_zhang_binning_matches_numpy_on_the_raw_raster(zhang, datasets_dir, neuron):
    raster, cond, tcols = read_rda(sorted((datasets_dir / "zhang_desimone_it/raster_rda").glob("*.rda"))[neuron])
    assert tcols[0] == "time.-500_-499" and tcols[500] == "time.0_1"  # onset is the 501st column
    trials, mean = zhang.trials(), zhang.mean()
    for c in ("car@upper", "face@lower", "kiwi@middle"):
        s = list(zhang.stimulus_ids).index(c)
        rows = raster[cond == c]
        direct = np.stack([rows[:, b * 50 : (b + 1) * 50].sum(axis=1) for b in range(20)], axis=1) * 20.0
        np.testing.assert_array_equal(trials[s, : len(rows), :, neuron], direct.astype(np.float32))
        assert np.isnan(trials[s, len(rows) :, :, neuron]).all()
        np.testing.assert_allclose(mean[s, :, neuron], direct.mean(axis=0), rtol=1e-5)
    counts = (~np.isnan(trials[:, :, 0, neuron])).sum(axis=1)
    assert {c: int(n) for c, n in zip(zhang.stimulus_ids, counts)} == {
        c: int((cond == c).sum()) for c in zhang.stimulus_ids
    }


def test_zhang_bin_ms_option_via_cli(datasets_dir, tmp_path):
    """-o bin_ms=25 on a three-neuron mirror (the same registered files, linked)."""
    src = datasets_dir / "zhang_desimone_it/raster_rda"
    files = sorted(src.glob("*.rda"))[:3]
    (tmp_path / "m/zhang_desimone_it/raster_rda").mkdir(parents=True)
    for f in files:
        (tmp_path / "m/zhang_desimone_it/raster_rda" / f.name).symlink_to(f)
    out = tmp_path / "out"
    assert (
        cli("import", "zhang_desimone_it", "--mirror", str(tmp_path / "m"), "--out", str(out), "-o", "bin_ms=25") == 0
    )
    rec = Recording(out / "zhang_desimone_it/zhang_desimone_7object.h5")
    assert rec.n_neurons == 3 and rec.response_info().n_bins == 40
    np.testing.assert_array_equal(rec.response_info().windows_ms[:, 0], np.arange(-500, 500, 25))
    assert rec.provenance()["options"] == {"bin_ms": "25"}
    raster, cond, _ = read_rda(files[2])
    s = list(rec.stimulus_ids).index("hand@middle")
    rows = raster[cond == "hand@middle"]
    direct = rows.reshape(len(rows), 40, 25).sum(axis=2) * 40.0
    np.testing.assert_array_equal(rec.trials()[s, : len(rows), :, 2], direct)
    # a bin width that does not tile the 1000 ms raster is a user error (exit 2), nothing written
    assert (
        cli(
            "import",
            "zhang_desimone_it",
            "--mirror",
            str(tmp_path / "m"),
            "--out",
            str(tmp_path / "bad"),
            "-o",
            "bin_ms=30",
        )
        == 2
    )
    assert not (tmp_path / "bad/zhang_desimone_it/zhang_desimone_7object.h5").exists()


# =====================================================================================================
# allen_visp_scenes
# =====================================================================================================
@pytest.fixture(scope="module")
def allen(datasets_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("allen")
    (path,) = import_source("allen_visp_scenes", mirror=datasets_dir, out=out)
    return Recording(path)


def test_allen_means_matched_to_scenes_by_content(allen, datasets_dir):
    d = datasets_dir / "allen_visp_scenes"
    scenes = np.load(d / "all_input_scenes_118_961.npy")
    rec = allen
    assert rec.id == "511510667" and rec.n_stimuli == 118 and rec.n_neurons == 212
    assert rec.image_shape == (31, 31, 1) and rec.areas == ["VISp"] and rec.species == "mouse (Mus musculus)"
    pix = rec.stimuli()
    np.testing.assert_array_equal(pix.reshape(118, 961), scenes.astype(np.uint8))  # 0..255 integers, unchanged
    assert np.array_equal(scenes, np.round(scenes)) and scenes.min() >= 0 and scenes.max() <= 255
    mean = rec.mean()
    assert mean.shape == (118, 1, 212)
    flat = pix.reshape(118, 961).astype(np.float64)
    for part in ("train", "test"):
        x = np.load(d / f"Allen_{part}_input.npy")
        y = np.load(d / f"Allen_{part}_output.npy")
        for i in (0, len(x) // 2, len(x) - 1):
            (k,) = np.flatnonzero((flat == x[i]).all(axis=1))
            np.testing.assert_array_equal(mean[k, 0], y[i].astype(np.float32))
    info = rec.response_info()
    assert info.n_repeats == 0 and rec.trials() is None
    assert "not imported" in info.description and "dF/F" in info.units
    np.testing.assert_array_equal(info.windows_ms, [[0.0, 250.0]])
