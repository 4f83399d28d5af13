"""Launch time and point, estimated back from the earliest part of a track.

A track first seen in boost is extrapolated back to rest under constant acceleration:
from altitude ``h`` climbing at ``v_up``, the launch was ``2 h / v_up`` earlier, and the
launch point lies under the position moved back by half the horizontal distance the
current horizontal velocity would cover in that time. A track first seen in free flight is
propagated ballistically back to the ground, which places the launch too late (the boost
took longer than a free-flight arc), so its uncertainty is wider.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from trilink.geo.earth import altitude_m, ecef_to_geodetic, geodetic_to_ecef
from trilink.geo.motion import propagate_to_ground
from trilink.types import LaunchEstimate, Track

__all__ = ["estimate_launch"]

BOOST_ALTITUDE_M: Final = 60_000.0
MIN_UPDATES: Final = 6


def estimate_launch(history: list[Track]) -> LaunchEstimate | None:
    """Estimate the launch from one national track's snapshots (oldest first)."""
    usable = [t for t in history if t.n_updates >= MIN_UPDATES]
    if not usable:
        return None
    trk = usable[0]
    r, v = trk.state[:3], trk.state[3:6]
    h = float(altitude_m(r))
    lat, lon, _ = ecef_to_geodetic(r)
    up = geodetic_to_ecef(float(lat), float(lon), 1.0) - geodetic_to_ecef(
        float(lat), float(lon), 0.0
    )
    v_up = float(v @ up)
    if h < BOOST_ALTITUDE_M and v_up > 50.0:
        dt = 2.0 * h / v_up
        v_h = v - v_up * up
        ground = r - h * up - 0.5 * dt * v_h
        lat_g, lon_g, _ = ecef_to_geodetic(ground)
        pos_sigma = float(np.sqrt(np.trace(trk.covariance[:3, :3]) / 3.0))
        radius = 2.45 * max(pos_sigma, 0.1 * float(np.linalg.norm(0.5 * dt * v_h)), 2000.0)
        return LaunchEstimate(
            t_launch_s=trk.t_s - dt,
            lat_deg=float(lat_g),
            lon_deg=float(lon_g),
            radius_95_m=radius,
            t_sigma_s=max(2.0, 0.1 * dt),
            track_id=trk.track_id,
            nation=trk.nation,
        )
    back = propagate_to_ground(trk.state[None, :6], step_s=-5.0, max_time_s=1800.0)
    if not np.isfinite(back.dt_s[0]):
        return None
    lat_g, lon_g, _ = ecef_to_geodetic(back.state[0, :3])
    return LaunchEstimate(
        t_launch_s=trk.t_s + float(back.dt_s[0]) - 60.0,
        lat_deg=float(lat_g),
        lon_deg=float(lon_g),
        radius_95_m=150_000.0,
        t_sigma_s=60.0,
        track_id=trk.track_id,
        nation=trk.nation,
    )
