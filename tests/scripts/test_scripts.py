"""Every figure, table and claims script on a tiny synthetic results tree (tests/scripts/tree.py)."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from tests.scripts.tree import make_transformer_runs, make_tree

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))
SKIPPED = {"cls-digits-resnet164-elu-s0": "summary.json is unreadable (corrupt JSON",
           "cls-digits-resnet164-selu-s0": "status is 'running', not 'complete'",
           "cls-digits-resnet164-prelu-s0": "missing metrics.csv"}


def script(name: str):
    return importlib.import_module(name)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    return make_tree(tmp_path_factory.mktemp("results"))


@pytest.fixture
def panels(monkeypatch):
    """Record the titled axes of every figure a script saves (then save it for real)."""
    import figure_files

    seen: list[list[str]] = []

    def record(module):
        original = figure_files.save_figure

        def save(fig, out):
            seen.append([ax.get_title() for ax in fig.axes if ax.get_title()])
            return original(fig, out)

        monkeypatch.setattr(module, "save_figure", save)
        return module

    return record, seen


def _png(paths: list[Path]) -> tuple[int, int]:
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 1000 for p in paths)
    with Image.open(paths[0]) as image:
        image.load()
        return image.size


def test_run_discovery_uses_complete_runs_and_names_every_skipped_folder(runs, capsys):
    discovery, palette = script("run_discovery"), script("palette")
    found, skipped = discovery.find_runs(runs, "fig_s1_cls")
    assert len(found) == 2 * 4 * 3
    for name, reason in SKIPPED.items():
        assert any(line.startswith(str(runs / "fig_s1_cls" / name)) and reason in line for line in skipped), name
    discovery.report_skipped(skipped)
    assert "3 run folder(s) skipped" in capsys.readouterr().err
    assert [palette.act_label(a) for a in sorted(["ash", "fash10", "relu", "lash"], key=palette.act_order)] == [
        "ReLU", "ASH", "L-ASH", "F-ASH-10"]


def test_lowest_seed_then_newest_repeat_wins(tmp_path):
    discovery = script("run_discovery")
    runs = [discovery.Run(tmp_path / name, {"seed": seed}) for name, seed in
            [("a-s1", 1), ("a-s0-10", 0), ("a-s0", 0), ("a-s0-2", 0)]]
    assert discovery.lowest_seed_last(runs)[-1].folder.name == "a-s0-10"  # repeat 10 is newer than repeat 2


def test_epochs_to_90_on_known_cases():
    curves = script("curves")
    assert curves.epochs_to_90([0.5, 0.8, 0.95, 1.0], "val/acc") == 3
    assert curves.epochs_to_90([3.0, 2.0, 1.2, 1.0], "val/loss") == 3  # 1.2 <= 1 + 0.1 * 2


def test_figure_s1_has_loss_and_metric_panels_per_task(runs, tmp_path, panels, capsys):
    record, seen = panels
    written = record(script("figure_s1_curves")).main(["--runs", str(runs), "--out", str(tmp_path / "s1")])
    width, height = _png(written)
    assert height > width * 0.8  # 3 task rows x 2 columns
    titles = seen[0]
    assert len(titles) == 6 and sum("classification" in t for t in titles) == 2
    assert any("mIoU" in t for t in titles) and any("mAP@0.5" in t for t in titles)
    err = capsys.readouterr().err
    assert all(name in err for name in SKIPPED)


def test_figure_s7_s8_s9_s2(runs, tmp_path, panels):
    record, seen = panels
    _png(record(script("figure_s7_ash_alpha")).main(["--out", str(tmp_path / "s7")]))
    assert seen[-1] == ["theta = 0", "theta = 1"]
    _png(record(script("figure_s8_variants")).main(["--runs", str(runs), "--out", str(tmp_path / "s8")]))
    assert len(seen[-1]) == 2 and "average" in seen[-1][0]  # the average panel and classification
    _png(record(script("figure_s9_learned_z")).main(["--runs", str(runs), "--out", str(tmp_path / "s9")]))
    assert len(seen[-1]) == 5 and seen[-1][2].startswith("(c)")  # z, k, measured k, shallow and deep maps
    width, height = _png(record(script("figure_s2_gradcam")).main(["--runs", str(runs), "--out", str(tmp_path / "s2")]))
    assert sum("CAM on ink" in t for t in seen[-1]) == 6  # 2 models x ReLU, ASH, Swish
    assert height > width  # 8 image rows x 4 columns


def test_tables_have_the_right_means_and_ci(runs, tmp_path):
    written = script("make_tables").main(["--runs", str(runs), "--out", str(tmp_path), "--experiment", "all"])
    assert {p.name for p in written} >= {"final_metrics.csv", "final_metrics.md", "paired_differences.csv"}
    final = pd.read_csv(tmp_path / "final_metrics.csv")
    row = final[(final.model == "resnet164") & (final.act == "ash") & (final.metric == "val/acc")].iloc[0]
    assert row.n == 3 and row.final_mean == pytest.approx(0.91) and row.final_std == pytest.approx(0.01)
    assert row.epochs_to_90_mean == 3 and row.seeds == "0 1 2"
    paired = pd.read_csv(tmp_path / "paired_differences.csv")
    ash_relu = paired[(paired.task == "cls") & (paired.model == "all") & (paired.metric == "val/acc")
                      & (paired.quantity == "final") & (paired.comparison == "ash-relu")].iloc[0]
    assert ash_relu.n_pairs == 6 and ash_relu.mean_diff == pytest.approx(0.1)
    assert ash_relu.ci_low == pytest.approx(0.1) and ash_relu.ci_high == pytest.approx(0.1)
    assert "3 run folder(s) skipped" in (tmp_path / "final_metrics.md").read_text()
    depth = pd.read_csv(tmp_path / "ash_depth.csv")
    assert depth.spearman_z_depth.tolist() == pytest.approx([1.0] * len(depth))
    analysed = depth.dropna(subset=["keep_gap_mean"])  # measured_k 45..50 against k 50: gaps 5, 4, ..., 0
    assert len(analysed) >= 2 and analysed.keep_gap_mean.tolist() == pytest.approx([2.5] * len(analysed))
    assert analysed.keep_gap_max.tolist() == pytest.approx([5.0] * len(analysed))


def test_claims_follow_the_numbers(tmp_path):
    runs = make_tree(tmp_path / "results", seeds=6)
    script("make_tables").main(["--runs", str(runs), "--out", str(tmp_path), "--experiment", "all"])
    text = script("write_claims").main(["--tables", str(tmp_path), "--out", str(tmp_path / "CLAIMS.md")]).read_text()
    rows = {line.split(" | ")[1]: line for line in text.splitlines() if line.startswith("| ") and "**" in line}
    assert {line.count("|") for line in text.splitlines() if line.startswith("|")} == {6}  # no stray pipe in a cell

    def verdict(start: str) -> str:
        line = next(v for k, v in rows.items() if k.startswith(start))
        return line.rsplit("**", 2)[-2]

    assert verdict("ASH reaches a higher final val/acc than ReLU") == "reproduced"    # +0.1 on every seed
    assert verdict("ASH reaches a higher final val/acc than Swish") == "reproduced"   # +0.05
    assert verdict("ASH reaches a higher final val/miou than ReLU") == "not reproduced"  # -0.1
    assert verdict("ASH reaches a higher final val/miou than Swish") == "not reproduced"  # -0.08
    assert verdict("Detection: ASH gives better boxes (higher final mAP@0.5) than ReLU") == "inconclusive"  # straddles 0
    assert verdict("F-ASH-10 plateaus") == "reproduced" and verdict("F-ASH-90 plateaus") == "reproduced"
    assert verdict("F-ASH-50 behaves like ReLU") == "not reproduced"  # acc 0.90 vs S1 ReLU 0.80-0.85: outside +-0.02
    assert verdict("ASH localises like attention: more Grad-CAM mass on the digit than ReLU") == "too few seeds"  # n=2
    assert verdict("Learned z differs with depth") == "reproduced"
    # six identical gaps of 2.5 points: the exact sign-flip p, 1/32, does not survive Holm over the family
    assert verdict("The normal approximation holds") == "inconclusive"
    assert verdict("DCGAN with ASH reaches a lower") == "reproduced"           # KID 50 vs 60
    assert verdict("DCGAN trains faster") == "inconclusive"                   # the same epochs: every difference 0
    assert "(supports)" in rows[next(k for k in rows if k.startswith("ASH reaches a higher final val/acc"))]
    assert verdict("Swish is the special case") == "reproduced"
    assert "cls all val/acc final ash-relu: +0.1" in text and "(n=12, p_adj=" in text


def test_readme_block_is_regenerated_from_the_runs_and_the_claims(tmp_path):
    runs = make_tree(tmp_path / "results", seeds=6)
    script("make_tables").main(["--runs", str(runs), "--out", str(tmp_path), "--experiment", "all"])
    mod = script("readme_results")
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\nbefore\n{mod.BEGIN}\nold numbers\n{mod.END}\nafter\n")
    args = ["--runs", str(runs), "--tables", str(tmp_path), "--readme", str(readme)]
    text = mod.main(args).read_text()
    assert text.startswith("# title\nbefore\n" + mod.BEGIN) and text.endswith(mod.END + "\nafter\n")
    assert "old numbers" not in text
    # seeds 0-5 start at minutes 0-5 and last 30 s: 5.5 minutes from the first start to the last finish
    assert "| `fig_s1_cls` cls | 48 | ash gelu relu swish | 6 | 5.5 min | 24.0 min |" in text  # 48 runs x 30 s
    assert "| ASH reaches a higher final val/acc than ReLU in classification | 1 / 0 / 0 / 0 | **reproduced** |" in text
    assert "| Swish is the special case of ASH (alpha = 0.5, threshold 0) | 0 / 0 / 0 / 0 | **reproduced** |" in text
    assert "| DCGAN, seed 0, last epoch | proxy coverage | proxy confidence | proxy KID |" in text
    assert "| `fig_s6_gan` ash | n/a | n/a | 49.8 |" in text  # the tree records only the KID (50, jitter -0.2)
    assert mod.main(args).read_text() == text  # regenerating changes nothing


def test_three_seeds_are_too_few_for_a_verdict(runs, tmp_path):
    script("make_tables").main(["--runs", str(runs), "--out", str(tmp_path), "--experiment", "all"])
    text = script("write_claims").main(["--tables", str(tmp_path), "--out", str(tmp_path / "CLAIMS.md")]).read_text()
    row = next(line for line in text.splitlines() if "F-ASH-10 plateaus" in line)
    assert "(n=3, p_adj=n/a" in row and row.endswith("**too few seeds** |")  # +0.3 on all 3 seeds, yet no verdict


def test_null_check_decides_nothing_on_shuffled_labels(tmp_path, capsys):
    runs = make_tree(tmp_path / "results", seeds=6)
    rate = script("null_check").main(["--runs", str(runs), "--experiment", "all", "--shuffles", "3",
                                      "--out", str(tmp_path / "null.md")])
    assert rate <= 0.05
    assert "limit 5%: PASS" in (tmp_path / "null.md").read_text()


def test_scripts_refuse_an_empty_tree_with_a_clear_message(tmp_path):
    for name in ("figure_s1_curves", "figure_s8_variants", "figure_s9_learned_z", "figure_s2_gradcam", "make_tables"):
        with pytest.raises(SystemExit, match="No complete|No cls runs"):
            script(name).main(["--runs", str(tmp_path), "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="make_tables"):
        script("write_claims").main(["--tables", str(tmp_path), "--out", str(tmp_path / "C.md")])


def test_transformer_study_is_tabled_apart_and_claimed_beyond_the_paper(tmp_path, panels):
    runs = make_transformer_runs(make_tree(tmp_path / "results", seeds=6))
    tables = tmp_path / "tables"
    script("make_tables").main(["--runs", str(runs), "--out", str(tables), "--experiment", "all"])
    script("make_tables").main(["--runs", str(runs), "--out", str(tables), "--study", "transformers"])
    appendix = pd.read_csv(tables / "paired_differences.csv")
    assert "vit" not in set(appendix.model) and "lm" not in set(appendix.task)  # the ViT never joins the CNN pool
    paired = pd.read_csv(tables / "transformers" / "paired_differences.csv")
    row = paired[(paired.task == "lm") & (paired.metric == "val/bpb") & (paired.quantity == "final")
                 & (paired.comparison == "ash-gelu")].iloc[0]
    assert row.n_pairs == 6 and row.mean_diff == pytest.approx(-0.10, abs=0.01)
    text = script("write_claims").main(["--tables", str(tables), "--runs", str(runs),
                                        "--out", str(tmp_path / "CLAIMS.md")]).read_text()
    rows = {line.split(" | ")[1]: line.rsplit("**", 2)[-2] for line in text.splitlines() if "**" in line}
    assert rows["Beyond the paper: in transformers ASH ends better than GELU (ViT: val accuracy; causal LM: val "
                "bits per byte, lower is better)"] == "reproduced"      # ViT +0.05, LM -0.10 bpb
    assert rows["Beyond the paper: in transformers ASH ends better than SwiGLU (ViT: val accuracy; causal LM: val "
                "bits per byte, lower is better)"] == "not reproduced"  # ViT -0.05, LM +0.10 bpb
    assert rows["Beyond the paper: learned z differs with depth in transformers (a monotone trend over blocks)"] \
        == "reproduced"                                                 # z rises with the block in every run
    record, seen = panels
    _png(record(script("figure_t1_transformers")).main(["--runs", str(runs), "--out", str(tmp_path / "t1")]))
    assert len(seen[-1]) == 6 and sum("learned z" in t for t in seen[-1]) == 2
    assert any("bits per byte" in t and "n=6" in t for t in seen[-1])
