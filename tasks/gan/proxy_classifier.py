"""The digits classifier behind the `classifier` sample-quality proxy: a small CNN trained once,
deterministically, on the digits train split and cached on disk (keyed by recipe version and image size)."""
from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tasks.common.atomic_io import atomic_write
from tasks.common.datasets.digits import digit_images

CLASSIFIER_VERSION = 1  # bump when the recipe below changes: the cache key includes it
CLASSIFIER_EPOCHS, CLASSIFIER_BATCH, CLASSIFIER_SEED = 6, 64, 0


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
