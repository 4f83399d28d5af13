"""Compiled equations of motion for the trajectory engine (numba).

One fixed-step RK4 integrator of a point mass in the Earth-fixed (ECEF) frame::

    r'' = g_J2(r) - 2 ω × r' - ω × (ω × r) + (T(t) / m(t)) û(t) - ρ(h) |r'| r' / (2 β(t))

Thrust, mass and steering come from a stage table and a pitch programme; the air density
from :data:`trilink.geo.atmosphere.DENSITY_TABLE`. Segments are integrated between event
times (lift-off, end of the vertical rise, stage ignitions, cut-off) so that no step
straddles a discontinuity. Free flight steps 2 s in vacuum; below 120 km, where
drag acts, the step shrinks to 1 % of the drag time scale v / a_drag (never below 0.02 s);
the ground crossing is refined by bisection inside the last step.

The scalar kernels mirror :mod:`trilink.geo.earth` (tests keep them equal).
"""

from __future__ import annotations

import math
from typing import Final

import numba
import numpy as np
from numpy.typing import NDArray

from trilink.geo.compiled import air_density, altitude
from trilink.geo.earth import EARTH_RATE_RAD_S, GM_M3_S2, J2, WGS84_A_M

__all__ = ["MAX_SAMPLES", "coast_to_ground", "fly_powered"]

Array = NDArray[np.float64]
MAX_SAMPLES: Final = 40_000
_DT_BOOST: Final = 0.5
_DT_VACUUM: Final = 2.0
_DT_AIR: Final = 0.02
_DRAG_STEP_SHARE: Final = 0.01
_AIR_TOP_M: Final = 120_000.0

# Stage table columns.
IGNITE, BURNOUT, MDOT, VE, DRY = 0, 1, 2, 3, 4


@numba.njit(cache=True)
def _deriv(
    y: Array,
    t: float,
    out: Array,
    thrust_acc: float,
    ux: float,
    uy: float,
    uz: float,
    beta: float,
    table: Array,
    lift_to_drag: float,
) -> None:
    x, yy, z, vx, vy, vz = y[0], y[1], y[2], y[3], y[4], y[5]
    r2 = x * x + yy * yy + z * z
    rn = math.sqrt(r2)
    k = -GM_M3_S2 / (r2 * rn)
    c = 1.5 * J2 * WGS84_A_M * WGS84_A_M / r2
    z2r2 = 5.0 * z * z / r2
    w = EARTH_RATE_RAD_S
    ax = k * x * (1.0 + c * (1.0 - z2r2)) + 2.0 * w * vy + w * w * x
    ay = k * yy * (1.0 + c * (1.0 - z2r2)) - 2.0 * w * vx + w * w * yy
    az = k * z * (1.0 + c * (3.0 - z2r2))
    alt = altitude(x, yy, z)
    if alt < _AIR_TOP_M and beta > 0.0:
        rho = air_density(alt, table)
        v = math.sqrt(vx * vx + vy * vy + vz * vz)
        d = -0.5 * rho * v / beta
        ax += d * vx
        ay += d * vy
        az += d * vz
        vr = (x * vx + yy * vy + z * vz) / rn
        if lift_to_drag > 0.0 and vr < 0.0 and v > 0.0:
            # Lift L/D times the drag, perpendicular to the velocity, toward local up: the
            # pull-up of manoeuvring SRBMs and the glide of glide vehicles (descent only).
            upx, upy, upz = x / rn, yy / rn, z / rn
            vux, vuy, vuz = vx / v, vy / v, vz / v
            dot = upx * vux + upy * vuy + upz * vuz
            lx, ly, lz = upx - dot * vux, upy - dot * vuy, upz - dot * vuz
            ln = math.sqrt(lx * lx + ly * ly + lz * lz)
            if ln > 0.0:
                mag = lift_to_drag * 0.5 * rho * v * v / beta / ln
                ax += mag * lx
                ay += mag * ly
                az += mag * lz
    out[0], out[1], out[2] = vx, vy, vz
    out[3] = ax + thrust_acc * ux
    out[4] = ay + thrust_acc * uy
    out[5] = az + thrust_acc * uz


@numba.njit(cache=True)
def _steer(t: float, y: Array, steer: Array) -> tuple[float, float, float]:
    """Unit thrust direction: vertical until steer[0], then a linear pitch programme from
    90° to steer[2] (rad) at steer[1], along the heading steer[4:7] (ECEF)."""
    x, yy, z = y[0], y[1], y[2]
    rn = math.sqrt(x * x + yy * yy + z * z)
    upx, upy, upz = x / rn, yy / rn, z / rn
    if t <= steer[0]:
        return upx, upy, upz
    hx, hy, hz = steer[4], steer[5], steer[6]
    dot = hx * upx + hy * upy + hz * upz
    hx, hy, hz = hx - dot * upx, hy - dot * upy, hz - dot * upz
    hn = math.sqrt(hx * hx + hy * hy + hz * hz)
    frac = min(1.0, (t - steer[0]) / max(steer[1] - steer[0], 1e-9))
    el = 0.5 * math.pi - (0.5 * math.pi - steer[2]) * frac
    se, ce = math.sin(el), math.cos(el)
    return se * upx + ce * hx / hn, se * upy + ce * hy / hn, se * upz + ce * hz / hn


@numba.njit(cache=True)
def _rk4(
    y: Array,
    t: float,
    h: float,
    acc: float,
    steer: Array,
    powered: bool,
    beta: float,
    table: Array,
    k: Array,
    tmp: Array,
    lift_to_drag: float,
) -> None:
    """One RK4 step in place; thrust magnitude ``acc`` is held over the step."""
    ux = uy = uz = 0.0
    for stage in range(4):
        ts = t if stage == 0 else (t + 0.5 * h if stage < 3 else t + h)
        src = y
        if stage > 0:
            f = 0.5 * h if stage < 3 else h
            for i in range(6):
                tmp[i] = y[i] + f * k[stage - 1, i]
            src = tmp
        if powered:
            ux, uy, uz = _steer(ts, src, steer)
        _deriv(src, ts, k[stage], acc, ux, uy, uz, beta, table, lift_to_drag)
    for i in range(6):
        y[i] += h / 6.0 * (k[0, i] + 2.0 * k[1, i] + 2.0 * k[2, i] + k[3, i])


@numba.njit(cache=True)
def _thrust(t: float, stages: Array, mass0: float, cutoff: float) -> tuple[float, float]:
    """Thrust acceleration (m/s²) and mass (kg) at ``t``."""
    m = mass0
    acc = 0.0
    for s in range(stages.shape[0]):
        t0, t1, mdot, ve, dry = (
            stages[s, IGNITE],
            stages[s, BURNOUT],
            stages[s, MDOT],
            stages[s, VE],
            stages[s, DRY],
        )
        burn_end = min(t1, cutoff)
        if t >= t1 and s < stages.shape[0] - 1:
            m -= mdot * (t1 - t0) + dry  # burnt and dropped
        elif t >= t0:
            m -= mdot * (min(t, burn_end) - t0)
            if t < burn_end:
                acc = mdot * ve
    return acc / m, m


@numba.njit(cache=True)
def fly_powered(
    y0: Array,
    events: Array,
    stages: Array,
    mass0: float,
    cutoff: float,
    steer: Array,
    beta: float,
    table: Array,
    out_t: Array,
    out_y: Array,
) -> int:
    """Integrate the boost from lift-off to ``cutoff``; samples go to ``out_t``/``out_y``.

    ``events`` are sorted times (s) where a step must end (rise end, ignitions, cutoff).
    Returns the number of samples written.
    """
    y = y0.copy()
    k = np.empty((4, 6))
    tmp = np.empty(6)
    n = 0
    out_t[n] = 0.0
    out_y[n] = y
    n += 1
    t = 0.0
    for e in range(events.shape[0]):
        t_end = min(events[e], cutoff)
        if t_end <= t:
            continue
        steps = max(1, int(math.ceil((t_end - t) / _DT_BOOST)))
        h = (t_end - t) / steps
        for _ in range(steps):
            acc, _m = _thrust(t + 0.5 * h, stages, mass0, cutoff)
            _rk4(y, t, h, acc, steer, True, beta, table, k, tmp, 0.0)
            t += h
            out_t[n] = t
            out_y[n] = y
            n += 1
        if t_end >= cutoff:
            break
    return n


@numba.njit(cache=True)
def coast_to_ground(
    y0: Array,
    t0: float,
    t_max: float,
    beta: float,
    table: Array,
    out_t: Array,
    out_y: Array,
    n0: int,
    lift_to_drag: float,
    dt_vacuum: float = _DT_VACUUM,
) -> int:
    """Free flight (gravity, drag, lift when ``lift_to_drag > 0``) from ``(t0, y0)`` until
    altitude 0 or ``t_max``.

    Samples are appended from index ``n0``; the last sample is the ground crossing (when
    reached). Returns the new number of samples; negative if ``t_max`` came first.
    """
    y = y0.copy()
    k = np.empty((4, 6))
    tmp = np.empty(6)
    prev = np.empty(6)
    steer = np.zeros(7)
    n = n0
    t = t0
    while t < t_max and n < out_t.shape[0] - 1:
        alt = altitude(y[0], y[1], y[2])
        h = dt_vacuum
        if alt < _AIR_TOP_M and beta > 0.0:
            # Step a small share of the drag time scale v / a_drag (at most dt_vacuum).
            v = math.sqrt(y[3] * y[3] + y[4] * y[4] + y[5] * y[5])
            a_drag = 0.5 * air_density(alt, table) * v * v / beta * (1.0 + lift_to_drag)
            h = min(dt_vacuum, max(_DT_AIR, _DRAG_STEP_SHARE * v / max(a_drag, 1e-9)))
        if alt >= _AIR_TOP_M:
            # do not overshoot far into the air with a vacuum step
            vr = (y[0] * y[3] + y[1] * y[4] + y[2] * y[5]) / math.sqrt(
                y[0] * y[0] + y[1] * y[1] + y[2] * y[2]
            )
            if vr < 0.0 and alt + vr * h < _AIR_TOP_M:
                h = max(_DT_AIR, (alt - _AIR_TOP_M) / -vr + _DT_AIR)
        prev[:] = y
        _rk4(y, t, h, 0.0, steer, False, beta, table, k, tmp, lift_to_drag)
        if altitude(y[0], y[1], y[2]) <= 0.0:
            lo, hi = 0.0, h
            for _ in range(40):
                mid = 0.5 * (lo + hi)
                y[:] = prev
                _rk4(y, t, mid, 0.0, steer, False, beta, table, k, tmp, lift_to_drag)
                if altitude(y[0], y[1], y[2]) > 0.0:
                    lo = mid
                else:
                    hi = mid
            y[:] = prev
            _rk4(y, t, hi, 0.0, steer, False, beta, table, k, tmp, lift_to_drag)
            out_t[n] = t + hi
            out_y[n] = y
            return n + 1
        t += h
        out_t[n] = t
        out_y[n] = y
        n += 1
    return -n
