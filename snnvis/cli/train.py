"""``snnvis-train``: fit one encoder (SNN or DNN twin) to recordings; see configs/train.yaml."""
from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from snnvis.errors import UserError

CONFIGS = str(Path(__file__).resolve().parents[2] / "configs")


@hydra.main(config_path=CONFIGS, config_name="train", version_base="1.3")
def _main(cfg: DictConfig) -> float:
    from snnvis.training.loop import run

    try:
        hc = HydraConfig.get()
        metrics = run(cfg, hc.runtime.output_dir, model_label=hc.runtime.choices.get("model"))
    except UserError as err:
        print(err.message, file=sys.stderr)
        sys.exit(2)
    overall = metrics.get("test", {}).get("overall", {})
    median, mean = (float("nan") if overall.get(k) is None else overall[k]
                    for k in ("pearson_r_median", "pearson_r_mean"))   # null: no finite r (e.g. a silent SNN)
    if overall:
        print(f"{metrics['model']['name']} (spiking={cfg.model.spiking}): held-out median r = "
              f"{median:.3f}, mean r = {mean:.3f} over {overall['n_neurons']} neurons")
    return median


def main() -> None:
    _main()


if __name__ == "__main__":   # python -m snnvis.cli.train / torchrun ... -m snnvis.cli.train
    main()
