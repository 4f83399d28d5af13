"""Space-based infrared early-warning satellites: line-of-sight reports of boosting missiles.

The satellites are NOTIONAL, modelled on the public description of SBIRS/DSP: a staring
infrared sensor sees the hot plume of a missile while its motor burns and reports only a
line of sight (a unit vector from the satellite, no range) a few times a second. Nothing
is seen after burnout, nor below the cloud tops (``min_target_alt_km``).

Orbits are either geostationary (``"geo"``: fixed in ECEF at 35,786 km above the equator)
or highly elliptical (``"heo"``: Keplerian two-body propagation, no J2, no drag). The
inertial frame of a HEO satellite is simplified: it is the frame that coincides with ECEF
at the satellite's ``epoch_s`` (Earth rotation angle θ0 = 0 there), so
``r_ecef = R3(θ(t)) r_eci`` with ``θ(t) = EARTH_RATE_RAD_S (t - epoch_s)``. This ignores
precession, nutation and the true sidereal time at the epoch, which is immaterial for a
notional constellation whose elements are chosen in this frame.

Visibility is geometric: the straight segment from the satellite to the target must miss
the WGS-84 ellipsoid (no atmospheric limb attenuation), the target must be above
``min_target_alt_km``, and within ``max_off_nadir_deg`` of the satellite's geocentric nadir.
There are no false alarms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

import msgspec
import numpy as np
from numpy.typing import ArrayLike, NDArray

from trilink.errors import PhysicsError
from trilink.geo.earth import (
    EARTH_RATE_RAD_S,
    GM_M3_S2,
    WGS84_A_M,
    WGS84_F,
    altitude_m,
    geodetic_to_ecef,
)
from trilink.types.state import StateVector

__all__ = [
    "GEO_ALTITUDE_M",
    "InfraredSatellite",
    "LineOfSight",
    "default_constellation",
    "earth_blocks",
    "solve_kepler",
]

GEO_ALTITUDE_M: Final = 35_786e3
_WGS84_B_M: Final = WGS84_A_M * (1.0 - WGS84_F)
_Z_SCALE: Final = WGS84_A_M / _WGS84_B_M  # maps the ellipsoid onto a sphere of radius a
_MIN_SMA_M: Final = WGS84_A_M + 200e3
_KEPLER_TOL_RAD: Final = 1e-13
_KEPLER_MAX_ITER: Final = 60
_TWO_PI: Final = 2.0 * math.pi
_NOTIONAL_SOURCE: Final = "notional, modelled on the public description of SBIRS GEO/HEO"

Array = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def solve_kepler(mean_anomaly_rad: ArrayLike, eccentricity: float) -> Array:
    """Eccentric anomaly ``E`` with ``E - e sin E = M`` (radians, same shape as ``M``).

    Vectorised Newton iterations started at ``E = π`` on ``M`` reduced to ``[0, 2π)``, which
    converge for every ``0 <= e < 1``; the result is returned on the branch of the input,
    so that ``E - e sin E`` equals ``M`` itself, not just modulo 2π.
    """
    if not 0.0 <= eccentricity < 1.0:
        raise ValueError(f"eccentricity must be in [0, 1), got {eccentricity}")
    m = np.asarray(mean_anomaly_rad, dtype=np.float64)
    turns = np.floor(m / _TWO_PI)
    m_red = m - turns * _TWO_PI
    e_anom = np.full_like(m_red, math.pi)
    for _ in range(_KEPLER_MAX_ITER):
        step = (e_anom - eccentricity * np.sin(e_anom) - m_red) / (
            1.0 - eccentricity * np.cos(e_anom)
        )
        e_anom = e_anom - step
        if np.all(np.abs(step) <= _KEPLER_TOL_RAD):
            return np.asarray(e_anom + turns * _TWO_PI, dtype=np.float64)
    worst = float(np.max(np.abs(step)))
    raise PhysicsError(
        f"Kepler's equation did not converge for e = {eccentricity} after "
        f"{_KEPLER_MAX_ITER} Newton steps (last step {worst:.3g} rad). Fix: check the "
        "mean anomalies are finite."
    )


def earth_blocks(sensor_ecef_m: ArrayLike, targets_ecef_m: ArrayLike) -> BoolArray:
    """Whether the straight segment from the sensor to each target (N, 3) meets the Earth.

    Scaling ``z`` by ``a / b`` maps the WGS-84 ellipsoid onto a sphere of radius ``a`` and
    segments onto segments, so the test is the distance from the centre to the nearest
    point of the scaled segment, compared with ``a``. Both ends are assumed above ground.
    """
    scale = np.array([1.0, 1.0, _Z_SCALE])
    s = np.asarray(sensor_ecef_m, dtype=np.float64) * scale
    p = np.atleast_2d(np.asarray(targets_ecef_m, dtype=np.float64)) * scale
    d = p - s
    dd = np.maximum(np.sum(d * d, axis=-1), 1e-300)
    lam = np.clip(-(d @ s) / dd, 0.0, 1.0)
    closest = s + lam[:, None] * d
    return np.asarray(np.sum(closest * closest, axis=-1) < WGS84_A_M**2)


def _rot3(angle_rad: Array) -> Array:
    """Frame rotation about z by ``angle`` (..., 3, 3): components in a frame turned by
    ``angle`` about z."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    zero, one = np.zeros_like(c), np.ones_like(c)
    return np.stack(
        [np.stack([c, s, zero], -1), np.stack([-s, c, zero], -1), np.stack([zero, zero, one], -1)],
        axis=-2,
    )


def _local_frame(sensor_ecef_m: Array) -> Array:
    """Rows east, north, up of the geocentric local frame at a sensor position (3,)."""
    up = sensor_ecef_m / np.linalg.norm(sensor_ecef_m)
    east = np.cross([0.0, 0.0, 1.0], up)
    n_east = float(np.linalg.norm(east))
    east = east / n_east if n_east > 1e-12 else np.array([0.0, 1.0, 0.0])
    north = np.cross(up, east)
    return np.stack([east, north, up])


@dataclass(frozen=True, slots=True)
class LineOfSight:
    """One infrared report: the direction from a satellite to a plume at one time.

    There is no range; the direction is a unit vector in ECEF, with isotropic angular noise
    of ``sigma_rad`` per axis about the true direction.
    """

    sensor_id: str = field(metadata={"doc": "id of the satellite that reported it"})
    nation: str = field(metadata={"doc": "ISO-3166 alpha-3 of the satellite's owner"})
    t_s: float = field(metadata={"doc": "time of validity, POSIX seconds UTC"})
    sensor_ecef_m: StateVector = field(metadata={"doc": "satellite position at t_s, ECEF m"})
    los_ecef: StateVector = field(metadata={"doc": "unit line of sight, satellite to target"})
    sigma_rad: float = field(metadata={"doc": "1-sigma angular noise per axis, radians"})
    truth_id: str | None = field(default=None, metadata={"doc": "truth object, metrics only"})

    def angles(self) -> tuple[float, float]:
        """Azimuth and elevation (radians) of the line of sight in the satellite's local
        frame: east-north-up with "up" along the geocentric radius through the satellite.

        Azimuth is clockwise from north in ``[0, 2π)``; elevation is from the local
        horizontal plane, so a target at the geocentric nadir is at -π/2.
        """
        enu = _local_frame(np.asarray(self.sensor_ecef_m, dtype=np.float64)) @ self.los_ecef
        az = math.atan2(float(enu[0]), float(enu[1])) % _TWO_PI
        el = math.asin(max(-1.0, min(1.0, float(enu[2]))))
        return az, el


class InfraredSatellite(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A NOTIONAL infrared early-warning satellite (the network file's ``[[infrared]]``)."""

    id: str
    nation: str
    name: str
    notional: bool = True
    source: str = ""
    orbit: str
    lon_deg: float = 0.0
    semi_major_axis_km: float = 26_554.0
    eccentricity: float = 0.72
    inclination_deg: float = 63.4
    raan_deg: float = 0.0
    arg_perigee_deg: float = 270.0
    mean_anomaly_deg: float = 0.0
    epoch_s: float = 0.0
    report_rate_hz: float = 2.0
    sigma_los_urad: float = 30.0
    min_target_alt_km: float = 12.0
    detection_probability: float = 0.95
    max_off_nadir_deg: float = 90.0

    def __post_init__(self) -> None:
        perigee_km = self.semi_major_axis_km * (1.0 - self.eccentricity)
        checks: list[tuple[bool, str, str]] = [
            (self.orbit in ("geo", "heo"), "orbit", f"must be 'geo' or 'heo', got {self.orbit!r}"),
            (
                len(self.nation) == 3 and self.nation.isalpha() and self.nation.isupper(),
                "nation",
                f"must be ISO alpha-3 (3 upper-case letters), got {self.nation!r}",
            ),
            (
                -180.0 <= self.lon_deg <= 360.0,
                "lon_deg",
                f"must be within [-180, 360], got {self.lon_deg}",
            ),
            (
                0.0 <= self.eccentricity < 1.0,
                "eccentricity",
                f"must be in [0, 1), got {self.eccentricity}",
            ),
            (
                self.semi_major_axis_km * 1e3 >= _MIN_SMA_M,
                "semi_major_axis_km",
                f"must be at least Earth radius + 200 km ({_MIN_SMA_M / 1e3:.0f} km), "
                f"got {self.semi_major_axis_km}",
            ),
            (
                self.orbit != "heo" or perigee_km * 1e3 >= _MIN_SMA_M,
                "eccentricity",
                f"gives a perigee radius of {perigee_km:.0f} km, below Earth radius + 200 km "
                f"({_MIN_SMA_M / 1e3:.0f} km); lower it or raise semi_major_axis_km",
            ),
            (
                0.0 <= self.inclination_deg <= 180.0,
                "inclination_deg",
                f"must be within [0, 180], got {self.inclination_deg}",
            ),
            (math.isfinite(self.epoch_s), "epoch_s", f"must be finite, got {self.epoch_s}"),
            (
                self.report_rate_hz > 0.0 and math.isfinite(self.report_rate_hz),
                "report_rate_hz",
                f"must be positive, got {self.report_rate_hz}",
            ),
            (
                self.sigma_los_urad > 0.0 and math.isfinite(self.sigma_los_urad),
                "sigma_los_urad",
                f"must be positive, got {self.sigma_los_urad}",
            ),
            (
                self.min_target_alt_km >= 0.0,
                "min_target_alt_km",
                f"must be >= 0, got {self.min_target_alt_km}",
            ),
            (
                0.0 < self.detection_probability <= 1.0,
                "detection_probability",
                f"must be in (0, 1], got {self.detection_probability}",
            ),
            (
                0.0 < self.max_off_nadir_deg <= 90.0,
                "max_off_nadir_deg",
                f"must be in (0, 90], got {self.max_off_nadir_deg}",
            ),
        ]
        for ok, name, problem in checks:
            if not ok:
                raise ValueError(f"infrared satellite {self.id!r}: field `{name}` {problem}")

    # -- orbit ---------------------------------------------------------------------------

    @property
    def period_s(self) -> float:
        """Orbital period: one sidereal day for GEO, ``2π sqrt(a³ / GM)`` for HEO."""
        if self.orbit == "geo":
            return _TWO_PI / EARTH_RATE_RAD_S
        return _TWO_PI * math.sqrt((self.semi_major_axis_km * 1e3) ** 3 / GM_M3_S2)

    def position_eci(self, t_s: float | Array) -> Array:
        """Position (..., 3) in metres in the inertial frame aligned with ECEF at ``epoch_s``.

        For GEO the satellite turns with the Earth, so this is its ECEF position rotated by
        the Earth rotation angle since ``epoch_s``.
        """
        t = np.asarray(t_s, dtype=np.float64)
        if self.orbit == "geo":
            rot = _rot3(self._earth_angle(t))
            return np.asarray(np.einsum("...ji,...j->...i", rot, self.position_ecef(t)))
        a = self.semi_major_axis_km * 1e3
        e = self.eccentricity
        n = math.sqrt(GM_M3_S2 / a**3)
        mean = math.radians(self.mean_anomaly_deg) + n * (t - self.epoch_s)
        ecc = solve_kepler(mean, e)
        x_pf = a * (np.cos(ecc) - e)
        y_pf = a * math.sqrt(1.0 - e * e) * np.sin(ecc)
        # Perifocal -> inertial: R3(-raan) R1(-inc) R3(-argp); P and Q are its first columns.
        raan, inc = math.radians(self.raan_deg), math.radians(self.inclination_deg)
        argp = math.radians(self.arg_perigee_deg)
        co, so = math.cos(raan), math.sin(raan)
        cw, sw = math.cos(argp), math.sin(argp)
        ci, si = math.cos(inc), math.sin(inc)
        p_vec = np.array([co * cw - so * sw * ci, so * cw + co * sw * ci, sw * si])
        q_vec = np.array([-co * sw - so * cw * ci, -so * sw + co * cw * ci, cw * si])
        return np.asarray(x_pf[..., None] * p_vec + y_pf[..., None] * q_vec, dtype=np.float64)

    def position_ecef(self, t_s: float | Array) -> Array:
        """Position (..., 3) in ECEF metres at POSIX time(s) ``t_s``."""
        t = np.asarray(t_s, dtype=np.float64)
        if self.orbit == "geo":
            r = geodetic_to_ecef(0.0, self.lon_deg, GEO_ALTITUDE_M)
            return np.array(np.broadcast_to(r, (*t.shape, 3)), dtype=np.float64)
        r_eci = self.position_eci(t)
        return np.asarray(
            np.einsum("...ij,...j->...i", _rot3(self._earth_angle(t)), r_eci), dtype=np.float64
        )

    def _earth_angle(self, t: Array) -> Array:
        return np.asarray(EARTH_RATE_RAD_S * (t - self.epoch_s), dtype=np.float64)

    # -- sensing -------------------------------------------------------------------------

    def visible(self, t_s: float, positions: ArrayLike) -> BoolArray:
        """Whether targets at ECEF positions (N, 3) can be seen at ``t_s``: the line of sight
        misses the Earth, the target is above ``min_target_alt_km`` and within
        ``max_off_nadir_deg`` of the satellite's geocentric nadir."""
        pos = _as_positions(positions, self.id)
        sat = self.position_ecef(float(t_s))
        to_target = pos - sat
        dist = np.maximum(np.linalg.norm(to_target, axis=-1), 1e-9)
        cos_off = (to_target @ (-sat)) / (dist * float(np.linalg.norm(sat)))
        in_field = cos_off >= math.cos(math.radians(self.max_off_nadir_deg))
        above_clouds = altitude_m(pos) >= self.min_target_alt_km * 1e3
        return np.asarray(in_field & above_clouds & ~earth_blocks(sat, pos))

    def report_times(self, t_s: float, dt_s: float) -> Array:
        """Report times in ``[t_s, t_s + dt_s)``: the multiples of ``1 / report_rate_hz``
        (counted from POSIX 0), so that consecutive windows of any length chain into one
        even cadence. For an integer ``t_s`` at 2 Hz over 1 s: ``t_s`` and ``t_s + 0.5``."""
        rate = self.report_rate_hz
        tol = 1e-6  # in report periods; above the rounding of t·rate for POSIX times
        k0 = math.ceil(t_s * rate - tol)
        k1 = math.ceil((t_s + dt_s) * rate - tol)
        return np.arange(k0, max(k0, k1), dtype=np.float64) / rate

    def observe(
        self,
        t_s: float,
        dt_s: float,
        positions: ArrayLike,
        thrusting: ArrayLike,
        truth_ids: list[str],
        rng: np.random.Generator,
        *,
        velocities: ArrayLike | None = None,
    ) -> list[LineOfSight]:
        """Reports over the window ``[t_s, t_s + dt_s)`` of targets at ECEF ``positions``
        (N, 3) valid at ``t_s``.

        Reports come at :meth:`report_times`. Without ``velocities`` every report of the
        window uses the positions at ``t_s`` (sub-second motion neglected); with
        ``velocities`` (N, 3, m/s) each target is moved linearly to each report time. Only
        ``thrusting`` targets that are :meth:`visible` can be reported, each independently
        with ``detection_probability``; there are no false alarms. The true unit line of
        sight is turned by two orthogonal angular errors of ``sigma_los_urad`` each. Every
        random draw comes from ``rng``.
        """
        pos0 = _as_positions(positions, self.id)
        n = pos0.shape[0]
        burning = np.asarray(thrusting, dtype=bool).reshape(-1)
        if burning.shape != (n,) or len(truth_ids) != n:
            raise ValueError(
                f"infrared satellite {self.id!r}: positions {pos0.shape}, thrusting "
                f"{np.shape(thrusting)} and truth_ids ({len(truth_ids)}) must describe the "
                "same N targets"
            )
        vel = None
        if velocities is not None:
            vel = np.atleast_2d(np.asarray(velocities, dtype=np.float64))
            if vel.shape != pos0.shape:
                raise ValueError(
                    f"infrared satellite {self.id!r}: velocities must have shape {pos0.shape}, "
                    f"got {vel.shape}"
                )
        out: list[LineOfSight] = []
        if n == 0 or not burning.any():
            return out
        sigma = self.sigma_los_urad * 1e-6
        for t_k in self.report_times(t_s, dt_s):
            t_rep = float(t_k)
            pos = pos0 if vel is None else pos0 + vel * (t_rep - t_s)
            candidates = burning & self.visible(t_rep, pos)
            draws = rng.random(n)
            sat = self.position_ecef(t_rep)
            for i in np.flatnonzero(candidates & (draws < self.detection_probability)):
                los = pos[i] - sat
                los = los / np.linalg.norm(los)
                out.append(
                    LineOfSight(
                        sensor_id=self.id,
                        nation=self.nation,
                        t_s=t_rep,
                        sensor_ecef_m=sat,
                        los_ecef=_perturb(los, sigma, rng),
                        sigma_rad=sigma,
                        truth_id=truth_ids[i],
                    )
                )
        return out


def _as_positions(positions: ArrayLike, sensor_id: str) -> Array:
    pos = np.atleast_2d(np.asarray(positions, dtype=np.float64))
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise ValueError(
            f"infrared satellite {sensor_id!r}: positions must have shape (N, 3), "
            f"got {np.shape(positions)}"
        )
    return pos


def _perturb(unit: Array, sigma_rad: float, rng: np.random.Generator) -> Array:
    """Turn a unit vector by independent normal angles of ``sigma_rad`` about two axes
    orthogonal to it (exactly: by the angle ``|(a, b)|`` towards ``a e1 + b e2``)."""
    helper = np.zeros(3)
    helper[int(np.argmin(np.abs(unit)))] = 1.0
    e1 = np.cross(unit, helper)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(unit, e1)
    a, b = rng.normal(0.0, sigma_rad, 2)
    rho = math.hypot(a, b)
    if rho == 0.0:
        return unit.copy()
    w = (a * e1 + b * e2) / rho
    out = math.cos(rho) * unit + math.sin(rho) * w
    return np.asarray(out / np.linalg.norm(out), dtype=np.float64)


def default_constellation() -> tuple[InfraredSatellite, ...]:
    """A NOTIONAL US constellation over the Korean peninsula: two GEO satellites (90°E and
    135°E) and one Molniya-like HEO whose apogee is over the northern Pacific (about 63°N,
    170°E) at its epoch, 2026-01-01T00:00:00Z.

    The HEO's apogee is at argument of latitude 90°, so its longitude at the epoch is
    ``raan + 90°``; with a 12-hour orbit the next apogee falls half a world away.
    """
    return (
        InfraredSatellite(
            id="USA-IR-GEO-90E",
            nation="USA",
            name="notional GEO 90E",
            source=_NOTIONAL_SOURCE,
            orbit="geo",
            lon_deg=90.0,
        ),
        InfraredSatellite(
            id="USA-IR-GEO-135E",
            nation="USA",
            name="notional GEO 135E",
            source=_NOTIONAL_SOURCE,
            orbit="geo",
            lon_deg=135.0,
        ),
        InfraredSatellite(
            id="USA-IR-HEO-1",
            nation="USA",
            name="notional HEO (Molniya-like)",
            source=_NOTIONAL_SOURCE,
            orbit="heo",
            semi_major_axis_km=26_554.0,
            eccentricity=0.72,
            inclination_deg=63.4,
            raan_deg=80.0,
            arg_perigee_deg=270.0,
            mean_anomaly_deg=180.0,
            epoch_s=1_767_225_600.0,
        ),
    )
