"""``snnvis-score``: a model's layers against recorded brain areas; see snnvis/conf/score.yaml."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from snnvis import config
from snnvis.errors import UserError, hydra_entry
from snnvis.training import rundir
from snnvis.utils import console_skips_printed, say

log = logging.getLogger("snnvis.cli.score")
CONFIGS = str(config.CONFIGS)
config.register()  # the typed score section (ScoreSchema) and ${snnvis_uid:}


def run(cfg: DictConfig, run_dir: str | Path):
    """Score as configured, write scores.csv/scores.json into ``run_dir``, print the table.

    Raises :class:`~snnvis.errors.UserError` on bad input; returns the
    :class:`~snnvis.evaluation.pipeline.ScoreRun`.
    """
    from snnvis.evaluation.pipeline import format_table
    from snnvis.evaluation.pipeline import run as score_run
    from snnvis.reporting.score import record_scores_of_run, scores_dir_of

    result = score_run(cfg, run_dir)
    say(log, format_table(result))
    say(log, f"wrote {Path(run_dir) / 'scores.csv'} ({len(result.rows)} rows) and {Path(run_dir) / 'scores.json'}")
    of_run = scores_dir_of(cfg.checkpoint)
    if of_run is not None and of_run.resolve() == Path(run_dir).resolve():  # snnvis-report keeps these scores
        record_scores_of_run(cfg, Path(run_dir), HydraConfig.get().overrides.task if HydraConfig.initialized() else ())
    return result


@hydra.main(config_path=CONFIGS, config_name="score", version_base="1.3")
def _main(cfg: DictConfig) -> None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    console_skips_printed()  # lines printed on stdout go to score.log only once, not to the console again
    try:
        with rundir.RunDirLock(run_dir):
            run(cfg, run_dir)
            rundir.write_hydra_record(run_dir, cfg)  # only now: a refused run leaves .hydra/ as it was
    except UserError as err:
        print(err.message, file=sys.stderr)
        sys.exit(2)


def main() -> None:
    hydra_entry(_main, CONFIGS)


if __name__ == "__main__":
    main()
