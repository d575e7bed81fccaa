"""ASH (Adaptive SwisH), L-ASH and F-ASH-k activations for PyTorch, and a swap into any model.

    import ash
    model = torchvision.models.resnet18()
    print(ash.swap_activations(model, "ash"))     # every ReLU call site -> its own ASH
"""

from .functional import ash_naive, lash_naive, threshold
from .kernels import set_kernel
from .modules import ASH, FASH, LASH
from .percentile import k_from_z, z_from_k
from .registry import activation_names, build_activation, get_act_layer
from .parameters import ash_parameters, layer_order
from .swap import SwapReport, swap_activations

__all__ = [
    "ASH", "LASH", "FASH", "z_from_k", "k_from_z", "build_activation", "get_act_layer", "activation_names",
    "swap_activations", "SwapReport", "ash_parameters", "layer_order", "ash_naive", "lash_naive", "threshold", "set_kernel",
]
__version__ = "0.1.0"
