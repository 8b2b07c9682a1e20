"""Kriegeskorte et al. 2008: the 92 object images with monkey-IT and human-IT RDMs.

There are no neuron-level responses in this release, only representational
dissimilarity matrices (RDMs), so the recording has the 92 images, no neurons, no
response sets, and the RDMs under ``/reference_rdms``:

- ``monkey_IT``: 674 IT neurons (Kiani et al. 2007), from
  ``RDMs_mIT_hIT_fig1`` of ``Kriegeskorte_Neuron2008_supplementalData.mat``;
- ``human_IT``: 316 fMRI voxels of human IT, same variable;
- ``human_IT_<subject>_session<k>``: the per-subject, per-session human-IT RDMs of
  ``92_brainRDMs.mat``, when that file is present.

The fig-1 RDMs are stored as condensed vectors (MATLAB ``pdist`` order) and are
expanded with :func:`scipy.spatial.distance.squareform`.
"""

from __future__ import annotations

import json
import re

import numpy as np

from snnvis.errors import UserError
from snnvis.recordings.format import RecordingData
from snnvis.recordings.sources import FileStore, Source

SOURCE = Source(
    name="kriegeskorte2008_it",
    title="92 object images with monkey-IT and human-IT RDMs (Kriegeskorte et al. 2008)",
    citation=(
        "Kriegeskorte, N., Mur, M., Ruff, D. A., Kiani, R., Bodurka, J., Esteky, H., Tanaka, K. & "
        "Bandettini, P. A. Matching categorical object representations in inferior temporal cortex of "
        "man and monkey. Neuron 60, 1126-1141 (2008). Monkey data: Kiani, R., Esteky, H., Mirpour, K. & "
        "Tanaka, K. J. Neurophysiol. 97, 4296-4309 (2007). Files: github.com/rsagroup/rsatoolbox, "
        "demos/92imageData/."
    ),
    license="MIT (rsatoolbox repository)",
    species="macaque (and human fMRI reference)",
    urls={"": "https://raw.githubusercontent.com/rsagroup/rsatoolbox/HEAD/demos/92imageData/"},
    description="92 images (175x175 RGB) with the monkey-IT (674 neurons) and human-IT (fMRI) RDMs; "
    "no neuron-level responses.",
)

SESSION = "92images"
_SUPP = "Kriegeskorte_Neuron2008_supplementalData.mat"
_BRAIN = "92_brainRDMs.mat"
_METHOD = "1 - Pearson correlation between response patterns (correlation distance)"


def discover(store: FileStore) -> dict[str, str | None]:
    return {SESSION: None if store.exists(_SUPP) else f"{_SUPP} is missing"}


def _text(x) -> str:
    """A MATLAB char array as loaded by scipy (nested object/str arrays) -> str."""
    while isinstance(x, np.ndarray):
        if x.size == 0:
            return ""
        x = x.ravel()[0]
    return str(x)


def _square(rdm: np.ndarray, n: int, what: str, file) -> np.ndarray:
    from scipy.spatial.distance import squareform

    rdm = np.asarray(rdm, dtype=np.float64)
    if rdm.shape == (n, n):
        return rdm
    if rdm.size == n * (n - 1) // 2:
        return squareform(rdm.ravel(), checks=False)
    raise UserError(what, f"shape {rdm.shape} is neither ({n}, {n}) nor a condensed {n}x{n} RDM", file)


def load(store: FileStore, session_id: str) -> RecordingData:
    import scipy.io as sio

    if session_id != SESSION:
        raise UserError(f"session {session_id!r}", f"{SOURCE.name} has one session, {SESSION!r}")
    path = store.path(_SUPP)
    mat = sio.loadmat(path)
    for key in ("stimuli_92objs", "RDMs_mIT_hIT_fig1"):
        if key not in mat:
            raise UserError(f"variable {key!r}", "missing", path)
    stim = mat["stimuli_92objs"].ravel()
    if "image" not in (stim.dtype.names or ()):
        raise UserError("stimuli_92objs", "has no 'image' field", path)
    images = [np.asarray(s["image"]) for s in stim]
    if len({a.shape for a in images}) != 1 or images[0].dtype != np.uint8:
        raise UserError("stimuli_92objs", "images differ in shape or are not uint8", path)
    pixels = np.stack([a if a.ndim == 3 else a[..., None] for a in images])[:, None]
    n = len(images)
    categories = [_text(s["category"]) if "category" in stim.dtype.names else "" for s in stim]
    stimulus_ids = [
        f"obj{i + 1:02d}_{c.replace(' ', '-')}" if c else f"obj{i + 1:02d}" for i, c in enumerate(categories)
    ]

    rdms: dict[str, tuple[np.ndarray, dict]] = {}
    labels = [_text(x) for x in mat.get("categoryLabels", np.empty(0)).ravel()]
    flags = {
        k: [int(np.asarray(s[k]).ravel()[0]) for s in stim]
        for k in ("human", "face", "animal", "natural")
        if k in stim.dtype.names
    }
    vectors = np.asarray(mat.get("categoryVectors", np.empty((0, 0))), dtype=int)
    common = {
        "stimulus_categories": json.dumps(categories),
        "stimulus_flags": json.dumps(flags),
        "category_labels": json.dumps(labels),
        "category_vectors": json.dumps(vectors.tolist()),
    }
    for entry in mat["RDMs_mIT_hIT_fig1"].ravel():
        name = _text(entry["name"])
        m = _square(entry["RDM"], n, f"RDM {name!r}", path)
        if name.startswith("mIT"):
            k = re.search(r"(\d+)\s*neurons", name)
            rdms["monkey_IT"] = (
                m,
                {
                    "area": "IT",
                    "method": _METHOD,
                    "n_neurons": int(k.group(1)) if k else -1,
                    "source_name": name,
                    "species": "macaque",
                    "description": "Monkey IT RDM of Kriegeskorte et al. 2008 (Fig. 1): correlation distance between "
                    "population response patterns of IT neurons recorded by Kiani et al. "
                    "2007.",
                    **common,
                },
            )
        elif name.startswith("hIT"):
            k = re.search(r"(\d+)\s*vx", name)
            rdms["human_IT"] = (
                m,
                {
                    "area": "IT",
                    "method": _METHOD + " (fMRI voxels)",
                    "n_voxels": int(k.group(1)) if k else -1,
                    "source_name": name,
                    "species": "human",
                    "description": "Human IT RDM of Kriegeskorte et al. 2008 (Fig. 1): correlation distance between "
                    "fMRI activity patterns in human inferior temporal cortex.",
                    **common,
                },
            )
    if "monkey_IT" not in rdms:
        raise UserError("RDMs_mIT_hIT_fig1", "no monkey-IT ('mIT...') entry", path)

    if store.exists(_BRAIN):
        bpath = store.path(_BRAIN)
        brain = sio.loadmat(bpath)
        for entry in brain.get("RDMs", np.empty(0)).ravel():
            name = _text(entry["name"])
            parts = [p.strip() for p in name.split("|")]
            m = re.search(r"(\d+)", parts[-1]) if len(parts) == 3 else None
            if not (m and parts[0] == "hIT"):
                continue
            key = f"human_IT_{parts[1]}_session{m.group(1)}"
            rdms[key] = (
                _square(entry["RDM"], n, f"RDM {name!r}", bpath),
                {
                    "area": "IT",
                    "method": _METHOD + " (fMRI voxels)",
                    "source_name": name,
                    "species": "human",
                    "description": f"Human IT RDM of subject {parts[1]}, scanning session {m.group(1)} "
                    "(Kriegeskorte et al. 2008, 92_brainRDMs.mat).",
                    **common,
                },
            )

    return RecordingData(
        recording_id=SESSION,
        source=SOURCE.name,
        species=SOURCE.species,
        citation=SOURCE.citation,
        neuron_ids=[],
        neuron_areas=[],
        stimulus_ids=stimulus_ids,
        pixels=pixels,
        reference_rdms=rdms,
        license=SOURCE.license,
    )
