"""Bad input to ``snnvis-data`` gets one clear line, exit code 2, and loses nothing."""

from __future__ import annotations

import hashlib
import os
import shutil
import types
from pathlib import Path

import h5py
import numpy as np
import pytest
import requests

from snnvis.cli.data import main as data_main
from snnvis.recordings import importers
from snnvis.recordings.format import RecordingData, ResponseSet, write_recording
from snnvis.recordings.recording import Recording
from snnvis.recordings.sources import MIRROR_ENV, Source, UnregisteredFileWarning
from snnvis.recordings.synthetic import SynthConfig, generate_recording

SOURCE = "allen_visp_scenes"
FILE = "Allen_test_output.npy"  # 30 kB, registered in sources/allen_visp_scenes.json
EXTRA = "Allen_extra_output.npy"  # a file the registry does not know


def _sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        data_main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def assert_user_error(argv, capsys, *needles: str) -> str:
    code, _, err = run(argv, capsys)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("snnvis: error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def good_file(tmp_path_factory) -> Path:
    cfg = SynthConfig(n_stimuli=24, n_neurons=4, n_repeats=3, size=16, seed=2)
    return write_recording(tmp_path_factory.mktemp("good") / "good.h5", generate_recording(cfg))


def _copy(good_file: Path, tmp_path: Path, name: str = "bad.h5") -> Path:
    path = tmp_path / name
    shutil.copyfile(good_file, path)
    return path


# ---- info on broken files ------------------------------------------------------------------


def _truncate_half(p: Path):
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


def _truncate_tail(p: Path):
    data = p.read_bytes()
    p.write_bytes(data[:-64])


def _random_bytes(p: Path):
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 8192, dtype=np.uint8).tobytes())


def _empty(p: Path):
    p.write_bytes(b"")


def _garble_mean_chunk(p: Path):
    with h5py.File(p, "r") as f:
        info = f["responses/counts/mean"].id.get_chunk_info(0)
    with open(p, "r+b") as f:
        f.seek(info.byte_offset + info.size // 3)
        f.write(b"\xff" * max(8, info.size // 3))


def _delete(key: str):
    def edit(p: Path):
        with h5py.File(p, "r+") as f:
            del f[key]

    return edit


def _reshape(key: str, cut_axis: int):
    def edit(p: Path):
        with h5py.File(p, "r+") as f:
            data = f[key][()]
            del f[key]
            f[key] = np.take(data, range(data.shape[cut_axis] - 1), axis=cut_axis)

    return edit


def _nan_mean(p: Path):
    with h5py.File(p, "r+") as f:
        f["responses/counts/mean"][3, 0, 1] = np.nan


BROKEN = {
    "truncated": (_truncate_half, "not a readable snnvis HDF5 file"),
    "truncated_tail": (_truncate_tail, "not a readable snnvis HDF5 file"),
    "random_bytes": (_random_bytes, "not a readable snnvis HDF5 file"),
    "empty": (_empty, "not a readable snnvis HDF5 file"),
    "garbled_chunk": (_garble_mean_chunk, "cannot read responses/counts/mean"),
    "missing_split": (_delete("splits/test"), "missing group or dataset 'splits/test'"),
    "missing_mean": (_delete("responses/counts/mean"), "responses/counts/mean"),
    "mean_shape": (_reshape("responses/counts/mean", 2), "mean has shape"),
    "trials_shape": (_reshape("responses/counts/trials", 0), "trials shape"),
    "areas_shape": (_reshape("neurons/area", 0), "neurons/area and neurons/ids differ"),
    "pixels_shape": (_reshape("stimuli/pixels", 0), "stimuli/pixels must be"),
    "nan_mean": (_nan_mean, "NaN or infinite values in trial-averaged responses"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_info_on_a_broken_file(case, good_file, tmp_path, capsys):
    edit, needle = BROKEN[case]
    path = _copy(good_file, tmp_path)
    edit(path)
    before = _sha(path)
    line = assert_user_error(["info", path], capsys, needle, str(path))
    assert "Traceback" not in line
    assert _sha(path) == before  # info never writes
    assert_user_error(["info", path, "--json"], capsys, needle)


def test_info_on_a_missing_file(tmp_path, capsys):
    assert_user_error(["info", tmp_path / "nope.h5"], capsys, "file not found")


def test_synth_with_bad_settings_keeps_the_existing_file(good_file, tmp_path, capsys):
    path = _copy(good_file, tmp_path, "synth.h5")
    before = _sha(path)
    assert_user_error(["synth", "--out", path, "--n-stimuli", "0"], capsys, "n_stimuli must be >= 1")
    assert_user_error(["synth", "--out", path, "--size", "3"], capsys, "size")
    assert _sha(path) == before and sorted(os.listdir(tmp_path)) == ["synth.h5"]


# ---- import ----------------------------------------------------------------------------


def _fake_importer() -> types.ModuleType:
    """A tiny importer over one real registered file of allen_visp_scenes (and one unregistered)."""
    mod = types.ModuleType("fake_allen")
    mod.SOURCE = Source(
        name=SOURCE,
        title="fake",
        citation="test",
        license="test",
        species="mouse",
        urls={"": "https://example.invalid/allen/"},
    )

    def discover(store):
        found = {"s1": None if store.exists(FILE) else f"{FILE} is missing"}
        if store.exists(EXTRA):
            found["s2"] = None
        return found

    def load(store, session_id, **options):
        resp = np.load(store.path(FILE if session_id == "s1" else EXTRA))  # (18 scenes, 212 cells)
        n, m = resp.shape
        return RecordingData(
            recording_id=session_id,
            source=SOURCE,
            species="mouse",
            citation="test",
            neuron_ids=[f"c{i}" for i in range(m)],
            neuron_areas=["VISp"] * m,
            stimulus_ids=[f"scene{i}" for i in range(n)],
            responses={
                "dff": ResponseSet(
                    mean=resp[:, None, :].astype(np.float32), windows_ms=np.array([[0.0, 250.0]]), units="dF/F"
                )
            },
        )

    mod.discover, mod.load = discover, load
    return mod


@pytest.fixture
def fake(monkeypatch, tmp_path, datasets_dir):
    """The fake importer registered as the only source; a mirror with its one file; an imported session."""
    monkeypatch.setattr(importers, "available", lambda: {SOURCE: _fake_importer()})
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    monkeypatch.setenv("SNNVIS_CACHE", str(tmp_path / "cache"))
    mirror = tmp_path / "mirror"
    (mirror / SOURCE).mkdir(parents=True)
    shutil.copyfile(datasets_dir / SOURCE / FILE, mirror / SOURCE / FILE)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        data_main(["import", SOURCE, "--mirror", str(mirror), "--out", str(out)])
    assert exc.value.code == 0
    target = out / SOURCE / "s1.h5"
    assert Recording(target).provenance()["files"][0]["name"] == FILE
    return types.SimpleNamespace(mirror=mirror, out=out, target=target, sha=_sha(target))


def _flip_one_byte(path: Path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.unlink()  # replaces a symlink rather than writing through it
    path.write_bytes(bytes(data))


def test_import_checksum_mismatch_keeps_the_existing_file(fake, capsys, monkeypatch):
    _flip_one_byte(fake.mirror / SOURCE / FILE)
    for extra in ([], ["--force"], ["--only", "s1"]):
        assert_user_error(
            ["import", SOURCE, "--mirror", fake.mirror, "--out", fake.out, *extra], capsys, "checksum mismatch", FILE
        )
        assert _sha(fake.target) == fake.sha
    monkeypatch.setenv(MIRROR_ENV, str(fake.mirror))  # the same through $SNNVIS_DATA_MIRROR
    assert_user_error(["import", SOURCE, "--out", fake.out, "--force"], capsys, "checksum mismatch")
    assert _sha(fake.target) == fake.sha
    assert sorted(os.listdir(fake.out / SOURCE)) == ["s1.h5"]


def test_import_unknown_source_session_and_mirror(fake, capsys, tmp_path):
    base = ["--mirror", fake.mirror, "--out", fake.out]
    assert_user_error(["import", "no_such_source", *base], capsys, "unknown source", "no_such_source", SOURCE)
    assert_user_error(["import", SOURCE, *base, "--only", "s9"], capsys, "unknown session", "s9", "s1")
    assert_user_error(
        ["import", SOURCE, "--mirror", tmp_path / "nowhere", "--out", fake.out],
        capsys,
        "mirror",
        "directory does not exist",
        "nowhere",
    )
    empty = tmp_path / "empty_mirror"
    empty.mkdir()
    assert_user_error(
        ["import", SOURCE, "--mirror", empty, "--out", fake.out], capsys, f"source {SOURCE}", "not found in mirror"
    )
    assert_user_error(["import", SOURCE, *base, "-o", "novalue"], capsys, "KEY=VALUE")
    assert _sha(fake.target) == fake.sha


def test_import_without_mirror_or_network(fake, capsys, monkeypatch):
    calls = []

    def offline(url, *args, **kwargs):  # what pooch's HTTP downloader calls
        calls.append(url)
        raise requests.exceptions.ConnectionError("network is unreachable")

    monkeypatch.setattr(requests, "get", offline)
    monkeypatch.setattr("time.sleep", lambda s: None)  # pooch's pause before its retry
    line = assert_user_error(["import", SOURCE, "--out", fake.out], capsys, "--mirror", "cannot download")
    assert calls and calls[0] == f"https://example.invalid/allen/{FILE}" and calls[0] in line
    assert _sha(fake.target) == fake.sha
    fake.target.unlink()  # and with nothing there yet
    assert_user_error(["import", SOURCE, "--out", fake.out, "--only", "s1"], capsys, "--mirror")
    assert not fake.target.exists() and os.listdir(fake.out / SOURCE) == []


def test_unregistered_mirror_file_is_imported_with_a_warning(fake, capsys, datasets_dir):
    shutil.copyfile(datasets_dir / SOURCE / FILE, fake.mirror / SOURCE / EXTRA)
    with pytest.warns(UnregisteredFileWarning, match=EXTRA):
        code, out, _ = run(["import", SOURCE, "--mirror", fake.mirror, "--out", fake.out, "--only", "s2"], capsys)
    assert code == 0
    prov = Recording(fake.out / SOURCE / "s2.h5").provenance()
    assert prov["unregistered"] == [EXTRA]
    assert prov["files"] == [
        {"name": EXTRA, "url": f"https://example.invalid/allen/{EXTRA}", "sha256": _sha(fake.mirror / SOURCE / EXTRA)}
    ]


# ---- the same through the real importers, once they exist ----------------------------------


def _real_importer(name: str):
    try:
        mods = importers.available()
    except Exception as err:  # another importer is mid-edit
        pytest.skip(f"importers not loadable: {err}")
    if name not in mods:
        pytest.skip(f"no importer for {name} yet")
    return mods[name]


@pytest.mark.parametrize("name", ["allen_visp_scenes", "kriegeskorte2008_it"])
def test_real_importer_checksum_mismatch(name, datasets_dir, tmp_path, capsys, monkeypatch):
    _real_importer(name)
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    mirror, out = tmp_path / "mirror", tmp_path / "out"
    (mirror / name).mkdir(parents=True)
    for f in (datasets_dir / name).rglob("*"):
        if f.is_file():
            link = mirror / name / f.relative_to(datasets_dir / name)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(f)
    code, stdout, err = run(["import", name, "--mirror", mirror, "--out", out], capsys)
    assert code == 0, err
    target = Path(stdout.split()[0])
    before = _sha(target)
    used = Recording(target).provenance()["files"][0]["name"]
    _flip_one_byte(mirror / name / used)
    assert_user_error(["import", name, "--mirror", mirror, "--out", out], capsys, "checksum mismatch", used)
    assert _sha(target) == before
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]
