"""The trajectory engine: staged, powered boost and free flight on a rotating WGS-84 Earth.

Equations of motion (compiled in :mod:`trilink.world.engine`) are integrated in the
Earth-fixed frame, so the Coriolis and centrifugal terms appear beside gravity (point
mass + J2), thrust and drag in the US 1976 atmosphere. Boost: each stage burns at
constant mass flow and is dropped at the next ignition; the missile rises vertically,
then a linear pitch programme tilts the thrust toward its bearing until the thrust's
elevation above the local horizon reaches a final pitch angle, held until engine cut-off.
The two steering controls (final pitch and cut-off time in the last stage) are solved so
that the flight reproduces a published apogee and range, or a shape (minimum energy,
depressed). After cut-off the re-entry vehicle separates from the last stage, and every
spent stage flies on as its own body with its own ballistic coefficient.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

from trilink.errors import SolveError
from trilink.geo.atmosphere import DENSITY_TABLE
from trilink.geo.earth import (
    altitude_m,
    ecef_to_geodetic,
    enu_rotation,
    geodetic_to_ecef,
    surface_distance_m,
)
from trilink.world import engine
from trilink.world.catalog import MissileClass

__all__ = [
    "Body",
    "LaunchSpec",
    "Shape",
    "Steering",
    "Trajectory",
    "fly",
    "solve_launch",
    "solve_shape",
]

Array = NDArray[np.float64]
MAX_FLIGHT_S: Final = 3.0 * 3600.0
SEPARATION_MPS: Final = 2.0  # re-entry vehicle / last stage separation speed
SOLVE_TOL: Final = 1e-7  # relative apogee/range miss at which a solve has converged
MIN_ENERGY_APOGEE_RATIO: Final = 0.25  # apogee ≈ range / 4 on a minimum-energy trajectory
DEPRESSED_FACTOR: Final = 0.5  # a depressed shot flies at half the minimum-energy apogee


class Shape(StrEnum):
    """How a launch is shaped when no published apogee is given."""

    MINIMUM_ENERGY = "minimum-energy"
    DEPRESSED = "depressed"


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
class Body:
    """One object in flight: dense ECEF states from its start to its impact."""

    name: str = field(metadata={"doc": "rv, stage-1, stage-2, ... or missile (no separation)"})
    t_s: Array = field(metadata={"doc": "sample times, seconds after launch"})
    y: Array = field(metadata={"doc": "ECEF [r, v] at the samples, (N, 6)"})
    impact_s: float
    impact_lat_deg: float
    impact_lon_deg: float
    ballistic_coefficient_kg_m2: float

    @property
    def start_s(self) -> float:
        return float(self.t_s[0])

    def states(self, t_rel_s: Array | float) -> Array:
        """States (N, 6) at times after launch, by cubic Hermite interpolation between
        samples (positions and velocities are both known there); clipped to the flight."""
        t = np.clip(np.atleast_1d(np.asarray(t_rel_s, dtype=np.float64)), self.t_s[0], self.t_s[-1])
        i = np.clip(np.searchsorted(self.t_s, t, side="right") - 1, 0, self.t_s.size - 2)
        t0, t1 = self.t_s[i], self.t_s[i + 1]
        h = np.maximum(t1 - t0, 1e-12)
        s = ((t - t0) / h)[:, None]
        p0, v0 = self.y[i, :3], self.y[i, 3:]
        p1, v1 = self.y[i + 1, :3], self.y[i + 1, 3:]
        hh = h[:, None]
        h00, h10, h01, h11 = (
            2 * s**3 - 3 * s**2 + 1,
            s**3 - 2 * s**2 + s,
            -2 * s**3 + 3 * s**2,
            s**3 - s**2,
        )
        pos = h00 * p0 + h10 * hh * v0 + h01 * p1 + h11 * hh * v1
        d00, d10, d01, d11 = (
            6 * s**2 - 6 * s,
            3 * s**2 - 4 * s + 1,
            -6 * s**2 + 6 * s,
            3 * s**2 - 2 * s,
        )
        vel = (d00 * p0 + d01 * p1) / hh + d10 * v0 + d11 * v1
        return np.concatenate([pos, vel], axis=1)


@dataclass(frozen=True)
class Trajectory:
    """A flown launch: the missile (re-entry vehicle) and every body it shed."""

    spec: LaunchSpec
    steering: Steering
    rv: Body
    bodies: tuple[Body, ...]
    burnout_s: float
    apogee_m: float
    range_m: float
    fit_error: float = 0.0  # largest relative apogee/range miss of a solved launch

    @property
    def t_launch_s(self) -> float:
        return self.spec.t_launch_s

    @property
    def impact_s(self) -> float:
        return self.rv.impact_s

    @property
    def flight_time_s(self) -> float:
        return self.rv.impact_s

    @property
    def impact_lat_deg(self) -> float:
        return self.rv.impact_lat_deg

    @property
    def impact_lon_deg(self) -> float:
        return self.rv.impact_lon_deg

    def states(self, t_rel_s: Array | float) -> Array:
        """ECEF states [r, v] (N, 6) of the missile (the re-entry vehicle) after launch."""
        return self.rv.states(t_rel_s)

    def active(self, t_rel_s: float) -> tuple[list[str], Array]:
        """Names and ECEF states (N, 6) of the bodies in flight ``t_rel_s`` after launch."""
        live = [b for b in self.bodies if b.start_s <= t_rel_s <= b.impact_s]
        if not live:
            return [], np.zeros((0, 6))
        return [b.name for b in live], np.vstack([b.states(t_rel_s) for b in live])

    def thrusting(self, t_rel_s: Array | float) -> NDArray[np.bool_]:
        t = np.atleast_1d(np.asarray(t_rel_s, dtype=np.float64))
        return (t >= 0.0) & (t < self.burnout_s)


def _stage_table(m: MissileClass) -> tuple[Array, Array, float]:
    """Stage table for the engine, the event times of the boost, and the lift-off mass."""
    rows, t = [], 0.0
    for s in m.stages:
        rows.append([t, t + s.burn_time_s, s.mass_flow_kg_s, s.exhaust_velocity_mps, s.dry_kg])
        t += s.burn_time_s
    table = np.array(rows, dtype=np.float64)
    events = np.array(sorted({m.vertical_rise_s, *table[:, 0].tolist()[1:], t}), np.float64)
    return table, events, m.liftoff_mass_kg


def _cutoff_bounds(m: MissileClass) -> tuple[float, float]:
    last_ignition = sum(s.burn_time_s for s in m.stages[:-1])
    return max(m.vertical_rise_s, last_ignition) + 2.0, m.burn_time_s


def _geodetic_impact(y: Array) -> tuple[float, float]:
    lat, lon, _ = ecef_to_geodetic(y[:3])
    return float(lat), float(lon)


def _body(name: str, t: Array, y: Array, beta: float) -> Body:
    lat, lon = _geodetic_impact(y[-1])
    return Body(name, t, y, float(t[-1]), lat, lon, beta)


def _coast(
    y0: Array,
    t0: float,
    beta: float,
    prefix_t: Array,
    prefix_y: Array,
    name: str,
    missile: str,
    lift_to_drag: float = 0.0,
) -> Body:
    out_t = np.empty(engine.MAX_SAMPLES)
    out_y = np.empty((engine.MAX_SAMPLES, 6))
    n0 = prefix_t.size
    out_t[:n0], out_y[:n0] = prefix_t, prefix_y
    n = engine.coast_to_ground(
        y0, t0, MAX_FLIGHT_S, beta, DENSITY_TABLE, out_t, out_y, n0, lift_to_drag
    )
    if n < 0:
        raise SolveError(missile, math.nan, math.nan, f"the {name} does not fall within 3 hours")
    return _body(name, out_t[:n].copy(), out_y[:n].copy(), beta)


def fly(spec: LaunchSpec, steering: Steering, *, shed: bool = True) -> Trajectory:
    """Integrate one launch from lift-off to the impact of every body.

    With ``shed=False`` only the missile is flown (what the solver needs).
    """
    m = spec.missile
    lo, hi = _cutoff_bounds(m)
    if not lo - 1e-9 <= steering.cutoff_s <= hi + 1e-9:
        raise ValueError(
            f"cutoff_s={steering.cutoff_s} must lie in the last stage's burn, [{lo}, {hi}] s"
        )
    table, events, mass0 = _stage_table(m)
    events = np.append(events[events < steering.cutoff_s], steering.cutoff_s)
    lat, lon = math.radians(spec.lat_deg), math.radians(spec.lon_deg)
    b = math.radians(spec.bearing_deg)
    heading = enu_rotation(lat, lon).T @ np.array([math.sin(b), math.cos(b), 0.0])
    t_pitch = m.vertical_rise_s + m.pitch_end_fraction * (steering.cutoff_s - m.vertical_rise_s)
    steer = np.array([m.vertical_rise_s, t_pitch, math.radians(steering.pitch_deg), 0.0, *heading])
    y0 = np.concatenate([geodetic_to_ecef(spec.lat_deg, spec.lon_deg, spec.alt_m), np.zeros(3)])
    boost_t = np.empty(engine.MAX_SAMPLES)
    boost_y = np.empty((engine.MAX_SAMPLES, 6))
    beta_stack = m.boost_ballistic_coefficient_kg_m2
    n = engine.fly_powered(
        y0,
        events,
        table,
        mass0,
        steering.cutoff_s,
        steer,
        beta_stack,
        DENSITY_TABLE,
        boost_t,
        boost_y,
    )
    bt, by = boost_t[:n], boost_y[:n]
    if float(np.min(altitude_m(by[1:, :3]))) < 0.0:
        raise SolveError(m.key, math.nan, math.nan, "the missile hits the ground in boost")
    name = "rv" if m.separates else "missile"
    rv = _coast(
        by[-1],
        float(bt[-1]),
        m.rv_ballistic_coefficient_kg_m2,
        bt[:-1],
        by[:-1],
        name,
        m.key,
        m.lift_to_drag,
    )
    bodies = [rv]
    if shed:
        beta_s = m.stage_ballistic_coefficient_kg_m2
        for k, ignite in enumerate(table[1:, 0], start=1):  # stage k drops at ignition k+1
            if ignite < steering.cutoff_s:
                j = int(np.searchsorted(bt, ignite))
                bodies.append(
                    _coast(by[j], float(bt[j]), beta_s, bt[:0], by[:0], f"stage-{k}", m.key)
                )
        if m.separates:
            # The separation springs push the spent last stage back by SEPARATION_MPS.
            y_sep = by[-1].copy()
            y_sep[3:] -= SEPARATION_MPS * y_sep[3:] / float(np.linalg.norm(y_sep[3:]))
            bodies.append(
                _coast(
                    y_sep, float(bt[-1]), beta_s, bt[:0], by[:0], f"stage-{len(m.stages)}", m.key
                )
            )
    apogee = _apogee(rv)
    return Trajectory(
        spec=spec,
        steering=steering,
        rv=rv,
        bodies=tuple(bodies),
        burnout_s=steering.cutoff_s,
        apogee_m=apogee,
        range_m=surface_distance_m(
            spec.lat_deg, spec.lon_deg, rv.impact_lat_deg, rv.impact_lon_deg
        ),
    )


def _apogee(body: Body) -> float:
    alt = altitude_m(body.y[:, :3])
    i = int(np.argmax(alt))
    if 0 < i < alt.size - 1:
        fine = np.linspace(body.t_s[i - 1], body.t_s[i + 1], 41)
        return float(np.max(altitude_m(body.states(fine)[:, :3])))
    return float(alt[i])


def solve_launch(
    spec: LaunchSpec, *, apogee_km: float, range_km: float, strict: bool = True
) -> Trajectory:
    """Find the steering that reproduces a published apogee and range, and fly it.

    Raises :class:`SolveError` if the class cannot reach the pair within 2 % (with
    ``strict=False``, flies the closest steering found instead; ``fit_error`` says how far).
    """
    m = spec.missile
    lo, hi = _cutoff_bounds(m)

    def residual(p: Array) -> Array:
        try:
            traj = fly(spec, Steering(float(p[0]), float(p[1])), shed=False)
        except SolveError:
            return np.array([1.0, 1.0])
        return np.array(
            [traj.apogee_m / (apogee_km * 1e3) - 1.0, traj.range_m / (range_km * 1e3) - 1.0]
        )

    lower, upper = np.array([-10.0, lo]), np.array([89.9, hi])
    best_x, best_f = np.array([0.0, hi]), np.array([np.inf, np.inf])
    for attempt, pitch0 in enumerate(_pitch_guesses(apogee_km, range_km)):
        x0 = np.array([pitch0, hi])
        x, f = _broyden(residual, x0, lower, upper)
        if np.max(np.abs(f)) > SOLVE_TOL:  # not converged: the robust, slower solver
            res = least_squares(
                residual,
                x0=x,
                bounds=(lower, upper),
                x_scale=np.array([10.0, 0.1 * (hi - lo) + 1.0]),
                xtol=1e-8,
                ftol=1e-10,
                diff_step=1e-5,
                max_nfev=30 if attempt == 0 else 15,
            )
            x, f = res.x, res.fun
        if np.max(np.abs(f)) < np.max(np.abs(best_f)):
            best_x, best_f = x, f
        if np.max(np.abs(best_f)) <= SOLVE_TOL:
            break
        if x[1] >= hi - 1e-6 and np.all(f < 0.0):
            break  # short on energy at full burn: another start will not reach it
    fit_error = float(np.max(np.abs(best_f)))
    if strict and fit_error > 0.02:
        raise SolveError(
            m.key, apogee_km, range_km, f"best steering is {100 * fit_error:.1f} % off"
        )
    traj = fly(spec, Steering(pitch_deg=float(best_x[0]), cutoff_s=float(best_x[1])))
    return dataclasses.replace(traj, fit_error=fit_error)


def _broyden(
    residual: Callable[[Array], Array], x0: Array, lower: Array, upper: Array
) -> tuple[Array, Array]:
    """Newton's method with Broyden updates of a finite-difference Jacobian, kept inside
    the bounds: about a dozen flights where a converging case needs them."""
    scale = np.array([1e-3, 1e-3 * max(1.0, float(upper[1] - lower[1]))])
    x = np.clip(x0, lower, upper)
    f = residual(x)
    jac = np.empty((2, 2))
    for j in range(2):
        step = np.zeros(2)
        step[j] = scale[j] if x[j] + scale[j] <= upper[j] else -scale[j]
        jac[:, j] = (residual(x + step) - f) / step[j]
    for _ in range(20):
        if np.max(np.abs(f)) <= SOLVE_TOL:
            break
        try:
            dx = np.linalg.solve(jac, -f)
        except np.linalg.LinAlgError:
            break
        lam = 1.0
        for _ in range(5):
            x_new = np.clip(x + lam * dx, lower, upper)
            f_new = residual(x_new)
            if np.linalg.norm(f_new) < np.linalg.norm(f):
                break
            lam *= 0.5
        else:
            break
        step = x_new - x
        if not np.any(step):
            break
        jac += np.outer(f_new - f - jac @ step, step) / float(step @ step)
        x, f = x_new, f_new
    return x, f


def solve_shape(
    spec: LaunchSpec, *, shape: Shape, range_km: float, strict: bool = True
) -> Trajectory:
    """Fly a minimum-energy or depressed trajectory to ``range_km``."""
    apogee = MIN_ENERGY_APOGEE_RATIO * range_km
    if shape is Shape.DEPRESSED:
        apogee *= DEPRESSED_FACTOR
    return solve_launch(spec, apogee_km=apogee, range_km=range_km, strict=strict)


def _pitch_guesses(apogee_km: float, range_km: float) -> list[float]:
    """Starting final-pitch angles: lofted shots (apogee above range/2) pitch over less."""
    ratio = apogee_km / max(range_km, 1.0)
    if ratio > 2.0:
        return [80.0, 86.0]
    if ratio > 0.5:
        return [60.0, 45.0]
    return [30.0, 10.0]
