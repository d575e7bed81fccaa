"""Parameter groups of every task's optimiser: no weight decay on the activations' own parameters, norm weights and
biases (timm's rule), and act.lr_scale for the activations' parameters; through the real config and a real Trainer."""
from __future__ import annotations

import pytest
import torch
import yaml
from pathlib import Path
from torch import nn

import ash
from tasks.common.optim import build_optimizer, param_groups


def small_net() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), ash.ASH(), nn.Conv2d(4, 4, 3), nn.PReLU(),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 3))


def test_groups_keep_decay_off_activations_norms_and_biases_and_scale_the_activations_lr(compose):
    net = small_net()
    groups = param_groups(net, base_lr=0.1, act_lr_scale=20.0)
    decay, no_decay, own = (set(map(id, g["params"])) for g in groups)
    assert decay == {id(net[0].weight), id(net[3].weight), id(net[6].weight)}
    assert no_decay == {id(p) for p in (net[0].bias, net[1].weight, net[1].bias, net[3].bias, net[6].bias)}
    assert own == {id(net[2].z), id(net[2].alpha), id(net[4].weight)}
    assert groups[2]["lr"] == pytest.approx(2.0) and groups[1]["weight_decay"] == groups[2]["weight_decay"] == 0.0
    optimizer = build_optimizer(compose(["optim=sgd"]).optim, net, max_epochs=3)["optimizer"]
    assert [g["weight_decay"] for g in optimizer.param_groups] == [5e-4, 0.0, 0.0]


def test_a_large_weight_decay_no_longer_turns_ashs_gate_around(compose):
    torch.manual_seed(0)
    net = small_net()
    cfg = compose(["optim=sgd", "optim.optimizer.weight_decay=5.0", "optim.scheduler=null"]).optim
    optimizer = build_optimizer(cfg, net, max_epochs=1)
    x, y = torch.randn(8, 1, 8, 8), torch.randint(0, 3, (8,))
    for _ in range(20):
        optimizer.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        optimizer.step()
    assert float(net[2].alpha) > 0.5  # with decay on alpha it fell from 1 to about -0.07 (the finding)


def test_lr_scale_is_recorded_and_moves_z_further(train, tmp_path):
    args = ["model.depth=11", "model.base_width=8", "trainer.max_epochs=1", "trainer.limit_train_batches=5",
            "trainer.limit_val_batches=1", "test=false"]
    slow = train(args)
    fast = train([*args, "act.lr_scale=30"])
    config = yaml.safe_load((Path(fast["run_dir"]) / "config.yaml").read_text())
    assert config["act"]["lr_scale"] == 30
    moved = [max(abs(r["z"]) for r in s["ash_layers"]) for s in (slow, fast)]
    assert moved[1] > 10 * moved[0]  # 5 Adam steps: about 5 x lr against 5 x 30 lr


def test_a_non_positive_lr_scale_is_refused(compose):
    from tasks.common.errors import ConfigError

    with pytest.raises(ConfigError, match="act.lr_scale=0"):
        build_optimizer(compose([]).optim, small_net(), 1, act_lr_scale=0)
