"""Per-run prediction samples: input, ground truth and prediction of fixed validation items as PNGs.

`<run>/samples/<index:05d>_{input,target,pred}.png` (masks as palette PNGs of training indices, 255 = ignored)
and `samples/index.json`; the names depend only on the validation index, so that
`scripts/figure_seg_samples.py` can line up the runs of different activations.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.utils import save_image

from tasks.common.atomic_io import atomic_write, write_json
from tasks.seg.transforms import pad_to_stride

def sample_indices(n_items: int, n: int) -> list[int]:
    """`n` validation indices spread evenly over the split: the same for every run of a data set."""
    n = min(n, n_items)
    if n <= 0:
        return []
    return sorted({round(i * (n_items - 1) / max(1, n - 1)) for i in range(n)})


def sample_path(folder: Path, index: int, kind: str) -> Path:
    """Where the `kind` (input, target or pred) image of validation item `index` is stored."""
    return Path(folder) / f"{index:05d}_{kind}.png"


def save_mask(path: Path, mask: torch.Tensor, palette: list[int]) -> None:
    """A palette PNG of class indices."""
    image = Image.fromarray(mask.to(torch.uint8).cpu().numpy(), mode="P")
    image.putpalette(palette)
    atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))


@torch.no_grad()
def predict(model: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Class indices (H, W) for one image at full resolution (padded to a multiple of 32, then cropped)."""
    padded, _ = pad_to_stride(image)
    logits = model(padded[None].to(device))
    return logits[0, :, :image.shape[-2], :image.shape[-1]].argmax(0)


def write_samples(model: torch.nn.Module, dataset: Dataset, folder: Path, indices: list[int], palette: list[int],
                  meta: dict) -> None:
    """Save input, ground truth and prediction of each index, plus samples/index.json (model in eval mode)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        for index in indices:
            image, mask = dataset[index]
            atomic_write(sample_path(folder, index, "input"), lambda tmp: save_image(image, tmp, format="PNG"))
            save_mask(sample_path(folder, index, "target"), mask, palette)
            save_mask(sample_path(folder, index, "pred"), predict(model, image, device), palette)
    finally:
        model.train(was_training)
    write_json(folder / "index.json", {**meta, "indices": indices})
