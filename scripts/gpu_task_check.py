"""One short GPU epoch of every task (embedded data, `trainer=gpu`, bf16-mixed) plus `compile=true` on cls.

Prepared for a machine with a GPU (none was lent to the session that wrote it): `python scripts/gpu_task_check.py`
runs train.py per case, then writes step time, peak memory and world_size from each run's summary.json
to results/bench/gpu_task_check.md. A few minutes on one GPU.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHORT = ["trainer=gpu", "trainer.precision=bf16-mixed", "trainer.max_epochs=1", "trainer.limit_train_batches=50",
         "trainer.limit_val_batches=5", "trainer.limit_test_batches=5", "trainer.enable_progress_bar=false"]
CASES = {"cls": ["task=cls"], "cls compile": ["task=cls", "compile=true"], "seg": ["task=seg"],
         "det": ["task=det"], "gan": ["task=gan"]}


def main() -> int:
    """Run every case; print and write the table; non-zero exit if any case failed."""
    rows = ["| case | status | step time (ms) | samples/s | peak memory (MiB) | world_size | wall (s) |",
            "|---|---|---|---|---|---|---|"]
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, args in CASES.items():
            out = Path(tmp) / name.replace(" ", "_")
            started = time.monotonic()
            result = subprocess.run([sys.executable, "train.py", *args, *SHORT, f"paths.results_dir={out}",
                                     f"hydra.run.dir={out}/hydra"], cwd=ROOT, capture_output=True, text=True)
            wall = time.monotonic() - started
            summaries = list(out.rglob("summary.json"))
            if result.returncode != 0 or not summaries:
                failed += 1
                rows.append(f"| {name} | exit {result.returncode}: {result.stderr.strip().splitlines()[-1:]} "
                            f"| | | | | {wall:.0f} |")
                continue
            s = json.loads(summaries[0].read_text())
            steps = max(int(s.get("global_steps", 0)), 1)
            step_ms = 1000 * float(s.get("fit_seconds") or float("nan")) / steps  # fit time includes validation
            rows.append(f"| {name} | {s['status']} | {step_ms:.1f} | {s.get('train_samples_per_s')} | "
                        f"{(s.get('peak_memory_bytes') or 0) / 2**20:.0f} | {s.get('world_size')} | {wall:.0f} |")
    text = "\n".join(["# GPU task check (scripts/gpu_task_check.py)", "", *rows, ""])
    target = ROOT / "results" / "bench" / "gpu_task_check.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
