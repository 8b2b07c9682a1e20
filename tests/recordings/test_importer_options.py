"""Importer options: declared once per importer (``OPTIONS``), checked and converted once by the import.

Unit checks of :mod:`snnvis.recordings.options`, then the real importers through ``snnvis-data import``:
zhang_desimone_it (``bin_ms``, float) on a three-neuron mirror of the real rasters and henaff2021_v1
(``psth_normalisation``, a choice) on the real mirror.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from snnvis.cli.data import main as data_main
from snnvis.errors import UserError
from snnvis.recordings import importers
from snnvis.recordings.importers import henaff2021_v1, zhang_desimone_it
from snnvis.recordings.options import Option, declared, resolve
from snnvis.recordings.recording import Recording

ZHANG, HENAFF = zhang_desimone_it.SOURCE.name, henaff2021_v1.SOURCE.name
DECL = (
    Option("bin_ms", float, 50.0, "bin"),
    Option("n", int, 3, "count", minimum=1),
    Option("mode", str, "valid", "mode", choices=("valid", "file")),
    Option("flag", bool, False, "flag"),
    Option("table", str, None, "table"),
)


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data_main(list(argv))
    out, err = capsys.readouterr()
    return done.value.code, out, err


# ---------------------------------------------------------------------------------------------------
# the declaration and its one check
# ---------------------------------------------------------------------------------------------------
def test_defaults_filled_and_strings_converted():
    assert resolve("s", DECL, {}) == {"bin_ms": 50.0, "n": 3, "mode": "valid", "flag": False, "table": None}
    got = resolve("s", DECL, {"bin_ms": "25", "n": "7.0", "mode": "file", "flag": "yes", "table": "trials"})
    assert got == {"bin_ms": 25.0, "n": 7, "mode": "file", "flag": True, "table": "trials"}
    assert type(got["bin_ms"]) is float and type(got["n"]) is int
    assert resolve("s", DECL, {"bin_ms": 10, "n": 2.0})["bin_ms"] == 10.0  # Python values are converted too


@pytest.mark.parametrize(
    ("given", "what", "why"),
    [
        ({"bin": "25"}, "option 'bin'", "unknown option for source s (known: bin_ms, n, mode, flag, table)"),
        ({"bin_ms": "abc"}, "option bin_ms of source s", "'abc' is not a finite number"),
        ({"bin_ms": "nan"}, "option bin_ms of source s", "'nan' is not a finite number"),
        ({"bin_ms": True}, "option bin_ms of source s", "True is not a finite number"),
        ({"n": "2.5"}, "option n of source s", "'2.5' is not a whole number"),
        ({"n": "0"}, "option n of source s", "'0' must be >= 1"),
        ({"mode": "rates"}, "option mode of source s", "'rates' must be one of valid, file"),
        ({"flag": "maybe"}, "option flag of source s", "'maybe' is not true or false"),
    ],
)
def test_bad_options_are_one_line_errors(given, what, why):
    with pytest.raises(UserError) as err:
        resolve("s", DECL, given)
    assert (err.value.what, err.value.why) == (what, why) and "\n" not in err.value.message


def test_an_importer_without_options_takes_none():
    with pytest.raises(UserError, match=r"unknown option for source x \(known: none\)"):
        resolve("x", (), {"bin_ms": "5"})


def test_every_importer_declares_its_options_as_option_tuples():
    """Each declared option is a keyword of the importer's load, with the same default."""
    import inspect

    for name, mod in importers.available().items():
        params = inspect.signature(mod.load).parameters
        for o in declared(mod):
            assert isinstance(o, Option) and o.name == o.name.strip()
            if name != "nwb":  # nwb is imported by path (read_nwb); its load only says so
                assert params[o.name].default == o.default, (name, o.name)
                assert o.convert(o.default, name) == o.default if o.default is not None else True


# ---------------------------------------------------------------------------------------------------
# real importers through the CLI
# ---------------------------------------------------------------------------------------------------
@pytest.fixture
def zhang_mirror(datasets_dir, tmp_path):
    """Three of the real raster files (linked), so an import takes a fraction of a second."""
    files = sorted((datasets_dir / ZHANG / "raster_rda").glob("*.rda"))[:3]
    (tmp_path / "m" / ZHANG / "raster_rda").mkdir(parents=True)
    for f in files:
        (tmp_path / "m" / ZHANG / "raster_rda" / f.name).symlink_to(f)
    return tmp_path / "m"


def test_zhang_bin_ms_string_becomes_float_and_default_import_is_the_same(zhang_mirror, tmp_path, capsys, monkeypatch):
    seen = []
    real = zhang_desimone_it.load
    monkeypatch.setattr(zhang_desimone_it, "load", lambda store, sid, **kw: seen.append(kw) or real(store, sid, **kw))
    out = tmp_path / "out"
    code, _, _ = cli(capsys, "import", ZHANG, "--mirror", str(zhang_mirror), "--out", str(out), "-o", "bin_ms=50")
    assert code == 0 and seen == [{"bin_ms": 50.0}] and type(seen[0]["bin_ms"]) is float
    path = out / ZHANG / "zhang_desimone_7object.h5"
    rec = Recording(path)
    assert rec.provenance()["options"] == {"bin_ms": "50"}  # recorded as given
    assert rec.response_info().n_bins == 20  # 1000 ms raster / 50 ms
    fine = rec.trials()
    # the default (no -o) is bin_ms=50.0: the file is up to date, nothing is loaded or rewritten
    stamp = path.stat().st_mtime_ns
    assert cli(capsys, "import", ZHANG, "--mirror", str(zhang_mirror), "--out", str(out))[0] == 0
    assert cli(capsys, "import", ZHANG, "--mirror", str(zhang_mirror), "--out", str(out), "-o", "bin_ms=50.0")[0] == 0
    assert len(seen) == 1 and path.stat().st_mtime_ns == stamp
    # another bin is another import, and its values follow the raster
    assert cli(capsys, "import", ZHANG, "--mirror", str(zhang_mirror), "--out", str(out), "-o", "bin_ms=100")[0] == 0
    assert seen[-1] == {"bin_ms": 100.0}
    coarse = Recording(path)
    assert coarse.response_info().n_bins == 10 and coarse.provenance()["options"] == {"bin_ms": "100"}
    # 50 ms bins: two of them average to one 100 ms bin (rates in spikes/s)
    np.testing.assert_allclose(coarse.trials(), (fine[:, :, 0::2] + fine[:, :, 1::2]) / 2, rtol=1e-6)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("frobnicate=1", f"snnvis: error: option 'frobnicate': unknown option for source {ZHANG} (known: bin_ms)"),
        ("bin_ms=fifty", f"snnvis: error: option bin_ms of source {ZHANG}: 'fifty' is not a finite number"),
        ("bin_ms=0", f"snnvis: error: option bin_ms of source {ZHANG}: '0' must be >= 1"),
    ],
)
def test_zhang_bad_option_is_one_line_exit_2(zhang_mirror, tmp_path, capsys, option, message):
    code, out, err = cli(
        capsys, "import", ZHANG, "--mirror", str(zhang_mirror), "--out", str(tmp_path / "o"), "-o", option
    )
    assert code == 2 and out == "" and err == message + "\n"
    assert not (tmp_path / "o" / ZHANG).exists()


def test_henaff_default_and_choice_reach_load(datasets_dir, tmp_path, capsys, monkeypatch):
    """The real mirror's discovery runs; load is stopped after it has seen its (typed, defaulted) options."""
    seen = []

    def spy(store, sid, **kw):
        seen.append((sid, kw))
        raise UserError(f"session {sid!r}", "stopped by the test")

    monkeypatch.setattr(henaff2021_v1, "load", spy)
    base = ("import", HENAFF, "--mirror", str(datasets_dir), "--out", str(tmp_path), "--only", "ay4_u001")
    assert cli(capsys, *base)[0] == 2
    assert cli(capsys, *base, "-o", "psth_normalisation=file")[0] == 2
    assert seen == [("ay4_u001", {"psth_normalisation": "valid"}), ("ay4_u001", {"psth_normalisation": "file"})]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (
            "psth_normalisation=rates",
            f"option psth_normalisation of source {HENAFF}: 'rates' must be one of valid, file",
        ),
        ("bin_ms=25", f"option 'bin_ms': unknown option for source {HENAFF} (known: psth_normalisation)"),
        ("psth_normalisation", "option 'psth_normalisation': must be KEY=VALUE, e.g. -o bin_ms=25"),
    ],
)
def test_henaff_bad_option_is_one_line_exit_2(datasets_dir, tmp_path, capsys, option, message):
    code, out, err = cli(capsys, "import", HENAFF, "--mirror", str(datasets_dir), "--out", str(tmp_path), "-o", option)
    assert code == 2 and out == "" and err == f"snnvis: error: {message}\n"
    assert not (tmp_path / HENAFF).exists()


def test_help_and_list_show_each_sources_options_with_defaults(capsys):
    code, out, _ = cli(capsys, "import", HENAFF, "--help")
    assert code == 0 and "psth_normalisation (one of valid|file, default 'valid')" in out
    assert "bin_ms" not in out.split("importer options")[1]  # only the named source's options
    code, out, _ = cli(capsys, "import", "--help")
    assert code == 0 and "bin_ms (float, >= 1, default 50.0)" in out and "clip_frames (int, >= 1, default 30)" in out
    code, out, _ = cli(capsys, "list")
    lines = out.splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith(ZHANG))
    assert code == 0 and lines[i + 1].strip().startswith("-o bin_ms (float, >= 1, default 50.0)")
