"""A seeded many-target ballistic scenario for tracker benchmarks. SIMULATION.

One radar at sea level (38.0 N, 138.4 E) watches ``n_targets`` objects in free flight
(gravity with J2, Coriolis and centrifugal terms via :func:`trilink.geo.motion.propagate`),
300-1,500 km away to the west, 100-600 km up, at 2-6 km/s. Most fly alone; about a third
fly in salvo/debris groups of 2-4 whose members pass within 1-5 km of each other halfway
through the run. Every second the radar reports each visible target with probability
``pd`` (range, azimuth, elevation, range-rate with fixed noise) plus Poisson clutter spread
uniformly over the sector the targets occupy. Everything is drawn from one seeded
generator, so a seed fixes the scenario.

Used by :mod:`trilink.bench.tracking` (``trilink bench tracking``) and by
``benchmarks/run.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from trilink.geo.earth import altitude_m, enu_rotation, geodetic_to_ecef
from trilink.geo.motion import propagate
from trilink.types import DetectionBatch

__all__ = [
    "SIGMA",
    "SITE_LAT_DEG",
    "SITE_LON_DEG",
    "T0_S",
    "Scenario",
    "make_scenario",
]

Array = NDArray[np.float64]

SITE_LAT_DEG: Final = 38.0
SITE_LON_DEG: Final = 138.4
SITE_ALT_M: Final = 0.0
SENSOR_ID: Final = "JPN-BENCH-RADAR"
NATION: Final = "JPN"
T0_S: Final = 1_767_225_600.0  # 2026-01-01T00:00:00Z
SIGMA: Final = np.array([20.0, 1e-3, 1e-3, 5.0])  # range m, az rad, el rad, range-rate m/s

GROUND_RANGE_M: Final = (300e3, 1_500e3)
ALTITUDE_M: Final = (100e3, 600e3)
SPEED_MPS: Final = (2_000.0, 6_000.0)
SECTOR_CENTRE_DEG: Final = 280.0  # targets lie within ±45° of this bearing from the radar
SECTOR_HALF_WIDTH_DEG: Final = 45.0
FLIGHT_PATH_DEG: Final = (-20.0, 20.0)
GROUP_PROBABILITY: Final = 0.15  # chance that a new group is a salvo/debris group (2-4)
MISS_DISTANCE_M: Final = (1e3, 5e3)  # closest approach within a group, halfway through
RELATIVE_SPEED_MPS: Final = (50.0, 300.0)
MIN_ELEVATION_RAD: Final = math.radians(1.0)  # "in view" = above this and above ground
MIN_ALTITUDE_M: Final = 30e3  # a group is redrawn if it would drop below this in the run
CLUTTER_RANGE_RATE_MPS: Final = 7_000.0  # clutter range-rate uniform in ±this
_EARTH_RADIUS_M: Final = 6_371e3  # for placing targets by bearing and distance only
_MAX_REDRAWS: Final = 200


@dataclass(frozen=True)
class Scenario:
    """Detections per scan and the truth they came from.

    ``truth_positions[k]`` / ``truth_velocities[k]`` are (N, 3) ECEF at ``times_s[k]``, rows
    in the order of ``truth_ids`` (the same every scan); ``visible[k]`` says which targets
    the radar could see then (only those can be detected or tracked).
    """

    seed: int
    pd: float
    clutter_per_scan: float
    sensor_ecef_m: Array
    sensor_lat_rad: float
    sensor_lon_rad: float
    sigma: Array
    times_s: Array
    truth_ids: list[str]
    group_of: NDArray[np.int64]
    truth_positions: list[Array]
    truth_velocities: list[Array]
    visible: list[NDArray[np.bool_]]
    batches: list[DetectionBatch]

    @property
    def n_targets(self) -> int:
        return len(self.truth_ids)

    @property
    def n_scans(self) -> int:
        return len(self.batches)

    @property
    def enu_rotation(self) -> Array:
        """ECEF → the radar's local East-North-Up (3×3)."""
        return enu_rotation(self.sensor_lat_rad, self.sensor_lon_rad)

    def to_enu(self, r_ecef: Array) -> Array:
        """ECEF positions (..., 3) → radar-centred ENU metres."""
        return (np.asarray(r_ecef, dtype=np.float64) - self.sensor_ecef_m) @ self.enu_rotation.T

    def from_enu(self, r_enu: Array) -> Array:
        """Radar-centred ENU positions (..., 3) → ECEF metres."""
        return np.asarray(r_enu, dtype=np.float64) @ self.enu_rotation + self.sensor_ecef_m

    def truth_at(self, k: int) -> tuple[list[str], Array]:
        """Ids and ECEF positions (M, 3) of the targets visible at scan ``k``."""
        vis = self.visible[k]
        ids = [tid for tid, v in zip(self.truth_ids, vis, strict=True) if v]
        return ids, self.truth_positions[k][vis]


def _polar(sensor: Array, rot: Array, r: Array, v: Array) -> Array:
    """Range, azimuth (clockwise from north, [0, 2π)), elevation, range-rate of (N, 3)."""
    d = r - sensor
    enu = d @ rot.T
    rho = np.linalg.norm(d, axis=-1)
    az = np.mod(np.arctan2(enu[:, 0], enu[:, 1]), 2.0 * math.pi)
    el = np.arcsin(np.clip(enu[:, 2] / rho, -1.0, 1.0))
    rr = np.einsum("ij,ij->i", d, v) / rho
    return np.column_stack([rho, az, el, rr])


def _destination(lat: float, lon: float, bearing: float, dist_m: float) -> tuple[float, float]:
    """Point ``dist_m`` along a great circle from (lat, lon) (radians) on a sphere."""
    delta = dist_m / _EARTH_RADIUS_M
    lat2 = math.asin(
        math.sin(lat) * math.cos(delta) + math.cos(lat) * math.sin(delta) * math.cos(bearing)
    )
    lon2 = lon + math.atan2(
        math.sin(bearing) * math.sin(delta) * math.cos(lat),
        math.cos(delta) - math.sin(lat) * math.sin(lat2),
    )
    return lat2, lon2


def _random_unit(rng: np.random.Generator) -> Array:
    u = rng.normal(size=3)
    return u / np.linalg.norm(u)


def _draw_group(rng: np.random.Generator, size: int, t_mid_s: float) -> Array:
    """Initial ECEF states (size, 6) of one group: a lead object and followers that pass
    within a few km of it at ``t_mid_s`` (straight-line approximation; gravity acts almost
    equally on all of them)."""
    lat0, lon0 = math.radians(SITE_LAT_DEG), math.radians(SITE_LON_DEG)
    bearing = math.radians(
        SECTOR_CENTRE_DEG + rng.uniform(-SECTOR_HALF_WIDTH_DEG, SECTOR_HALF_WIDTH_DEG)
    )
    lat, lon = _destination(lat0, lon0, bearing, rng.uniform(*GROUND_RANGE_M))
    alt = rng.uniform(*ALTITUDE_M)
    r = geodetic_to_ecef(math.degrees(lat), math.degrees(lon), alt)
    heading = rng.uniform(0.0, 2.0 * math.pi)
    gamma = math.radians(rng.uniform(*FLIGHT_PATH_DEG))
    speed = rng.uniform(*SPEED_MPS)
    v_enu = speed * np.array(
        [math.cos(gamma) * math.sin(heading), math.cos(gamma) * math.cos(heading), math.sin(gamma)]
    )
    v = enu_rotation(lat, lon).T @ v_enu
    states = np.empty((size, 6))
    states[0] = np.concatenate([r, v])
    for i in range(1, size):
        dv = rng.uniform(*RELATIVE_SPEED_MPS) * _random_unit(rng)
        miss = rng.uniform(*MISS_DISTANCE_M) * _random_unit(rng)
        states[i, :3] = r + miss - dv * t_mid_s
        states[i, 3:] = v + dv
    return states


def _fly(states: Array, n_scans: int) -> Array:
    """States (n_scans, N, 6) at 1 s steps."""
    out = np.empty((n_scans, *states.shape))
    out[0] = states
    for k in range(1, n_scans):
        out[k] = propagate(out[k - 1], 1.0, max_step_s=1.0)
    return out


def _in_view(sensor: Array, rot: Array, traj: Array) -> NDArray[np.bool_]:
    """(n_scans, N): above the minimum elevation and above the ground."""
    d = traj[..., :3] - sensor
    up = d @ rot[2]
    el = np.arcsin(np.clip(up / np.linalg.norm(d, axis=-1), -1.0, 1.0))
    high_enough: NDArray[np.bool_] = el >= MIN_ELEVATION_RAD
    above_ground: NDArray[np.bool_] = altitude_m(traj[..., :3]) > 0.0
    return high_enough & above_ground


def make_scenario(
    n_targets: int,
    n_scans: int,
    *,
    seed: int,
    pd: float = 0.9,
    clutter_per_scan: float = 10.0,
) -> Scenario:
    """A deterministic scenario of ``n_targets`` ballistic objects over ``n_scans`` 1 s scans."""
    if n_targets < 1 or n_scans < 1:
        raise ValueError("need at least one target and one scan")
    rng = np.random.default_rng(seed)
    lat_r, lon_r = math.radians(SITE_LAT_DEG), math.radians(SITE_LON_DEG)
    sensor = geodetic_to_ecef(SITE_LAT_DEG, SITE_LON_DEG, SITE_ALT_M)
    rot = enu_rotation(lat_r, lon_r)
    t_mid = 0.5 * (n_scans - 1)

    # Draw groups until there are n_targets objects; redraw a group that would leave the
    # radar's view or drop low during the run (bounded, so the loop always ends).
    groups: list[Array] = []
    trajs: list[Array] = []
    count = 0
    while count < n_targets:
        size = 1
        if rng.random() < GROUP_PROBABILITY:
            size = int(rng.integers(2, 5))
        size = min(size, n_targets - count)
        for _ in range(_MAX_REDRAWS):
            g = _draw_group(rng, size, t_mid)
            traj = _fly(g, n_scans)
            low = altitude_m(traj[..., :3]).min() < MIN_ALTITUDE_M
            if _in_view(sensor, rot, traj).all() and not low:
                break
        groups.append(g)
        trajs.append(traj)
        count += size
    traj_all = np.concatenate(trajs, axis=1)  # (n_scans, N, 6)
    group_of = np.concatenate([np.full(len(g), i, dtype=np.int64) for i, g in enumerate(groups)])
    truth_ids = [f"T{i + 1:04d}" for i in range(n_targets)]
    visible = _in_view(sensor, rot, traj_all)

    # Clutter sector: the box in (range, azimuth, elevation) the targets occupy, padded.
    polar_all = _polar(
        sensor, rot, traj_all[..., :3].reshape(-1, 3), traj_all[..., 3:].reshape(-1, 3)
    )
    polar_all = polar_all[visible.reshape(-1)]
    centre = math.radians(SECTOR_CENTRE_DEG)
    rel_az = (polar_all[:, 1] - centre + math.pi) % (2.0 * math.pi) - math.pi
    rng_lo, rng_hi = polar_all[:, 0].min() - 50e3, polar_all[:, 0].max() + 50e3
    az_lo, az_hi = rel_az.min() - math.radians(2.0), rel_az.max() + math.radians(2.0)
    el_lo = max(0.0, polar_all[:, 2].min() - math.radians(1.0))
    el_hi = min(0.5 * math.pi, polar_all[:, 2].max() + math.radians(1.0))

    times = T0_S + np.arange(n_scans, dtype=np.float64)
    batches: list[DetectionBatch] = []
    for k in range(n_scans):
        pos, vel = traj_all[k, :, :3], traj_all[k, :, 3:]
        hit = visible[k] & (rng.random(n_targets) < pd)
        z_t = _polar(sensor, rot, pos[hit], vel[hit])
        z_t = z_t + rng.normal(size=z_t.shape) * SIGMA
        n_fa = int(rng.poisson(clutter_per_scan))
        z_fa = np.column_stack(
            [
                rng.uniform(rng_lo, rng_hi, n_fa),
                rng.uniform(az_lo, az_hi, n_fa) + centre,
                rng.uniform(el_lo, el_hi, n_fa),
                rng.uniform(-CLUTTER_RANGE_RATE_MPS, CLUTTER_RANGE_RATE_MPS, n_fa),
            ]
        )
        z = np.vstack([z_t, z_fa])
        z[:, 1] = np.mod(z[:, 1], 2.0 * math.pi)
        ids: list[str | None] = [truth_ids[i] for i in np.flatnonzero(hit)]
        ids += [None] * n_fa
        order = rng.permutation(len(z))
        batches.append(
            DetectionBatch(
                sensor_id=SENSOR_ID,
                nation=NATION,
                t_s=float(times[k]),
                sensor_ecef_m=sensor.copy(),
                sensor_lat_rad=lat_r,
                sensor_lon_rad=lon_r,
                z=z[order],
                sigma=np.repeat(SIGMA.reshape(1, 4), len(z), axis=0),
                truth_ids=[ids[i] for i in order],
                merged=np.concatenate(
                    [np.ones(len(z_t), dtype=np.int64), np.zeros(n_fa, dtype=np.int64)]
                )[order],
                false_alarm=np.concatenate([np.zeros(len(z_t), bool), np.ones(n_fa, bool)])[order],
            )
        )
    return Scenario(
        seed=seed,
        pd=pd,
        clutter_per_scan=clutter_per_scan,
        sensor_ecef_m=sensor,
        sensor_lat_rad=lat_r,
        sensor_lon_rad=lon_r,
        sigma=SIGMA.copy(),
        times_s=times,
        truth_ids=truth_ids,
        group_of=group_of,
        truth_positions=[traj_all[k, :, :3].copy() for k in range(n_scans)],
        truth_velocities=[traj_all[k, :, 3:].copy() for k in range(n_scans)],
        visible=[visible[k].copy() for k in range(n_scans)],
        batches=batches,
    )
