"""scripts/analyze_runs.py on a real short run with a checkpoint: ASH keep fractions, maps and Grad-CAMs."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from tests.conftest import run_job

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))


def test_artefacts_of_a_trained_ash_classifier(tmp_path):
    import analyze_runs

    summary = run_job(["experiment=fig_s1_cls", "model=mini/resnet164", "act=ash", "trainer.max_epochs=1",
                       "+trainer.limit_train_batches=2", "trainer.limit_val_batches=1"], tmp_path)
    folder = Path(summary["run_dir"])
    written = analyze_runs.main(["--runs", str(tmp_path / "results" / "runs"), "--experiment", "fig_s1_cls",
                                 "--batches", "1", "--cams", "3"])
    assert {p.name for p in written} == {"ash_keep.json", "ash_maps.npz", "gradcam.npz", "gradcam.json"}
    layers = json.loads((folder / "analysis" / "ash_keep.json").read_text())["layers"]
    assert len(layers) == len(summary["ash_layers"]) and all(0 < r["measured_k"] < 100 for r in layers)
    with np.load(folder / "analysis" / "gradcam.npz") as cam:
        assert cam["cams"].shape == (3, 16, 16) and 0 <= cam["mass_on_ink"].min() <= cam["mass_on_ink"].max() <= 1
    with np.load(folder / "analysis" / "ash_maps.npz") as maps:
        assert maps["shallow"].ndim == 2 and str(maps["deep_path"]) != str(maps["shallow_path"])
    assert analyze_runs.main(["--runs", str(tmp_path / "results" / "runs"), "--experiment", "fig_s1_cls"]) == []
