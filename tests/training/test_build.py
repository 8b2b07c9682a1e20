"""The objects a run is built from (optimizer, LR scheduler, loss, early stopping) and the typed
score section: each checked against torch's own classes, closed forms or the YAML itself."""

from __future__ import annotations

import math

import pytest
import torch
import yaml
from training_helpers import CONFIGS, compose_train

from snnvis.config import ScoreSchema, compose
from snnvis.training.early_stopping import EarlyStopping
from snnvis.training.losses import mse_loss, poisson_loss
from snnvis.training.setup import loss_for, optimizer_for


def _net():
    torch.manual_seed(0)
    return torch.nn.Linear(3, 2)


def test_default_optimizer_is_adamw_with_the_trainer_rates():
    cfg = compose_train(["trainer.lr=3e-3", "trainer.weight_decay=0.01"])
    opt, scheduler = optimizer_for(cfg, _net())
    assert type(opt) is torch.optim.AdamW and scheduler is None
    assert opt.param_groups[0]["lr"] == 3e-3 and opt.param_groups[0]["weight_decay"] == 0.01


def test_optimizer_steps_like_torch_built_directly():
    """optimizer=sgd built from its _target_ takes exactly the steps of torch.optim.SGD made by hand."""
    cfg = compose_train(["optimizer=sgd", "trainer.lr=0.1"])
    nets = [_net(), _net()]
    opts = [
        optimizer_for(cfg, nets[0])[0],
        torch.optim.SGD(nets[1].parameters(), lr=0.1, momentum=0.9, weight_decay=0.0),
    ]
    x = torch.randn(5, 3)
    for _ in range(3):
        for net, opt in zip(nets, opts):
            opt.zero_grad()
            net(x).pow(2).sum().backward()
            opt.step()
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_cosine_scheduler_follows_the_closed_form():
    cfg = compose_train(["scheduler=cosine", "trainer.max_epochs=8", "trainer.lr=0.02"])
    opt, scheduler = optimizer_for(cfg, _net())
    for epoch in range(1, 9):
        opt.step()
        scheduler.step()
        assert opt.param_groups[0]["lr"] == pytest.approx(0.01 * (1 + math.cos(math.pi * epoch / 8)), abs=1e-12)


@pytest.mark.parametrize("name, fn", [("poisson", poisson_loss), ("mse", mse_loss)])
def test_loss_node_builds_the_named_loss(name, fn):
    loss = loss_for(compose_train([f"trainer.loss={name}"]))
    pred, target = torch.rand(4, 1, 3) + 0.1, torch.rand(4, 1, 3) * 3
    assert loss(pred, target).item() == fn(pred, target).item()


def test_loss_target_can_name_any_callable():
    cfg = compose_train(["loss._target_=torch.nn.PoissonNLLLoss", "~loss.name", "+loss.log_input=false"])
    pred, target = torch.rand(4, 1, 3) + 0.1, torch.rand(4, 1, 3) * 3
    expected = torch.nn.functional.poisson_nll_loss(pred, target, log_input=False)
    assert loss_for(cfg)(pred, target).item() == pytest.approx(expected.item())


def test_early_stopping_patience_and_best_epoch():
    stopper, seen = EarlyStopping(max_epochs=10, patience=2), []
    for score in [0.1, 0.3, 0.2, 0.25, 0.9]:
        if not stopper.running:
            break
        seen.append(stopper.update(score, {"score": score}))
    # epoch 2 is the best; epochs 3 and 4 do not beat it, so patience 2 stops before 0.9 is seen
    assert seen == [True, True, False, False]
    assert stopper.state["best_epoch"] == 2 and stopper.state["best_score"] == 0.3 and stopper.epoch == 4
    assert [r["score"] for r in stopper.state["log"]] == [0.1, 0.3, 0.2, 0.25]


def test_early_stopping_first_epoch_counts_even_at_minus_infinity_and_max_epochs_stops():
    stopper = EarlyStopping(max_epochs=2, patience=5)
    assert stopper.update(float("-inf"), {}) is True and stopper.state["best_epoch"] == 1
    stopper.update(float("-inf"), {})
    assert not stopper.running and stopper.epoch == 2


def test_score_schema_has_exactly_the_keys_of_score_yaml():
    keys = set(yaml.safe_load((CONFIGS / "score.yaml").read_text())) - {"defaults", "hydra"}
    assert keys | {"model"} == set(ScoreSchema.__dataclass_fields__)


@pytest.mark.parametrize(
    "override, error", [("n_boot=abc", "n_boot"), ("n_bot=3", "n_bot"), ("batch_size=1.5", "batch_size")]
)
def test_score_schema_rejects_wrong_types_and_typos(override, error):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match=error):
        compose("score", [override])
    assert compose("score", ["n_boot=5"]).n_boot == 5
