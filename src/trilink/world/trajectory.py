"""The trajectory engine: powered boost and free flight on a rotating WGS-84 Earth.

Equations of motion are integrated in the Earth-fixed frame, so the Coriolis and
centrifugal terms appear explicitly beside gravity (point mass + J2), thrust and drag::

    r'' = g_J2(r) - 2 ω × r' - ω × (ω × r) + a_thrust(t) û(t) - ρ(h) |r'| r' / (2 β)

Boost: one equivalent stage with constant mass flow, so the thrust acceleration is
``a(t) = c k / (1 - k t)`` with ``k = (1 - 1/MR) / T_burn``; the missile rises vertically,
then a linear pitch programme tilts the thrust toward its bearing until the thrust's
elevation above the local horizon reaches a final pitch angle, held until engine cut-off.
The two steering controls (final pitch and cut-off time) are solved so that the flight
reproduces a published apogee and range.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from scipy.integrate import solve_ivp
from scipy.optimize import least_squares

from trilink.errors import SolveError
from trilink.geo.atmosphere import density_kg_m3
from trilink.geo.earth import (
    altitude_m,
    ecef_acceleration,
    ecef_to_geodetic,
    enu_rotation,
    geodetic_to_ecef,
    surface_distance_m,
)
from trilink.world.catalog import MissileClass

__all__ = ["LaunchSpec", "Steering", "Trajectory", "fly", "solve_launch"]

Array = NDArray[np.float64]

PITCH_END_FRACTION: Final = 0.8
RTOL: Final = 1e-10
ATOL_M: Final = 1e-4
MAX_FLIGHT_S: Final = 3.0 * 3600.0


@dataclass(frozen=True, slots=True)
class LaunchSpec:
    """Where, when and what is launched."""

    lat_deg: float
    lon_deg: float
    bearing_deg: float = field(metadata={"doc": "initial heading, clockwise from north"})
    t_launch_s: float = field(metadata={"doc": "launch time, POSIX seconds UTC"})
    missile: MissileClass
    alt_m: float = 0.0


@dataclass(frozen=True, slots=True)
class Steering:
    """The two controls of the boost."""

    pitch_deg: float = field(metadata={"doc": "final thrust elevation above the horizon"})
    cutoff_s: float = field(metadata={"doc": "engine cut-off, seconds after launch"})


@dataclass(frozen=True)
class Trajectory:
    """A flown trajectory: dense ECEF states from launch to impact."""

    spec: LaunchSpec
    steering: Steering
    segments: tuple[tuple[float, float, Any], ...]  # (t0, t1, OdeSolution), relative times
    burnout_s: float
    impact_s: float
    apogee_m: float
    impact_lat_deg: float
    impact_lon_deg: float
    range_m: float
    fit_error: float = 0.0  # largest relative apogee/range miss of a solved launch

    @property
    def t_launch_s(self) -> float:
        return self.spec.t_launch_s

    def states(self, t_rel_s: Array | float) -> Array:
        """ECEF states [r, v] (N, 6) at times relative to launch, clipped to the flight."""
        t = np.atleast_1d(np.asarray(t_rel_s, dtype=np.float64))
        t = np.clip(t, 0.0, self.impact_s)
        out = np.empty((t.size, 6))
        for t0, t1, sol in self.segments:
            mask = (t >= t0) & (t <= t1)
            if np.any(mask):
                out[mask] = sol(t[mask]).T
        return out

    def thrusting(self, t_rel_s: Array | float) -> NDArray[np.bool_]:
        t = np.atleast_1d(np.asarray(t_rel_s, dtype=np.float64))
        return (t >= 0.0) & (t < self.burnout_s)

    @property
    def flight_time_s(self) -> float:
        return self.impact_s


def _thrust_accel(m: MissileClass, t: float) -> float:
    k = (1.0 - 1.0 / m.mass_ratio) / m.burn_time_s
    return m.exhaust_velocity_mps * k / (1.0 - k * t)


def _drag(r: Array, v: Array, beta: float) -> Array:
    rho = float(density_kg_m3(float(altitude_m(r))))
    if rho == 0.0:
        return np.zeros(3)
    return -0.5 * rho * float(np.linalg.norm(v)) * v / beta


def _rhs(
    spec: LaunchSpec, direction: Callable[[float, Array, Array], Array] | None
) -> Callable[[float, Array], Array]:
    beta = spec.missile.ballistic_coefficient_kg_m2

    def f(t: float, y: Array) -> Array:
        r, v = y[:3], y[3:]
        a = ecef_acceleration(r, v) + _drag(r, v, beta)
        if direction is not None:
            a = a + _thrust_accel(spec.missile, t) * direction(t, r, v)
        return np.concatenate([v, a])

    return f


def _ground_event(t: float, y: Array) -> float:
    return float(altitude_m(y[:3]))


_ground_event.terminal = True  # type: ignore[attr-defined]
_ground_event.direction = -1  # type: ignore[attr-defined]


def fly(spec: LaunchSpec, steering: Steering) -> Trajectory:
    """Integrate one launch from lift-off to impact."""
    m = spec.missile
    t_rise = m.vertical_rise_s
    t_pitch = t_rise + PITCH_END_FRACTION * (steering.cutoff_s - t_rise)
    if not t_rise < steering.cutoff_s <= m.burn_time_s + 1e-9:
        raise ValueError(
            f"cutoff_s={steering.cutoff_s} must lie after the vertical rise ({t_rise} s) "
            f"and within the burn ({m.burn_time_s} s)"
        )
    lat, lon = math.radians(spec.lat_deg), math.radians(spec.lon_deg)
    b = math.radians(spec.bearing_deg)
    heading0 = enu_rotation(lat, lon).T @ np.array([math.sin(b), math.cos(b), 0.0])
    final = math.radians(steering.pitch_deg)

    def programme(t: float, r: Array, v: Array) -> Array:
        up = r / float(np.linalg.norm(r))
        if t <= t_rise:
            return up
        h = heading0 - float(heading0 @ up) * up
        h /= float(np.linalg.norm(h))
        frac = min(1.0, (t - t_rise) / (t_pitch - t_rise))
        el = 0.5 * math.pi - (0.5 * math.pi - final) * frac
        return np.asarray(math.sin(el) * up + math.cos(el) * h, dtype=np.float64)

    y = np.concatenate([geodetic_to_ecef(spec.lat_deg, spec.lon_deg, spec.alt_m), np.zeros(3)])
    segments: list[tuple[float, float, Any]] = []
    impact_s = math.nan
    phases = (
        (0.0, t_rise, programme),
        (t_rise, steering.cutoff_s, programme),
        (steering.cutoff_s, MAX_FLIGHT_S, None),
    )
    for t0, t1, direction in phases:
        sol = solve_ivp(
            _rhs(spec, direction),
            (t0, t1),
            y,
            method="DOP853",
            rtol=RTOL,
            atol=ATOL_M,
            dense_output=True,
            events=_ground_event,
        )
        if not sol.success:
            raise SolveError(
                m.key, math.nan, math.nan, f"integration failed in [{t0}, {t1}]: {sol.message}"
            )
        segments.append((t0, float(sol.t[-1]), sol.sol))
        y = sol.y[:, -1]
        hit = sol.t_events is not None and len(sol.t_events[0]) > 0
        if hit and direction is not None and t0 > 0.0:
            raise SolveError(m.key, math.nan, math.nan, "the missile hits the ground in boost")
        if direction is None:
            if not hit:
                raise SolveError(m.key, math.nan, math.nan, "no impact within 3 hours")
            impact_s = float(sol.t_events[0][0])
            y = sol.y_events[0][0]
    lat_i, lon_i, _ = ecef_to_geodetic(y[:3])
    traj = Trajectory(
        spec=spec,
        steering=steering,
        segments=tuple(segments),
        burnout_s=steering.cutoff_s,
        impact_s=impact_s,
        apogee_m=0.0,
        impact_lat_deg=float(lat_i),
        impact_lon_deg=float(lon_i),
        range_m=surface_distance_m(spec.lat_deg, spec.lon_deg, float(lat_i), float(lon_i)),
    )
    return _with_apogee(traj)


def _with_apogee(traj: Trajectory) -> Trajectory:
    t = np.linspace(0.0, traj.impact_s, max(200, int(traj.impact_s)))
    alt = altitude_m(traj.states(t)[:, :3])
    i = int(np.argmax(alt))
    lo, hi = t[max(i - 1, 0)], t[min(i + 1, t.size - 1)]
    fine = np.linspace(lo, hi, 201)
    apogee = float(np.max(altitude_m(traj.states(fine)[:, :3])))
    return dataclasses.replace(traj, apogee_m=apogee)


def solve_launch(
    spec: LaunchSpec, *, apogee_km: float, range_km: float, strict: bool = True
) -> Trajectory:
    """Find the steering that reproduces a published apogee and range, and fly it.

    Raises :class:`SolveError` if the class cannot reach the pair within 2 % (with
    ``strict=False``, flies the closest steering found instead; ``fit_error`` says how far).
    """
    m = spec.missile
    t_min = m.vertical_rise_s + 5.0

    def residual(p: Array) -> Array:
        traj = fly(spec, Steering(pitch_deg=float(p[0]), cutoff_s=float(p[1])))
        return np.array(
            [traj.apogee_m / (apogee_km * 1e3) - 1.0, traj.range_m / (range_km * 1e3) - 1.0]
        )

    best: Any = None
    for pitch0 in _pitch_guesses(apogee_km, range_km):
        try:
            res = least_squares(
                residual,
                x0=np.array([pitch0, 0.9 * m.burn_time_s]),
                bounds=([1.0, t_min], [89.9, m.burn_time_s]),
                x_scale=np.array([10.0, 0.1 * m.burn_time_s]),
                xtol=1e-10,
                ftol=1e-10,
                diff_step=1e-4,
            )
        except SolveError:
            continue
        if best is None or res.cost < best.cost:
            best = res
        if best.cost < 1e-10:
            break
    if best is None:
        raise SolveError(m.key, apogee_km, range_km, "no steering flies to the ground")
    fit_error = float(np.max(np.abs(best.fun)))
    if strict and fit_error > 0.02:
        raise SolveError(
            m.key, apogee_km, range_km, f"best steering is {100 * fit_error:.1f} % off"
        )
    traj = fly(spec, Steering(pitch_deg=float(best.x[0]), cutoff_s=float(best.x[1])))
    return dataclasses.replace(traj, fit_error=fit_error)


def _pitch_guesses(apogee_km: float, range_km: float) -> list[float]:
    """Starting final-pitch angles: lofted shots (apogee above range/2) pitch over less."""
    ratio = apogee_km / max(range_km, 1.0)
    if ratio > 2.0:
        return [80.0, 85.0, 70.0]
    if ratio > 0.5:
        return [60.0, 70.0, 50.0]
    return [40.0, 30.0, 50.0]
