"""How the figures name and colour things: the appendix's activation order, labels and fixed colours,
and the display names of tasks and metrics."""
from __future__ import annotations

# The appendix's order of activations; colours fixed per activation so every figure reads the same.
ACT_ORDER = ["relu", "lrelu", "prelu", "elu", "softplus", "gelu", "selu", "swish", "ash",
             "lash", "fash10", "fash50", "fash90", "swiglu"]
ACT_LABELS = {"relu": "ReLU", "lrelu": "LReLU", "prelu": "PReLU", "elu": "ELU", "softplus": "SoftPlus",
              "gelu": "GELU", "selu": "SELU", "swish": "Swish", "ash": "ASH", "lash": "L-ASH",
              "swiglu": "SwiGLU"}
ACT_COLORS = {"relu": "#1f77b4", "lrelu": "#aec7e8", "prelu": "#9467bd", "elu": "#8c564b", "softplus": "#e377c2",
              "gelu": "#7f7f7f", "selu": "#bcbd22", "swish": "#2ca02c", "ash": "#d62728", "lash": "#ff7f0e",
              "fash10": "#17becf", "fash50": "#1f3f7f", "fash90": "#ff9896",
              "swiglu": "#000000"}
TASK_LABELS = {"cls": "classification", "seg": "segmentation", "det": "detection", "gan": "generation",
               "lm": "language model"}
METRIC_LABELS = {"val/acc": "val accuracy", "val/miou": "val mIoU", "val/map_50": "val mAP@0.5",
                 "val/proxy_kid": "val proxy KID", "val/loss": "val loss", "train/loss": "train loss",
                 "val/bpb": "val bits per byte"}


def act_label(act: str) -> str:
    """Display name of an activation config name (fash10 -> F-ASH-10)."""
    return f"F-ASH-{act[4:]}" if act.startswith("fash") else ACT_LABELS.get(act, act)


def act_color(act: str) -> str:
    """The fixed colour of an activation (grey for one the suite does not know)."""
    return ACT_COLORS.get(act, "#444444")


def act_order(act: str) -> tuple[int, str]:
    """Sort key: the appendix's order, unknown activations last by name."""
    return (ACT_ORDER.index(act), "") if act in ACT_ORDER else (len(ACT_ORDER), act)
