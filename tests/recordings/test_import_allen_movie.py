"""Allen natural-movie importer: synthetic files written in its documented layout, imported and read back."""

from __future__ import annotations

import json
import warnings

import h5py
import numpy as np
import pytest

from snnvis.errors import UserError
from snnvis.recordings.importing import import_source
from snnvis.recordings.recording import Recording
from snnvis.recordings.splits import SPLITS

SOURCE = "allen_natural_movie"
N_FRAMES, SIZE, CLIP, BLOCK = 90, 16, 10, 3


def _movie(seed=0) -> np.ndarray:
    """A smooth random image drifting one pixel per frame (adjacent frames are near-duplicates)."""
    rng = np.random.default_rng(seed)
    big = rng.integers(0, 256, (SIZE, 4 * SIZE + N_FRAMES)).astype(np.float64)
    big = (big + np.roll(big, 1, 1) + np.roll(big, 1, 0)) / 3
    return np.stack([big[:, t : t + SIZE] for t in range(N_FRAMES)]).astype(np.uint8)


def _write_layout(root, movie_format="npy", session="s715093703", movie="natural_movie_one"):
    base = root / SOURCE
    (base / "movies").mkdir(parents=True, exist_ok=True)
    frames = _movie()
    if movie_format == "npy":
        np.save(base / "movies" / f"{movie}.npy", frames)
    elif movie_format == "npz":
        np.savez(base / "movies" / f"{movie}.npz", frames=frames)
    else:
        import imageio.v3 as iio

        iio.imwrite(base / "movies" / f"{movie}.{movie_format}", frames)
    folder = base / "responses" / session / movie
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    visp = rng.poisson(2.0, (N_FRAMES, 5, 4)).astype(np.float32)
    visp[:, 4, 1] = np.nan  # one neuron has 4 repeats only
    visl = rng.poisson(1.0, (N_FRAMES, 3, 2)).astype(np.int64)
    np.save(folder / "VISp.npy", visp)
    np.save(folder / "VISl.npy", visl)
    (folder / "VISp.units.txt").write_text("\n".join(f"unit{k}" for k in (11, 12, 13, 14)) + "\n")
    (folder / "timing.json").write_text(json.dumps({"frame_rate_hz": 30.0}))
    return frames, {"VISl": visl.astype(np.float64), "VISp": visp.astype(np.float64)}


def _import(tmp_path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # every file is unregistered: that is the point of a local source
        paths = import_source(
            SOURCE,
            mirror=tmp_path / "mirror",
            out=tmp_path / "out",
            clip_frames=str(CLIP),
            block_clips=str(BLOCK),
            **kw,
        )
    assert len(paths) == 1
    return Recording(paths[0])


@pytest.fixture
def layout(tmp_path):
    return _write_layout(tmp_path / "mirror")


def test_imports_a_synthetic_file_written_in_the_layout(tmp_path, layout):
    frames, counts = layout
    rec = _import(tmp_path)
    assert rec.id == "s715093703_natural_movie_one" and rec.source == SOURCE
    assert (rec.n_stimuli, rec.n_frames, rec.image_shape) == (N_FRAMES // CLIP, CLIP, (SIZE, SIZE, 1))
    np.testing.assert_array_equal(rec.stimuli()[..., 0].reshape(-1, SIZE, SIZE), frames)
    # areas in sorted file order; unit ids from the .units.txt file, default ids otherwise
    assert list(rec.neuron_ids) == ["s715093703_VISl_0", "s715093703_VISl_1", "unit11", "unit12", "unit13", "unit14"]
    assert list(rec.neuron_areas) == ["VISl"] * 2 + ["VISp"] * 4 and rec.areas == ["VISl", "VISp"]
    trials, mean = rec.trials(), rec.mean()
    assert trials.shape == (9, 5, CLIP, 6)
    both = np.concatenate(
        [np.pad(counts["VISl"], ((0, 0), (0, 2), (0, 0)), constant_values=np.nan), counts["VISp"]], axis=2
    )
    for c, f, r, n in [(0, 0, 0, 0), (3, 7, 2, 3), (8, 9, 4, 5), (5, 1, 4, 3), (2, 2, 4, 0)]:
        np.testing.assert_equal(trials[c, r, f, n], both[c * CLIP + f, r, n])
    np.testing.assert_allclose(mean, np.nanmean(both.reshape(9, CLIP, 5, 6), axis=2), rtol=1e-6)
    info = rec.response_info()
    assert info.align == "frame" and not info.frame_average and info.units == "spike count per 33.3333 ms frame bin"
    np.testing.assert_allclose(info.windows_ms, [[0.0, 1000 / 30]])


def test_protocol_is_a_movie_in_frame_order(tmp_path, layout):
    p = _import(tmp_path).protocol
    assert p.mode == "movie" and p.on_ms == pytest.approx(1000 / 30) and p.off_ms == 0
    np.testing.assert_array_equal(p.order, [(c, f) for c in range(9) for f in range(CLIP)])
    np.testing.assert_array_equal(p.order_ids.astype(int), np.arange(N_FRAMES))
    assert p.consecutive_frame_fraction(1) == pytest.approx(81 / 89)  # all but the 8 clip boundaries


def test_blocks_of_clips_take_one_split_each(tmp_path, layout):
    rec = _import(tmp_path)
    split_of = {int(i): name for name in SPLITS for i in rec.split(name)}
    blocks = [{split_of[c] for c in range(b * BLOCK, (b + 1) * BLOCK)} for b in range(3)]
    assert all(len(s) == 1 for s in blocks) and {s.pop() for s in blocks} == set(SPLITS)
    assert len(set(rec.family)) == 3


@pytest.mark.parametrize("fmt", ["npz", "gif", "tif"])
def test_movie_as_npz_or_video_file(tmp_path, fmt):
    frames, _ = _write_layout(tmp_path / "mirror", movie_format=fmt)
    np.testing.assert_array_equal(_import(tmp_path).stimuli()[..., 0].reshape(-1, SIZE, SIZE), frames)


@pytest.mark.parametrize("suffix, codec, tol", [("mkv", "ffv1", 2.0), ("mp4", "libx264", 12.0)])
def test_movie_as_compressed_video(tmp_path, suffix, codec, tol):
    """Video files through PyAV: decoded frames match the written movie within the codec's loss."""
    pytest.importorskip("av")
    import imageio.v3 as iio

    frames, _ = _write_layout(tmp_path / "mirror")
    movies = tmp_path / "mirror" / SOURCE / "movies"
    (movies / "natural_movie_one.npy").unlink()
    iio.imwrite(
        movies / f"natural_movie_one.{suffix}", np.repeat(frames[..., None], 3, -1), plugin="pyav", codec=codec, fps=30
    )
    got = _import(tmp_path).stimuli()
    assert got.shape[:-1] == (N_FRAMES // CLIP, CLIP, SIZE, SIZE) and got.shape[-1] in (1, 3)
    assert np.abs(got[..., 0].reshape(-1, SIZE, SIZE).astype(float) - frames).mean() < tol


def test_undecodable_video_is_one_error(tmp_path, layout):
    movies = tmp_path / "mirror" / SOURCE / "movies"
    (movies / "natural_movie_one.npy").unlink()
    (movies / "natural_movie_one.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(64))
    with pytest.raises(UserError, match="cannot decode the video.*PyAV"):
        _import(tmp_path)


def test_nothing_to_download(tmp_path, monkeypatch):
    monkeypatch.delenv("SNNVIS_DATA_MIRROR", raising=False)
    with pytest.raises(UserError, match="cannot be downloaded"):
        import_source(SOURCE, out=tmp_path / "out")


@pytest.mark.parametrize(
    "damage, why",
    [
        (lambda f: np.save(f / "VISl.npy", np.zeros((N_FRAMES - 1, 3, 2))), "89 frames, but the movie"),
        (lambda f: np.save(f / "VISl.npy", np.zeros((N_FRAMES, 3))), "frames, repeats, neurons"),
        (lambda f: np.save(f / "VISl.npy", -np.ones((N_FRAMES, 3, 2))), "must be >= 0"),
        (lambda f: (f / "VISp.units.txt").write_text("a\nb\n"), "2 ids for 4 neurons"),
        (lambda f: (f / "timing.json").write_text('{"fps": 30}'), "frame_rate_hz"),
    ],
)
def test_bad_files_are_one_error(tmp_path, layout, damage, why):
    damage(tmp_path / "mirror" / SOURCE / "responses" / "s715093703" / "natural_movie_one")
    with pytest.raises(UserError, match=why):
        _import(tmp_path)
    assert not (tmp_path / "out" / SOURCE).exists() or not list((tmp_path / "out" / SOURCE).glob("*.h5"))


def test_cli_import(tmp_path, layout, capsys):
    from snnvis.cli.data import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(SystemExit) as done:
            main(
                [
                    "import",
                    SOURCE,
                    "--mirror",
                    str(tmp_path / "mirror"),
                    "--out",
                    str(tmp_path / "out"),
                    "-o",
                    "clip_frames=30",
                ]
            )
    assert done.value.code == 0
    with h5py.File(tmp_path / "out" / SOURCE / "s715093703_natural_movie_one.h5") as f:
        assert f["stimuli/pixels"].shape == (3, 30, SIZE, SIZE, 1) and f["protocol"].attrs["mode"] == "movie"
