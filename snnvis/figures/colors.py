"""The colours of every figure: SNN orange, DNN twin green (colour-blind safe, Dark2), and a
style per model label so several SNNs (or twins) in one panel stay apart by line and marker."""

from __future__ import annotations

SNN_COLOR = "#d95f02"
TWIN_COLOR = "#1b9e77"
DNN_COLOR = TWIN_COLOR
NEUTRAL_COLOR = "0.45"
CATEGORY_COLORS = {"natural": "#1f77b4", "synthetic": "#7b3294"}

_LINESTYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*")


def kind_of(label: str) -> str | None:
    """``snn``, ``twin`` or None, from a model label that starts with "SNN" or "twin"/"DNN"."""
    head = label.strip().lower()
    if head.startswith("snn"):
        return "snn"
    if head.startswith(("twin", "dnn")):
        return "twin"
    return None


def kind_color(spiking: bool | None) -> str:
    """SNN orange, twin green, neutral grey when the kind is unknown (None)."""
    return NEUTRAL_COLOR if spiking is None else SNN_COLOR if spiking else TWIN_COLOR


def label_styles(labels) -> dict[str, dict]:
    """{label: matplotlib style (color, linestyle, marker)}: colour by kind (:func:`kind_of`),
    then line style and marker cycling within each kind in first-seen order."""
    seen: dict[str | None, int] = {}
    out = {}
    for label in dict.fromkeys(labels):
        kind = kind_of(label)
        k = seen.get(kind, 0)
        seen[kind] = k + 1
        out[label] = {
            "color": kind_color(None if kind is None else kind == "snn"),
            "linestyle": _LINESTYLES[k % len(_LINESTYLES)],
            "marker": _MARKERS[k % len(_MARKERS)],
        }
    return out
