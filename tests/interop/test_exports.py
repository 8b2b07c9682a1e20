"""Exports read back by the tools they are for: rsatoolbox, xarray (netCDF) and pandas.

The data are real outputs: the imported NWB session, an untrained tiny SNN's captured
activations on its stimuli, snnvis-score's scores.csv and snnvis-report's results.csv.
"""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch
from nwb_fixture import N_IMAGES, N_REPEATS, N_UNITS

from snnvis.recordings.recording import Recording

SCORE_TINY = [
    "model=sew_resnet_tiny",
    "model.stem_width=4",
    "model.widths=[4,8,8]",
    "model.input.size=16",
    "model.input.in_channels=1",
    "model.input.mean=[0.5]",
    "model.input.std=[0.25]",
    "model.time.static_steps=3",
    "progress=false",
    "projection_dim=64",
    "n_boot=20",
    "bn_calibration_stimuli=40",
    "batch_size=100",
]


@pytest.fixture(scope="module")
def captured(nwb_session):
    """{layer: (LayerSpec, (n_stimuli, T, features) activations)} of an untrained tiny SNN on the NWB images."""
    from snnvis.config import compose
    from snnvis.evaluation.activations import extract_activations, load_encoder, prepare_core

    rec = Recording(nwb_session[-1])
    cfg = compose("score", SCORE_TINY)
    core = prepare_core(load_encoder(cfg.model, seed=0)[0], torch.device("cpu"))
    return rec, {spec.name: (spec, a) for spec, a in extract_activations(core, rec, projection_dim=64, progress=False)}


def test_rdms_compare_in_rsatoolbox_as_in_snnvis(captured):
    from rsatoolbox.rdm import calc_rdm, calc_rdm_movie, compare

    from snnvis.interop.rsatoolbox_io import to_dataset, to_rdms
    from snnvis.similarity.compare import compare_rdms
    from snnvis.similarity.rdm import rdm

    rec, acts = captured
    ids = list(rec.stimulus_ids)
    brain = rdm(torch.as_tensor(rec.mean("rate")[:, 0, :], dtype=torch.float64))
    names = [n for n, (_, a) in acts.items() if np.ptp(a.mean(axis=1), axis=0).max() > 0]
    assert len(names) >= 2, "the untrained layers are silent: nothing to compare"
    model = torch.stack([rdm(torch.as_tensor(acts[n][1].mean(axis=1), dtype=torch.float64)) for n in names])
    exported = to_rdms(
        model, ids, layer=names, area=[acts[n][0].area for n in names], model="sew_resnet_tiny", time_step="mean"
    )
    brain_rdms = to_rdms(brain, ids, area="V4+IT", model="brain")
    assert exported.n_rdm == len(names) and exported.rdm_descriptors["layer"] == names
    assert list(exported.pattern_descriptors["stimulus_id"]) == ids
    # rsatoolbox computes the same RDMs from the exported activations ...
    for n in names:
        ds = to_dataset(acts[n][1].mean(axis=1), ids, layer=n, model="sew_resnet_tiny")
        mine = exported.subset("layer", n).get_matrices()[0]
        np.testing.assert_allclose(calc_rdm(ds, method="correlation").get_matrices()[0], mine, atol=1e-8)
    # ... and the same comparisons with the brain RDM
    for method, theirs in (("spearman", "spearman"), ("pearson", "corr"), ("kendall_tau_a", "tau-a")):
        want = compare_rdms(model, brain, method=method).numpy()
        np.testing.assert_allclose(compare(exported, brain_rdms, method=theirs)[:, 0], want, atol=1e-8)
    # a time-resolved layer becomes a TemporalDataset: one RDM per step, as snnvis's per-step RDMs
    spec, a = acts[names[-1]]
    movie = calc_rdm_movie(to_dataset(a, ids, layer=spec.name, dt_ms=1.0), method="euclidean")
    assert list(movie.rdm_descriptors["time"]) == [float(t) for t in range(a.shape[1])]
    per_step = rdm(torch.as_tensor(a.transpose(1, 0, 2), dtype=torch.float64), method="euclidean").numpy()
    np.testing.assert_allclose(movie.get_matrices(), per_step, rtol=1e-6, atol=1e-10)


def test_recording_assembly_round_trips_through_netcdf(nwb_session, tmp_path):
    import xarray as xr

    from snnvis.interop.assembly import recording_assembly

    rec = Recording(nwb_session[-1])
    for response, trials in (("rate", False), ("psth", False), ("psth", True)):
        da = recording_assembly(rec, response, trials=trials)
        da.to_netcdf(tmp_path / f"{response}{trials}.nc")
        back = xr.open_dataarray(tmp_path / f"{response}{trials}.nc").load()
        assert back.dims == ("presentation", "neuroid", "time_bin")
        assert list(back["neuroid_id"].values) == list(rec.neuron_ids)
        assert list(back["region"].values) == list(rec.neuron_areas)
        w = rec.response_info(response).windows_ms
        np.testing.assert_array_equal(back["time_bin_start"], w[:, 0])
        np.testing.assert_array_equal(back["time_bin_end"], w[:, 1])
        assert back.attrs["units"] == "spikes/s" and back.attrs["recording_id"] == rec.id
        if trials:
            assert back.sizes["presentation"] == N_IMAGES * N_REPEATS
            # averaging the repeats of each stimulus gives the recording's mean back
            mean = back.groupby("stimulus_id").mean("presentation").sel(stimulus_id=list(rec.stimulus_ids))
            np.testing.assert_allclose(mean.values.transpose(0, 2, 1), rec.mean(response), rtol=1e-5)
        else:
            assert list(back["stimulus_id"].values) == list(rec.stimulus_ids)
            np.testing.assert_array_equal(back.values.transpose(0, 2, 1), rec.mean(response))
            test = back.where(back["split"] == "test", drop=True)
            assert list(test["stimulus_id"].values) == list(np.asarray(rec.stimulus_ids)[np.sort(rec.split("test"))])


def test_activation_assembly_round_trips(captured, tmp_path):
    import xarray as xr

    from snnvis.interop.assembly import activations_assembly

    rec, acts = captured
    spec, a = next(iter(acts.values()))
    da = activations_assembly(a, rec.stimulus_ids, spec.name, model="sew_resnet_tiny", region=spec.area, dt_ms=1.0)
    da.to_netcdf(tmp_path / "act.nc")
    back = xr.open_dataarray(tmp_path / "act.nc").load()
    np.testing.assert_array_equal(back.values, a.transpose(0, 2, 1))
    assert back.sizes == {"presentation": N_IMAGES, "neuroid": a.shape[2], "time_bin": a.shape[1]}
    assert set(back["region"].values) == {spec.area} and back["neuroid_id"].values[1] == f"{spec.name}.1"
    np.testing.assert_array_equal(back["time_bin_end"] - back["time_bin_start"], np.ones(a.shape[1]))
    # BrainIO-style MultiIndex on presentations selects by stimulus id
    sel = back.set_index(presentation=["stimulus_id", "repetition"]).sel(stimulus_id="img007")
    np.testing.assert_array_equal(sel.values[0], a[7].T)


@pytest.fixture(scope="module")
def result_files(nwb_session, trained_run):
    """scores.csv of snnvis-score (untrained tiny SNN on the NWB session) and results.csv of snnvis-report."""
    from snnvis.cli import score as score_cli
    from snnvis.config import compose
    from snnvis.reporting import make_report

    run_dir, _ = trained_run
    sweep = run_dir.parent
    cfg = compose("score", [*SCORE_TINY, f"recordings=[{nwb_session[-1]}]", "metrics=[rsa,ridge]"])
    score_cli.run(cfg, sweep / "untrained")
    rep = make_report(sweep, sweep.parent / "report", log=lambda *_: None)
    return sweep / "untrained" / "scores.csv", rep.results_csv


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _same(cell: str, value) -> bool:
    """A CSV cell read independently (csv module) against the DataFrame's parsed value."""
    import pandas as pd

    if pd.isna(value):
        return cell in ("", "nan", "None")
    if isinstance(value, (bool, np.bool_)):
        return cell == str(bool(value))
    if isinstance(value, str):
        return cell == value
    return math.isclose(float(cell), float(value), rel_tol=1e-12)


@pytest.mark.parametrize("which", ["scores", "results"])
def test_load_results_reads_both_tables(result_files, which):
    from snnvis.outputs import load_results

    path = result_files[0] if which == "scores" else result_files[1]
    df = load_results(path)
    rows = _rows(path)
    assert df.attrs["kind"] == which and len(df) == len(rows) and list(df.columns) == list(rows[0])
    for i in (0, len(rows) // 2, len(rows) - 1):
        for col, cell in rows[i].items():
            assert _same(cell, df[col].iloc[i]), (col, cell, df[col].iloc[i])
    num = "score" if which == "scores" else "value"
    assert df[num].dtype == float and df["spiking"].dtype == "boolean"
    if which == "scores":
        assert set(df["metric"]) == {"rsa", "ridge"} and set(df["n_neurons"]) == {N_UNITS // 2}
        assert set(df["area"]) == {"V4", "IT"}  # scored per area: 3 units each
        best = df[(df["split"] == "test") & df["chosen"]]
        assert len(best) >= 1 and best["score"].notna().all()
    else:
        assert {"test", "validation", "scores"} <= set(df["section"].dropna())
    assert load_results(path.parent).attrs["path"] == str(path)


def test_load_results_refuses_other_files(tmp_path):
    from snnvis.errors import UserError
    from snnvis.outputs import load_results

    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match="neither a results.csv"):
        load_results(tmp_path / "x.csv")
    with pytest.raises(UserError, match="does not exist"):
        load_results(tmp_path / "nothing.csv")


def test_real_v4_session_exports(imported, tmp_path):
    """Cowley V4 session 210305: the assembly keeps every value, and rsatoolbox compares the RDMs of the two
    halves of the neurons on the test stimuli as snnvis does."""

    import xarray as xr
    from rsatoolbox.rdm import compare

    from snnvis.interop.assembly import recording_assembly
    from snnvis.interop.rsatoolbox_io import to_rdms
    from snnvis.similarity.compare import compare_rdms
    from snnvis.similarity.rdm import rdm

    rec = Recording(imported("cowley2023_v4", "210305"))
    recording_assembly(rec).to_netcdf(tmp_path / "v4.nc")
    back = xr.open_dataarray(tmp_path / "v4.nc").load()
    assert dict(back.sizes) == {"presentation": rec.n_stimuli, "neuroid": rec.n_neurons, "time_bin": 1}
    np.testing.assert_array_equal(back.values.transpose(0, 2, 1), rec.mean())
    assert set(back["region"].values) == {"V4"}
    test = np.sort(rec.split("test"))
    r = torch.as_tensor(rec.mean()[test, 0], dtype=torch.float64)
    half = r.shape[1] // 2
    a, b = rdm(r[:, :half]), rdm(r[:, half:])
    ids = list(np.asarray(rec.stimulus_ids)[test])
    for mine, theirs in (("spearman", "spearman"), ("kendall_tau_a", "tau-a"), ("pearson", "corr")):
        got = compare(to_rdms(a, ids, area="V4"), to_rdms(b, ids, area="V4"), method=theirs)[0, 0]
        assert got == pytest.approx(float(compare_rdms(a, b, method=mine)), abs=1e-10)


def test_frame_aligned_sequence_bins_carry_their_frame(tmp_path):
    """A synthetic sequence recording with frame-major bins: (frame, window) of every bin in the assembly."""
    from snnvis.interop.assembly import recording_assembly
    from snnvis.recordings.format import write_recording
    from snnvis.recordings.synthetic import SynthConfig, generate_recording

    rec = Recording(
        write_recording(
            tmp_path / "seq.h5",
            generate_recording(SynthConfig(n_stimuli=12, n_frames=3, n_neurons=4, n_repeats=2, size=16)),
        )
    )
    for name, info in rec.response_sets.items():
        da = recording_assembly(rec, name)
        m = rec.mean(name)
        np.testing.assert_array_equal(da.values.transpose(0, 2, 1), m)
        w = np.asarray(info.windows_ms)
        n_frames = m.shape[1] // len(w)
        np.testing.assert_array_equal(da["frame"], np.repeat(np.arange(n_frames), len(w)))
        np.testing.assert_array_equal(da["time_bin_start"], np.tile(w[:, 0], n_frames))
        assert da.attrs["align"] == info.align
