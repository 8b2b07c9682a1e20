"""``snnvis-pretrain``: train an encoder (SNN or DNN twin) with a classification head on an
ImageFolder or clip dataset; see snnvis/conf/pretrain.yaml."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from snnvis import config
from snnvis.errors import UserError, hydra_entry
from snnvis.tasks import schema as task_schema
from snnvis.training import rundir
from snnvis.utils import console_skips_printed, say

log = logging.getLogger("snnvis.cli.pretrain")
CONFIGS = str(config.CONFIGS)
config.register()  # the typed trainer section and ${snnvis_uid:}
task_schema.register()  # the typed data section


@hydra.main(config_path=CONFIGS, config_name="pretrain", version_base="1.3")
def _main(cfg: DictConfig) -> float:
    from snnvis.tasks.loop import run

    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    console_skips_printed()
    label = hc.runtime.choices.get("model")

    def on_start() -> None:  # the inputs are checked: the run writes into its dir from here on
        rundir.write_hydra_record(run_dir, cfg)
        say(log, f"snnvis: pretraining {label} (spiking={cfg.model.spiking}) on {cfg.data.root} in {run_dir}")

    try:
        metrics = run(cfg, run_dir, model_label=label, on_start=on_start)
    except UserError as err:  # here, not in hydra_entry: Hydra would log the job's overrides first
        print(err.message, file=sys.stderr)
        sys.exit(2)
    return float(metrics.get("val", {}).get("top1", float("nan")))


def main() -> None:
    hydra_entry(
        _main,
        CONFIGS,
        interrupted="snnvis: interrupted; checkpoints/last.pt is kept (continue with trainer.resume=true)",
    )


if __name__ == "__main__":  # python -m snnvis.cli.pretrain / torchrun ... -m snnvis.cli.pretrain
    main()
