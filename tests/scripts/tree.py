"""A tiny synthetic results tree in the real formats (summary.json, config.yaml, metrics.csv, artefacts)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

EPOCHS = 4
# What train.py records per task in summary.json: the monitored metric and its mode.
MONITORS = {"cls": ("val/acc", "max"), "seg": ("val/miou", "max"), "det": ("val/map_50", "max"),
            "gan": ("val/proxy_kid", "min"), "lm": ("val/bpb", "min")}
# Final metric per act (seed s adds 0.01 s): ASH above ReLU by exactly 0.1 in classification (a known CI).
CLS_FINAL = {"relu": 0.80, "swish": 0.85, "ash": 0.90, "gelu": 0.82}
SEG_FINAL = {"relu": 0.50, "swish": 0.48, "ash": 0.40}        # ASH worse: "not reproduced"
VARIANT_LOSS = {"ash": 0.30, "lash": 0.32, "fash10": 0.60, "fash50": 0.40, "fash90": 0.55}
# Figure T1: ViT accuracy (ASH above GELU, below SwiGLU) and LM bits per byte (lower is better: ASH beats GELU,
# loses to SwiGLU).
VIT_FINAL = {"gelu": 0.85, "relu": 0.83, "swish": 0.86, "ash": 0.90, "fash50": 0.84, "swiglu": 0.95}
LM_BPB = {"gelu": 2.10, "relu": 2.20, "swish": 2.05, "ash": 2.00, "fash50": 2.15, "swiglu": 1.90}


def write_run(runs: Path, experiment: str, task: str, data: str, model: str, act: str, seed: int,
              metrics: dict[str, list[float]], status: str = "complete", ash_layers: int = 0) -> Path:
    """One run folder as train.py writes it."""
    folder = runs / experiment / f"{task}-{data}-{model}-{act}-s{seed}"
    folder.mkdir(parents=True)
    layers = [{"path": f"model.act{i}", "depth": i, "z": 0.1 * i - 0.2 + 0.01 * seed,
               "k": 50.0 - 4 * i, "alpha": 1.0, "a": None} for i in range(ash_layers)]
    summary = {"status": status, "experiment": experiment, "task": task, "data": data, "model": model, "act": act,
               "seed": seed, "epochs": EPOCHS, "final": {k: v[-1] for k, v in metrics.items()},
               "best": {k: (min(v) if "loss" in k or "kid" in k or "bpb" in k else max(v)) for k, v in metrics.items()},
               "ash_layers": layers, "monitor": MONITORS[task][0], "monitor_mode": MONITORS[task][1],
               "started": f"2026-01-01T00:{seed:02d}:00", "finished": f"2026-01-01T00:{seed:02d}:30"}
    (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "config.yaml").write_text(f"task:\n  name: {task}\nseed: {seed}\n")
    lines = ["epoch,step," + ",".join(metrics)]
    for e in range(EPOCHS):
        lines.append(f"{e},{10 * (e + 1)}," + ",".join(f"{v[e]:.6f}" for v in metrics.values()))
        lines.append(f"{e},{10 * (e + 1)}," + ",".join("" for _ in metrics))  # Lightning's step rows
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")
    return folder


def rising(final: float) -> list[float]:
    """A curve rising to `final` (reaches 90 % of it at epoch 3 of 4)."""
    return [final * f for f in (0.5, 0.8, 0.95, 1.0)]


def falling(final: float) -> list[float]:
    return [final * f for f in (3.0, 2.0, 1.2, 1.0)]


def jitter(act: str, seed: int, scale: float) -> float:
    """A fixed small offset per (activation, seed), so that paired differences vary from seed to seed."""
    return scale * (((7 * seed + sum(map(ord, act))) % 5) - 2) / 2


def make_transformer_runs(runs: Path, seeds: int = 6) -> Path:
    """Figure T1's runs: the ViT (task cls) and the causal LM (task lm), 6 activations, 4 ASH blocks each
    (z rising with depth; odd seeds swap the first two blocks: Spearman rho 1.0 or 0.8), with a small per-(act,
    seed) jitter."""
    for seed in range(seeds):
        for act in VIT_FINAL:
            folders = [
                write_run(runs, "fig_t1_transformers", "cls", "digits", "vit", act, seed,
                          {"train/loss": falling(0.5), "val/loss": falling(0.4),
                           "val/acc": rising(VIT_FINAL[act] + jitter(act, seed, 0.004))},
                          ash_layers=4 if act == "ash" else 0),
                write_run(runs, "fig_t1_transformers", "lm", "pydoc", "gpt", act, seed,
                          {"train/loss": falling(1.5), "val/loss": falling(1.4),
                           "val/bpb": falling(LM_BPB[act] + jitter(act, seed, 0.004))},
                          ash_layers=4 if act == "ash" else 0)]
            if act == "ash" and seed % 2:
                for folder in folders:
                    summary = json.loads((folder / "summary.json").read_text())
                    layers = summary["ash_layers"]
                    layers[0]["z"], layers[1]["z"] = layers[1]["z"], layers[0]["z"]
                    (folder / "summary.json").write_text(json.dumps(summary))
    return runs


def make_tree(root: Path, seeds: int = 3) -> Path:
    """results/runs with cls, seg, det, gan and S8 runs, plus a corrupt, a running and an incomplete folder.

    With more than 3 seeds every final value gets a small per-(act, seed) jitter (3 seeds: exact values)."""
    runs = root / "runs"
    for seed in range(seeds):
        j = (lambda act, scale: jitter(act, seed, scale)) if seeds > 3 else (lambda act, scale: 0.0)
        for model in ("resnet164", "densenet100_12"):
            for act, final in CLS_FINAL.items():
                f = final + 0.01 * seed + j(act, 0.004)
                folder = write_run(runs, "fig_s1_cls", "cls", "digits", model, act, seed,
                                   {"train/loss": falling(0.5), "val/loss": falling(0.6 - f / 2), "val/acc": rising(f)},
                                   ash_layers=6 if act == "ash" else 0)
                if seed == 0 and act in ("relu", "ash", "swish"):
                    write_cam(folder, 0.6 if act == "ash" else 0.4)
                if act == "ash" and model == "resnet164":
                    write_keep(folder)
        for act, final in SEG_FINAL.items():
            write_run(runs, "fig_s1_seg", "seg", "digitscenes", "unet", act, seed,
                      {"train/loss": falling(0.4), "val/loss": falling(0.5), "val/miou": rising(final + 0.01 * seed + j(act, 0.004))},
                      ash_layers=4 if act == "ash" else 0)
        for act in ("relu", "swish", "ash"):
            noise = (-0.05, 0.04, 0.02)[seed % 3] if act == "ash" else 0.0  # ASH - ReLU straddles 0: inconclusive
            write_run(runs, "fig_s1_det", "det", "digitscenes", "ssdlite", act, seed,
                      {"train/loss": falling(1.0), "val/loss": falling(1.2), "val/map_50": rising(0.3 + noise),
                       "val/matched_conf": [0.3, 0.5, 0.6, 0.55]})
            write_run(runs, "fig_s6_gan", "gan", "digits", "dcgan", act, seed,
                      {"train/loss_g": falling(1.0), "val/proxy_kid": falling((50.0 if act == "ash" else 60.0) + j(act, 0.4))})
        for act, loss in VARIANT_LOSS.items():
            write_run(runs, "fig_s8_variants", "cls", "digits", "resnet164", act, seed,
                      {"train/loss": falling(loss), "val/loss": falling(loss + 0.01 * seed + j(act, 0.004)), "val/acc": rising(0.9 + j(act, 0.002))})
    corrupt = write_run(runs, "fig_s1_cls", "cls", "digits", "resnet164", "elu", 0, {"val/acc": rising(0.1)})
    (corrupt / "summary.json").write_text("{broken")
    write_run(runs, "fig_s1_cls", "cls", "digits", "resnet164", "selu", 0, {"val/acc": rising(0.1)}, status="running")
    missing = write_run(runs, "fig_s1_cls", "cls", "digits", "resnet164", "prelu", 0, {"val/acc": rising(0.1)})
    (missing / "metrics.csv").unlink()
    return runs


def write_cam(folder: Path, on_ink: float) -> None:
    """analysis/gradcam.{npz,json} as scripts/analyze_runs.py writes them."""
    out = folder / "analysis"
    out.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    np.savez_compressed(out / "gradcam.npz", images=rng.random((4, 1, 16, 16), dtype=np.float32),
                        labels=np.arange(4), cams=rng.random((4, 16, 16), dtype=np.float32),
                        mass_on_ink=np.full(4, on_ink, np.float32), ink_share=np.full(4, 0.3, np.float32))
    (out / "gradcam.json").write_text(json.dumps({"n": 4, "mass_on_ink": on_ink, "ink_share": 0.3}))


def write_keep(folder: Path) -> None:
    """analysis/ash_keep.json and ash_maps.npz as scripts/analyze_runs.py writes them."""
    out = folder / "analysis"
    out.mkdir(exist_ok=True)
    layers = [{"path": f"model.act{i}", "depth": i, "z": 0.0, "k": 50.0, "measured_k": 45.0 + i} for i in range(6)]
    (out / "ash_keep.json").write_text(json.dumps({"batches": 1, "layers": layers}))
    np.savez_compressed(out / "ash_maps.npz", input=np.zeros((1, 16, 16), np.float32),
                        shallow=np.ones((16, 16), np.float32), shallow_path=np.array("model.act0"),
                        deep=np.ones((4, 4), np.float32), deep_path=np.array("model.act5"))
