"""Write a small real image-classification dataset in the ImageFolder layout that
``snnvis-pretrain`` reads: ``OUT/train/<class>/*.png`` and ``OUT/val/<class>/*.png``.

Sources (both available offline):

- ``digits``: the 1797 handwritten digits bundled with scikit-learn (8x8, 17 grey levels),
  upsampled to ``--size`` px; ``--classes 0,1,2,3`` keeps a subset.
- ``kriegeskorte``: the 92 object images of Kriegeskorte et al. 2008 (175x175 RGB, from
  ``$SNNVIS_DATA_MIRROR/kriegeskorte2008_it``, else ``../shared/datasets`` beside the checkout, or
  ``--kriegeskorte-dir``), labelled
  ``--labels animate`` (animate / inanimate), ``category4`` (face / body / natural /
  artificial) or ``category6`` (human-face / human-body / animal-face / animal-body / natural /
  artificial).

The split is stratified and deterministic: within each class a permutation seeded by
``--seed`` puts ``--val-fraction`` of the images (at least one) into val/.

    python scripts/make_task_imagefolder.py digits /tmp/digits4 --classes 0,1,2,3 --size 32
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from snnvis.recordings.sources import MIRROR_ENV

ROOT = Path(__file__).resolve().parents[1]
# the mirror convention of snnvis-data and scripts/run.sh: $SNNVIS_DATA_MIRROR, else ../shared/datasets
KRIEGESKORTE = Path(os.environ.get(MIRROR_ENV) or ROOT.parent / "shared" / "datasets") / "kriegeskorte2008_it"
LABELS = ("animate", "category4", "category6")


def digits(size: int, classes: list[str] | None) -> tuple[list[np.ndarray], list[str]]:
    from sklearn.datasets import load_digits

    d = load_digits()
    keep = [i for i, t in enumerate(d.target) if classes is None or str(t) in classes]
    images = []
    for i in keep:
        grey = Image.fromarray(np.round(d.images[i] * (255 / 16)).astype(np.uint8))
        images.append(np.asarray(grey.resize((size, size), Image.BICUBIC)))
    return images, [f"digit{d.target[i]}" for i in keep]


def _category(human: int, face: int, animal: int, natural: int, labels: str) -> str:
    if labels == "animate":
        return "animate" if animal else "inanimate"
    if animal:
        part = "face" if face else "body"
        return part if labels == "category4" else f"{'human' if human else 'animal'}-{part}"
    return "natural" if natural else "artificial"


def kriegeskorte(folder: Path, labels: str, size: int | None) -> tuple[list[np.ndarray], list[str]]:
    import scipy.io as sio

    path = folder / "Kriegeskorte_Neuron2008_supplementalData.mat"
    if not path.is_file():
        sys.exit(f"make_task_imagefolder: error: {path} not found")
    stim = sio.loadmat(path)["stimuli_92objs"].ravel()
    images, names = [], []
    for s in stim:
        flags = [int(np.asarray(s[k]).ravel()[0]) for k in ("human", "face", "animal", "natural")]
        img = np.asarray(s["image"], dtype=np.uint8)
        if size:
            img = np.asarray(Image.fromarray(img).resize((size, size), Image.BICUBIC))
        images.append(img)
        names.append(_category(*flags, labels))
    return images, names


def write(out: Path, images: list[np.ndarray], names: list[str], val_fraction: float, seed: int) -> dict:
    """Write the split; returns {split: {class: count}}."""
    if out.exists():
        shutil.rmtree(out)
    counts: dict[str, dict[str, int]] = {"train": {}, "val": {}}
    rng = np.random.default_rng(seed)
    for cls in sorted(set(names)):
        idx = [i for i, n in enumerate(names) if n == cls]
        order = rng.permutation(len(idx))
        n_val = max(1, int(round(val_fraction * len(idx))))
        for rank, j in enumerate(order):
            split = "val" if rank < n_val else "train"
            d = out / split / cls
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[idx[j]]).save(d / f"{idx[j]:04d}.png")
            counts[split][cls] = counts[split].get(cls, 0) + 1
    return counts


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("source", choices=("digits", "kriegeskorte"))
    p.add_argument("out", type=Path, help="output folder (replaced if it exists)")
    p.add_argument("--size", type=int, default=None, help="side in px (digits: default 32; kriegeskorte: 175)")
    p.add_argument("--classes", default=None, help="digits: comma-separated digits to keep (default all 10)")
    p.add_argument("--labels", choices=LABELS, default="category4", help="kriegeskorte: label scheme")
    p.add_argument("--kriegeskorte-dir", type=Path, default=KRIEGESKORTE)
    p.add_argument("--per-class", type=int, default=None, help="keep at most this many images per class")
    p.add_argument("--val-fraction", type=float, default=0.25)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if not 0 < a.val_fraction < 1:
        p.error("--val-fraction must be in (0, 1)")
    if a.source == "digits":
        classes = None if a.classes is None else [c.strip() for c in a.classes.split(",")]
        images, names = digits(a.size or 32, classes)
    else:
        images, names = kriegeskorte(a.kriegeskorte_dir, a.labels, a.size)
    if a.per_class is not None:
        keep = [i for i, n in enumerate(names) if names[:i].count(n) < a.per_class]
        images, names = [images[i] for i in keep], [names[i] for i in keep]
    if not images:
        p.error("no images selected")
    counts = write(a.out, images, names, a.val_fraction, a.seed)
    for split, per in counts.items():
        print(f"{a.out / split}: {sum(per.values())} images in {len(per)} classes")


if __name__ == "__main__":
    main()
