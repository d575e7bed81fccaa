"""Sample-quality metrics without downloads: KID on proxy features, and the optional Inception FID/KID.

`classifier` (digits): the cached CNN of proxy_classifier.py; KID on its penultimate features, plus its mean
confidence and the spread of its predicted classes on generated images. `pixels` (any data): KID on 8x8 average-pooled pixels.
These are proxies for comparing runs of this suite, not numbers comparable with published FIDs.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor, nn
from torchmetrics import Metric
from torchmetrics.image.kid import KernelInceptionDistance
from torchmetrics.utilities import dim_zero_cat

from tasks.common.errors import ConfigError
from tasks.gan.proxy_classifier import DigitsCNN

FID_WEIGHTS = "weights-inception-2015-12-05-6726825d.pth"  # torch-fidelity's Inception, as torchmetrics loads it
FID_WEIGHTS_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{FID_WEIGHTS}"
PROXIES = ("classifier", "pixels")


class Float32Features(nn.Module):
    """Features of `net` computed in float32 outside autocast (KID is sensitive to bf16 rounding)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self.net(x.float()).float()


class PooledPixels(nn.Module):
    """Images average-pooled to 8x8 and flattened: a feature space that needs no network."""

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(x, 8).flatten(1)


class ClassSpread(Metric):
    """On generated images: the classifier's mean max-softmax confidence, and how its predicted classes spread.

    entropy: of the predicted-class histogram in nats (ln 10 = 2.303 when all classes are equally frequent);
    coverage: share of classes predicted for at least half of their uniform share (1.0 = no class missing).
    """

    full_state_update = False

    def __init__(self, n_classes: int = 10) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.add_state("confidence", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("counts", torch.zeros(n_classes, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, logits: Tensor) -> None:
        probs = logits.float().softmax(1)
        self.confidence += probs.max(1).values.sum().double()
        self.counts += torch.bincount(probs.argmax(1), minlength=self.n_classes).double()

    def compute(self) -> dict[str, Tensor]:
        total = self.counts.sum().clamp_min(1)
        share = self.counts / total
        entropy = -(share[share > 0] * share[share > 0].log()).sum()
        coverage = (share >= 0.5 / self.n_classes).double().mean()
        return {"conf": self.confidence / total, "entropy": entropy, "coverage": coverage}


def check_fid_available() -> None:
    """ConfigError unless torch-fidelity is installed and its Inception weights are in the torch hub cache."""
    weights = Path(torch.hub.get_dir()) / "checkpoints" / FID_WEIGHTS
    try:
        import torch_fidelity  # noqa: F401
    except ImportError as e:
        raise ConfigError("metrics.fid=true needs torch-fidelity (the Inception network of torchmetrics' FID): "
                          "`pip install 'torchmetrics[image]==1.9.0'` (it brings torch-fidelity), then put its weights in the torch cache "
                          f"(see below), or run with metrics.fid=false.\nWeights: {FID_WEIGHTS_URL} -> {weights}") from e
    if not weights.is_file():
        raise ConfigError(f"metrics.fid=true needs the Inception weights at {weights} (this suite never downloads "
                          f"at run time). On a machine with internet: `mkdir -p {weights.parent} && curl -L -o "
                          f"{weights} {FID_WEIGHTS_URL}` (or set TORCH_HOME to a folder that has "
                          f"checkpoints/{FID_WEIGHTS}); otherwise run with metrics.fid=false.")


def to_uint8_rgb(images: Tensor) -> Tensor:
    """[-1, 1] images (1 or 3 channels) as uint8 RGB, the input of torchmetrics' Inception."""
    x = ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def proxy_kind(name: str) -> str:
    """Validate `data.gan_proxy`."""
    if name not in PROXIES:
        raise ConfigError(f"data.gan_proxy={name!r} is not valid; use one of {list(PROXIES)} "
                          "(classifier needs the digits data).")
    return name


class SeededKID(KernelInceptionDistance):
    """KID whose random subsets are seeded (the same features give the same value, the training RNG is untouched)
    and whose subset size shrinks to the samples an epoch saw; NaN with fewer than 2 samples per side."""

    def __init__(self, feature: int | nn.Module, subset_size: int, subsets: int) -> None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
            super().__init__(feature=feature, subsets=subsets, subset_size=subset_size)
        self.max_subset_size = subset_size

    def compute(self) -> tuple[Tensor, Tensor]:
        if not self.real_features or not self.fake_features:
            return torch.tensor(float("nan")), torch.tensor(float("nan"))
        n_real, n_fake = (dim_zero_cat(f).shape[0] for f in (self.real_features, self.fake_features))
        if min(n_real, n_fake) < 2:
            return torch.tensor(float("nan")), torch.tensor(float("nan"))
        self.subset_size = min(self.max_subset_size, n_real, n_fake)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return super().compute()


class SampleQuality(nn.Module):
    """Real vs generated images of one stage: the proxy KID (+ classifier confidence and class spread) and,
    with `inception`, torchmetrics' FID and KID on Inception features."""

    def __init__(self, features: nn.Module, classifier: DigitsCNN | None, kid_subset_size: int, kid_subsets: int,
                 inception: bool) -> None:
        super().__init__()
        self.proxy_kid = SeededKID(Float32Features(features), kid_subset_size, kid_subsets)
        self.classifier = classifier
        self.spread = ClassSpread() if classifier is not None else None
        self.inception = inception
        if inception:
            from torchmetrics.image.fid import FrechetInceptionDistance

            self.fid = FrechetInceptionDistance(feature=2048)
            self.kid = SeededKID(2048, kid_subset_size, kid_subsets)

    def update(self, real: Tensor, fake: Tensor) -> None:
        self.proxy_kid.update(real, real=True)
        self.proxy_kid.update(fake, real=False)
        if self.classifier is not None:
            self.spread.update(Float32Features(self.classifier)(fake))
        if self.inception:
            real8, fake8 = to_uint8_rgb(real), to_uint8_rgb(fake)
            for metric in (self.fid, self.kid):
                metric.update(real8, real=True)
                metric.update(fake8, real=False)

    def compute(self) -> dict[str, float]:
        """Metric name -> value (NaN where the epoch had too few samples, never a made-up number)."""
        values = {"proxy_kid": float(self.proxy_kid.compute()[0])}
        if self.spread is not None:
            values.update({f"proxy_{k}": float(v) for k, v in self.spread.compute().items()})
        if self.inception:
            values["fid"] = float(self.fid.compute())
            values["kid"] = float(self.kid.compute()[0])
        return values

    def reset(self) -> None:
        for metric in self.modules():
            if isinstance(metric, Metric):
                metric.reset()


def build_quality(kind: str, classifier: DigitsCNN | None, metrics_cfg: DictConfig) -> SampleQuality:
    """SampleQuality for `data.gan_proxy` = kind ('classifier' needs the digits classifier)."""
    if kind == "classifier":
        features = classifier.features
    else:
        features, classifier = PooledPixels(), None
    fid = bool(metrics_cfg.get("fid", False))
    return SampleQuality(features, classifier, int(metrics_cfg.kid_subset_size), int(metrics_cfg.kid_subsets), fid)
