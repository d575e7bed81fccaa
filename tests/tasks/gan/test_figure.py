"""Figure S6 from a tree of real short runs; incomplete and corrupt runs are skipped and named."""
from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest
from PIL import Image

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "figure_gan_samples.py"


@pytest.fixture(scope="module")
def figure():
    spec = importlib.util.spec_from_file_location("figure_gan_samples", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _copy_run(run_dir: Path, name: str) -> Path:
    copy = run_dir.parent / name
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("checkpoints"))
    return copy


def test_figure_rows_are_activations_and_columns_epochs(figure, figure_runs, tmp_path, capsys):
    root, summaries = figure_runs
    runs = root / "results" / "runs"
    written = figure.main(["--runs", str(runs), "--out", str(tmp_path / "fig_s6_gan_samples")])
    assert [p.name for p in written] == ["fig_s6_gan_samples.png", "fig_s6_gan_samples.pdf"]
    assert all(p.stat().st_size > 1000 for p in written)
    with Image.open(written[0]) as image:
        width, height = image.size
    assert height > width  # 3 rows (ReLU, Swish, ASH) x 2 columns (epochs 1, 2)
    out = capsys.readouterr().out
    assert "ReLU" in out and "Swish" in out and "ASH" in out

    chosen = figure.select(figure.find_runs(runs, None)[0], "digits", ["relu", "swish", "ash"], None)
    assert list(chosen) == ["relu", "swish", "ash"]
    assert all(sorted(run.grids) == [1, 2] for run in chosen.values())
    assert {a: r.folder for a, r in chosen.items()} == {a: Path(s["run_dir"]) for a, s in summaries.items()}


def test_incomplete_and_corrupt_runs_are_skipped_and_named(figure, figure_runs, tmp_path, capsys):
    root, summaries = figure_runs
    relu = Path(summaries["relu"]["run_dir"])
    running = _copy_run(relu, "gan-digits-dcgan-relu-s0-90")
    (running / "summary.json").write_text(json.dumps({**summaries["relu"], "status": "running"}))
    broken_json = _copy_run(relu, "gan-digits-dcgan-relu-s0-91")
    (broken_json / "summary.json").write_text("{not json")
    broken_png = _copy_run(relu, "gan-digits-dcgan-relu-s0-92")
    (broken_png / "samples" / "epoch_002.png").write_bytes(b"\x89PNG truncated")
    try:
        figure.main(["--runs", str(root / "results" / "runs"), "--out", str(tmp_path / "fig"), "--epochs", "2"])
        err = capsys.readouterr().err
        assert f"{running}: status is 'running'" in err
        assert f"{broken_json}: summary.json is unreadable" in err
        assert f"{broken_png}: corrupt sample grid epoch_002.png" in err
    finally:
        for folder in (running, broken_json, broken_png):
            shutil.rmtree(folder)


def test_no_runs_is_a_clear_exit(figure, tmp_path):
    with pytest.raises(SystemExit, match="No complete gan runs"):
        figure.main(["--runs", str(tmp_path), "--out", str(tmp_path / "fig")])
