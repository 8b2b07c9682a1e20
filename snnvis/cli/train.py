"""``snnvis-train``: fit one encoder (SNN or DNN twin) to recordings; see snnvis/conf/train.yaml."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from snnvis import config
from snnvis.errors import UserError, hydra_entry
from snnvis.training import rundir
from snnvis.utils import console_skips_printed, say

log = logging.getLogger("snnvis.cli.train")
CONFIGS = str(config.CONFIGS)
config.register()  # the typed trainer/data sections and ${snnvis_uid:}


@hydra.main(config_path=CONFIGS, config_name="train", version_base="1.3")
def _main(cfg: DictConfig) -> float:
    from snnvis.training.loop import run

    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    console_skips_printed()  # lines printed on stdout go to train.log only once, not to the console again

    def on_start() -> None:  # the inputs are checked: the run writes into its dir from here on
        rundir.write_hydra_record(run_dir, cfg)
        say(log, f"snnvis: training {hc.runtime.choices.get('model')} (spiking={cfg.model.spiking}) in {run_dir}")

    searching = cfg.get("optimized_metric") is not None  # a trial of an hparams_search study
    try:
        metrics = run(cfg, run_dir, model_label=hc.runtime.choices.get("model"), on_start=on_start)
    except UserError as err:  # here, not in hydra_entry: Hydra would log the job's overrides first
        print(err.message, file=sys.stderr)
        if searching and hc.mode == RunMode.MULTIRUN:  # one failed trial scores NO_SCORE; the search goes on
            from snnvis.training.search import NO_SCORE

            return NO_SCORE
        sys.exit(2)
    overall = metrics.get("test", {}).get("overall", {})
    median, mean = (
        float("nan") if overall.get(k) is None else overall[k] for k in ("pearson_r_median", "pearson_r_mean")
    )  # null: no finite r (e.g. a silent SNN)
    if overall:
        notes = [f"{overall[f'n_{k}']} {k}" for k in ("silent", "failed") if overall.get(f"n_{k}")]
        say(
            log,
            f"{metrics['model']['name']} (spiking={cfg.model.spiking}): held-out median r = "
            f"{median:.3f}, mean r = {mean:.3f} over {overall['n_neurons']} neurons"
            f"{' (' + ', '.join(notes) + ')' if notes else ''}",
        )
    if searching:  # the search's objective (validation only), not the test score
        from snnvis.training.search import objective

        value = objective(cfg, metrics)
        say(log, f"snnvis: {cfg.optimized_metric} = {value:.4f} (the search's objective)")
        return value
    return median


def main() -> None:
    hydra_entry(
        _main,
        CONFIGS,
        interrupted="snnvis: interrupted; checkpoints/last.pt is kept (continue with trainer.resume=true)",
    )


if __name__ == "__main__":  # python -m snnvis.cli.train / torchrun ... -m snnvis.cli.train
    main()
