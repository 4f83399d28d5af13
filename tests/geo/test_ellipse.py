"""The one 95 % error ellipse."""

import math

import numpy as np
import pytest

from trilink.geo.ellipse import CHI2_2DOF_95, ellipse_95


def test_axes_are_the_95_percent_point_of_the_principal_sigmas() -> None:
    # 300 m east, 100 m north: the major axis points east (90° from north).
    major, minor, orientation = ellipse_95(np.diag([300.0**2, 100.0**2]))
    assert major == pytest.approx(300.0 * math.sqrt(CHI2_2DOF_95))
    assert minor == pytest.approx(100.0 * math.sqrt(CHI2_2DOF_95))
    assert orientation == pytest.approx(90.0)


@pytest.mark.parametrize("bearing_deg", [0.0, 30.0, 135.0, 179.0])
def test_orientation_is_the_major_axis_bearing_clockwise_from_north(bearing_deg: float) -> None:
    b = math.radians(bearing_deg)
    axis = np.array([math.sin(b), math.cos(b)])  # (east, north)
    cross = np.array([-axis[1], axis[0]])
    cov = 500.0**2 * np.outer(axis, axis) + 50.0**2 * np.outer(cross, cross)
    major, minor, orientation = ellipse_95(cov)
    assert orientation == pytest.approx(bearing_deg, abs=1e-6)
    assert 0.0 <= orientation < 180.0
    # The ellipse holds 95 % of draws from the covariance.
    rng = np.random.default_rng(1)
    d = rng.multivariate_normal(np.zeros(2), cov, 20_000)
    inside = np.sum((d @ axis) ** 2 / major**2 + (d @ cross) ** 2 / minor**2 <= 1.0)
    assert inside / len(d) == pytest.approx(0.95, abs=0.01)
