"""The offline quality proxy: a cached deterministic digits classifier, KID, class spread; the FID guard."""
from __future__ import annotations

import math

import pytest
import torch

from tasks.common.errors import ConfigError
from tasks.gan import quality
from tasks.gan.proxy_classifier import digits_classifier
from tasks.gan.quality import ClassSpread, SeededKID, check_fid_available, to_uint8_rgb


def test_classifier_is_trained_once_then_read_from_the_cache(gan_cache):
    first, info = digits_classifier(gan_cache, 32)
    assert info["val_accuracy_real"] > 0.9 and info["image_size"] == 32
    second, again = digits_classifier(gan_cache, 32)
    assert again == info
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    assert not any(p.requires_grad for p in second.parameters())


def test_class_spread_measures_confidence_entropy_and_coverage():
    spread = ClassSpread()
    spread.update(torch.eye(10) * 100)  # one confident prediction per class
    values = spread.compute()
    assert values["conf"] == pytest.approx(1.0)
    assert values["entropy"] == pytest.approx(math.log(10))
    assert values["coverage"] == 1.0
    spread.reset()
    spread.update(torch.zeros(8, 10).index_fill_(1, torch.tensor([3]), 5.0))  # all "3": a collapsed generator
    values = spread.compute()
    assert values["entropy"] == 0 and values["coverage"] == pytest.approx(0.1)


def test_kid_is_seeded_near_zero_for_the_same_distribution_and_nan_without_samples():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(60, 8, generator=gen), torch.randn(60, 8, generator=gen)
    far = torch.randn(60, 8, generator=gen) + 3
    kid = SeededKID(torch.nn.Identity(), subset_size=100, subsets=10)

    def score(real, fake):
        kid.reset()
        kid.update(real, real=True)
        kid.update(fake, real=False)
        return float(kid.compute()[0])

    state = torch.get_rng_state()
    same, shifted = score(a, b), score(a, far)
    assert torch.equal(state, torch.get_rng_state())  # the training RNG is untouched
    assert abs(same) < shifted / 10 and score(a, b) == same
    kid.reset()
    kid.update(a[:1], real=True)
    kid.update(b[:1], real=False)
    assert math.isnan(float(kid.compute()[0]))


def test_uint8_conversion_for_inception_is_rgb():
    images = to_uint8_rgb(torch.tensor([-1.0, 0.0, 1.0]).view(1, 1, 1, 3))
    assert images.dtype == torch.uint8 and images.shape == (1, 3, 1, 3)
    assert images[0, :, 0].tolist() == [[0, 128, 255]] * 3


def test_fid_without_cached_inception_weights_says_how_to_get_them(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(ConfigError) as error:
        check_fid_available()
    message = str(error.value)
    assert "metrics.fid" in message and quality.FID_WEIGHTS in message and "metrics.fid=false" in message


def test_fid_true_stops_the_job_before_training(train, tiny, monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "empty_torch_cache"))
    with pytest.raises(ConfigError, match="metrics.fid"):
        train([*tiny, "metrics.fid=true", "debug=fast_dev_run"])
    assert not (tmp_path / "results" / "runs").exists()  # nothing was trained or written
