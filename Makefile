# One venv at the repository root; every target installs what it needs first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-slow bench gpu-check figures clean-venv

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[suite,dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)  ## train ASH on the embedded digits (about a minute on 2 CPU cores)
	$(BIN)/python train.py

test: $(STAMP)  ## the CI test suite (CPU, no network)
	$(BIN)/python -m pytest -q --durations=25

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python scripts/bench_activations.py
	$(BIN)/python scripts/bench_harness.py

gpu-check:  ## on a CUDA machine: every kernel against the reference, timings -> results/bench/gpu.md (torch + triton only, no install)
	$(PY) scripts/gpu_check.py

clean-venv:
	rm -rf $(VENV)

# ---- reproduction of the appendix (README: "Reproducing the appendix") ----
# Longest first by the sweep wall times in the README's generated block, so that the lanes finish together.
MINI_SWEEPS := fig_s6_gan fig_s1_seg fig_s1_cls fig_s1_det fig_t1_transformers_lm fig_s8_variants_seg \
	fig_t1_transformers_vit fig_s8_variants_det fig_s8_variants_cls
MINI_EXPERIMENTS := fig_s1_cls fig_s1_seg fig_s1_det fig_s6_gan fig_s8_variants

.PHONY: reproduce-mini analyze null-check

# Tiny models use two cores better as two single-threaded sweeps than as one sweep on two threads; more than one
# torch thread per sweep beside another sweep oversubscribes the cores (README "Budget").
LANES ?= 2
SWEEP_THREADS ?= 1

reproduce-mini: $(STAMP)  ## every mini sweep, LANES at a time (resumable: finished runs are skipped), analysis, figures, tables, CLAIMS
	$(MAKE) -j$(LANES) --output-sync=line $(addprefix sweep-,$(MINI_SWEEPS))
	$(MAKE) analyze
	$(MAKE) figures

sweep-%: $(STAMP)  ## one mini sweep: make sweep-fig_s1_cls
	OMP_NUM_THREADS=$(SWEEP_THREADS) $(BIN)/python train.py -m experiment=$* on_existing=continue

analyze: $(STAMP)  ## artefacts from checkpoints for Figures S2 and S9 (runs that have them are skipped)
	$(BIN)/python scripts/analyze_runs.py --experiment fig_s1_cls fig_s1_seg fig_s1_det fig_s8_variants --acts relu swish ash

figures: $(STAMP)  ## every figure, table, results/CLAIMS.md and the README's results block from the committed run folders
	$(BIN)/python scripts/figure_s1_curves.py
	$(BIN)/python scripts/figure_s2_gradcam.py
	$(BIN)/python scripts/figure_seg_samples.py --experiment fig_s1_seg
	$(BIN)/python scripts/figure_gan_samples.py --experiment fig_s6_gan
	$(BIN)/python scripts/figure_s7_ash_alpha.py
	$(BIN)/python scripts/figure_s8_variants.py
	$(BIN)/python scripts/figure_s9_learned_z.py --experiment $(MINI_EXPERIMENTS)
	$(BIN)/python scripts/make_tables.py --experiment $(MINI_EXPERIMENTS)
	$(BIN)/python scripts/figure_t1_transformers.py
	$(BIN)/python scripts/make_tables.py --study transformers
	$(BIN)/python scripts/write_claims.py
	$(BIN)/python scripts/readme_results.py

.PHONY: plan-full
plan-full: $(STAMP)  ## FLOPs, memory and GPU-hours of every _full experiment (README "Scaling up"; a few minutes)
	$(BIN)/python scripts/plan_full.py

null-check: $(STAMP)  ## the claims procedure on shuffled activation labels: false decisions must stay <= 5 %
	$(BIN)/python scripts/null_check.py --shuffles 20 --out results/tables/null_check.md
