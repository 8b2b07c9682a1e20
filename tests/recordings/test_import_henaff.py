"""Importer for Hénaff et al. 2021 (macaque V1, frame sequences): values read back vs the source files."""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io as sio
from PIL import Image

from snnvis.errors import UserError
from snnvis.recordings.importers import henaff2021_v1 as henaff
from snnvis.recordings.importing import import_source
from snnvis.recordings.recording import Recording
from snnvis.recordings.sources import FileStore
from snnvis.recordings.splits import SPLITS

SOURCE = "henaff2021_v1"
SESSIONS = ["ay4_u001", "ay2_u007"]  # the two smallest (13 and 16 units)
ALL_SESSIONS = ["ay2_u003", "ay2_u007", "ay3_u001", "ay3_u002", "ay4_u001", "ay4_u005", "ay4_u006"]
SCALES, CATEGORIES = ("zoom1x", "zoom2x"), ("natural", "synthetic", "contrast")


# ---------------------------------------------------------------------------------------
# Independent readers of the source files
# ---------------------------------------------------------------------------------------


def _root(datasets_dir: Path) -> Path:
    return datasets_dir / SOURCE


def _session_file(datasets_dir: Path, sid: str) -> Path:
    return _root(datasets_dir) / "V1_responses" / f"{sid}_image_sequences.mat"


def _ns(datasets_dir: Path, sid: str, key: str) -> np.ndarray:
    with h5py.File(_session_file(datasets_dir, sid), "r") as f:
        return f[f"naturalStruct/{key}"][()]


def _stim_info(datasets_dir: Path):
    return sio.loadmat(
        str(_root(datasets_dir) / "stimulus" / "stimulusInfo.mat"), squeeze_me=True, struct_as_record=False
    )["stimulusStruct"]


def _movie_field(info, scale: str, category: str, movie: int) -> str | None:
    """The stimulusStruct field of movie number ``movie`` (1-based), e.g. 'movie02bees'."""
    fields = getattr(getattr(info, scale), category)._fieldnames if category in getattr(info, scale)._fieldnames else []
    hits = [f for f in fields if int(re.match(r"movie(\d+)", f).group(1)) == movie]
    return hits[0] if hits else None


def _frame_png(datasets_dir: Path, info, scale: str, category: str, movie: int, frame: int) -> np.ndarray:
    """Pixels of frame ``frame`` (0-based) of a sequence, resolved through stimulusInfo.mat.

    Natural sequences list 11 ids; synthetic ones list frames 2-10 and take frames 1 and 11
    from first/last_frame_image_ids; contrast ones list frames 1-10 and take frame 11 from
    last_frame_image_ids.
    """
    si = SCALES.index(scale)
    ids = list(
        np.atleast_1d(
            getattr(getattr(getattr(info, scale), category), _movie_field(info, scale, category, movie)).stimulus_id
        )
    )
    first = int(np.atleast_1d(info.first_frame_image_ids[si])[movie - 1])
    last = int(np.atleast_1d(info.last_frame_image_ids[si])[movie - 1])
    slots = {"natural": ids, "synthetic": [first, *ids, last], "contrast": [*ids, last]}[category]
    sid = int(slots[frame])
    path = None
    for sc in SCALES:
        for cat in getattr(info, sc)._fieldnames:
            for mv in getattr(getattr(info, sc), cat)._fieldnames:
                e = getattr(getattr(getattr(info, sc), cat), mv)
                for i, p in zip(np.atleast_1d(e.stimulus_id), np.atleast_1d(e.file_paths)):
                    if int(i) == sid:
                        path = str(p)
    zoom_dir, movie_dir, name = path.split("/")[-3:]
    local = _root(datasets_dir) / "stimulus" / zoom_dir / f"movie{int(movie_dir[5:7])}" / name
    return np.asarray(Image.open(local))


def _title(datasets_dir: Path, movie: int) -> str:
    return str(np.atleast_1d(_stim_info(datasets_dir).movie_titles)[movie - 1])


# ---------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def imported(datasets_dir, tmp_path_factory) -> dict[str, Recording]:
    out = tmp_path_factory.mktemp("henaff")
    paths = import_source(SOURCE, mirror=datasets_dir, out=out, only=SESSIONS)
    return {p.stem: Recording(p) for p in paths}


@pytest.fixture(scope="module")
def rec(imported) -> Recording:
    return imported["ay4_u001"]


def _index(rec: Recording, stim_id: str) -> int:
    return int(np.flatnonzero(rec.stimulus_ids == stim_id)[0])


# ---------------------------------------------------------------------------------------
# Discovery
# ---------------------------------------------------------------------------------------


def test_discover_real_mirror(datasets_dir):
    found = henaff.discover(FileStore(henaff.SOURCE, datasets_dir))
    assert found == {s: None for s in ALL_SESSIONS}


def test_discover_ignores_other_files(tmp_path):
    resp = tmp_path / SOURCE / "V1_responses"
    (resp / "sub").mkdir(parents=True)
    for name in (
        "ay9_u042_image_sequences.mat",
        "bootstrap_table.mat",
        "data_correlations.mat",
        "ay9_u042_image_sequences.mat.bak",
        "notes_image_sequences.mat",
        "sub/ay1_u001_image_sequences.mat",
    ):
        (resp / name).write_bytes(b"")
    store = FileStore(henaff.SOURCE, tmp_path)
    assert henaff.discover(store) == {"ay9_u042": "stimulus/stimulusInfo.mat (stimulus id -> file map) is missing"}
    (tmp_path / SOURCE / "stimulus").mkdir()
    (tmp_path / SOURCE / "stimulus" / "stimulusInfo.mat").write_bytes(b"")
    assert henaff.discover(store) == {"ay9_u042": None}


def test_unknown_option_is_an_error(datasets_dir, tmp_path):
    with pytest.raises(UserError, match="unknown option"):
        import_source(henaff.SOURCE.name, mirror=datasets_dir, out=tmp_path, only=["ay4_u001"], frobnicate="1")
    with pytest.raises(UserError, match="psth_normalisation"):
        import_source(henaff.SOURCE.name, mirror=datasets_dir, out=tmp_path, only=["ay4_u001"], psth_normalisation="x")
    assert not (tmp_path / henaff.SOURCE.name).exists()  # checked before anything is read or written


# ---------------------------------------------------------------------------------------
# Structure
# ---------------------------------------------------------------------------------------


def test_shapes_and_metadata(imported, datasets_dir):
    info = _stim_info(datasets_dir)
    expected = {
        f"{s}/{c}/{_title(datasets_dir, m)}"
        for s in SCALES
        for c in CATEGORIES
        for m in range(1, 11)
        if c in getattr(info, s)._fieldnames and _movie_field(info, s, c, m)
    }
    assert len(expected) == 44  # 20 natural, 20 synthetic, 4 contrast (zoom1x only)
    for sid, rec in imported.items():
        R = _ns(datasets_dir, sid, "sortedResponses")
        n_units = R.shape[1]
        assert rec.id == sid and rec.source == SOURCE and rec.species == "macaque" and rec.areas == ["V1"]
        assert set(rec.stimulus_ids) == expected and rec.n_stimuli == 44
        assert rec.stimuli([0]).dtype == np.uint8 and rec.image_shape == (512, 512, 1) and rec.n_frames == 11
        # no unit has a frame without recorded repeats in these sessions, so none is dropped
        assert list(rec.neuron_ids) == [f"{sid}_u{k}" for k in range(n_units)]
        assert set(rec.neuron_areas) == {"V1"}
        assert rec.default_response == "frame_counts"
        fc, ps = rec.response_info("frame_counts"), rec.response_info("psth")
        assert fc.mean_shape == (44, 11, n_units) and fc.trials_shape[0::2] == (44, 11)
        assert fc.trials_shape[3] == n_units and 0 < fc.n_repeats <= R.shape[0] <= 50
        assert ps.mean_shape == (44, 35, n_units) and ps.trials_shape is None
        on, off = _ns(datasets_dir, sid, "stim_on_sec").item(), _ns(datasets_dir, sid, "stim_off_sec").item()
        assert rec.frame_timing() == pytest.approx((on * 1000, (on + off) * 1000)) == (200, 300)
        with h5py.File(rec.path) as f:
            groups = f["stimuli/group"].asstr()[()]
        for stim, g in zip(rec.stimulus_ids, groups):
            assert g == f"movie{int(stim.split('/')[2][5:7])}"


def test_windows_and_units(imported, datasets_dir):
    for sid, rec in imported.items():
        lat = _ns(datasets_dir, sid, "response_latency").item() * 1000
        integ = _ns(datasets_dir, sid, "integrationPeriod").item() * 1000
        fc, ps = rec.response_info("frame_counts"), rec.response_info("psth")
        np.testing.assert_allclose(fc.windows_ms, [[lat, lat + integ]])
        assert fc.align == "frame" and not fc.frame_average
        assert fc.units == f"spike count in 200 ms window from {round(lat):d} ms after frame onset"
        edges = _ns(datasets_dir, sid, "psth_edges").ravel() * 1000
        np.testing.assert_allclose(ps.windows_ms[:, 0], edges)
        np.testing.assert_allclose(ps.windows_ms[:, 1] - ps.windows_ms[:, 0], 10)
        assert ps.windows_ms[0, 0] == pytest.approx(-50) and ps.windows_ms[-1, 0] == pytest.approx(290)
        assert ps.align == "frame" and ps.frame_average and ps.units == "spikes/s"
    # latencies differ between sessions and are read from each file
    assert imported["ay4_u001"].response_info().windows_ms[0, 0] == pytest.approx(38)
    assert imported["ay2_u007"].response_info().windows_ms[0, 0] == pytest.approx(28)


# ---------------------------------------------------------------------------------------
# Pixels
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scale,category,movie,frame",
    [
        ("zoom1x", "natural", 3, 4),
        ("zoom2x", "natural", 10, 10),
        ("zoom1x", "synthetic", 1, 0),
        ("zoom2x", "synthetic", 7, 5),
        ("zoom1x", "synthetic", 9, 10),
        ("zoom1x", "contrast", 2, 0),
        ("zoom1x", "contrast", 10, 9),
        ("zoom1x", "contrast", 4, 10),
    ],
)
def test_frame_pixels_match_png(rec, datasets_dir, scale, category, movie, frame):
    info = _stim_info(datasets_dir)
    png = _frame_png(datasets_dir, info, scale, category, movie, frame)
    assert png.shape == (512, 512) and png.dtype == np.uint8
    i = _index(rec, f"{scale}/{category}/{_title(datasets_dir, movie)}")
    np.testing.assert_array_equal(rec.stimuli([i])[0, frame, :, :, 0], png)


def test_synthetic_sequences_share_natural_endpoints(rec, datasets_dir):
    info = _stim_info(datasets_dir)
    trials = rec.trials("frame_counts")
    for s, scale in enumerate(SCALES):
        nat_ids = {
            m: np.atleast_1d(getattr(getattr(info, scale).natural, _movie_field(info, scale, "natural", m)).stimulus_id)
            for m in range(1, 11)
        }
        for m in range(1, 11):
            # the source: first/last frame ids of a movie are its natural frames 1 and 11
            assert np.atleast_1d(info.first_frame_image_ids[s])[m - 1] == nat_ids[m][0]
            assert np.atleast_1d(info.last_frame_image_ids[s])[m - 1] == nat_ids[m][-1]
            title = _title(datasets_dir, m)
            nat, syn = _index(rec, f"{scale}/natural/{title}"), _index(rec, f"{scale}/synthetic/{title}")
            for f in (0, 10):
                assert rec.frame_hash[syn, f] == rec.frame_hash[nat, f]
                np.testing.assert_array_equal(trials[syn, :, f], trials[nat, :, f])
            assert len(set(rec.frame_hash[syn, 1:10]) & set(rec.frame_hash[nat])) == 0
    # synthetic frames are the pixel-linear interpolation of the endpoints (PNG rounding aside)
    i = _index(rec, f"zoom1x/synthetic/{_title(datasets_dir, 5)}")
    seq = rec.stimuli([i])[0, :, :, :, 0].astype(float)
    for k in range(1, 10):
        t = k / 10
        assert np.abs(seq[k] - ((1 - t) * seq[0] + t * seq[10])).max() <= 2
    # contrast frames 1-10 are natural frame 1 at rising contrast; frame 11 is natural frame 11
    c, n = (
        _index(rec, f"zoom1x/contrast/{_title(datasets_dir, 2)}"),
        _index(rec, f"zoom1x/natural/{_title(datasets_dir, 2)}"),
    )
    assert rec.frame_hash[c, 10] == rec.frame_hash[n, 10]
    cseq, n1 = rec.stimuli([c])[0, :, :, :, 0].astype(float), rec.stimuli([n])[0, 0, :, :, 0].astype(float)
    assert np.corrcoef(cseq[9].ravel(), n1.ravel())[0, 1] > 0.99
    assert np.all(np.diff([cseq[k].std() for k in range(10)]) > 0)


# ---------------------------------------------------------------------------------------
# Responses
# ---------------------------------------------------------------------------------------

# (scale, category, movie 1-based, frame 0-based, unit, repeat): h5py index is
# sortedResponses[repeat, unit, frame, movie - 1, category, scale]
SPOTS = [
    ("zoom1x", "natural", 1, 0, 0, 0),
    ("zoom2x", "synthetic", 5, 7, 3, 12),
    ("zoom1x", "contrast", 7, 2, 11, 30),
    ("zoom2x", "natural", 10, 10, 12, 49),
    ("zoom1x", "synthetic", 3, 10, 5, 4),
]


def test_frame_counts_match_sorted_responses(imported, datasets_dir):
    for sid, rec in imported.items():
        R = _ns(datasets_dir, sid, "sortedResponses")
        mean, trials = rec.mean("frame_counts"), rec.trials("frame_counts")
        assert not np.isnan(mean).any()
        for scale, cat, movie, frame, unit, rep in SPOTS:
            i = _index(rec, f"{scale}/{cat}/{_title(datasets_dir, movie)}")
            src = R[:, unit, frame, movie - 1, CATEGORIES.index(cat), SCALES.index(scale)]
            np.testing.assert_array_equal(trials[i, :, frame, unit], src[: trials.shape[1]].astype(np.float32))
            assert np.isnan(src[trials.shape[1] :]).all()
            assert mean[i, frame, unit] == pytest.approx(np.nanmean(src), rel=1e-6)
            if not np.isnan(src[rep]):
                assert trials[i, rep, frame, unit] == src[rep]
        # repeat counts: as many valid repeats per cell as in the file, at most the repeats axis
        n_valid = (~np.isnan(trials)).sum(1)
        assert n_valid.min() >= 1 and n_valid.max() == (~np.isnan(R)).sum(0).max() <= R.shape[0]
        # whole-array check: every kept sequence equals its block of sortedResponses
        for i, stim in enumerate(rec.stimulus_ids):
            scale, cat, title = stim.split("/")
            block = R[:, :, :, int(title[5:7]) - 1, CATEGORIES.index(cat), SCALES.index(scale)]
            np.testing.assert_array_equal(trials[i], block.transpose(0, 2, 1)[: trials.shape[1]].astype(np.float32))


def test_psth_matches_psth_population(imported, datasets_dir):
    for sid, rec in imported.items():
        P, R = _ns(datasets_dir, sid, "psth_population"), _ns(datasets_dir, sid, "sortedResponses")
        psth = rec.mean("psth")
        assert not np.isnan(psth).any()
        for i, stim in enumerate(rec.stimulus_ids):
            scale, cat, title = stim.split("/")
            m, c, s = int(title[5:7]) - 1, CATEGORIES.index(cat), SCALES.index(scale)
            presented = (~np.isnan(R[:, :, :, m, c, s])).sum(axis=(0, 2))  # per unit
            # the file divides by 11 frames x the repeats axis; the import by presentations recorded
            expected = P[:, :, m, c, s] * (11 * R.shape[0]) / presented
            np.testing.assert_allclose(psth[i], expected, rtol=1e-5, atol=1e-4)
        # scale: the PSTH integrated over the count window gives the mean spike count (spikes/s)
        lat = rec.response_info("frame_counts").windows_ms[0, 0]
        w = rec.response_info("psth").windows_ms
        overlap_s = np.clip(np.minimum(w[:, 1], lat + 200) - np.maximum(w[:, 0], lat), 0, None) / 1000
        predicted = np.einsum("t,stu->su", overlap_s, psth)
        trials = rec.trials("frame_counts")
        pooled = np.nansum(trials, axis=(1, 2)) / (~np.isnan(trials)).sum(axis=(1, 2))
        ok = pooled > 0.5
        assert np.median(pooled[ok] / predicted[ok]) == pytest.approx(1, abs=0.02)


def test_psth_file_normalisation_option(datasets_dir):
    store = FileStore(henaff.SOURCE, datasets_dir)
    data = henaff.load(store, "ay4_u001", psth_normalisation="file")
    P = _ns(datasets_dir, "ay4_u001", "psth_population")
    i = data.stimulus_ids.index(f"zoom2x/synthetic/{_title(datasets_dir, 4)}")
    np.testing.assert_allclose(data.responses["psth"].mean[i], P[:, :, 3, 1, 1], rtol=1e-6)
    assert data.responses["psth"].units.startswith("spikes/s x")


# ---------------------------------------------------------------------------------------
# Splits
# ---------------------------------------------------------------------------------------


def _split_of_each(rec: Recording) -> np.ndarray:
    out = np.empty(rec.n_stimuli, dtype=object)
    for name, idx in rec.splits.items():
        out[idx] = name
    return out


def test_no_group_or_frame_straddles_splits(imported):
    for rec in imported.values():
        split = _split_of_each(rec)
        assert all(s in SPLITS for s in split)
        with h5py.File(rec.path) as f:
            groups = f["stimuli/group"].asstr()[()]
        for g in set(groups):
            assert len(set(split[groups == g])) == 1, g
        by_frame: dict[str, set] = {}
        for i, row in enumerate(rec.frame_hash):
            for h in row:
                by_frame.setdefault(h, set()).add(split[i])
        assert all(len(v) == 1 for v in by_frame.values())


def test_sessions_agree_on_splits(imported):
    a, b = imported.values()
    np.testing.assert_array_equal(a.stimulus_ids, b.stimulus_ids)
    np.testing.assert_array_equal(a.frame_hash, b.frame_hash)
    np.testing.assert_array_equal(_split_of_each(a), _split_of_each(b))


@pytest.mark.slow
def test_import_all_sessions(datasets_dir, tmp_path):
    paths = import_source(SOURCE, mirror=datasets_dir, out=tmp_path)
    recs = [Recording(p) for p in paths]
    assert sorted(r.id for r in recs) == ALL_SESSIONS
    split_of_frame: dict[str, str] = {}
    for rec in recs:
        R = _ns(datasets_dir, rec.id, "sortedResponses")
        assert rec.n_stimuli == 44 and rec.n_neurons == R.shape[1]
        assert rec.response_info().n_repeats <= R.shape[0]  # 60 in ay4_u005, 50 elsewhere
        split = _split_of_each(rec)
        for i, row in enumerate(rec.frame_hash):
            for h in row:
                assert split_of_frame.setdefault(h, split[i]) == split[i]
    assert len(split_of_frame) == 440


# ---------------------------------------------------------------------------------------
# Presentation protocol
# ---------------------------------------------------------------------------------------


def _id_to_local_png(datasets_dir: Path) -> dict[int, Path]:
    info, out = _stim_info(datasets_dir), {}
    for sc in SCALES:
        for cat in getattr(info, sc)._fieldnames:
            for mv in getattr(getattr(info, sc), cat)._fieldnames:
                e = getattr(getattr(getattr(info, sc), cat), mv)
                for i, p in zip(np.atleast_1d(e.stimulus_id), np.atleast_1d(e.file_paths), strict=True):
                    zoom_dir, movie_dir, name = str(p).split("/")[-3:]
                    out[int(i)] = _root(datasets_dir) / "stimulus" / zoom_dir / f"movie{int(movie_dir[5:7])}" / name
    return out


def test_protocol_timing_and_order_from_the_source(rec, datasets_dir):
    p = rec.protocol
    assert p.mode == "independent" and p.resets_between_presentations
    assert (
        (p.on_ms, p.off_ms)
        == (
            float(_ns(datasets_dir, rec.id, "stim_on_sec")[0, 0]) * 1000,
            float(_ns(datasets_dir, rec.id, "stim_off_sec")[0, 0]) * 1000,
        )
        == (200, 100)
    )
    listed = _ns(datasets_dir, rec.id, "stimulus_ID_list").ravel().astype(int)
    np.testing.assert_array_equal(p.order_ids.astype(int), listed)
    with h5py.File(_session_file(datasets_dir, rec.id), "r") as f:
        blanks = set(f["naturalStruct/stimulusStruct/blank_images"][()].ravel().astype(int).tolist())
    is_blank = np.isin(listed, list(blanks))
    assert is_blank.any() and (p.order[is_blank] == -1).all()
    # every other presentation points at a frame slot holding exactly that stimulus' PNG
    pngs, rng = _id_to_local_png(datasets_dir), np.random.default_rng(0)
    for k in rng.choice(np.flatnonzero(~is_blank), 12, replace=False):
        s, fr = p.order[k]
        assert s >= 0
        np.testing.assert_array_equal(rec.stimuli([s])[0, fr, ..., 0], np.asarray(Image.open(pngs[listed[k]])))


def test_consecutive_presentations_are_rarely_consecutive_frames(rec):
    """Measured independently: slots found by frame content, every slot of a shared frame counted."""
    p = rec.protocol
    fh = rec.frame_hash
    slots: dict[str, set] = {}
    for (s, fr), h in np.ndenumerate(fh):
        slots.setdefault(h, set()).add((s, fr))
    hash_of = {i: fh[s, fr] for i, (s, fr) in zip(p.order_ids, p.order, strict=True) if s >= 0}
    pairs = list(zip(p.order_ids[:-1], p.order_ids[1:], strict=True))
    hits = sum(
        a in hash_of and b in hash_of and any((s, fr + 1) in slots[hash_of[b]] for s, fr in slots[hash_of[a]])
        for a, b in pairs
    )
    assert p.consecutive_frame_fraction(1) == pytest.approx(hits / len(pairs))
    assert 0 < hits / len(pairs) < 0.01
