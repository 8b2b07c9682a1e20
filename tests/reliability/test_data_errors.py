"""``snnvis-data``: every bad input is one line ``snnvis: error: ...``, exit 2, and no file is touched."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from snnvis.cli.data import main as data_main
from snnvis.recordings.format import write_recording
from snnvis.recordings.importing import import_source
from snnvis.recordings.sources import MIRROR_ENV
from snnvis.recordings.synthetic import SynthConfig, generate_recording

COWLEY = "cowley2023_v4"
ROOT = Path(__file__).resolve().parents[2]


def snapshot(*roots: Path) -> dict[str, str]:
    """sha256 of every file under ``roots`` (and the set of names), to prove nothing was touched."""
    out = {}
    for root in roots:
        for p in sorted(Path(root).rglob("*")) if Path(root).is_dir() else [Path(root)]:
            if p.is_file():
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def run(argv, capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data_main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def one_error_line(argv, capsys, *needles: str, untouched=()) -> str:
    before = snapshot(*untouched)
    code, _, err = run(argv, capsys)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("snnvis: error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert snapshot(*untouched) == before
    return lines[0]


@pytest.fixture(scope="module")
def good_file(tmp_path_factory) -> Path:
    cfg = SynthConfig(n_stimuli=20, n_neurons=4, n_repeats=3, size=16, seed=5)
    return write_recording(tmp_path_factory.mktemp("good") / "good.h5", generate_recording(cfg))


def edited(good_file: Path, tmp_path: Path, edit) -> Path:
    path = tmp_path / "bad.h5"
    path.write_bytes(good_file.read_bytes())
    with h5py.File(path, "r+") as f:
        edit(f)
    return path


def _replace(key: str, value):
    def edit(f):
        new = value(f) if callable(value) else value
        del f[key]
        f[key] = new

    return edit


def _mean_key(f) -> str:
    return f"responses/{next(iter(f['responses']))}"


# ---- info on malformed files ------------------------------------------------------------------


def _mean_bytes(f):
    g = f[_mean_key(f)]
    n = g["mean"].shape
    del g["mean"]
    g["mean"] = np.full(n, b"x", dtype="S1")


def _zero_neurons(f):
    g = f[_mean_key(f)]
    for key in ("mean", "trials"):
        if key in g:
            shape = g[key].shape
            del g[key]
            g[key] = np.zeros(shape[:-1] + (0,), np.float32)
    for key in ("neurons/ids", "neurons/area"):
        del f[key]
        f.create_dataset(key, shape=(0,), dtype=h5py.string_dtype())


def _inf_mean(f):
    f[f"{_mean_key(f)}/mean"][2, 0, 1] = np.inf


def _inverted_windows(f):
    w = f[f"{_mean_key(f)}/windows_ms"]
    w[...] = w[()][:, ::-1]


INFO_CASES = {
    "mean_is_bytes": (_mean_bytes, "must be numeric"),
    "areas_not_json": (lambda f: f.attrs.__setitem__("areas", "V1, V2"), "'areas' must be a JSON list"),
    "split_2d": (_replace("splits/test", lambda f: f["splits/test"][()].reshape(1, -1)), "splits/test must be a 1-D"),
    "scalar_ids": (_replace("stimuli/ids", "stim"), "stimuli/ids must be an array"),
    "version_not_numeric": (lambda f: f.attrs.__setitem__("format_version", "two"), "is not a number"),
    "old_version": (lambda f: f.attrs.__setitem__("format_version", 1), "re-import"),
    "float_split": (_replace("splits/test", lambda f: f["splits/test"][()].astype(float)), "integer indices"),
    "inverted_windows": (_inverted_windows, "end > start"),
    "inf_mean": (_inf_mean, "infinite"),
    "zero_neurons": (_zero_neurons, "no neurons"),
}


@pytest.mark.parametrize("case", list(INFO_CASES))
def test_info_on_a_malformed_file(case, good_file, tmp_path, capsys):
    edit, needle = INFO_CASES[case]
    path = edited(good_file, tmp_path, edit)
    for extra in ([], ["--json"]):
        one_error_line(["info", path, *extra], capsys, needle, str(path), untouched=[tmp_path])


def test_info_on_a_directory_says_so(tmp_path, capsys):
    one_error_line(["info", tmp_path], capsys, "is a directory", untouched=[tmp_path])


def test_info_into_a_closed_pipe_is_quiet(good_file):
    """`snnvis-data info f | head -1`: the reader leaves early; no BrokenPipeError is printed."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written
    proc = subprocess.run(
        [sys.executable, "-c", "from snnvis.cli.data import main; main()", "info", str(good_file)],
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    os.close(write)
    assert "BrokenPipe" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 0
    shell = subprocess.run(
        f"'{sys.executable}' -c 'from snnvis.cli.data import main; main()' info '{good_file}' | head -1",
        shell=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert shell.stdout.count("\n") == 1 and shell.stderr == "", shell.stderr


# ---- output paths ---------------------------------------------------------------------------------


def test_synth_out_onto_a_directory(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("x")
    one_error_line(
        ["synth", "--out", tmp_path, "--n-stimuli", "8", "--size", "8"], capsys, "is a directory", untouched=[tmp_path]
    )


def test_synth_out_under_a_regular_file(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    one_error_line(
        ["synth", "--out", tmp_path / "afile" / "s.h5", "--n-stimuli", "8", "--size", "8"],
        capsys,
        "regular file",
        untouched=[tmp_path],
    )


def test_synth_zero_neurons(tmp_path, capsys):
    one_error_line(
        ["synth", "--out", tmp_path / "s.h5", "--n-neurons", "0"],
        capsys,
        "n_neurons must be >= 1",
        untouched=[tmp_path],
    )
    assert not list(tmp_path.iterdir())


# ---- import through the real Cowley importer, from a small tmp mirror --------------------------


def _zip(path: Path, blobs: list[bytes], session: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"images_{session}/", b"")
        for k, b in enumerate(blobs):
            zf.writestr(f"images_{session}/image{k + 1:04d}.jpg", b)


def _jpegs(n: int, seed: int) -> list[bytes]:
    rng, out = np.random.default_rng(seed), []
    for _ in range(n):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(buf, "JPEG")
        out.append(buf.getvalue())
    return out


def _session(mirror: Path, sid: str, responses: np.ndarray | None, blobs: list[bytes] | None) -> None:
    root = mirror / COWLEY
    if responses is not None:
        (root / "responses_repeat_averaged").mkdir(parents=True, exist_ok=True)
        np.save(root / f"responses_repeat_averaged/responses_{sid}.npy", responses)
    if blobs is not None:
        _zip(root / f"images/images_{sid}.zip", blobs, sid)


@pytest.fixture
def cowley_mirror(tmp_path, monkeypatch):
    """A mirror with one small valid (unregistered) Cowley session, imported once into ``out``."""
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    mirror, out = tmp_path / "mirror", tmp_path / "out"
    _session(mirror, "900001", np.random.default_rng(0).poisson(3, (3, 12)).astype(float), _jpegs(12, 0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the session is not in the registry
        import_source(COWLEY, mirror=mirror, out=out)
    assert (out / COWLEY / "900001.h5").is_file()
    return mirror, out


def _bad_npy(mirror: Path, sid: str, data: bytes | np.ndarray, blobs=None):
    root = mirror / COWLEY / "responses_repeat_averaged"
    if isinstance(data, bytes):
        (root / f"responses_{sid}.npy").write_bytes(data)
    else:
        np.save(root / f"responses_{sid}.npy", data)
    _zip(mirror / COWLEY / f"images/images_{sid}.zip", blobs if blobs is not None else _jpegs(6, 1), sid)


def _good_npy_bytes(n: int = 6) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ones((2, n)))
    return buf.getvalue()


MALFORMED = {
    "truncated_npy": (lambda m: _bad_npy(m, "900002", _good_npy_bytes()[:70]), "responses_900002.npy"),
    "garbage_npy": (lambda m: _bad_npy(m, "900002", b"\x00not an npy file at all" * 4), "responses_900002.npy"),
    "truncated_zip": (
        lambda m: (
            _bad_npy(m, "900002", np.ones((2, 6))),
            (m / COWLEY / "images/images_900002.zip").write_bytes(
                (m / COWLEY / "images/images_900002.zip").read_bytes()[:300]
            ),
        ),
        "images_900002.zip",
    ),
    "corrupt_jpeg": (
        lambda m: _bad_npy(m, "900002", np.ones((2, 6)), _jpegs(5, 2) + [b"\xff\xd8\xff garbage"]),
        "images_900002.zip",
    ),
    "inf_responses": (lambda m: _bad_npy(m, "900002", np.array([[1, 2, np.inf, 1, 1, 1.0]] * 2)), "infinite"),
    "zero_neurons": (lambda m: _bad_npy(m, "900002", np.zeros((0, 6))), "no neurons"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_import_malformed_unregistered_cowley_files(case, cowley_mirror, capsys):
    mirror, out = cowley_mirror
    make, needle = MALFORMED[case]
    make(mirror)
    for extra in ([], ["--only", "900002"]):
        one_error_line(
            ["import", COWLEY, "--mirror", mirror, "--out", out, *extra], capsys, needle, untouched=[out, mirror]
        )
    assert sorted(p.name for p in (out / COWLEY).iterdir()) == ["900001.h5"]


def test_import_session_without_responses_says_so(cowley_mirror, capsys):
    mirror, out = cowley_mirror
    _session(mirror, "900003", None, _jpegs(4, 3))
    one_error_line(
        ["import", COWLEY, "--mirror", mirror, "--out", out, "--only", "900003"],
        capsys,
        "responses_900003.npy (its responses) is missing",
        untouched=[out, mirror],
    )


def test_import_out_is_or_under_a_regular_file(cowley_mirror, tmp_path, capsys):
    mirror, _ = cowley_mirror
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out in (afile, afile / "sub"):
        one_error_line(
            ["import", COWLEY, "--mirror", mirror, "--out", out], capsys, "regular file", untouched=[tmp_path]
        )


def test_import_target_is_a_directory(cowley_mirror, capsys):
    mirror, out = cowley_mirror
    _session(mirror, "900004", np.ones((2, 5)), _jpegs(5, 4))
    (out / COWLEY / "900004.h5").mkdir()
    one_error_line(
        ["import", COWLEY, "--mirror", mirror, "--out", out], capsys, "is a directory", untouched=[out, mirror]
    )


# ---- other sources -----------------------------------------------------------------------------


def _link_tree(src: Path, dst: Path, keep=lambda p: True) -> None:
    for f in src.rglob("*"):
        if f.is_file() and keep(f):
            link = dst / f.relative_to(src)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(f)


def test_zhang_stray_rda_is_skipped_with_a_warning(datasets_dir, tmp_path, monkeypatch):
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    name, mirror = "zhang_desimone_it", tmp_path / "mirror"
    real = sorted((datasets_dir / name / "raster_rda").glob("*.rda"))[:2]
    for f in real:
        (mirror / name / "raster_rda").mkdir(parents=True, exist_ok=True)
        (mirror / name / "raster_rda" / f.name).symlink_to(f)
    (mirror / name / "raster_rda" / "stray_raster_data.rda").write_bytes(real[0].read_bytes()[:200])
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from snnvis.cli.data import main; main()",
            "import",
            name,
            "--mirror",
            str(mirror),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "snnvis: warning: zhang_desimone_it: skipping raster_rda/stray_raster_data.rda" in proc.stderr
    assert "Traceback" not in proc.stderr
    with h5py.File(tmp_path / "out" / name / "zhang_desimone_7object.h5", "r") as f:
        assert f["neurons/ids"].shape == (2,)


def test_zhang_only_unreadable_rda_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    name, mirror = "zhang_desimone_it", tmp_path / "mirror"
    (mirror / name / "raster_rda").mkdir(parents=True)
    (mirror / name / "raster_rda" / "a_raster_data.rda").write_bytes(b"RDX2\nX\n\x00\x00garbage")
    one_error_line(
        ["import", name, "--mirror", mirror, "--out", tmp_path / "out"], capsys, "no readable", untouched=[tmp_path]
    )
    assert not (tmp_path / "out").exists()


def test_henaff_truncated_unregistered_mat(datasets_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    name, mirror = "henaff2021_v1", tmp_path / "mirror"
    _link_tree(datasets_dir / name, mirror / name, keep=lambda p: "V1_responses" not in p.parts)
    src = datasets_dir / name / "V1_responses" / "ay2_u003_image_sequences.mat"
    bad = mirror / name / "V1_responses" / "ay9_u099_image_sequences.mat"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(src.read_bytes()[:4096])
    one_error_line(
        ["import", name, "--mirror", mirror, "--out", tmp_path / "out", "--only", "ay9_u099"],
        capsys,
        "ay9_u099",
        untouched=[mirror],
    )
    assert not (tmp_path / "out" / name / "ay9_u099.h5").exists()
