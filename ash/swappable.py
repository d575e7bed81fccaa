"""What counts as an activation to swap: module types, third-party class names, functional names."""

from __future__ import annotations

from torch import nn

from .modules import ASHBase

__all__ = ["SWAPPABLE_TYPES", "SWAPPABLE_NAMES", "FUNCTIONAL_ACTS", "CONTAINERS", "is_swappable"]

SWAPPABLE_TYPES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.SiLU, nn.GELU, nn.ELU, nn.CELU, nn.SELU,
    nn.Softplus, nn.Mish, nn.Hardswish, ASHBase,
)
# Third-party activation classes (timm, efficientnet_pytorch / smp), matched by class name.
SWAPPABLE_NAMES = {
    "Swish", "SwishMe", "SwishJit", "SwishAuto", "MemoryEfficientSwish", "SiLU", "Mish", "MishMe", "MishJit",
    "HardSwish", "HardSwishMe", "HardSwishJit", "HardMish", "HardMishMe", "GELU", "GELUTanh", "QuickGELU",
    "PReLU", "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "Softplus", "Hardswish",
}
FUNCTIONAL_ACTS = {
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "silu", "silu_", "gelu", "elu", "elu_", "selu",
    "selu_", "celu", "softplus", "mish", "hardswish", "prelu", "rrelu", "swish",
}
CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


def is_swappable(module: nn.Module) -> bool:
    """Whether swap_activations replaces this module (hidden-layer activations only, not Sigmoid/Tanh)."""
    return isinstance(module, SWAPPABLE_TYPES) or type(module).__name__ in SWAPPABLE_NAMES
