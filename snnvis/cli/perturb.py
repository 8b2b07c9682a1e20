"""``snnvis-perturb``: TSRSA of model layers against a movie recording under the
movie perturbations of Huang et al. 2024; see snnvis/conf/analysis/tsrsa_perturbations.yaml."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from snnvis import config
from snnvis.errors import UserError, hydra_entry
from snnvis.utils import say

log = logging.getLogger("snnvis.cli.perturb")
CONFIGS = str(config.CONFIGS)
config.register()  # ${snnvis_uid:}


def format_rows(rows: list[dict]) -> str:
    """The table as printed: one line per model x layer x perturbation level."""
    lines = [f"{'model':<22} {'layer':<16} {'perturbation':<12} {'level':>6} {'TSRSA':>7} {'ceiling':>7}"]
    for r in rows:
        lines.append(
            f"{r['model']:<22} {r['layer']:<16} {r['perturbation']:<12} {r['level']:>6g} "
            f"{r['tsrsa']:>7.3f} {r['ceiling']:>7.3f}"
        )
    return "\n".join(lines)


@hydra.main(config_path=CONFIGS, config_name="analysis/tsrsa_perturbations", version_base="1.3")
def _main(cfg: DictConfig) -> None:
    from snnvis.evaluation.perturbation_analysis import FIGURE_STEM, analyse
    from snnvis.outputs import PERTURBATIONS_FILE

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        rows = analyse(cfg, run_dir)
    except UserError as err:
        print(err.message, file=sys.stderr)
        sys.exit(2)
    say(log, format_rows(rows))
    say(log, f"wrote {run_dir / PERTURBATIONS_FILE} ({len(rows)} rows) and {run_dir / FIGURE_STEM}.png/.pdf")


def main() -> None:
    hydra_entry(_main, CONFIGS)


if __name__ == "__main__":
    main()
