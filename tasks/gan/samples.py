"""Fixed-noise sample grids: which epochs get one, where it goes, and the PNG itself."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

import torch
from torch import Tensor
from torchvision.utils import save_image

from tasks.common.errors import ConfigError
from tasks.common.atomic_io import atomic_write
from tasks.common.run_record import SAMPLES, RunRecord

GRID_PADDING = 2


def sample_epochs(spec: Iterable[int | str], max_epochs: int) -> set[int]:
    """1-based epochs that get a grid: integers, and 'last' for the final epoch (`task.sample_epochs`)."""
    epochs = set()
    for item in spec:
        if item == "last":
            epochs.add(max_epochs)
        elif isinstance(item, int) and not isinstance(item, bool) and item >= 1:
            epochs.add(item)
        else:
            raise ConfigError(f"task.sample_epochs has {item!r}; use 1-based epoch numbers and 'last', "
                              "e.g. task.sample_epochs=[1,5,10,last].")
    return epochs


def sample_path(run_dir: Path | str, epoch: int) -> Path:
    """`<run>/samples/epoch_XXX.png` for a 1-based epoch."""
    return RunRecord(run_dir).path(f"{SAMPLES}/epoch_{epoch:03d}.png")


def grid_nrow(n_images: int) -> int:
    """Images per row: a square grid when n is a square (64 -> 8 x 8)."""
    return max(1, math.ceil(math.sqrt(n_images)))


def save_grid(images: Tensor, path: Path) -> Path:
    """Write [-1, 1] images as one PNG grid (atomically, so a reader never sees half a file)."""
    atomic_write(path, lambda tmp: save_image(images.detach().float().cpu(), tmp, format="PNG",
                                              nrow=grid_nrow(len(images)), padding=GRID_PADDING,
                                              normalize=True, value_range=(-1, 1)))
    return path


def fixed_noise(n: int, latent_dim: int, seed: int) -> Tensor:
    """The seeded latent codes shared by every run with the same `task.noise_seed`, whatever `seed` is."""
    return torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))
