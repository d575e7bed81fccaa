"""Post-training analysis of run folders (needs checkpoints/last.ckpt; writes small artefacts that are committed).

For every complete run given (or found under --experiment) with a checkpoint, on up to --batches validation batches:
- ASH-family runs: `analysis/ash_keep.json` (per layer: path, depth, z, nominal k %, measured % of elements above
  the layer's threshold mu + z sigma) and `analysis/ash_maps.npz` (one input, the channel-mean output of the
  shallowest and the deepest 4-D ASH layer) for Figure S9.
- Classification runs: `analysis/gradcam.npz` (images, labels, Grad-CAMs of the true class at the last conv layer,
  grad-cam package) and `analysis/gradcam.json` (mean share of CAM mass on the digit's ink, and the ink's share
  of the image: the value a uniform map would get) for Figure S2.

    python scripts/analyze_runs.py --experiment fig_s1_cls fig_s8_variants
    python scripts/analyze_runs.py results/runs/fig_s1_cls/cls-digits-resnet164-ash-s0
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np  # noqa: E402
import torch  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

import ash  # noqa: E402
from ash.functional import threshold  # noqa: E402
from ash.modules import ASHBase  # noqa: E402
from cli import common_args, experiments_of  # noqa: E402
from run_discovery import Run, find_runs, report_skipped  # noqa: E402
from tasks.common.registry import load_task  # noqa: E402
from tasks.common.run_record import ANALYSIS, CHECKPOINTS, CONFIG, RunRecord  # noqa: E402

CKPT = Path(CHECKPOINTS) / "last.ckpt"


def load_run(run: Run) -> tuple[torch.nn.Module, object]:
    """The run's LightningModule with its last weights (eval mode) and its set-up data module."""
    cfg = OmegaConf.create(run.config())
    task = load_task(cfg.task.name)
    datamodule = task.DATAMODULES[cfg.data.name](cfg.data)
    datamodule.set_world_size(1, int(cfg.seed))
    datamodule.setup("fit")
    module = task.build_module(cfg, datamodule)
    state = torch.load(run.folder / CKPT, map_location="cpu", weights_only=True)["state_dict"]
    module.load_state_dict(state)
    return module.eval(), datamodule


def _images(batch) -> torch.Tensor:
    """The input images of a batch (tuple/list of (images, targets) or a dict with 'image')."""
    x = batch["image"] if isinstance(batch, dict) else batch[0]
    return torch.stack(list(x)) if isinstance(x, (list, tuple)) else x


def ash_keep(module: torch.nn.Module, batches: list) -> tuple[list[dict], dict]:
    """Measured keep fraction per ASH layer, and channel-mean maps of the shallowest and deepest 4-D layer."""
    rows = ash.ash_parameters(module)
    by_path = dict(module.named_modules())
    kept = {r["path"]: [0.0, 0] for r in rows}
    maps: dict[str, np.ndarray] = {}

    def hook(path: str):
        def record(mod: ASHBase, inputs, output):
            x = inputs[0].float()
            theta = threshold(x, mod.z.detach(), mod.stats, mod.eps)
            kept[path][0] += float((x > theta).float().sum())
            kept[path][1] += x.numel()
            if x.dim() == 4 and path not in maps:
                maps[path] = output[0].float().mean(0).numpy()
        return record

    handles = [by_path[r["path"]].register_forward_hook(hook(r["path"])) for r in rows]
    try:
        with torch.no_grad():
            for batch in batches:
                module(_images(batch))
    finally:
        for handle in handles:
            handle.remove()
    out = [{**r, "measured_k": 100.0 * kept[r["path"]][0] / max(1, kept[r["path"]][1])} for r in rows]
    four_d = [r["path"] for r in rows if r["path"] in maps]
    chosen = {"shallow": four_d[0], "deep": four_d[-1]} if four_d else {}
    return out, {name: (path, maps[path]) for name, path in chosen.items()}


def last_conv(model: torch.nn.Module) -> torch.nn.Module:
    """The last Conv2d of a network: Grad-CAM's target layer."""
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    if not convs:
        raise ValueError("no Conv2d layer to compute Grad-CAM on")
    return convs[-1]


def gradcam(module: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> dict:
    """Grad-CAMs of the true class, and the share of CAM mass on the ink (the brighter half of each image)."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    with GradCAM(model=module.model, target_layers=[last_conv(module.model)]) as cam:
        cams = cam(input_tensor=images, targets=[ClassifierOutputTarget(int(y)) for y in labels])
    gray = images.float().mean(1).numpy()
    lo, hi = gray.min(axis=(1, 2), keepdims=True), gray.max(axis=(1, 2), keepdims=True)
    ink = (gray - lo) > 0.5 * (hi - lo)
    mass = (cams * ink).sum(axis=(1, 2)) / np.maximum(cams.sum(axis=(1, 2)), 1e-12)
    return {"images": images.numpy(), "labels": labels.numpy(), "cams": cams.astype(np.float32),
            "mass_on_ink": mass.astype(np.float32), "ink_share": ink.mean(axis=(1, 2)).astype(np.float32)}


def analyze(run: Run, n_batches: int, n_cam: int) -> list[Path]:
    """Write the artefacts of one run; returns their paths."""
    module, datamodule = load_run(run)
    loader = datamodule.val_dataloader()
    batches = [b for _, b in zip(range(n_batches), loader)]
    record = RunRecord(run.folder)
    written = []
    if any(isinstance(m, ASHBase) for m in module.modules()):
        rows, maps = ash_keep(module, batches)
        written.append(record.write_json(f"{ANALYSIS}/ash_keep.json", {"batches": len(batches), "layers": rows}))
        arrays = {"input": _images(batches[0])[0].float().numpy()}
        for name, (path, array) in maps.items():
            arrays[name], arrays[f"{name}_path"] = array, np.array(path)
        written.append(record.write_file(f"{ANALYSIS}/ash_maps.npz", lambda tmp: _save_npz(tmp, arrays)))
    if run.task == "cls":
        images, labels = (torch.cat(t) for t in zip(*[(b[0], b[1]) for b in batches]))
        result = gradcam(module, images[:n_cam], labels[:n_cam])
        written.append(record.write_file(f"{ANALYSIS}/gradcam.npz", lambda tmp: _save_npz(tmp, result)))
        written.append(record.write_json(f"{ANALYSIS}/gradcam.json", {
            "n": int(len(result["labels"])), "mass_on_ink": float(result["mass_on_ink"].mean()),
            "ink_share": float(result["ink_share"].mean()), "target_layer": "last Conv2d"}))
    return written


def _save_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as f:  # a file object: np.savez would add .npz to a temporary name
        np.savez_compressed(f, **arrays)


def main(argv: list[str] | None = None) -> list[Path]:
    """Analyse the runs given or found; returns the artefacts written."""
    parser = common_args(__doc__, ["fig_s1_cls", "fig_s1_seg", "fig_s1_det", "fig_s8_variants"])
    parser.add_argument("folders", nargs="*", type=Path, help="run folders (default: every run of --experiment)")
    parser.add_argument("--batches", type=int, default=4, help="validation batches per run")
    parser.add_argument("--cams", type=int, default=8, help="images per Grad-CAM artefact")
    parser.add_argument("--acts", nargs="+", default=None, help="only these activations")
    parser.add_argument("--force", action="store_true", help="recompute existing artefacts")
    args = parser.parse_args(argv)
    runs, skipped = find_runs(args.runs, experiments_of(args), need=(CONFIG, str(CKPT)))
    if args.folders:
        wanted = {f.resolve() for f in args.folders}
        runs = [r for r in runs if r.folder.resolve() in wanted]
    report_skipped(skipped)
    written = []
    for run in runs:
        if args.acts and run.act not in args.acts:
            continue
        if not args.force and RunRecord(run.folder).path(ANALYSIS).is_dir():
            continue
        files = analyze(run, args.batches, args.cams)
        written += files
        print(f"{run.folder.name}: {', '.join(p.name for p in files) or 'nothing to analyse'}")
    return written


if __name__ == "__main__":
    main()
