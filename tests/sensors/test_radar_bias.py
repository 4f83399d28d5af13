"""Tests of the radar's optional registration bias: reports shifted, noise unchanged."""

import math

import msgspec
import numpy as np
import pytest
from pymap3d.vincenty import vreckon

from trilink.geo.earth import geodetic_to_ecef
from trilink.sensors.radar import Radar

SITE = (37.0, 127.0)
BASE: dict[str, object] = {
    "id": "KOR-TEST",
    "nation": "KOR",
    "name": "bias test radar",
    "lat_deg": SITE[0],
    "lon_deg": SITE[1],
    "min_el_deg": 0.0,
    "max_range_km": 3000.0,
    "antenna_gain_db": 60.0,
    "false_alarms_per_scan": 0.0,
}
BIAS = {"range_bias_m": 500.0, "azimuth_bias_mrad": 2.0, "elevation_bias_mrad": -2.0}


def _target() -> tuple[np.ndarray, np.ndarray]:
    lat, lon = vreckon(SITE[0], SITE[1], 800e3, 60.0)
    pos = geodetic_to_ecef(float(lat), float(lon), 400e3)
    return pos[None, :], np.zeros((1, 3))


def _errors(radar: Radar, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Report minus truth (range m, az rad, el rad) over ``n`` scans, and the reported
    sigmas."""
    pos, vel = _target()
    rng_m, az, el = radar.geometry(pos)
    truth = np.array([rng_m[0], az[0], el[0]])
    rng = np.random.default_rng(seed)
    errs, sigmas = [], []
    for k in range(n):
        batch = radar.scan(float(k), pos, vel, np.array([10.0]), ["rv"], rng)
        assert len(batch.truth_ids) == 1
        errs.append(batch.z[0, :3] - truth)
        sigmas.append(batch.sigma[0, :3])
    return np.array(errs), np.array(sigmas)


def test_the_default_radar_has_no_bias() -> None:
    radar = Radar(**BASE)  # type: ignore[arg-type]
    np.testing.assert_array_equal(radar.bias, np.zeros(4))
    errs, sig = _errors(radar, 400, 1)
    # Unbiased: the mean error is within 4 standard errors of zero on every axis.
    assert np.all(np.abs(errs.mean(axis=0)) < 4.0 * sig.mean(axis=0) / math.sqrt(400))


def test_the_bias_shifts_the_reports_but_not_the_reported_noise() -> None:
    plain = Radar(**BASE)  # type: ignore[arg-type]
    biased = Radar(**{**BASE, **BIAS})  # type: ignore[arg-type]
    errs, sig = _errors(biased, 400, 1)
    _, sig_plain = _errors(plain, 400, 1)
    expected = np.array([500.0, 2e-3, -2e-3])
    se = sig.mean(axis=0) / math.sqrt(400)
    assert np.all(np.abs(errs.mean(axis=0) - expected) < 4.0 * se)
    # The bias is far outside the reported noise: the tracker cannot tell it from truth.
    assert np.all(np.abs(expected) > 10.0 * se)
    np.testing.assert_array_equal(sig, sig_plain)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("range_bias_m", 2.0e4),
        ("azimuth_bias_mrad", -80.0),
        ("elevation_bias_mrad", float("nan")),
    ],
)
def test_an_impossible_bias_is_refused_naming_the_field(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"KOR-TEST.*{field}"):
        Radar(**{**BASE, field: value})  # type: ignore[arg-type]
    with pytest.raises(msgspec.ValidationError, match=field):
        msgspec.convert({**BASE, field: value}, Radar)


def test_a_network_table_can_set_the_bias() -> None:
    radar = msgspec.convert({**BASE, **BIAS}, Radar)
    np.testing.assert_allclose(radar.bias, [500.0, 2e-3, -2e-3, 0.0])
