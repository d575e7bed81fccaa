"""Benchmark the activations on CPU: time and memory ratios to SiLU / ReLU (writes results/bench/activations.md).

    python scripts/bench_activations.py            # full run (~5 min on 2 cores)
    python scripts/bench_activations.py --quick    # a smoke run (~1 min)

Per-op times are the best of interleaved rounds (every activation timed once per round, so drifts
in machine load hit all of them alike; the minimum drops rounds disturbed by other processes), with torch.set_num_threads(1). Bytes saved for backward are
counted with torch.autograd.graph.saved_tensors_hooks (distinct storages). The ResNet-164 training
step (batch 32, 32x32, Adam) runs each activation in its own subprocess: time is the median step,
memory is the peak resident set (VmHWM, reset through /proc/self/clear_refs) during one step above
the resident set before it, with glibc told to return freed memory at once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ash  # noqa: E402
from ash import functional as AF  # noqa: E402
from ash import kernels  # noqa: E402

SHAPES = [(32, 64, 32, 32), (32, 256, 8, 8), (8, 64, 112, 112), (256, 1024)]
BASELINES = ["relu", "lrelu", "prelu", "elu", "softplus", "gelu", "selu", "swish"]
TARGETS = {"fused_fwd_bwd": 2.5, "stretch": 1.6, "saved": 1.0, "step": 1.3, "memory": 1.05}


class NaiveASH(nn.Module):
    """ASH in plain autograd ops (the reference), for the comparison only."""

    def __init__(self, inplace: bool | None = None) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.tensor(1.0))
        self.z = nn.Parameter(torch.tensor(0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return AF.ash_naive(x, self.alpha, self.z)


def make_act(name: str) -> nn.Module:
    if name == "ash (naive)":
        return NaiveASH()
    return ash.build_activation(name.replace(" (fused)", ""))


def act_names() -> list[str]:
    return BASELINES + ["ash (naive)", "ash (fused)", "lash (fused)", "fash10 (fused)"]


# ---------------------------------------------------------------------------------------------
# per-op timing and saved bytes
# ---------------------------------------------------------------------------------------------
def saved_bytes(act: nn.Module, x: torch.Tensor) -> int:
    seen: dict[tuple[int, int], int] = {}
    params = {p.data_ptr() for p in act.parameters()}

    def pack(t: torch.Tensor):
        if t.data_ptr() not in params:
            seen[(t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())] = t.untyped_storage().nbytes()
        return t

    xi = x.detach().requires_grad_()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        act(xi)
    return sum(seen.values())


def time_ops(shape, rounds: int) -> dict[str, dict[str, float]]:
    x = torch.randn(shape)
    gy = torch.randn(shape)
    acts = {n: make_act(n) for n in act_names()}
    fwd = {n: [] for n in acts}
    both = {n: [] for n in acts}
    for r in range(rounds + 2):  # 2 warm-up rounds
        for name, act in acts.items():
            xi = x.detach().requires_grad_()
            t0 = time.perf_counter()
            y = act(xi)
            t1 = time.perf_counter()
            y.backward(gy)
            t2 = time.perf_counter()
            if r >= 2:
                fwd[name].append(t1 - t0)
                both[name].append(t2 - t0)
    return {n: {"fwd": min(fwd[n]), "fwd_bwd": min(both[n]),
                "saved": saved_bytes(acts[n], x) / (x.numel() * x.element_size())} for n in acts}


# ---------------------------------------------------------------------------------------------
# ResNet-164 training step (one subprocess per activation)
# ---------------------------------------------------------------------------------------------
def build_resnet164(act_layer) -> nn.Module:
    try:
        from tasks.cls.models.resnet import PreActResNet

        return PreActResNet(depth=164, num_classes=10, act_layer=act_layer, stem="cifar")
    except ImportError:
        return _FallbackResNet164(act_layer)


class _Bottleneck(nn.Module):
    def __init__(self, cin: int, width: int, stride: int, act_layer) -> None:
        super().__init__()
        self.bn1, self.act1, self.conv1 = nn.BatchNorm2d(cin), act_layer(), nn.Conv2d(cin, width, 1, bias=False)
        self.bn2, self.act2 = nn.BatchNorm2d(width), act_layer()
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn3, self.act3, self.conv3 = nn.BatchNorm2d(width), act_layer(), nn.Conv2d(width, width * 4, 1, bias=False)
        self.short = None if stride == 1 and cin == width * 4 else nn.Conv2d(cin, width * 4, 1, stride, bias=False)

    def forward(self, x):
        o = self.act1(self.bn1(x))
        s = x if self.short is None else self.short(o)
        o = self.conv2(self.act2(self.bn2(self.conv1(o))))
        return self.conv3(self.act3(self.bn3(o))) + s


class _FallbackResNet164(nn.Module):
    def __init__(self, act_layer) -> None:
        super().__init__()
        layers, c = [nn.Conv2d(3, 16, 3, 1, 1, bias=False)], 16
        for stage, w in enumerate((16, 32, 64)):
            for i in range(18):
                layers.append(_Bottleneck(c, w, 2 if stage and not i else 1, act_layer))
                c = w * 4
        self.body = nn.Sequential(*layers, nn.BatchNorm2d(c), act_layer(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(c, 10)

    def forward(self, x):
        return self.fc(self.body(x))


def _status_kb(key: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])
    return 0


def resnet_worker(name: str, steps: int) -> dict:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    factory = (lambda *a, **k: NaiveASH()) if name == "ash (naive)" else ash.get_act_layer(name.replace(" (fused)", ""))
    model = build_resnet164(factory)
    opt = torch.optim.Adam(model.parameters())
    x, y = torch.randn(32, 3, 32, 32), torch.randint(0, 10, (32,))

    def step():
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    step()  # Adam state, kernel build
    times, peaks = [], []
    for _ in range(steps):
        base = _status_kb("VmRSS")
        try:
            open("/proc/self/clear_refs", "w").write("5")
        except OSError:
            pass
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
        peaks.append(_status_kb("VmHWM") - base)
    return {"time": min(times), "peak_kb": max(peaks),
            "params": sum(p.numel() for p in model.parameters()), "kernel": kernels.kernel_name(x)}


def resnet_step(name: str, steps: int) -> dict:
    env = dict(os.environ, MALLOC_TRIM_THRESHOLD_="0", MALLOC_MMAP_THRESHOLD_="65536", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, __file__, "--worker", name, "--steps", str(steps)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds and steps (a smoke run)")
    ap.add_argument("--out", default=str(ROOT / "results" / "bench" / "activations.md"))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(resnet_worker(args.worker, args.steps)))
        return

    torch.set_num_threads(1)
    torch.manual_seed(0)
    rounds, steps = (5, 1) if args.quick else (30, 3)
    t_start = time.time()
    load = os.getloadavg()
    kernel = kernels.kernel_name(torch.randn(2, 2))
    lines = [
        "# Activation benchmark",
        "",
        f"torch {torch.__version__}, CPU `{_cpu_name()}`, 1 thread, float32; fused kernel: `{kernel}`; "
        f"{'quick run, ' if args.quick else ''}best of {rounds} interleaved rounds; load average at the start "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1 / 5 / 15 min) on {os.cpu_count()} cores. "
        "Made by `scripts/bench_activations.py`.",
        "",
        "## Per-op time (ratio to SiLU in the same run) and bytes saved for backward (ratio to the input)",
        "",
    ]
    names = act_names()
    worst_fused, worst_saved = 0.0, 0.0
    for shape in SHAPES:
        res = time_ops(shape, rounds)
        silu = res["swish"]
        lines += [f"### input {tuple(shape)}: SiLU fwd {silu['fwd'] * 1e3:.3f} ms, fwd+bwd {silu['fwd_bwd'] * 1e3:.3f} ms",
                  "", "| activation | fwd / SiLU | fwd+bwd / SiLU | saved / input |", "|---|---:|---:|---:|"]
        for n in names:
            r = res[n]
            lines.append(f"| {n} | {r['fwd'] / silu['fwd']:.2f} | {r['fwd_bwd'] / silu['fwd_bwd']:.2f} | {r['saved']:.2f} |")
            if "(fused)" in n:
                worst_fused = max(worst_fused, r["fwd_bwd"] / silu["fwd_bwd"])
                worst_saved = max(worst_saved, r["saved"])
        lines.append("")
        print(f"shape {shape} done ({time.time() - t_start:.0f} s)", file=sys.stderr)

    lines += ["## ResNet-164 (pre-activation bottleneck, CIFAR stem) training step, batch 32, Adam", "",
              "Step time: best of " + str(steps) + " steps after a warm-up step. Peak memory: VmHWM during a step "
              "minus VmRSS before it (one subprocess per activation, glibc returning freed memory at once).", "",
              "| activation | step (s) | step / ReLU | peak step memory (MiB) | memory / SiLU |", "|---|---:|---:|---:|---:|"]
    rn = {n: resnet_step(n, steps) for n in ["relu", "swish", "ash (naive)", "ash (fused)"]}
    print(f"resnet done ({time.time() - t_start:.0f} s)", file=sys.stderr)
    for n, r in rn.items():
        lines.append(f"| {n} | {r['time']:.3f} | {r['time'] / rn['relu']['time']:.2f} | {r['peak_kb'] / 1024:.0f} | "
                     f"{r['peak_kb'] / rn['swish']['peak_kb']:.2f} |")
    step_ratio = rn["ash (fused)"]["time"] / rn["relu"]["time"]
    mem_ratio = rn["ash (fused)"]["peak_kb"] / rn["swish"]["peak_kb"]
    lines += ["", f"Model: {rn['relu']['params'] / 1e6:.2f} M parameters.", "", "## Targets (fused ASH)", "",
              "| target | goal | measured | met |", "|---|---:|---:|:---:|"]
    for label, goal, val in [("fwd+bwd / SiLU, worst shape", TARGETS["fused_fwd_bwd"], worst_fused),
                             ("fwd+bwd / SiLU, stretch (traffic floor)", TARGETS["stretch"], worst_fused),
                             ("saved for backward / input", TARGETS["saved"], worst_saved),
                             ("ResNet-164 step / ReLU", TARGETS["step"], step_ratio),
                             ("ResNet-164 peak memory / SiLU", TARGETS["memory"], mem_ratio)]:
        lines.append(f"| {label} | <= {goal:.2f} | {val:.2f} | {'yes' if val <= goal + 0.005 else 'no'} |")
    lines += ["", "Saved-for-backward targets allow O(batch) extra: the fused Function saves x plus 2 float64 "
              "per sample (mu, rstd)."]
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"wrote {out} in {time.time() - t_start:.0f} s", file=sys.stderr)


def _cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
