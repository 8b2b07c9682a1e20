"""Side-by-side tables of finished runs (``python -m snnvis.training.summary DIR ...``)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from snnvis.utils import markdown_table


def find_runs(paths: list[str | Path]) -> list[Path]:
    """Every metrics.json under the given run or sweep directories."""
    found = []
    for p in map(Path, paths):
        found += [p / "metrics.json"] if (p / "metrics.json").is_file() else sorted(p.rglob("metrics.json"))
    return found


def _fmt(summary: dict, key: str) -> str:
    med, ci = summary.get(f"{key}_median"), summary.get(f"{key}_median_ci95")
    if med is None:
        return "-"
    return f"{med:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{med:.3f}"


def table(paths: list[str | Path]) -> str:
    """Markdown table: one row per run with held-out median r (95% CI over neurons)."""
    rows = []
    for path in find_runs(paths):
        m = json.loads(path.read_text())
        o = m["test"]["overall"]
        base = m.get("baseline", {}).get("overall")
        rows.append([m["model"]["name"], m["model"]["spiking"], m["run"]["seed"], f"{m['model']['n_params']:,}",
                     o["n_neurons"], _fmt(o, "pearson_r"),
                     "-" if o.get("pearson_r_mean") is None else format(o["pearson_r_mean"], ".3f"),
                     _fmt(o, "pearson_r_corrected"), _fmt(o, "feve"), _fmt(base, "pearson_r") if base else "-"])
    return markdown_table(["model", "spiking", "seed", "params", "neurons", "median r [95% CI]", "mean r",
                           "noise-corr. median r", "median FEVE", "ridge on untrained core"], rows)


if __name__ == "__main__":
    print(table(sys.argv[1:] or ["multirun"]))
