"""Check and time every ASH kernel on a GPU; writes results/bench/gpu.md. Needs only torch and triton.

    python3 scripts/gpu_check.py            # on a CUDA machine, from the checkout, no install (make gpu-check)
    TRITON_INTERPRET=1 python3 scripts/gpu_check.py --smoke --device cpu --kernels triton eager --out /tmp/g.md
                                            # the script's own smoke test on CPU (Triton's interpreter)

1. Correctness: each kernel against the naive reference (plain autograd ops in float32), values and the
   gradients of x, alpha, z (and a for L-ASH), in float32 and bfloat16, contiguous and channels_last,
   stats sample / channel / token. A kernel that fell back to eager counts as a failure.
2. Speed: forward and forward+backward of ASH per kernel against F.silu, median over repeats after a
   warm-up, on the paper's shapes. Bandwidth: the minimal traffic of ASH forward+backward (read x,
   write y; read x and gy, write gx: 5 tensors) over its time, against a device-to-device copy
   (read + write) of the same tensor, measured in the same run.
Targets (Triton kernel): forward+backward <= 1.5x SiLU on every shape, >= 70 % of the copy
bandwidth, faster than the compile kernel.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ash  # noqa: E402
from ash import functional as AF  # noqa: E402
from ash import kernels  # noqa: E402

SHAPES = [(4, 64, 112, 112), (32, 64, 56, 56), (32, 256, 14, 14), (4, 256, 128, 128)]
SMOKE_SHAPES = [(2, 8, 12, 12)]
KERNELS = ["triton", "compile", "eager"]
TOL = {torch.float32: 2e-4, torch.bfloat16: 3e-2}


def _case_inputs(shape, dtype, layout, device, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g) * 1.5 + 0.3
    gy = torch.randn(shape, generator=g)
    x, gy = x.to(device=device, dtype=dtype), gy.to(device=device, dtype=dtype)
    if layout == "channels_last":
        x, gy = x.to(memory_format=torch.channels_last), gy.to(memory_format=torch.channels_last)
    return x, gy


def _grads(fn, x, gy, a, stats):
    xi = x.detach().clone().requires_grad_()
    params = [torch.tensor(v, device=x.device, requires_grad=True) for v in ((1.3, 0.4) + ((a,) if a else ()))]
    y = fn(xi, *params, stats=stats)
    return [y, *torch.autograd.grad(y, [xi, *params], gy)]


def check_kernel(name: str, device: str, shapes) -> list[tuple[str, float, float, bool]]:
    """(case, max error relative to the reference's scale, tolerance, passed) for every case."""
    kernels.set_kernel(name)
    rows = []
    cases = [(s, d, lay, st, a) for s in shapes for d in (torch.float32, torch.bfloat16)
             for lay in ("contiguous", "channels_last") for st in ("sample", "channel") for a in (None, 0.1)]
    cases += [((4, 33, 96), d, "contiguous", "token", a) for d in (torch.float32, torch.bfloat16) for a in (None, 0.1)]
    for i, (shape, dtype, layout, stats, a) in enumerate(cases):
        x, gy = _case_inputs(shape, dtype, layout, device, i)
        fused = AF.lash if a else AF.ash
        naive = AF.lash_naive if a else AF.ash_naive
        failed_before = kernels.failed_kernels()
        try:
            got = _grads(fused, x, gy, a, stats)
            err_note = ""
        except Exception as exc:  # report, do not stop: the table must show every case
            got, err_note = None, f" ({type(exc).__name__})"
        ref = _grads(naive, x.float(), gy.float(), a, stats)
        if got is None or name in kernels.failed_kernels() - failed_before or kernels.kernel_name(x) != name:
            err = float("inf")
        else:
            err = max(float((g.float() - r).abs().max() / r.abs().max().clamp_min(1.0)) for g, r in zip(got, ref))
        label = f"{'lash' if a else 'ash'} {stats} {tuple(shape)} {str(dtype).split('.')[-1]} {layout}{err_note}"
        rows.append((label, err, TOL[dtype], err <= TOL[dtype]))
    kernels.set_kernel(None)
    return rows


def _timer(device: str):
    if device == "cuda":
        def run(fn, reps):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            out = []
            for _ in range(reps):
                start.record()
                fn()
                end.record()
                torch.cuda.synchronize()
                out.append(start.elapsed_time(end) / 1e3)
            return statistics.median(out)
    else:
        def run(fn, reps):
            out = []
            for _ in range(reps):
                t = time.perf_counter()
                fn()
                out.append(time.perf_counter() - t)
            return statistics.median(out)
    return run


def time_shape(shape, device: str, names, reps: int) -> dict[str, dict[str, float]]:
    """Median seconds of forward and forward+backward per activation, plus the copy."""
    timer = _timer(device)
    x = torch.randn(shape, device=device)
    gy = torch.randn_like(x)
    out = torch.empty_like(x)
    alpha = torch.tensor(1.0, device=device, requires_grad=True)
    z = torch.tensor(0.0, device=device, requires_grad=True)
    acts = {"silu": lambda t: F.silu(t)}
    for n in names:
        acts[f"ash ({n})"] = (lambda n: lambda t: _with_kernel(n, t, alpha, z))(n)
    res = {"copy": {"fwd": 0.0}}
    for _ in range(2):  # warm-up: builds and compiles
        for act in acts.values():
            xi = x.detach().requires_grad_()
            act(xi).backward(gy)
    res["copy"]["fwd"] = timer(lambda: out.copy_(x), reps)
    for label, act in acts.items():
        def fwd():
            with torch.no_grad():
                act(x)

        def both():
            xi = x.detach().requires_grad_()
            act(xi).backward(gy)

        res[label] = {"fwd": timer(fwd, reps), "fwd_bwd": timer(both, reps)}
    return res


def _with_kernel(name, t, alpha, z):
    kernels.set_kernel(name)
    try:
        return AF.ash(t, alpha, z)
    finally:
        kernels.set_kernel(None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="cuda (default); cpu only for the smoke test")
    ap.add_argument("--kernels", nargs="+", default=KERNELS, choices=KERNELS)
    ap.add_argument("--smoke", action="store_true", help="tiny shapes, few repeats (checks the script itself)")
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--out", default=str(ROOT / "results" / "bench" / "gpu.md"))
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device is visible; run it on a GPU machine (or --smoke --device cpu)", file=sys.stderr)
        return 2
    import triton

    shapes = SMOKE_SHAPES if args.smoke else SHAPES
    reps = 3 if args.smoke else args.reps
    dev_name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu (Triton interpreter)"
    lines = ["# GPU check of the ASH kernels", "",
             f"{dev_name}; torch {torch.__version__}, triton {triton.__version__}; median of {reps} repeats. "
             "Made by `scripts/gpu_check.py`" + (" (smoke run)" if args.smoke else "") + ".", "",
             "## Correctness against the naive reference (max error / max(1, max |reference|))", "",
             "| kernel | cases | passed | worst error | worst case |", "|---|---:|---:|---:|---|"]
    all_ok = True
    for name in args.kernels:
        rows = check_kernel(name, args.device, [shapes[0][:2] + (9, 11)])
        worst = max(rows, key=lambda r: r[1] / r[2])
        ok = sum(r[3] for r in rows)
        all_ok &= ok == len(rows)
        lines.append(f"| {name} | {len(rows)} | {ok} | {worst[1]:.2e} (tol {worst[2]:.0e}) | {worst[0]} |")
        print(f"checked {name}: {ok}/{len(rows)}", file=sys.stderr)
    lines += ["", "## Speed (ratio to F.silu in the same run; bandwidth = 5 tensors / fwd+bwd time vs copy)", ""]
    targets = []
    for shape in shapes:
        res = time_shape(shape, args.device, args.kernels, reps)
        nbytes = torch.Size(shape).numel() * 4
        copy_bw = 2 * nbytes / res["copy"]["fwd"]
        silu = res["silu"]
        lines += [f"### {tuple(shape)} float32: SiLU fwd {silu['fwd'] * 1e3:.3f} ms, fwd+bwd {silu['fwd_bwd'] * 1e3:.3f} ms,"
                  f" copy {copy_bw / 1e9:.0f} GB/s", "",
                  "| activation | fwd / SiLU | fwd+bwd / SiLU | fwd+bwd GB/s | of copy |", "|---|---:|---:|---:|---:|"]
        for label, r in res.items():
            if label == "copy":
                continue
            bw = (5 if label != "silu" else 3) * nbytes / r["fwd_bwd"]
            lines.append(f"| {label} | {r['fwd'] / silu['fwd']:.2f} | {r['fwd_bwd'] / silu['fwd_bwd']:.2f} | "
                         f"{bw / 1e9:.0f} | {bw / copy_bw:.0%} |")
        if "triton" in args.kernels:
            tr = res["ash (triton)"]["fwd_bwd"]
            targets.append((shape, tr / silu["fwd_bwd"], 5 * nbytes / tr / copy_bw,
                            tr / res["ash (compile)"]["fwd_bwd"] if "compile" in args.kernels else float("nan")))
        lines.append("")
        print(f"timed {shape}", file=sys.stderr)
    if targets:
        lines += ["## Targets (Triton kernel)", "", "| shape | fwd+bwd / SiLU <= 1.5 | of copy bandwidth >= 70 % | "
                  "triton / compile < 1 |", "|---|---:|---:|---:|"]
        for shape, r_silu, r_bw, r_comp in targets:
            lines.append(f"| {tuple(shape)} | {r_silu:.2f} {'yes' if r_silu <= 1.5 else 'no'} | {r_bw:.0%} "
                         f"{'yes' if r_bw >= 0.7 else 'no'} | {r_comp:.2f} {'yes' if r_comp < 1 else 'no'} |")
    lines += ["", f"Correctness: {'all cases pass' if all_ok else 'FAILURES above'}; kernels that failed at first "
              f"use: {sorted(kernels.failed_kernels()) or 'none'}."]
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
