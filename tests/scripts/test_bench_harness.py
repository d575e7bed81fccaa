"""scripts/bench_harness.py runs both sides on the real runner and a plain loop and writes its table."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_round_writes_a_table_with_both_sides_and_their_ratio(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_harness", ROOT / "scripts" / "bench_harness.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench
    spec.loader.exec_module(bench)
    out = bench.main(["--quick", "--out", str(tmp_path / "harness.md")])
    text = out.read_text()
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert "suite runner" in rows and "plain PyTorch loop" in rows
    assert rows["plain PyTorch loop"].endswith("| 1.000x |")  # the plain loop is the reference
    assert "1 epoch(s) = 39 training steps" in text and "Ratio " in text
    assert not (ROOT / "results" / "runs" / "bench_harness").exists()  # the runner's folder stayed in the temp tree
