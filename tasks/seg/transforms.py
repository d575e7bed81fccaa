"""Joint image/mask presets (random scale, crop, flip, photometric) and the padding collate for full-size eval."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision import tv_tensors
from torchvision.transforms import v2

from tasks.common.errors import ConfigError
from tasks.seg.palette import IGNORE_INDEX

STRIDE = 32  # smp encoders downsample 5 times: inputs must be multiples of 32


class TrainPreset:
    """Random rescale of the shorter side, crop (padded with ignore), horizontal flip, colour jitter."""

    def __init__(self, crop_size: int, base_size: int, scale: tuple[float, float], flip: bool = True,
                 photometric: bool = True) -> None:
        if crop_size % STRIDE:
            raise ConfigError(f"data.crop_size={crop_size} must be a multiple of {STRIDE} (the encoders' stride), "
                              f"e.g. data.crop_size={max(STRIDE, crop_size // STRIDE * STRIDE)}.")
        steps = [v2.RandomResize(int(scale[0] * base_size), int(scale[1] * base_size) + 1),
                 v2.RandomCrop(crop_size, pad_if_needed=True,
                               fill={tv_tensors.Image: 0, tv_tensors.Mask: IGNORE_INDEX})]
        if flip:
            steps.append(v2.RandomHorizontalFlip())
        if photometric:
            steps.append(v2.ColorJitter(brightness=0.125, contrast=0.5, saturation=0.5, hue=0.05))
        steps.append(v2.ToDtype({tv_tensors.Image: torch.float32, tv_tensors.Mask: torch.int64}, scale=True))
        self.transform = v2.Compose(steps)

    def __call__(self, image: tv_tensors.Image, mask: tv_tensors.Mask) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = self.transform(image, mask)
        return image.as_subclass(torch.Tensor), mask.as_subclass(torch.Tensor)


def eval_preset(image: tv_tensors.Image, mask: tv_tensors.Mask) -> tuple[torch.Tensor, torch.Tensor]:
    """Full resolution, no augmentation: the collate pads to a multiple of 32."""
    return image.as_subclass(torch.Tensor).float() / 255.0, mask.as_subclass(torch.Tensor).long()


def pad_to_stride(image: torch.Tensor, mask: torch.Tensor | None = None, height: int | None = None,
                  width: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Pad (bottom, right) to at least height x width rounded up to 32; the mask's padding is ignored."""
    h, w = image.shape[-2:]
    th = -(-max(h, height or 0) // STRIDE) * STRIDE
    tw = -(-max(w, width or 0) // STRIDE) * STRIDE
    pad = (0, tw - w, 0, th - h)
    image = F.pad(image, pad, value=0.0)
    if mask is not None:
        mask = F.pad(mask, pad, value=IGNORE_INDEX)
    return image, mask


def pad_collate(batch: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack images of different sizes, padded to the largest (a multiple of 32)."""
    height = max(image.shape[-2] for image, _ in batch)
    width = max(image.shape[-1] for image, _ in batch)
    padded = [pad_to_stride(image, mask, height, width) for image, mask in batch]
    return torch.stack([p[0] for p in padded]), torch.stack([p[1] for p in padded])
