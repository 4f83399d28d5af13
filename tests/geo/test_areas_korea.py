"""Korean land and the entry points of ground tracks into land areas (SIMULATION data:
Natural Earth 1:10m land, japanmap prefectures)."""

import numpy as np
import pytest
from pymap3d.vincenty import vreckon

from trilink.geo.areas import (
    AreaEntry,
    in_south_korea,
    japan_land_entries,
    japan_land_overflown,
    korean_land,
    korean_land_entries,
    prefecture_entries,
    prefectures_overflown,
)


@pytest.mark.parametrize(
    ("lat_deg", "lon_deg", "land"),
    [
        (37.57, 126.98, "South Korea"),  # Seoul
        (35.18, 129.08, "South Korea"),  # Busan
        (33.38, 126.53, "South Korea"),  # Jeju island (Hallasan)
        (39.02, 125.75, "North Korea"),  # Pyongyang
        (40.0, 135.0, None),  # Sea of Japan
        (37.0, 130.5, None),  # Sea of Japan, east of Korea
        (35.68, 139.69, None),  # Tokyo: land, but not Korean
    ],
)
def test_korean_land(lat_deg: float, lon_deg: float, land: str | None) -> None:
    assert korean_land(lat_deg, lon_deg) == land
    assert in_south_korea(lat_deg, lon_deg) == (land == "South Korea")


def test_entries_give_the_first_sample_over_each_area_in_order() -> None:
    # Pyongyang -> sea -> Seoul -> sea -> Fukuoka -> Tokyo -> Sapporo.
    lat = np.array([39.02, 38.5, 37.57, 35.0, 33.59, 35.68, 43.06])
    lon = np.array([125.75, 124.0, 126.98, 129.5, 130.40, 139.69, 141.35])
    assert korean_land_entries(lat, lon) == (
        AreaEntry("North Korea", 0),
        AreaEntry("South Korea", 2),
    )
    assert japan_land_entries(lat, lon) == (
        AreaEntry("Kyushu", 4),
        AreaEntry("Honshu", 5),
        AreaEntry("Hokkaido", 6),
    )
    prefectures = prefecture_entries(lat, lon)
    assert [e.name for e in prefectures] == ["Fukuoka", "Tokyo", "Hokkaido"]
    assert [e.index for e in prefectures] == [4, 5, 6]


def test_entries_agree_with_the_name_only_functions_on_a_long_track() -> None:
    # Sunan toward Cape Erimo and beyond, sampled every 2 km (the 2017 Hwasong-12 azimuth).
    lat, lon = vreckon(39.2, 125.7, np.arange(0.0, 2.7e6, 2e3), 73.0)
    lat, lon = np.asarray(lat), np.asarray(lon)
    island = japan_land_entries(lat, lon)
    assert tuple(e.name for e in island) == japan_land_overflown(lat, lon) == ("Hokkaido",)
    prefecture = prefecture_entries(lat, lon)
    assert tuple(e.name for e in prefecture) == prefectures_overflown(lat, lon)
    assert prefecture[0].name == "Hokkaido"
    assert korean_land(lat[island[0].index], lon[island[0].index]) is None
    assert korean_land_entries(lat, lon)[0] == AreaEntry("North Korea", 0)


def test_entries_reject_mismatched_arrays() -> None:
    with pytest.raises(ValueError, match=r"korean_land_entries.*\(3,\).*\(2,\)"):
        korean_land_entries(np.zeros(3), np.zeros(2))
