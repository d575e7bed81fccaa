"""Writing a figure: PNG and PDF with fixed metadata, so the same results give byte-identical files."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def save_figure(fig: plt.Figure, out_stem: Path) -> list[Path]:
    """Write `<out_stem>.png` (150 dpi) and `.pdf`, close the figure, return both paths."""
    out_stem = Path(out_stem)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    written = [out_stem.with_name(out_stem.name + ".png"), out_stem.with_name(out_stem.name + ".pdf")]
    # Fixed metadata: `make figures` then rewrites byte-identical files from the same results.
    fig.savefig(written[0], dpi=150, metadata={"Software": None})
    fig.savefig(written[1], metadata={"CreationDate": None, "Producer": None, "Creator": None})
    plt.close(fig)
    return written
