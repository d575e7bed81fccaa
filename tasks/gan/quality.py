"""Sample quality without downloads: features for KID, the digits classifier, and the optional Inception FID/KID.

`classifier` (digits): a small CNN trained once, deterministically, on the digits train split and cached
on disk; KID on its penultimate features, plus its mean confidence and the spread of its predicted
classes on generated images. `pixels` (any data): KID on 8x8 average-pooled pixels.
These are proxies for comparing runs of this suite, not numbers comparable with published FIDs.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor, nn
from torchmetrics import Metric
from torchmetrics.image.kid import KernelInceptionDistance
from torchmetrics.utilities import dim_zero_cat

from tasks.common.datasets.digits import digit_images
from tasks.common.errors import ConfigError
from tasks.common.results import atomic_write

CLASSIFIER_VERSION = 1  # bump when the recipe below changes: the cache key includes it
CLASSIFIER_EPOCHS, CLASSIFIER_BATCH, CLASSIFIER_SEED = 6, 64, 0
FID_WEIGHTS = "weights-inception-2015-12-05-6726825d.pth"  # torch-fidelity's Inception, as torchmetrics loads it
FID_WEIGHTS_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{FID_WEIGHTS}"
PROXIES = ("classifier", "pixels")


class DigitsCNN(nn.Module):
    """Images pooled to 16x16 (the digits are 8x8 originals), two conv layers, 128 features, a linear head.

    No BatchNorm or dropout, so Lightning switching it to train mode changes nothing.
    """

    def __init__(self, n_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.AdaptiveAvgPool2d(16), nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(32 * 4 * 4, 128), nn.ReLU())
        self.head = nn.Linear(128, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def _scaled_digits(split: str, size: int) -> tuple[Tensor, Tensor]:
    x, y = digit_images(split, size)
    return x * 2 - 1, y  # the GAN's [-1, 1] range


def train_digits_classifier(size: int) -> tuple[DigitsCNN, float]:
    """Train DigitsCNN on the digits train split (seeded, CPU); returns it and its val accuracy."""
    x, y = _scaled_digits("train", size)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(CLASSIFIER_SEED)
        model = DigitsCNN()
        optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
        for _ in range(CLASSIFIER_EPOCHS):
            for idx in torch.randperm(len(x)).split(CLASSIFIER_BATCH):
                shift = torch.randint(-2, 3, (2,)).tolist()  # small translations: generated digits are not centred
                loss = F.cross_entropy(model(torch.roll(x[idx], shift, dims=(2, 3))), y[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    xv, yv = _scaled_digits("val", size)
    with torch.no_grad():
        accuracy = float((model(xv).argmax(1) == yv).float().mean())
    return model, accuracy


def digits_classifier(cache_dir: Path | str, size: int) -> tuple[DigitsCNN, dict]:
    """The cached classifier for `size` px digits (trained and saved on first use) and its info."""
    path = Path(cache_dir) / f"gan_digits_cnn_v{CLASSIFIER_VERSION}_{size}px.pt"
    model = DigitsCNN()
    if path.exists():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(saved["state_dict"])
        info = json.loads(saved["info"])
    else:
        model, accuracy = train_digits_classifier(size)
        info = {"path": str(path), "version": CLASSIFIER_VERSION, "image_size": size, "epochs": CLASSIFIER_EPOCHS,
                "seed": CLASSIFIER_SEED, "val_accuracy_real": round(accuracy, 4)}
        state = {"state_dict": model.state_dict(), "info": json.dumps(info)}
        atomic_write(path, lambda tmp: torch.save(state, tmp))  # DDP ranks never read half a file
    for p in model.parameters():
        p.requires_grad_(False)
    return model, info


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
