import pytest
import torch
from torch import nn

import ash

NAMES = ["relu", "lrelu", "prelu", "elu", "softplus", "gelu", "selu", "swish", "ash", "lash", "fash10", "fash50",
         "fash90"]


@pytest.mark.parametrize("name", NAMES)
def test_every_name_builds_and_runs(name):
    m = ash.build_activation(name, inplace=True)
    assert isinstance(m, nn.Module)
    assert m(torch.randn(2, 3, 4, 4)).shape == (2, 3, 4, 4)


def test_baseline_settings():
    assert ash.build_activation("lrelu").negative_slope == 0.01
    p = ash.build_activation("prelu")
    assert p.weight.numel() == 1 and p.weight.item() == 0.25
    assert isinstance(ash.build_activation("swish"), nn.SiLU)


def test_fash_k():
    assert ash.build_activation("fash", k=25).k == pytest.approx(25)
    assert float(ash.build_activation("fash10").z) == pytest.approx(ash.z_from_k(10))
    with pytest.raises(ValueError, match="k=25"):
        ash.build_activation("fash")


def test_unknown_name_lists_valid_names():
    with pytest.raises(KeyError, match="relu.*fash"):
        ash.build_activation("swishy")
    assert ash.activation_names() == NAMES + ["fash"]


def test_get_act_layer_gives_new_modules():
    act_layer = ash.get_act_layer("ash", stats="channel")
    a, b = act_layer(inplace=True), act_layer()
    assert a is not b and a.stats == "channel"
    with pytest.raises(KeyError):
        ash.get_act_layer("nope")
    assert ash.get_act_layer(nn.ReLU) is nn.ReLU


def test_act_layer_in_timm():
    timm = pytest.importorskip("timm")
    model = timm.create_model("resnet10t", pretrained=False, num_classes=3, act_layer=ash.get_act_layer("ash"))
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 3)
    assert len(ash.ash_parameters(model)) > 5
