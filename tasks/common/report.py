"""The table printed at the end of a run: metrics, time, and the learned ASH parameters."""
from __future__ import annotations


def format_summary(summary: dict) -> str:
    """A plain-text table of a run's summary.json."""
    lines = [f"Run: {summary['run_dir']}", f"  status: {summary['status']}  epochs: {summary.get('epochs')}  "
             f"fit time: {summary.get('fit_seconds', 0):.1f} s  samples/s: {summary.get('train_samples_per_s')}"]
    final = summary.get("final", {})
    keys = [k for k in final if k.startswith(("val/", "test/"))]
    if keys:
        width = max(len(k) for k in keys)
        lines.append(f"  {'metric'.ljust(width)}   final     best")
        for k in sorted(keys):
            best = summary.get("best", {}).get(k)
            lines.append(f"  {k.ljust(width)}  {final[k]:7.4f}  " + (f"{best:7.4f}" if best is not None else "      -"))
    layers = summary.get("ash_layers") or []
    if layers:
        lines.append(f"  learned ASH parameters ({len(layers)} layers): depth  z      k%     alpha   path")
        shown = layers if len(layers) <= 12 else layers[:6] + [None] + layers[-5:]
        for row in shown:
            if row is None:
                lines.append("    ...")
                continue
            lines.append(f"    {row['depth']:4d}  {row['z']:+.3f}  {row['k']:5.1f}  {row['alpha']:.3f}  {row['path']}")
    return "\n".join(lines)
