"""scripts/figure_seg_samples.py on a run tree made by real short runs, with broken runs it must skip."""
from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.tasks.seg.test_train import TINY

ROOT = Path(__file__).resolve().parents[3]


def load_script():
    spec = importlib.util.spec_from_file_location("figure_seg_samples", ROOT / "scripts" / "figure_seg_samples.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def run_tree(train, tmp_path) -> Path:
    """unet with relu and ash (real runs), plus a corrupt, a failed and an incomplete copy."""
    short = [o for o in TINY if not o.startswith("debug=")]  # a fast_dev_run is not a complete run for the scripts
    for act in ("ash", "relu"):
        train([*short, "model=unet", f"act={act}", "experiment_name=seg_demo", "trainer.max_epochs=1"])
    runs = tmp_path / "results" / "runs" / "seg_demo"
    relu = runs / "seg-digitscenes-unet-relu-s0"
    for act, damage in (("gelu", "corrupt"), ("elu", "failed"), ("selu", "incomplete")):
        copy = runs / f"seg-digitscenes-unet-{act}-s0"
        shutil.copytree(relu, copy)
        summary = json.loads((copy / "summary.json").read_text())
        summary["act"] = act
        if damage == "failed":
            summary["status"] = "failed"
        (copy / "summary.json").write_text(json.dumps(summary))
        if damage == "corrupt":
            (copy / "samples" / "00001_pred.png").write_bytes(b"\x89PNG broken")
        if damage == "incomplete":
            for path in (copy / "samples").glob("*_pred.png"):
                path.unlink()
    return runs.parent


def test_figure_has_input_ground_truth_and_one_column_per_activation(run_tree, tmp_path, capsys):
    script = load_script()
    out = tmp_path / "figures"
    written = script.main(["--runs", str(run_tree), "--out", str(out)])
    assert written == [out / "fig_s3_unet.png", out / "fig_s3_unet.pdf"]
    assert all(p.stat().st_size > 0 for p in written)
    width, height = Image.open(written[0]).size
    assert width > 1.5 * height  # 4 columns (input, ground truth, ReLU, ASH) x 2 sample rows
    err = capsys.readouterr().err
    for act, reason in (("gelu", "corrupt sample image 00001_pred.png"), ("elu", "status is 'failed'"),
                        ("selu", "no complete samples")):
        assert f"seg-digitscenes-unet-{act}-s0: {reason}" in err


def test_no_runs_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="No complete seg runs"):
        load_script().main(["--runs", str(tmp_path), "--out", str(tmp_path / "figures")])
