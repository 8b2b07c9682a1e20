"""``snnvis-train``: fit one encoder (SNN or DNN twin) to recordings; see configs/train.yaml."""
from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from snnvis.errors import UserError, hydra_entry
from snnvis.training import rundir, schema

CONFIGS = str(Path(__file__).resolve().parents[2] / "configs")
schema.register()
rundir.register_resolvers()


@hydra.main(config_path=CONFIGS, config_name="train", version_base="1.3")
def _main(cfg: DictConfig) -> float:
    from snnvis.training.loop import run

    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    try:
        metrics = run(cfg, run_dir, model_label=hc.runtime.choices.get("model"),
                      on_start=lambda: rundir.write_hydra_record(run_dir, cfg))
    except UserError as err:   # here, not in hydra_entry: Hydra would log the job's overrides first
        print(err.message, file=sys.stderr)
        sys.exit(2)
    overall = metrics.get("test", {}).get("overall", {})
    median, mean = (float("nan") if overall.get(k) is None else overall[k]
                    for k in ("pearson_r_median", "pearson_r_mean"))   # null: no finite r (e.g. a silent SNN)
    if overall:
        notes = [f"{overall[f'n_{k}']} {k}" for k in ("silent", "failed") if overall.get(f"n_{k}")]
        print(f"{metrics['model']['name']} (spiking={cfg.model.spiking}): held-out median r = "
              f"{median:.3f}, mean r = {mean:.3f} over {overall['n_neurons']} neurons"
              f"{' (' + ', '.join(notes) + ')' if notes else ''}")
    return median


def main() -> None:
    hydra_entry(_main, CONFIGS, interrupted="snnvis: interrupted; checkpoints/last.pt is kept (continue with "
                "trainer.resume=true)")


if __name__ == "__main__":   # python -m snnvis.cli.train / torchrun ... -m snnvis.cli.train
    main()
