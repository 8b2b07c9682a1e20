"""The recording format: content-keyed splits, atomic writes, lazy reads and validation."""

from __future__ import annotations

import hashlib
import shutil

import h5py
import numpy as np
import pytest

from snnvis.errors import UserError
from snnvis.recordings.format import check_recording_data, write_recording
from snnvis.recordings.recording import Recording
from snnvis.recordings.splits import DEFAULT_FRACTIONS, SPLITS, assign_splits, quota_splits, split_of_key
from snnvis.recordings.synthetic import SynthConfig, generate_recording

CFG = SynthConfig(n_stimuli=30, n_frames=1, n_neurons=5, n_repeats=3, size=16, seed=11)


def _sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _keys_with_split(split: str, n: int, prefix: str = "k") -> list[str]:
    keys, i = [], 0
    while len(keys) < n:
        if split_of_key(f"{prefix}{i}") == split:
            keys.append(f"{prefix}{i}")
        i += 1
    return keys


def _split_of_each(splits: dict[str, np.ndarray], n: int) -> list[str]:
    out = [""] * n
    for name, idx in splits.items():
        for i in idx:
            assert out[i] == "", "a stimulus is in two splits"
            out[i] = name
    assert "" not in out, "a stimulus is in no split"
    return out


@pytest.fixture(scope="module")
def data():
    return generate_recording(CFG)


@pytest.fixture(scope="module")
def good_file(tmp_path_factory, data):
    return write_recording(tmp_path_factory.mktemp("good") / "rec.h5", data)


# ---- splits ----------------------------------------------------------------------------


def test_sequences_sharing_a_frame_share_a_split():
    (tr1, tr2, tr3), (te,) = _keys_with_split("train", 3), _keys_with_split("test", 1)
    (other,) = _keys_with_split("train", 1, prefix="other")
    frames = np.array([[tr1, tr2], [tr2, tr3], [tr3, te], [other, other]], dtype=object)
    split = _split_of_each(assign_splits(frames), 4)
    # 0-1 share tr2 and 1-2 share tr3: one component, one split, keyed by its smallest frame hash
    assert split[0] == split[1] == split[2] == split_of_key(min([tr1, tr2, tr3, te]))
    assert split[3] == "train"
    # the same component gets the same split in a session with other stimuli around it
    more = np.array([[k, k] for k in _keys_with_split("validation", 5, prefix="x")], dtype=object)
    again = _split_of_each(assign_splits(np.concatenate([more, frames[::-1]])), 9)
    assert again[5:] == split[::-1]


def test_a_frame_has_the_same_split_whatever_else_is_in_the_session():
    rng = np.random.default_rng(0)
    keys = [f"frame{i}" for i in range(300)]
    for _ in range(5):
        subset = list(rng.choice(keys, size=60, replace=False))
        split = _split_of_each(assign_splits(np.array([[k] for k in subset], dtype=object)), 60)
        assert split == [split_of_key(k) for k in subset]
    # a duplicated image (two stimuli, same content) stays in one split
    dup = np.array([["a"], ["b"], ["a"]], dtype=object)
    split = _split_of_each(assign_splits(dup), 3)
    assert split[0] == split[2] == split_of_key("a")


def test_sequence_fractions_follow_the_fractions_not_the_frame_count():
    rng = np.random.default_rng(1)
    frames = np.array([[f"s{i}f{j}" for j in range(11)] for i in range(3000)], dtype=object)
    splits = assign_splits(frames[rng.permutation(len(frames))])
    for name, frac in DEFAULT_FRACTIONS.items():
        assert abs(len(splits[name]) / len(frames) - frac) < 0.03


def test_a_group_takes_its_most_held_out_split():
    groups_all = [f"movie{i}" for i in range(10)]
    quota = quota_splits(groups_all)
    assert sorted(quota.values()).count("test") == 2 and sorted(quota.values()).count("validation") == 1
    assert quota_splits(groups_all[::-1]) == quota  # a function of the set alone
    by_split = {s: [g for g in groups_all if quota[g] == s] for s in SPLITS}
    tr_a, tr_b, va = by_split["train"][0], by_split["train"][1], by_split["validation"][0]
    frames = np.array([[f"f{i}"] for i in range(5)] + [["f0"]], dtype=object)
    groups = [tr_a, tr_a, tr_b, tr_b, va, tr_b]  # stimulus 5 (group tr_b) repeats stimulus 0's frame
    # a session holding only some of the groups: the universe keeps the quotas identical
    split = _split_of_each(assign_splits(frames, groups, group_universe=groups_all), 6)
    # tr_a and tr_b are joined by the shared frame; va is on its own
    assert split == ["train", "train", "train", "train", "validation", "train"]
    te = by_split["test"][0]
    groups = [tr_a, tr_a, tr_b, tr_b, va, te]  # now the shared frame joins tr_a and a test group
    split = _split_of_each(assign_splits(frames, groups, group_universe=groups_all), 6)
    assert split == ["test", "test", "train", "train", "validation", "test"]


def test_fractions_are_respected_and_seeded():
    keys = np.array([[f"key{i}"] for i in range(20000)], dtype=object)
    splits = assign_splits(keys)
    for name, frac in DEFAULT_FRACTIONS.items():
        assert abs(len(splits[name]) / len(keys) - frac) < 0.015
    custom = {"train": 0.5, "validation": 0.25, "test": 0.25}
    other = assign_splits(keys, fractions=custom)
    for name, frac in custom.items():
        assert abs(len(other[name]) / len(keys) - frac) < 0.015
    reseeded = assign_splits(keys, seed=1)
    assert not np.array_equal(reseeded["test"], splits["test"])
    np.testing.assert_array_equal(assign_splits(keys)["test"], splits["test"])


def test_written_splits_follow_content_not_position(tmp_path, data):
    rec = Recording(write_recording(tmp_path / "a.h5", data))
    keep = np.arange(data.n_stimuli)[::-1][:20]  # a reordered subset: another "session"
    sub = generate_recording(CFG)
    sub.pixels, sub.stimulus_ids = sub.pixels[keep], [sub.stimulus_ids[i] for i in keep]
    for rs in sub.responses.values():
        rs.mean = rs.mean[keep]
        rs.trials = None if rs.trials is None else rs.trials[keep]
    rec2 = Recording(write_recording(tmp_path / "b.h5", sub))
    split_a = dict(zip(rec.content_hash, _split_of_each(rec.splits, rec.n_stimuli)))
    split_b = dict(zip(rec2.content_hash, _split_of_each(rec2.splits, rec2.n_stimuli)))
    assert all(split_a[h] == s for h, s in split_b.items())


# ---- writing ---------------------------------------------------------------------------


def test_write_is_atomic_when_writing_fails_midway(tmp_path, data, monkeypatch):
    path = write_recording(tmp_path / "rec.h5", data)
    before = _sha(path)
    real, calls = h5py.Group.create_dataset, []

    def failing(self, *args, **kwargs):
        calls.append(args[0] if args else kwargs.get("name"))
        if len(calls) == 4:
            assert any(p.name.startswith(".rec.h5.tmp") for p in tmp_path.iterdir())  # the file is open
            raise RuntimeError("disk full (simulated)")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", failing)
    with pytest.raises(RuntimeError, match="simulated"):
        write_recording(path, data)
    assert len(calls) == 4
    assert _sha(path) == before
    assert [p.name for p in tmp_path.iterdir()] == ["rec.h5"]


def test_invalid_data_is_rejected_before_anything_is_written(tmp_path, data):
    path = write_recording(tmp_path / "rec.h5", data)
    before = _sha(path)
    bad = generate_recording(CFG)
    bad.responses["counts"].mean = bad.responses["counts"].mean.copy()
    bad.responses["counts"].mean[0, 0, 0] = np.nan
    with pytest.raises(UserError, match="NaN"):
        write_recording(path, bad)
    bad = generate_recording(CFG)
    bad.responses["counts"].mean = bad.responses["counts"].mean[:, :, :2]
    with pytest.raises(UserError, match="shape"):
        check_recording_data(bad)
    assert _sha(path) == before and [p.name for p in tmp_path.iterdir()] == ["rec.h5"]


# ---- reading ---------------------------------------------------------------------------


@pytest.mark.parametrize("whole_read_bytes", [16 << 20, 0], ids=["whole", "row-by-row"])
def test_unsorted_and_repeated_indices(good_file, data, whole_read_bytes, monkeypatch):
    monkeypatch.setattr("snnvis.recordings.recording._WHOLE_READ_BYTES", whole_read_bytes)
    rec = Recording(good_file)
    for idx in ([5, 2, 9], [3, 3, 1, 3], [7], [], [-1, 0], np.array([29, 0, 29])):
        want = np.asarray(idx, dtype=int)
        np.testing.assert_array_equal(rec.stimuli(idx), data.pixels[want])
        np.testing.assert_array_equal(rec.mean("counts", idx), data.responses["counts"].mean[want])
        np.testing.assert_array_equal(rec.trials("counts", idx), data.responses["counts"].trials[want])
    np.testing.assert_array_equal(rec.stimuli(), data.pixels)


def test_round_trip(good_file, data):
    rec = Recording(good_file)
    assert rec.id == data.recording_id and rec.n_stimuli == CFG.n_stimuli and rec.n_neurons == CFG.n_neurons
    assert list(rec.stimulus_ids) == data.stimulus_ids and list(rec.neuron_areas) == data.neuron_areas
    assert rec.frame_hash.shape == (CFG.n_stimuli, 1)
    assert sorted(np.concatenate(list(rec.splits.values()))) == list(range(CFG.n_stimuli))
    assert rec.response_info().units == data.responses["counts"].units


def test_validate_catches_nan_means(tmp_path, good_file):
    path = tmp_path / "nan.h5"
    shutil.copy(good_file, path)
    with h5py.File(path, "r+") as f:
        f["responses/ground_truth_rate/mean"][1, 0, 2] = np.nan
    with pytest.raises(UserError, match="NaN or infinite values in trial-averaged responses") as exc:
        Recording(path)
    assert "ground_truth_rate" in exc.value.message and str(path) in exc.value.message
    rec = Recording(path, validate=False)  # structure is fine; values are checked on demand
    rec.validate(check_values=False)
    with pytest.raises(UserError, match="NaN"):
        rec.validate()


def test_validate_catches_broken_structure(tmp_path, good_file):
    cases = {
        "splits/test": "missing group or dataset 'splits/test'",
        "neurons/area": "missing group or dataset 'neurons/area'",
    }
    for key, message in cases.items():
        path = tmp_path / f"{key.replace('/', '_')}.h5"
        shutil.copy(good_file, path)
        with h5py.File(path, "r+") as f:
            del f[key]
        with pytest.raises(UserError, match=message):
            Recording(path)
    path = tmp_path / "overlap.h5"
    shutil.copy(good_file, path)
    with h5py.File(path, "r+") as f:
        test = f["splits/test"][()]
        del f["splits/test"]
        f["splits/test"] = np.concatenate([test, f["splits/train"][:1]])
    with pytest.raises(UserError, match="partition"):
        Recording(path)
