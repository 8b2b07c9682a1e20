"""cowley2023_v4: import real sessions and compare what is read back with the source files."""

from __future__ import annotations

import io
import json
import re
import time
import warnings
import zipfile
from itertools import permutations
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from snnvis.cli.data import main as data_main
from snnvis.errors import UserError
from snnvis.recordings.importers import cowley2023_v4 as cowley
from snnvis.recordings.importing import import_source
from snnvis.recordings.recording import Recording
from snnvis.recordings.sources import FileStore, UnregisteredFileWarning
from snnvis.utils import content_hash

NAME = "cowley2023_v4"
FAST = ("190925", "210305")  # 190925: 1,200 files holding 900 distinct images; 210305: 400 images
INFO_KEYS = {"n_stimuli", "n_frames", "n_neurons", "n_repeats", "n_bins", "areas", "species", "splits"}


# ---- independent readers of the source files ----------------------------------------------------
def decode_zip(path: Path) -> tuple[list[str], list[bytes], np.ndarray]:
    """(file names, raw bytes, uint8 (n, H, W, 3)) in image-number order."""
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if n.endswith(".jpg")]
        names.sort(key=lambda n: int(re.search(r"(\d+)\.jpg$", n).group(1)))
        blobs = [zf.read(n) for n in names]
    pixels = np.stack([np.asarray(Image.open(io.BytesIO(b))) for b in blobs])
    return [n.rsplit("/", 1)[-1] for n in names], blobs, pixels


def source_arrays(datasets_dir: Path, sid: str):
    root = datasets_dir / NAME
    avg = np.load(root / f"responses_repeat_averaged/responses_{sid}.npy")
    names, blobs, pixels = decode_zip(root / f"images/images_{sid}.zip")
    return avg, names, blobs, pixels


def check_against_source(rec: Recording, datasets_dir: Path, sid: str) -> None:
    """Every stimulus: pixels equal its decoded JPEG(s), mean equals the average of its columns."""
    avg, names, _, pixels = source_arrays(datasets_dir, sid)
    col = {n: k for k, n in enumerate(names)}
    stim, mean = rec.stimuli(), rec.mean()
    assert rec.n_neurons == avg.shape[0]
    assert mean.shape == (rec.n_stimuli, 1, avg.shape[0])
    seen = []
    for s, sid_s in enumerate(rec.stimulus_ids):
        cols = [col[n] for n in sid_s.split("+")]
        seen += cols
        for c in cols:  # duplicates share pixels
            np.testing.assert_array_equal(stim[s, 0], pixels[c])
        np.testing.assert_allclose(mean[s, 0], avg[:, cols].mean(axis=1), rtol=1e-6, atol=1e-6)
    assert sorted(seen) == list(range(len(names)))  # every file used exactly once
    assert len(set(content_hash(p) for p in pixels)) == rec.n_stimuli
    assert len(set(rec.content_hash)) == rec.n_stimuli


def assert_no_leakage(recs: dict[str, Recording]) -> None:
    """No test image of one session is in another session's train split; shared images share a split."""
    split_of = {}
    for sid, rec in recs.items():
        hashes = rec.content_hash
        assert len(set(hashes)) == len(hashes), f"{sid}: an image is in two stimuli"
        split_of[sid] = {hashes[i]: name for name, idx in rec.splits.items() for i in idx}
    for a, b in permutations(recs, 2):
        test_a = {h for h, s in split_of[a].items() if s == "test"}
        train_b = {h for h, s in split_of[b].items() if s == "train"}
        assert not test_a & train_b, f"test images of {a} are in the train split of {b}"
        for h in set(split_of[a]) & set(split_of[b]):
            assert split_of[a][h] == split_of[b][h]


# ---- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fast(datasets_dir, tmp_path_factory):
    """190925 and 210305 via the CLI (their splits joined with every session of the mirror)."""
    out = tmp_path_factory.mktemp("cowley_fast")
    t = time.perf_counter()
    with pytest.raises(SystemExit) as exit_:
        data_main(["import", NAME, "--mirror", str(datasets_dir), "--out", str(out), "--only", *FAST])
    assert exit_.value.code == 0
    print(f"\ncowley import seconds: {time.perf_counter() - t:.1f}")
    return {sid: Recording(out / NAME / f"{sid}.h5") for sid in FAST}


# ---- discovery and skipping -----------------------------------------------------------------------
def test_discover_lists_every_session_and_why_201016_cannot_be_imported(datasets_dir):
    found = cowley.discover(FileStore(cowley.SOURCE, datasets_dir))
    on_disk = {p.stem.split("_")[1] for p in (datasets_dir / NAME / "responses_repeat_averaged").glob("*.npy")}
    assert set(found) == on_disk
    assert found["201016"] == "images/images_201016.zip is missing"
    assert all(reason is None for sid, reason in found.items() if sid != "201016")


def test_only_201016_is_an_error(datasets_dir, tmp_path, capsys):
    with pytest.raises(UserError, match=r"images/images_201016\.zip is missing"):
        import_source(NAME, mirror=datasets_dir, out=tmp_path, only=["201016"])
    with pytest.raises(SystemExit) as exit_:
        data_main(["import", NAME, "--mirror", str(datasets_dir), "--out", str(tmp_path), "--only", "201016"])
    assert exit_.value.code == 2
    assert "images_201016.zip is missing" in capsys.readouterr().err
    assert not (tmp_path / NAME / "201016.h5").exists()


def test_public_urls():
    assert cowley.SOURCE.url("images/images_190925.zip").endswith(
        "cowleygroup/V4_compact_models/HEAD/data_V4_responses/images/images_190925.zip"
    )
    assert cowley.SOURCE.url("readme_original.txt").endswith("data_V4_responses/readme.txt")


# ---- values ---------------------------------------------------------------------------------------
def test_190925_duplicates_are_merged_by_content(fast, datasets_dir):
    rec = fast["190925"]
    avg, names, blobs, pixels = source_arrays(datasets_dir, "190925")
    assert len(names) == 1200 and avg.shape == (36, 1200)
    assert rec.n_stimuli == 900 and rec.n_neurons == 36
    merged = [s for s in rec.stimulus_ids if "+" in s]
    assert len(merged) == 300
    assert merged[0] == "image0001.jpg+image0901.jpg" and merged[-1] == "image0300.jpg+image1200.jpg"
    # the duplicates are byte-identical files, so also pixel-identical, with different responses
    assert all(blobs[k] == blobs[k + 900] for k in range(300))
    assert not np.allclose(avg[:, :300], avg[:, 900:])
    m = rec.mean()
    np.testing.assert_allclose(m[0, 0], (avg[:, 0] + avg[:, 900]) / 2, rtol=1e-6)
    np.testing.assert_allclose(m[299, 0], (avg[:, 299] + avg[:, 1199]) / 2, rtol=1e-6)
    np.testing.assert_allclose(m[300, 0], avg[:, 300], rtol=1e-6)  # image0301.jpg, not duplicated
    assert rec.stimulus_ids[300] == "image0301.jpg"
    check_against_source(rec, datasets_dir, "190925")
    # the copies are independent repeat-averages: kept as two trials (split halves), NaN-padded
    trials = rec.trials()
    assert trials.shape == (900, 2, 1, 36)
    np.testing.assert_array_equal(trials[0, :, 0], avg[:, [0, 900]].T.astype(np.float32))
    np.testing.assert_array_equal(trials[300, 0, 0], avg[:, 300].astype(np.float32))
    assert np.isnan(trials[300:, 1]).all() and not np.isnan(trials[:300]).any()
    assert "independent repeat-averages" in rec.response_info().description


def test_210305_values_and_metadata(fast, datasets_dir):
    rec = fast["210305"]
    avg, names, _, pixels = source_arrays(datasets_dir, "210305")
    assert rec.n_stimuli == 400 and rec.n_neurons == 70 and rec.n_frames == 1
    assert rec.image_shape == (112, 112, 3)
    assert list(rec.stimulus_ids) == names
    np.testing.assert_array_equal(rec.stimuli([0])[0, 0], pixels[0])
    np.testing.assert_array_equal(rec.stimuli([399])[0, 0], pixels[-1])
    np.testing.assert_array_equal(rec.mean()[:, 0, :], avg.T.astype(np.float32))
    assert rec.mean(idx=[17])[0, 0, 5] == np.float32(avg[5, 17])
    assert set(rec.neuron_areas) == {"V4"} and rec.areas == ["V4"]
    assert rec.neuron_ids[0] == "210305_n0" and rec.neuron_ids[-1] == "210305_n69"
    assert rec.species == "macaque (Macaca mulatta)"
    info = rec.response_info()
    assert info.units == "spike count in a 100 ms window, averaged over repeats"
    np.testing.assert_array_equal(info.windows_ms, [[0.0, 100.0]])
    assert info.n_repeats == 0 and rec.trials() is None
    assert "monkey PE" in info.description and "offset" in info.description
    assert "monkey WE" in fast["190925"].response_info().description
    prov = rec.provenance()
    assert {f["name"] for f in prov["files"]} >= {
        "images/images_210305.zip",
        "responses_repeat_averaged/responses_210305.npy",
    }
    check_against_source(rec, datasets_dir, "210305")


def test_info_json(fast, capsys):
    with pytest.raises(SystemExit) as exit_:
        data_main(["info", str(fast["190925"].path), "--json"])
    assert exit_.value.code == 0
    info = json.loads(capsys.readouterr().out)
    assert INFO_KEYS <= set(info)
    assert info["n_neurons"] == 36 and info["n_stimuli"] == 900 and info["n_frames"] == 1
    assert info["n_repeats"] == 2 and info["n_bins"] == 1  # the two copies of 300 images
    assert isinstance(info["lookup_r_median"], float)
    assert info["areas"] == ["V4"] and info["species"] == "macaque (Macaca mulatta)"
    assert sum(info["splits"].values()) == 900
    assert info["held_out_kind"] == "normal"
    assert info["kinds"]["test"] == {"normal": info["splits"]["test"]}
    assert info["kinds"]["train"]["active learning"] == 300


def test_cross_session_leakage_fast(fast):
    assert_no_leakage(fast)


def test_raw_repeats_are_pooled_and_weighted(datasets_dir, tmp_path):
    """201016 has raw repeats but no images here: give it a zip (with one duplicate) in a tmp mirror."""
    real = datasets_dir / NAME
    mirror = tmp_path / "mirror"
    for rel in ("responses_repeat_averaged/responses_201016.npy", "responses_raw/responses_201016.npy"):
        (mirror / NAME / rel).parent.mkdir(parents=True, exist_ok=True)
        (mirror / NAME / rel).symlink_to(real / rel)
    _, blobs, pixels = decode_zip(real / "images/images_190927.zip")
    blobs = blobs[:599] + [blobs[0]]  # image0600 duplicates image0001
    (mirror / NAME / "images").mkdir()
    with zipfile.ZipFile(mirror / NAME / "images/images_201016.zip", "w") as zf:
        zf.writestr("images_201016/", b"")  # the layout the README describes
        for k in np.random.default_rng(0).permutation(600):
            zf.writestr(f"images_201016/image{k + 1:04d}.jpg", blobs[k])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnregisteredFileWarning)
        (path,) = import_source(NAME, mirror=mirror, out=tmp_path / "out", only=["201016"])
    rec = Recording(path)
    raw = np.load(real / "responses_raw/responses_201016.npy")
    avg = np.load(real / "responses_repeat_averaged/responses_201016.npy")
    count = (~np.isnan(raw[0])).sum(axis=1)  # repeats per image (same for every neuron here)
    assert rec.n_stimuli == 599 and rec.stimulus_ids[0] == "image0001.jpg+image0600.jpg"
    trials, mean = rec.trials(), rec.mean()
    assert trials.shape == (599, count[0] + count[599], 1, 82)
    # merged: mean over pooled repeats == repeat-count-weighted mean of the two averages
    weighted = (avg[:, 0] * count[0] + avg[:, 599] * count[599]) / (count[0] + count[599])
    np.testing.assert_allclose(mean[0, 0], weighted, rtol=1e-5)
    pooled = np.concatenate([raw[:, 0, : count[0]], raw[:, 599, : count[599]]], axis=1)
    np.testing.assert_array_equal(trials[0, : pooled.shape[1], 0], pooled.T.astype(np.float32))
    assert np.isnan(trials[0, pooled.shape[1] :]).all()
    # not merged: trials are the raw repeats, NaN-padded; mean equals the released average
    for k in (1, 250, 598):
        np.testing.assert_array_equal(trials[k, : count[k], 0], raw[:, k, : count[k]].T.astype(np.float32))
        assert np.isnan(trials[k, count[k] :]).all()
        np.testing.assert_allclose(mean[k, 0], avg[:, k], rtol=1e-5)
    np.testing.assert_allclose(np.nanmean(trials, axis=1), mean, rtol=1e-6)
    assert "images/images_201016.zip" in rec.provenance()["unregistered"]


# ---- every session (slow) -------------------------------------------------------------------------
@pytest.mark.slow
def test_all_sessions_and_leakage(datasets_dir, tmp_path):
    times, last = {}, [None, time.perf_counter()]

    def progress(wanted):
        for sid in wanted:
            last[:] = [sid, time.perf_counter()]
            yield sid
            times[sid] = time.perf_counter() - last[1]

    with pytest.warns(UserWarning, match="skipping session 201016: images/images_201016.zip is missing"):
        paths = import_source(NAME, mirror=datasets_dir, out=tmp_path, progress=progress)
    print(f"\ncowley import seconds per session: { {k: round(v, 2) for k, v in times.items()} }")
    expected = sorted(p.stem.split("_")[1] for p in (datasets_dir / NAME / "images").glob("images_*.zip"))
    assert sorted(p.stem for p in paths) == expected
    recs = {p.stem: Recording(p) for p in paths}
    for sid, rec in recs.items():
        check_against_source(rec, datasets_dir, sid)
    assert recs["190925"].n_stimuli == 900
    assert recs["210621"].n_stimuli == 1198  # two duplicated images in this session
    assert "image0101.jpg+image0536.jpg" in recs["210621"].stimulus_ids
    assert sum(r.n_neurons for r in recs.values()) == 371
    assert_no_leakage(recs)


# ---- near-duplicate families and the lookup baseline ------------------------------------------------
def thumbnail_siblings(pixels: np.ndarray, threshold: float = 0.95) -> np.ndarray:
    """(n, n) bool: 16x16 grayscale thumbnails correlate above ``threshold`` (computed independently)."""
    t = np.stack(
        [np.asarray(Image.fromarray(p).convert("L").resize((16, 16), Image.BILINEAR), float).ravel() for p in pixels]
    )
    c = np.corrcoef(t)
    np.fill_diagonal(c, 0)
    return c > threshold


def type_mean_r(rec: Recording, idx: np.ndarray, first_of_second_type: int = 601) -> float:
    """Median r over ``idx`` of a predictor that knows only the image type (file number < or >= the cut)."""
    from snnvis.recordings.leakage import pearson_per_neuron

    num = np.array([int(re.search(r"(\d+)", s).group(1)) for s in rec.stimulus_ids])
    late, tr, y = num >= first_of_second_type, rec.split("train"), rec.mean()[:, 0]
    pred = np.where(late[idx][:, None], y[tr][late[tr]].mean(0), y[tr][~late[tr]].mean(0))
    return float(np.nanmedian(pearson_per_neuron(pred, y[idx])))


def test_190925_held_out_splits_hold_normal_images_only(fast, datasets_dir):
    """The readme lists 'normal (600), active learning (300)': files 601-900 only train. On a test split of
    both types, the type alone predicts V4 at median r ~0.5; on the normal-only test split the lookup is low."""
    from snnvis.recordings.leakage import lookup_baseline

    rec = fast["190925"]
    num = np.array([int(re.search(r"(\d+)", s).group(1)) for s in rec.stimulus_ids])
    assert list(rec.kind) == ["normal" if n <= 600 else "active learning" for n in num]
    assert rec.held_out_kind == "normal"
    held = np.concatenate([rec.split("validation"), rec.split("test")])
    assert (num[held] <= 600).all() and len(rec.split("test")) > 100
    assert (num[rec.split("train")] > 600).sum() == 300
    mixed = np.concatenate([rec.split("test"), np.flatnonzero(num > 600)[::5]])  # what a mixed test split was
    assert type_mean_r(rec, mixed) > 0.4
    assert lookup_baseline(rec)["r_median"] <= 0.2


def test_file_kinds_follow_the_readme_table(datasets_dir):
    assert cowley.listed_types("normal (600), Bashivan et al., 2019 (600)") == [
        ("normal", 600),
        ("Bashivan et al., 2019", 600),
    ]
    assert cowley.listed_types("normal (1,200)") == [("normal", 1200)]
    kinds, held = cowley.stimulus_kinds(FileStore(cowley.SOURCE, datasets_dir), "190927")  # 900 of 1,200 listed
    assert held == "normal" and kinds[599] == "normal" and kinds[600] == "active learning"
    assert kinds[899] == "active learning" and kinds[900:] == [cowley.UNLISTED] * 300
    assert len(kinds) == 1200
    assert cowley.file_kinds("", 5) == ([""] * 5, "")  # a session the table does not list: no restriction


def test_210305_families_never_straddle_splits(fast, datasets_dir, capsys):
    from snnvis.recordings.leakage import lookup_baseline

    rec = fast["210305"]
    _, names, _, pixels = source_arrays(datasets_dir, "210305")
    sib = thumbnail_siblings(pixels)
    split = np.empty(rec.n_stimuli, object)
    for name, idx in rec.splits.items():
        split[idx] = name
    assert sib[rec.split("test")].any(axis=1).sum() > 60  # most test images do have siblings...
    i, j = np.nonzero(sib)
    assert (split[i] == split[j]).all()  # ...all in the test split too
    assert len(set(rec.family)) == 200  # 100 families of 3 and 100 singletons
    lookup = lookup_baseline(rec)["r_median"]
    assert lookup <= 0.2
    with pytest.raises(SystemExit):
        data_main(["info", str(rec.path), "--json"])
    assert json.loads(capsys.readouterr().out)["lookup_r_median"] == pytest.approx(lookup)


@pytest.mark.slow
def test_lookup_baseline_and_cross_session_near_duplicates_on_every_session(datasets_dir, tmp_path):
    """Every Cowley session: lookup r <= 0.2 on test, which holds one image type only; no test image
    has a near-duplicate in any session's train or validation split."""
    from snnvis.recordings.leakage import cross_split_near_duplicates, lookup_baseline

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        paths = import_source(NAME, mirror=datasets_dir, out=tmp_path)
    recs = {p.stem: Recording(p) for p in paths}
    assert len(recs) == 8
    for sid, rec in recs.items():
        r = lookup_baseline(rec)["r_median"]
        assert r <= 0.2, (sid, r)
        held = np.concatenate([rec.split("validation"), rec.split("test")])
        assert set(rec.kind[held]) == {rec.held_out_kind}, sid
    assert cross_split_near_duplicates(list(recs.values())) == []
    a, b = recs["190925"], recs["190929"]  # the known cross-session re-encode
    ia, ib = list(a.stimulus_ids).index("image0421.jpg"), list(b.stimulus_ids).index("image0487.jpg")
    assert a.family[ia] == b.family[ib]
    assert [k for k, v in a.splits.items() if ia in v] == [k for k, v in b.splits.items() if ib in v]


def test_190925_split_half_reliability_from_its_copies(fast, datasets_dir):
    """The ceiling code on the stored trials equals Spearman-Brown of the copy-vs-copy correlation."""
    from snnvis.similarity.ceilings import split_half_reliability

    avg = np.load(datasets_dir / NAME / "responses_repeat_averaged/responses_190925.npy")
    r = np.array([np.corrcoef(avg[k, :300], avg[k, 900:])[0, 1] for k in range(36)])
    direct = 2 * r / (1 + r)
    trials = fast["190925"].trials()[:, :, 0].astype(np.float64)
    # the ceiling code assigns each stimulus's two copies to the halves at random (averaged over 10 draws),
    # which moves the Pearson r by ~1e-3 from the fixed first-copy/second-copy order
    np.testing.assert_allclose(np.asarray(split_half_reliability(trials)), direct, atol=0.01)
    assert 0.7 < np.median(r) < 0.9  # the copies correlate at median r ~0.80
