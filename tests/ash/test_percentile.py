import math

import pytest
import torch

from ash import k_from_z, z_from_k


@pytest.mark.parametrize("k,z", [(10, 1.2815516), (50, 0.0), (90, -1.2815516), (2.5, 1.959964)])
def test_z_from_k_known_values(k, z):
    assert z_from_k(k) == pytest.approx(z, abs=1e-6)


def test_z_from_k_matches_normal_quantile():
    normal = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64))
    for k in (0.1, 1, 17, 33.3, 75, 99.9):
        assert z_from_k(k) == pytest.approx(float(normal.icdf(torch.tensor(1 - k / 100, dtype=torch.float64))), abs=1e-9)


@pytest.mark.parametrize("k", [0.5, 10, 25, 50, 63.2, 99])
def test_round_trip(k):
    assert k_from_z(z_from_k(k)) == pytest.approx(k, rel=1e-9)


def test_k_from_z_limits():
    assert k_from_z(0.0) == 50.0
    assert k_from_z(math.inf) == 0.0 and k_from_z(-math.inf) == 100.0


@pytest.mark.parametrize("k", [0, 100, -5, 150, float("nan")])
def test_k_outside_range_raises(k):
    with pytest.raises(ValueError, match=r"\(0, 100\)"):
        z_from_k(k)
