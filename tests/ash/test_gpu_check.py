"""scripts/gpu_check.py's own smoke run on CPU (Triton's interpreter): the checks pass and the table is written."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_smoke_on_cpu(tmp_path):
    out = tmp_path / "gpu.md"
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--smoke", "--device", "cpu",
                          "--kernels", "triton", "--out", str(out)], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    text = out.read_text()
    assert "| triton | 20 | 20 |" in text and "all cases pass" in text and "## Targets (Triton kernel)" in text


def test_gpu_check_without_cuda_says_so():
    env = dict(os.environ, PYTHONPATH=str(ROOT), CUDA_VISIBLE_DEVICES="")
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py")], capture_output=True, text=True,
                         env=env)
    assert run.returncode == 2 and "no CUDA device" in run.stderr
