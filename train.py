"""Train one configuration: `python train.py task=seg model=deeplabv3p act=ash` (see README)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

os.environ.setdefault("ASH_ROOT", str(Path(__file__).resolve().parent))


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from tasks.common.errors import RunStopped, UserError
    from tasks.common.runner import run

    try:
        summary = run(cfg)
    except UserError as error:
        print(f"\nError: {error}", file=sys.stderr)
        sys.exit(2)
    except RunStopped as error:
        print(f"\nStopped: {error}", file=sys.stderr)
        sys.exit(1)
    if summary["status"] == "interrupted":
        print(f"\nInterrupted: the last checkpoint is in {summary['run_dir']}; continue with "
              f"resume={summary['run_dir']}", file=sys.stderr)
        sys.exit(143)
    monitored = summary.get("best", {}).get(summary.get("monitor", ""))
    return monitored  # the value a Hydra sweeper optimises


if __name__ == "__main__":
    main()
