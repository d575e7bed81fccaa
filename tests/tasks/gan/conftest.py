"""Shared by the gan tests: tiny DCGAN overrides and one cached digits classifier for the whole session."""
from __future__ import annotations

import pytest

from tests.conftest import run_job

TINY_MODEL = ["task=gan", "model.g_width=8", "model.d_width=8", "task.n_samples=16"]


@pytest.fixture(scope="session")
def gan_cache(tmp_path_factory) -> str:
    """A cache folder shared by all gan tests: the proxy classifier is trained once per session."""
    return str(tmp_path_factory.mktemp("gan_cache"))


@pytest.fixture
def tiny(gan_cache) -> list[str]:
    """Overrides for a seconds-long gan job on the embedded digits."""
    return [*TINY_MODEL, "data.batch_size=4", f"metrics.cache_dir={gan_cache}"]


@pytest.fixture(scope="session")
def figure_runs(tmp_path_factory, gan_cache):
    """A results tree of real short runs (ReLU, Swish, ASH; 2 epochs, a grid after each): (tmp root, summaries)."""
    root = tmp_path_factory.mktemp("figure_runs")
    overrides = [*TINY_MODEL, "data.batch_size=4", f"metrics.cache_dir={gan_cache}", "trainer.max_epochs=2",
                 "+trainer.limit_train_batches=2", "+trainer.limit_val_batches=1", "+trainer.limit_test_batches=1",
                 "task.sample_epochs=[1,last]", "experiment_name=s6"]
    return root, {act: run_job([*overrides, f"act={act}"], root) for act in ("relu", "swish", "ash")}
