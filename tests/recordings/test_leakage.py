"""Near-duplicate families and the pixel-lookup leakage baseline, on synthetic images."""

from __future__ import annotations

import types
import warnings

import imagehash
import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

from snnvis.recordings import importers, neardup
from snnvis.recordings.format import RecordingData, ResponseSet, write_recording
from snnvis.recordings.importing import import_source
from snnvis.recordings.leakage import cross_split_near_duplicates, lookup_baseline, lookup_predict, nearest
from snnvis.recordings.recording import Recording
from snnvis.recordings.sources import MIRROR_ENV, Source
from snnvis.recordings.splits import assign_splits
from snnvis.utils import content_hash

SIZE = 48


def scenes(n: int, seed: int) -> np.ndarray:
    """uint8 (n, SIZE, SIZE, 3) smooth random scenes (1/f-like, like natural images at low resolution)."""
    rng = np.random.default_rng(seed)
    x = sum(gaussian_filter(rng.normal(size=(n, SIZE, SIZE, 3)), (0, s, s, 0)) * s for s in (1, 3, 8))
    x = (x - x.min(axis=(1, 2, 3), keepdims=True)) / np.ptp(x, axis=(1, 2, 3), keepdims=True)
    return (x * 255).astype(np.uint8)


def blurred_copy(img: np.ndarray, seed: int) -> np.ndarray:
    """The image with one local patch blurred (how Cowley 210305's copies were made)."""
    rng = np.random.default_rng(seed)
    out = img.astype(float).copy()
    r, c = rng.integers(0, SIZE - 16, 2)
    out[r : r + 16, c : c + 16] = gaussian_filter(out[r : r + 16, c : c + 16], (3, 3, 0))
    return np.clip(out, 0, 255).astype(np.uint8)


def test_frame_keys_match_imagehash_and_pil():
    imgs = scenes(12, 0)
    phash, thumbs = neardup.frame_keys(imgs[:, None])
    assert phash.shape == (12, 1) and thumbs.shape == (12, 1, 16, 16) and thumbs.dtype == np.uint8
    for k, img in enumerate(imgs):
        assert phash[k, 0] == str(imagehash.phash(Image.fromarray(img)))
        ref = np.asarray(Image.fromarray(img).convert("L").resize((16, 16), Image.BILINEAR))
        np.testing.assert_array_equal(thumbs[k, 0], ref)


def test_blurred_copies_are_near_duplicates_and_other_scenes_are_not():
    base = scenes(30, 1)
    copies = np.stack([blurred_copy(b, k) for k, b in enumerate(base[:10])])
    phash, thumbs = neardup.frame_keys(np.concatenate([base, copies])[:, None])
    pairs = set(neardup.near_pairs(phash[:, 0], thumbs[:, 0]))
    assert {(k, 30 + k) for k in range(10)} <= pairs
    assert not [p for p in pairs if p[1] < 30]  # distinct scenes never join
    # the thresholds as documented: check each found pair against a direct computation
    for i, j in pairs:
        bits = bin(int(phash[i, 0], 16) ^ int(phash[j, 0], 16)).count("1")
        r = np.corrcoef(thumbs[i, 0].ravel().astype(float), thumbs[j, 0].ravel().astype(float))[0, 1]
        assert (bits <= neardup.PHASH_MAX_BITS and r >= neardup.THUMB_CORR_MIN) or r >= neardup.THUMB_CORR_SAME


def _keys(imgs):
    fh = np.array([[content_hash(i)] for i in imgs], dtype=object)
    return (fh, *neardup.frame_keys(imgs[:, None]))


def test_families_join_sessions_independently_of_order():
    a, b = scenes(20, 2), scenes(20, 3)
    b[:5] = [blurred_copy(x, 9) for x in a[:5]]  # session b re-shows 5 of a's scenes, edited
    ka, kb = _keys(a), _keys(b)
    fam_ab, fam_ba = neardup.families([ka, kb]), neardup.families([kb, ka])
    assert fam_ab == fam_ba
    fa, fb = neardup.stimulus_families(ka[0], fam_ab), neardup.stimulus_families(kb[0], fam_ab)
    for k in range(5):
        assert fa[k] == fb[k] == min(ka[0][k, 0], kb[0][k, 0])
    assert len(set(fa[5:]) | set(fb[5:])) == 30  # the rest are singletons
    # an anchored family keeps the key stored in an earlier file
    anchored = neardup.families([ka, kb], anchors={ka[0][0, 0]: "zzz"})
    assert neardup.stimulus_families(kb[0], anchored)[0] == "zzz"


def _recording(imgs: np.ndarray, responses: np.ndarray, rid: str = "s") -> RecordingData:
    n, m = responses.shape
    return RecordingData(
        recording_id=rid,
        source="synthetic",
        species="synthetic",
        citation="test",
        neuron_ids=[f"n{k}" for k in range(m)],
        neuron_areas=["V1"] * m,
        stimulus_ids=[f"{rid}_img{k}" for k in range(n)],
        pixels=imgs[:, None],
        responses={
            "rate": ResponseSet(
                mean=responses[:, None].astype(np.float32), windows_ms=np.array([[0.0, 100.0]]), units="a.u."
            )
        },
    )


def _responses(imgs: np.ndarray, seed: int, noise: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(imgs[0].size, 8))
    x = imgs.reshape(len(imgs), -1).astype(float)
    y = (x - x.mean(0)) @ w
    return y / y.std(0) + noise * rng.normal(size=y.shape)


def test_families_take_one_split_and_remove_lookup_leakage(tmp_path):
    base = scenes(60, 4)
    imgs = np.concatenate(
        [base] + [np.stack([blurred_copy(b, 100 * c + k) for k, b in enumerate(base)]) for c in (1, 2)]
    )  # 60 families of 3
    y = _responses(imgs, 0)
    fh, ph, th = _keys(imgs)
    exact_only = assign_splits(fh)  # the old rule: families straddle splits
    fam = neardup.stimulus_families(fh, neardup.families([(fh, ph, th)]))
    grouped = assign_splits(fh, families=fam)
    family_of = np.arange(180) % 60
    for splits, straddle in ((exact_only, True), (grouped, False)):
        split_of = {i: name for name, idx in splits.items() for i in idx}
        n_split = [len({split_of[i] for i in np.flatnonzero(family_of == f)}) for f in range(60)]
        assert (max(n_split) > 1) == straddle
    # the lookup predictor sees copies of test images only under the old rule
    r_old = np.median(
        _pearson(
            lookup_predict(imgs[exact_only["train"]], y[exact_only["train"]], imgs[exact_only["test"]]),
            y[exact_only["test"]],
        )
    )
    rec = Recording(write_recording(tmp_path / "fam.h5", _recording(imgs, y)))
    assert [sorted(v) for v in rec.splits.values()] == [sorted(v) for v in grouped.values()]
    assert len(set(rec.family)) == 60
    r_new = lookup_baseline(rec)["r_median"]
    assert r_old > 0.6 and r_new < r_old - 0.3
    assert cross_split_near_duplicates([rec]) == []


def _pearson(a, b):
    return np.array([np.corrcoef(a[:, k], b[:, k])[0, 1] for k in range(a.shape[1])])


def test_lookup_matches_a_direct_computation():
    imgs = scenes(40, 5)
    train, test = imgs[:30], imgs[30:]
    y = _responses(imgs, 1)
    idx, sim = nearest(train, test)
    flat = lambda x: x.reshape(len(x), -1).astype(float)  # noqa: E731
    ref = np.corrcoef(flat(test), flat(train))[:10, 10:]
    np.testing.assert_array_equal(idx, ref.argmax(1))
    np.testing.assert_allclose(sim, ref.max(1), rtol=1e-4)
    np.testing.assert_array_equal(lookup_predict(train, y[:30], test), y[:30][ref.argmax(1)])


# ---- joining splits across sessions at import time ---------------------------------------------


def _fake_source(sessions: dict[str, np.ndarray], available: set[str], kinds: dict | None = None):
    mod = types.ModuleType("fake_cowley")
    mod.SOURCE = Source(
        name="cowley2023_v4",
        title="fake",
        citation="test",
        license="test",
        species="synthetic",
        urls={"": "https://example.invalid/"},
    )
    mod.discover = lambda store: {sid: None for sid in sorted(available)}
    mod.stimulus_pixels = lambda store, sid: sessions[sid][:, None]
    if kinds is not None:
        mod.stimulus_kinds = lambda store, sid: kinds[sid]

    def load(store, sid, **options):
        data = _recording(sessions[sid], _responses(sessions[sid], 2), sid)
        if kinds is not None:
            data.kinds, data.held_out_kind = kinds[sid]
        return data

    mod.load = load
    return mod


@pytest.fixture
def two_sessions(tmp_path, monkeypatch):
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    (tmp_path / "mirror" / "cowley2023_v4").mkdir(parents=True)
    a, b = scenes(40, 6), scenes(40, 7)
    b[:15] = [blurred_copy(x, 3) for x in a[:15]]
    return {"A": a, "B": b}, tmp_path


def _splits(path):
    rec = Recording(path)
    return {rec.stimulus_ids[i]: name for name, idx in rec.splits.items() for i in idx}, rec


def _import_together_and_one_at_a_time(tmp) -> list:
    """Import A and B together, then one at a time in both orders; the splits must not differ."""
    together = import_source("cowley2023_v4", mirror=tmp / "mirror", out=tmp / "all")
    for order in (["A", "B"], ["B", "A"]):
        out = tmp / "".join(order)
        for sid in order:
            import_source("cowley2023_v4", mirror=tmp / "mirror", out=out, only=[sid])
        for p in together:
            assert _splits(out / "cowley2023_v4" / p.name)[0] == _splits(p)[0]
    return together


def test_import_one_at_a_time_equals_import_all(two_sessions, monkeypatch):
    sessions, tmp = two_sessions
    available = {"A", "B"}
    monkeypatch.setattr(importers, "available", lambda: {"cowley2023_v4": _fake_source(sessions, available)})
    all_at_once = _import_together_and_one_at_a_time(tmp)
    (sa, ra), (sb, rb) = _splits(all_at_once[0]), _splits(all_at_once[1])
    for k in range(15):  # each shared scene: one split in both sessions
        assert sa[f"A_img{k}"] == sb[f"B_img{k}"]
    assert cross_split_near_duplicates([ra, rb]) == []


def test_session_added_later_joins_the_files_already_imported(two_sessions, monkeypatch):
    sessions, tmp = two_sessions
    available = {"A"}
    monkeypatch.setattr(importers, "available", lambda: {"cowley2023_v4": _fake_source(sessions, available)})
    (first,) = import_source("cowley2023_v4", mirror=tmp / "mirror", out=tmp / "out")
    before = first.read_bytes()
    available.clear()
    available.add("B")  # a new session; A is no longer in the mirror
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # A's families do not change: no warning
        (later,) = import_source("cowley2023_v4", mirror=tmp / "mirror", out=tmp / "out")
    assert first.read_bytes() == before
    (sa, ra), (sb, rb) = _splits(first), _splits(later)
    assert all(sa[f"A_img{k}"] == sb[f"B_img{k}"] for k in range(15))
    assert cross_split_near_duplicates([ra, rb]) == []


# ---- held-out kind: other stimulus types only train ----------------------------------------------


def test_train_only_components_take_train_and_the_others_keep_their_split():
    fh, _, _ = _keys(scenes(200, 8))
    free = assign_splits(fh)
    train_only = np.zeros(200, bool)
    train_only[::3] = True
    fam = [str(h[0]) for h in fh]
    fam[1] = fam[0]  # stimulus 1 joins train-only stimulus 0's family
    got = assign_splits(fh, families=fam, train_only=train_only)
    level = {i: name for name, idx in got.items() for i in idx}
    assert all(level[i] == "train" for i in np.flatnonzero(train_only)) and level[1] == "train"
    was = {i: name for name, idx in free.items() for i in idx}
    assert all(level[i] == was[i] for i in range(2, 200) if not train_only[i])
    assert len(got["test"]) > 20  # the eligible stimuli still fill the test split


def test_a_family_of_another_kind_in_one_session_takes_train_in_every_session(two_sessions, monkeypatch):
    """B shows A's first 15 scenes (blurred) as an 'other' kind: those families take train in A too,
    whether the sessions are imported together or one after the other."""
    sessions, tmp = two_sessions
    kinds = {"A": (["normal"] * 40, "normal"), "B": (["other"] * 20 + ["normal"] * 20, "normal")}
    available = {"A", "B"}
    monkeypatch.setattr(importers, "available", lambda: {"cowley2023_v4": _fake_source(sessions, available, kinds)})
    together = _import_together_and_one_at_a_time(tmp)
    (sa, ra), (sb, rb) = _splits(together[0]), _splits(together[1])
    assert all(sa[f"A_img{k}"] == "train" == sb[f"B_img{k}"] for k in range(15))
    assert {rb.kind[i] for i in np.concatenate([rb.split("validation"), rb.split("test")])} == {"normal"}
    assert rb.held_out_kind == "normal" and list(rb.kind) == kinds["B"][0]
    assert cross_split_near_duplicates([ra, rb]) == []


def test_a_family_held_out_in_an_earlier_file_keeps_its_split(two_sessions, monkeypatch):
    """A was imported when B was not there; B's 'other' copies of A's held-out scenes follow A."""
    sessions, tmp = two_sessions
    kinds = {"A": (["normal"] * 40, "normal"), "B": (["other"] * 20 + ["normal"] * 20, "normal")}
    available = {"A"}
    monkeypatch.setattr(importers, "available", lambda: {"cowley2023_v4": _fake_source(sessions, available, kinds)})
    (first,) = import_source("cowley2023_v4", mirror=tmp / "mirror", out=tmp / "out")
    before = first.read_bytes()
    available.add("B")
    import_source("cowley2023_v4", mirror=tmp / "mirror", out=tmp / "out", only=["B"])
    assert first.read_bytes() == before
    (sa, ra), (sb, rb) = _splits(first), _splits(tmp / "out" / "cowley2023_v4" / "B.h5")
    assert all(sa[f"A_img{k}"] == sb[f"B_img{k}"] for k in range(15))
    assert any(sa[f"A_img{k}"] != "train" for k in range(15))  # the case this test is about occurs
    assert all(sb[f"B_img{k}"] == "train" for k in range(15, 20))  # B's own 'other' scenes: train
    assert cross_split_near_duplicates([ra, rb]) == []
