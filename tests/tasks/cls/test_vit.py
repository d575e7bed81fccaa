"""model=vit: a timm ViT with every MLP activation swapped, the stats mode it keeps, and act=swiglu."""
from __future__ import annotations

import pytest
import torch
from timm.layers import GluMlp, Mlp
from torch import nn

import ash
from tasks.cls.models import build_model
from tasks.common.activation import act_factory
from tasks.common.errors import ConfigError
from tasks.common.registry import check_combination


def vit(compose, act: str, *overrides: str) -> nn.Module:
    cfg = compose(["model=vit", f"act={act}", *overrides])
    return build_model(cfg.model, 10, 1, act_factory(cfg.act), cfg.act).eval()


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_every_mlp_gets_its_own_ash_and_no_gelu_is_left(compose):
    model = vit(compose, "ash")
    acts = [block.mlp.act for block in model.blocks]
    assert len(model.blocks) == 4 and all(isinstance(a, ash.ASH) for a in acts)
    assert len({id(a) for a in acts}) == 4  # one module per call site: each block learns its own z
    assert not any(isinstance(m, nn.GELU) for m in model.modules())
    model(torch.randn(2, 1, 32, 32))
    assert [row["path"] for row in ash.ash_parameters(model)] == [f"blocks.{i}.mlp.act" for i in range(4)]


def test_vit_keeps_sample_statistics_and_images_stay_independent(compose):
    """A ViT's tokens see each other through attention anyway, so per-image statistics (the paper's) leak
    nothing across positions that matter; what must hold is that images of a batch do not mix."""
    assert compose(["model=vit", "act=ash"]).act.stats == "sample"
    model = vit(compose, "ash")
    x = torch.randn(3, 1, 32, 32)
    changed = x.clone()
    changed[1:] = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(x)[0], model(changed)[0], atol=1e-6)
        assert not torch.allclose(model(x)[1], model(changed)[1], atol=1e-3)


def test_sample_and_token_statistics_differ_inside_a_vit(compose):
    x = torch.randn(2, 1, 32, 32)
    torch.manual_seed(0)
    sample = vit(compose, "ash")
    torch.manual_seed(0)
    token = vit(compose, "ash", "act.stats=token")
    with torch.no_grad():
        assert not torch.allclose(sample(x), token(x), atol=1e-4)


def test_swiglu_is_a_parameter_matched_gated_mlp(compose):
    gelu, swiglu = vit(compose, "gelu"), vit(compose, "swiglu")
    assert all(isinstance(b.mlp, Mlp) for b in gelu.blocks)
    assert all(isinstance(b.mlp, GluMlp) and isinstance(b.mlp.act, nn.SiLU) for b in swiglu.blocks)
    fc1 = swiglu.blocks[0].mlp.fc1
    assert (fc1.in_features, fc1.out_features, swiglu.blocks[0].mlp.fc2.in_features) == (64, 170, 85)
    assert abs(n_params(swiglu) / n_params(gelu) - 1) < 0.01


def test_swiglu_on_a_cnn_names_the_problem_and_the_fix(compose):
    with pytest.raises(ConfigError, match="gated MLP.*model=small.*act=swish"):
        check_combination(compose(["act=swiglu"]))


@pytest.mark.parametrize("act", ["gelu", "ash", "swiglu"])
def test_vit_trains_one_batch(train, act):
    summary = train(["model=vit", f"act={act}", "debug=fast_dev_run", "data.batch_size=4"])
    assert summary["status"] == "complete"
    assert len(summary["ash_layers"]) == (4 if act == "ash" else 0)


def test_vit_s16_is_the_paper_scale_vit(compose):
    cfg = compose(["model=vit_s16", "data=imagenet"])
    model = build_model(cfg.model, 1000, 3, act_factory(cfg.act), cfg.act)
    assert (len(model.blocks), model.embed_dim, model.patch_embed.num_patches) == (12, 384, 196)
    assert 21e6 < n_params(model) < 23e6
    assert sum(isinstance(m, ash.ASH) for m in model.modules()) == 12
