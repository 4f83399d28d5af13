"""Event summaries in the fields of Japan's Ministry of Defense announcements."""

from __future__ import annotations

import datetime as dt

import msgspec
import numpy as np

from trilink.geo.areas import in_japan_eez, japan_land_overflown
from trilink.geo.earth import ecef_to_geodetic, surface_distance_m
from trilink.world.library import Library
from trilink.world.trajectory import Trajectory

__all__ = ["Summary", "iso_utc", "site_name", "truth_summary"]

SITE_MATCH_M = 50_000.0


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    """What a nation announces after a launch (or the truth, for comparison)."""

    launch_time_utc: str
    launch_site: str
    launch_lat: float
    launch_lon: float
    apogee_km: float
    range_km: float
    flight_time_s: float
    impact_lat: float
    impact_lon: float
    impact_in_japan_eez: bool
    overflight_japan: bool
    overflight_regions: tuple[str, ...] = ()
    number: int = 1


def iso_utc(t_s: float) -> str:
    return (
        dt.datetime.fromtimestamp(t_s, tz=dt.UTC)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z")
    )


def site_name(lat_deg: float, lon_deg: float, library: Library) -> str:
    """The nearest launch facility of the library within 50 km, else the coordinates."""
    best: tuple[float, str] | None = None
    for f in library.facilities.values():
        if f.key == "unknown":
            continue
        d = surface_distance_m(lat_deg, lon_deg, f.lat_deg, f.lon_deg)
        if best is None or d < best[0]:
            best = (d, f.name)
    if best is not None and best[0] <= SITE_MATCH_M:
        return f"{best[1]} area"
    return f"{lat_deg:.2f}N {lon_deg:.2f}E"


def truth_summary(traj: Trajectory, site: str) -> Summary:
    """The summary of what really flew."""
    t = np.arange(0.0, traj.impact_s, 1.0, dtype=np.float64)
    lat, lon, _ = ecef_to_geodetic(traj.states(t)[:, :3])
    regions = japan_land_overflown(lat, lon)
    return Summary(
        launch_time_utc=iso_utc(traj.t_launch_s),
        launch_site=site,
        launch_lat=traj.spec.lat_deg,
        launch_lon=traj.spec.lon_deg,
        apogee_km=traj.apogee_m / 1e3,
        range_km=traj.range_m / 1e3,
        flight_time_s=traj.impact_s,
        impact_lat=traj.impact_lat_deg,
        impact_lon=traj.impact_lon_deg,
        impact_in_japan_eez=in_japan_eez(traj.impact_lat_deg, traj.impact_lon_deg),
        overflight_japan=bool(regions),
        overflight_regions=regions,
    )
