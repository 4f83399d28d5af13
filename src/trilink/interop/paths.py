"""Timed paths in ECEF and geodetic coordinates, shared by the exports.

The truth path samples the simulated missile (the re-entry vehicle) of a
:class:`~trilink.world.trajectory.Trajectory` every ``step_s`` seconds from launch to
impact; a track path holds a recorded system track's fused positions. Both carry the
same samples as POSIX times, ECEF metres and WGS-84 latitude, longitude and height, so
CZML (ECEF ``cartesian``), GeoJSON and KML (longitude, latitude, height) agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from trilink.errors import ConfigError
from trilink.geo.earth import ecef_to_geodetic
from trilink.interop.history import TrackHistory
from trilink.world.trajectory import Trajectory

__all__ = ["DEFAULT_TRUTH_STEP_S", "TimedPath", "track_path", "truth_path"]

DEFAULT_TRUTH_STEP_S = 1.0
"""Seconds between samples of the truth path."""

Array = NDArray[np.float64]


@dataclass(frozen=True)
class TimedPath:
    """Samples of one path: ``t_s`` (N,) POSIX seconds, ``ecef_m`` (N, 3), and geodetic
    ``lat_deg``, ``lon_deg``, ``alt_m`` (N,)."""

    t_s: Array
    ecef_m: Array
    lat_deg: Array
    lon_deg: Array
    alt_m: Array

    @classmethod
    def from_ecef(cls, t_s: Array, ecef_m: Array) -> TimedPath:
        lat, lon, alt = ecef_to_geodetic(ecef_m)
        return cls(t_s, ecef_m, np.atleast_1d(lat), np.atleast_1d(lon), np.atleast_1d(alt))

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    def lon_lat_alt(self, *, digits: int = 6) -> list[list[float]]:
        """``[[lon, lat, alt], ...]``: degrees rounded to ``digits`` (6 ≈ 0.1 m), metres to
        0.1 m."""
        return [
            [round(float(lo), digits), round(float(la), digits), round(float(h), 1)]
            for lo, la, h in zip(self.lon_deg, self.lat_deg, self.alt_m, strict=True)
        ]


def truth_path(trajectory: Trajectory, *, step_s: float = DEFAULT_TRUTH_STEP_S) -> TimedPath:
    """The simulated missile from launch to impact, one sample every ``step_s`` seconds
    (and one at impact)."""
    if not (math.isfinite(step_s) and step_s > 0.0):
        raise ConfigError(
            f"step_s is {step_s}", field="step_s", fix="give a positive number of seconds"
        )
    t_rel: Array = np.append(
        np.arange(0.0, trajectory.impact_s, step_s, dtype=np.float64), trajectory.impact_s
    ).astype(np.float64)
    ecef = trajectory.states(t_rel)[:, :3]
    return TimedPath.from_ecef(np.asarray(trajectory.t_launch_s + t_rel, np.float64), ecef)


def track_path(track: TrackHistory) -> TimedPath:
    """A recorded system track's fused positions, oldest first."""
    t = np.array([s.t_s for s in track.states], dtype=np.float64)
    ecef = np.array([s.state[:3] for s in track.states], dtype=np.float64).reshape(-1, 3)
    return TimedPath.from_ecef(t, ecef)
