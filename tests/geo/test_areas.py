"""Tests of the warning areas: Japan's EEZ and the land of Japan and the Koreas."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymap3d.vincenty import vreckon

from trilink.geo.areas import (
    EEZ_BOUNDARY_UNCERTAINTY_KM,
    EezVerdict,
    in_japan_eez,
    japan_eez_check,
    japan_land_overflown,
    land_region,
)

SUNAN = (39.2, 125.7)  # lat, lon degrees
OSHIMA_OSHIMA = (41.51, 139.367)  # Smithsonian GVP 285010
OKUSHIRI = (42.07311, 139.43535)  # Okushiri Airport
CAPE_ERIMO = (41.93, 143.25)


def _reckon(start: tuple[float, float], range_km: float, azimuth_deg: float) -> tuple[float, float]:
    lat, lon = vreckon(start[0], start[1], range_km * 1e3, azimuth_deg)
    return float(lat), float(lon)


def _track(
    start: tuple[float, float], range_km: float, azimuth_deg: float
) -> tuple[np.ndarray, np.ndarray]:
    """A geodesic ground track sampled every 2 km."""
    lat, lon = vreckon(start[0], start[1], np.arange(0.0, range_km * 1e3 + 1.0, 2e3), azimuth_deg)
    return np.asarray(lat), np.asarray(lon)


@pytest.mark.parametrize(
    ("lat_deg", "lon_deg", "region"),
    [
        (35.68, 139.69, "Honshu"),  # Tokyo
        (43.06, 141.35, "Hokkaido"),  # Sapporo
        (33.59, 130.40, "Kyushu"),  # Fukuoka
        (33.84, 132.77, "Shikoku"),  # Matsuyama
        (26.21, 127.68, "Okinawa"),  # Naha
        (37.57, 126.98, "South Korea"),  # Seoul
        (39.02, 125.75, "North Korea"),  # Pyongyang
        (40.0, 135.0, None),  # Sea of Japan
    ],
)
def test_land_region(lat_deg: float, lon_deg: float, region: str | None) -> None:
    assert land_region(lat_deg, lon_deg) == region


def test_2022_hwasong_17_impact_west_of_oshima_oshima_is_inside() -> None:
    # Japan MoD: fell about 200 km W of Oshima-Oshima, inside the EEZ (41.49 N, 136.97 E).
    lat, lon = _reckon(OSHIMA_OSHIMA, 200.0, 270.0)
    check = japan_eez_check(lat, lon)
    assert check.verdict is EezVerdict.INSIDE
    assert not check.near_boundary
    assert in_japan_eez(lat, lon)


def test_point_1200_km_east_of_cape_erimo_is_outside() -> None:
    lat, lon = _reckon(CAPE_ERIMO, 1200.0, 90.0)  # 41.03 N, 157.58 E
    check = japan_eez_check(lat, lon)
    assert check.verdict is EezVerdict.OUTSIDE
    assert check.boundary_distance_km > 500.0
    assert not in_japan_eez(lat, lon)


def test_2023_hwasong_18_impact_west_of_okushiri_is_outside() -> None:
    # Japan MoD: fell about 250 km W of Okushiri, outside the EEZ (42.03 N, 136.42 E).
    # With the shipped data the point is outside, about 27 km from the boundary.
    lat, lon = _reckon(OKUSHIRI, 250.0, 270.0)
    check = japan_eez_check(lat, lon)
    assert check.verdict is EezVerdict.OUTSIDE
    assert check.boundary_distance_km == pytest.approx(27.0, abs=3.0)
    assert not check.near_boundary


def test_joint_regime_area_is_joint_or_disputed() -> None:
    check = japan_eez_check(30.5, 127.5)
    assert check.verdict is EezVerdict.JOINT_OR_DISPUTED
    assert not in_japan_eez(30.5, 127.5)


def test_japanese_land_counts_as_inside() -> None:
    assert japan_eez_check(35.68, 139.69).verdict is EezVerdict.INSIDE


def test_near_boundary_flag_and_distance_agree_with_the_verdict() -> None:
    # Walk west from Okushiri and find where the verdict flips (bisection, to ~10 m).
    inside_km, outside_km = 0.0, 250.0
    while outside_km - inside_km > 0.01:
        mid_km = (inside_km + outside_km) / 2
        if japan_eez_check(*_reckon(OKUSHIRI, mid_km, 270.0)).verdict is EezVerdict.INSIDE:
            inside_km = mid_km
        else:
            outside_km = mid_km
    at_boundary = japan_eez_check(*_reckon(OKUSHIRI, inside_km, 270.0))
    assert at_boundary.boundary_distance_km < 0.1
    five_km_out = japan_eez_check(*_reckon(OKUSHIRI, inside_km + 5.0, 270.0))
    assert five_km_out.verdict is EezVerdict.OUTSIDE
    assert 0.5 < five_km_out.boundary_distance_km <= 5.0 + 0.1
    assert five_km_out.near_boundary
    assert EEZ_BOUNDARY_UNCERTAINTY_KM == 20.0


def test_2017_hwasong_12_track_overflies_hokkaido() -> None:
    lat, lon = _track(SUNAN, 2700.0, 73.0)
    assert japan_land_overflown(lat, lon) == ("Hokkaido",)


def test_track_ending_in_the_sea_of_japan_overflies_nothing() -> None:
    lat, lon = _track(SUNAN, 1000.0, 70.0)
    assert japan_land_overflown(lat, lon) == ()


def test_islands_are_listed_in_order_of_first_crossing() -> None:
    # Fukuoka -> Matsuyama -> Tokyo -> Sapporo -> back to Tokyo.
    lat = np.array([33.59, 33.84, 35.68, 43.06, 35.68])
    lon = np.array([130.40, 132.77, 139.69, 141.35, 139.69])
    assert japan_land_overflown(lat, lon) == ("Kyushu", "Shikoku", "Honshu", "Hokkaido")


def test_overflown_rejects_mismatched_arrays() -> None:
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        japan_land_overflown(np.zeros(3), np.zeros(2))


@given(
    st.floats(min_value=20.0, max_value=50.0),
    st.floats(min_value=120.0, max_value=160.0),
)
def test_eez_check_is_total_over_the_region(lat_deg: float, lon_deg: float) -> None:
    check = japan_eez_check(lat_deg, lon_deg)
    assert check.verdict in set(EezVerdict)
    assert check.boundary_distance_km >= 0.0
    assert check.near_boundary == (check.boundary_distance_km <= EEZ_BOUNDARY_UNCERTAINTY_KM)
