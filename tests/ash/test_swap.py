import copy

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import ash
from ash.modules import ASHBase

torchvision = pytest.importorskip("torchvision")


def ash_modules(model):
    return [m for m in model.modules() if isinstance(m, ASHBase)]


def test_resnet18_untie_17_sites():
    model = torchvision.models.resnet18(num_classes=10)
    report = ash.swap_activations(model, "ash")
    assert report.n_sites == 17 and len(ash_modules(model)) == 17
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    assert "layer1.0.relu" in str(report) and "17 call sites" in str(report)
    x = torch.randn(2, 3, 32, 32)
    y = model(x)
    assert y.shape == (2, 10)
    y.sum().backward()
    mods = ash_modules(model)
    assert all(m.alpha.grad is not None and m.z.grad is not None for m in mods)  # every site is used
    rows = ash.ash_parameters(model)
    assert [r["depth"] for r in rows] == list(range(17))
    assert rows[0]["path"] == "relu" and rows[1]["path"] == "layer1.0.relu" and rows[2]["path"] == "layer1.0.relu_site1"
    assert set(rows[0]) == {"path", "depth", "z", "k", "alpha", "a"} and rows[0]["k"] == pytest.approx(50)


def test_resnet50_bottleneck_three_sites():
    model = torchvision.models.resnet50(num_classes=4)
    report = ash.swap_activations(model, "fash10")
    assert report.n_sites == 1 + 16 * 3
    assert {r.sites for r in report if r.path != "relu"} == {3}


def test_state_dict_round_trip():
    m1, m2 = torchvision.models.resnet18(num_classes=3), torchvision.models.resnet18(num_classes=3)
    for m in (m1, m2):
        ash.swap_activations(m, "lash")
    with torch.no_grad():
        for i, mod in enumerate(ash_modules(m1)):
            mod.z.fill_(0.01 * i)
    m2.load_state_dict(m1.state_dict())
    m1.eval(), m2.eval()
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(m1(x), m2(x))
    assert "layer1.0.relu_site1.log_a" in m1.state_dict()
    m3 = copy.deepcopy(m1)
    torch.testing.assert_close(m3(x), m1(x))


def test_timm_model():
    timm = pytest.importorskip("timm")
    model = timm.create_model("efficientnet_b0", pretrained=False, num_classes=5)
    report = ash.swap_activations(model, "ash")
    assert report.n_sites == len(ash_modules(model)) > 30
    assert not any(isinstance(m, nn.SiLU) for m in model.modules())
    y = model(torch.randn(2, 3, 32, 32))
    y.sum().backward()
    assert y.shape == (2, 5)


@pytest.mark.parametrize("encoder,sites,modules", [("resnet34", 43, 27), ("efficientnet-b0", 58, 27),
                                                  ("tu-efficientnet_b0", None, None)])
def test_smp_unet(encoder, sites, modules):
    smp = pytest.importorskip("segmentation_models_pytorch")
    model = smp.Unet(encoder, encoder_weights=None, classes=2)
    x = torch.randn(2, 3, 32, 32)
    report = ash.swap_activations(model, "ash", example_input=x[:1])
    if sites is not None:
        assert report.n_sites == sites and len(report) == modules
    assert len(ash_modules(model)) == report.n_sites
    assert not report.functional
    y = model(x)
    y.mean().backward()
    assert y.shape == (2, 2, 32, 32)
    called = [m for m in ash_modules(model) if m.call_index is not None]
    assert len(called) == report.n_sites  # every new module is used (DDP-safe)


def test_detector_reports_functional_relu():
    model = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(
        weights=None, weights_backbone=None, num_classes=3)
    report = ash.swap_activations(model, "ash")
    assert report.n_sites == len(ash_modules(model)) > 20
    assert any("F.relu(self.fc6" in f.code for f in report.functional)  # TwoMLPHead
    assert "NOT swapped" in str(report)
    rpn = [r for r in report if r.path.startswith("rpn.head")]
    assert [r.sites for r in rpn] == [1]  # one head conv applied to every FPN level = one site
    model.eval()
    with torch.no_grad():
        out = model([torch.rand(3, 96, 96)])
    assert {"boxes", "labels", "scores"} <= set(out[0])


def test_ssdlite_train_step():
    model = torchvision.models.detection.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None,
                                                                        num_classes=3)
    report = ash.swap_activations(model, "fash50")
    assert report.n_sites == len(ash_modules(model)) > 40
    images = [torch.rand(3, 96, 96) for _ in range(2)]
    targets = [{"boxes": torch.tensor([[10.0, 10, 50, 50]]), "labels": torch.tensor([1])}] * 2
    losses = model(images, targets)
    sum(losses.values()).backward()
    assert all(torch.isfinite(v) for v in losses.values())


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4), nn.Tanh())

    def forward(self, x):
        return self.body(x)


class GAN(nn.Module):
    def __init__(self):
        super().__init__()
        self.generator = Generator()
        self.discriminator = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
        self.act = nn.GELU()

    def forward(self, x):
        h = self.act(self.generator(x))
        h = self.act(h) + F.relu(h)
        return self.discriminator(torch.relu(h))


def test_include_exclude_and_output_layers():
    gan = GAN()
    report = ash.swap_activations(gan, "ash", include="generator")
    assert [r.path for r in report] == ["generator.body.1"]
    assert isinstance(gan.generator.body[3], nn.Tanh)  # output activations are not swapped
    assert isinstance(gan.discriminator[1], nn.LeakyReLU)
    report = ash.swap_activations(gan, "lash", exclude=["generator*", "discriminator"])
    assert [(r.path, r.sites) for r in report] == [("act", 2)]


def test_functional_uses_are_reported():
    gan = GAN()
    report = ash.swap_activations(gan, "ash", example_input=torch.randn(2, 4))
    codes = " ".join(f.code for f in report.functional)
    assert "F.relu(h)" in codes and "torch.relu(h)" in codes
    assert gan(torch.randn(2, 4)).shape == (2, 1)
    assert isinstance(gan.act, ash.ASH) and isinstance(gan.act_site1, ash.ASH) and gan.act is not gan.act_site1
    again = ash.swap_activations(gan, "lash")  # a second swap sees the untied sites
    assert [(r.path, r.sites) for r in again if r.path.startswith("act")] == [("act", 1), ("act_site1", 1)]
    assert gan(torch.randn(2, 4)).shape == (2, 1)


def test_shared_module_in_two_containers_is_untied():
    act = nn.ReLU()
    model = nn.Sequential(nn.Linear(3, 3), act, nn.Linear(3, 3), act)
    report = ash.swap_activations(model, "ash")
    assert report.n_sites == 2 and model[1] is not model[3]


def test_factory_and_kwargs():
    model = nn.Sequential(nn.Linear(3, 3), nn.SiLU())
    ash.swap_activations(model, ash.LASH, a=0.2)
    assert model[1].a.item() == pytest.approx(0.2)
    ash.swap_activations(model, "fash", k=25)
    assert model[1].k == pytest.approx(25)
    with pytest.raises(KeyError, match="valid names"):
        ash.swap_activations(model, "ashy")


def test_ash_parameters_module_order_without_forward():
    model = nn.Sequential(ash.ASH(z=1.0), nn.Linear(2, 2), ash.LASH(a=0.3))
    rows = ash.ash_parameters(model)
    assert [r["path"] for r in rows] == ["0", "2"] and rows[0]["a"] is None and rows[1]["a"] == pytest.approx(0.3)
    assert rows[0]["k"] == pytest.approx(ash.k_from_z(1.0))


def test_swapped_model_compiles():
    ash.set_kernel("eager")  # the compiled graph uses eager maths; compare like with like
    model = torchvision.models.resnet18(num_classes=2)
    ash.swap_activations(model, "ash")
    x = torch.randn(2, 3, 32, 32)
    ref = model(x)
    out = torch.compile(model, backend="aot_eager")(x)
    ash.set_kernel(None)
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)
