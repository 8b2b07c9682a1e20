"""The presentation protocol in the recording format: written, read back, validated."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from snnvis.errors import UserError
from snnvis.recordings import protocol as proto
from snnvis.recordings.format import FORMAT_VERSION, write_recording
from snnvis.recordings.recording import Recording
from snnvis.recordings.synthetic import SynthConfig, generate_recording


def _synth(tmp_path, n_frames=1, protocol=None, name="s.h5"):
    data = generate_recording(SynthConfig(n_stimuli=12, n_frames=n_frames, n_neurons=3, n_repeats=2, size=16))
    if protocol is not None:
        data.protocol = protocol
    return write_recording(tmp_path / name, data), data


def test_static_images_default_to_independent_with_the_assumption_stated(tmp_path):
    path, _ = _synth(tmp_path)
    p = Recording(path).protocol
    assert (p.mode, p.on_ms, p.order) == ("independent", 100.0, None) and np.isnan(p.off_ms)
    assert "assumed" in p.description and p.resets_between_presentations
    assert Recording(path).summary()["protocol"] == {
        "mode": "independent",
        "on_ms": 100.0,
        "off_ms": None,
        "n_presentations": 0,
    }


def test_synthetic_sequences_are_movies(tmp_path):
    path, _ = _synth(tmp_path, n_frames=4)
    p = Recording(path).protocol
    assert (p.mode, p.on_ms, p.off_ms, p.interval_ms) == ("movie", 100.0, 0.0, 100.0)


def test_order_round_trip_and_consecutive_fraction(tmp_path):
    order = np.array([[0, 0], [0, 1], [-1, -1], [3, 2], [3, 1], [3, 2], [5, 3]])
    p = proto.Protocol("stream", 50.0, 25.0, order=order, order_ids=np.array(list("abcdefg")), description="x")
    path, _ = _synth(tmp_path, n_frames=4, protocol=p)
    back = Recording(path).protocol
    np.testing.assert_array_equal(back.order, order)
    assert list(back.order_ids) == list("abcdefg") and (back.mode, back.interval_ms) == ("stream", 75.0)
    # pairs: (0,0)->(0,1) yes; ->blank no; blank-> no; (3,2)->(3,1) back; (3,1)->(3,2) yes; (3,2)->(5,3) no
    assert back.consecutive_frame_fraction(1) == pytest.approx(2 / 6)
    assert back.consecutive_frame_fraction(-1) == pytest.approx(1 / 6)


def test_order_from_ids_maps_shared_frames_to_their_first_slot():
    slots = np.array([[10, 11, 12], [10, 21, 12]])
    np.testing.assert_array_equal(proto.order_from_ids([12, 21, 99, 10], slots), [[0, 2], [1, 1], [-1, -1], [0, 0]])


@pytest.mark.parametrize(
    "p, why",
    [
        (proto.Protocol("flash", 100.0, 0.0), "is not one of"),
        (proto.Protocol("movie", 100.0, 50.0), "off_ms must be 0"),
        (proto.Protocol("stream", 100.0, 0.0), "needs the presentation order"),
        (proto.Protocol("independent", -1.0, 0.0), "on_ms must be"),
        (proto.Protocol("independent", 0.0, 0.0), "on_ms must be > 0"),
        (proto.Protocol("independent", 10.0, 0.0, order=np.array([[12, 0]])), "out of range"),
        (proto.Protocol("independent", 10.0, 0.0, order=np.array([[0, 9]])), "out of range"),
        (proto.Protocol("independent", 10.0, 0.0, order=np.array([[0, -1]])), "(-1, -1)"),
        (
            proto.Protocol("independent", 10.0, 0.0, order=np.array([[0, 0]]), order_ids=np.array(["a", "b"])),
            "order_ids has shape",
        ),
    ],
)
def test_invalid_protocols_are_refused_before_writing(tmp_path, p, why):
    with pytest.raises(UserError, match=why.replace("(", r"\(").replace(")", r"\)")):
        _synth(tmp_path, n_frames=4, protocol=p)
    assert not (tmp_path / "s.h5").exists()


def test_sequences_need_an_explicit_protocol(tmp_path):
    data = generate_recording(SynthConfig(n_stimuli=6, n_frames=3, n_neurons=2, n_repeats=2, size=16))
    data.protocol = None
    with pytest.raises(UserError, match="need an explicit protocol"):
        write_recording(tmp_path / "s.h5", data)


@pytest.mark.parametrize(
    "edit, why",
    [
        (lambda f: f.__delitem__("protocol"), "missing group 'protocol'"),
        (lambda f: f["protocol"].attrs.__setitem__("mode", "continuous"), "is not one of"),
        (lambda f: f["protocol"].attrs.__delitem__("on_ms"), "missing attribute 'on_ms'"),
        (lambda f: f["protocol"].attrs.__setitem__("off_ms", 30.0), "off_ms must be 0"),
    ],
)
def test_a_damaged_protocol_is_one_error_naming_the_file(tmp_path, edit, why):
    path, _ = _synth(tmp_path, n_frames=4)
    with h5py.File(path, "r+") as f:
        edit(f)
    with pytest.raises(UserError, match=why) as err:
        Recording(path)
    assert err.value.file == str(path)


@pytest.mark.parametrize("old", [2, 3])
def test_older_files_are_refused_with_a_reimport_hint(tmp_path, old):
    """Version 2 had no /protocol, version 3 no /stimuli/kind: neither can be read."""
    assert FORMAT_VERSION == 4
    path, _ = _synth(tmp_path)
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = old
        del f["stimuli/kind"]
        if old == 2:
            del f["protocol"]
    with pytest.raises(UserError, match=f"format version {old} is not the current 4; re-import"):
        Recording(path)


def test_steps_are_whole_multiples_of_dt():
    p = proto.Protocol("independent", 200.0, 100.0)
    assert p.steps(10.0) == (20, 10) and p.steps(1) == (200, 100) and p.steps(100.0) == (2, 1)
    assert proto.Protocol("movie", 1000 / 30, 0.0).steps(1000 / 30) == (1, 0)
    assert proto.Protocol("movie", 1000 / 30, 0.0).steps(1000 / 300) == (10, 0)
    with pytest.raises(UserError, match="not a whole number of 30 ms steps"):
        p.steps(30.0)
    with pytest.raises(UserError, match="off_ms is unknown"):
        proto.default_for(1, 100.0).steps(10.0)
    with pytest.raises(UserError, match="dt_ms must be"):
        p.steps(0)
