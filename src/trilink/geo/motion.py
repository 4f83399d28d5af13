"""Free-flight (ballistic) motion in the rotating ECEF frame, vectorised over many states.

One propagator serves the trackers (prediction), fusion (bringing tracks to a common time)
and the warnings (impact prediction): a fixed-step RK4 on gravity with J2 plus Coriolis
and centrifugal terms, an optional constant extra acceleration (thrust), and a search for
the ground crossing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from trilink.geo.earth import altitude_m, ecef_acceleration

__all__ = ["GroundCrossing", "propagate", "propagate_to_ground", "rk4_step"]

Array = NDArray[np.float64]


def rk4_step(x: Array, dt: float | Array, accel: Array | None = None) -> Array:
    """One RK4 step of states ``x`` (..., 6) [r, v] over ``dt`` seconds (a scalar, or one
    step per state as an (..., 1) array).

    ``accel`` (..., 3) is an extra acceleration held constant over the step (thrust).
    """

    def f(s: Array) -> Array:
        a = ecef_acceleration(s[..., :3], s[..., 3:6])
        if accel is not None:
            a = a + accel
        return np.concatenate([s[..., 3:6], a], axis=-1)

    k1 = f(x)
    k2 = f(x + 0.5 * dt * k1)
    k3 = f(x + 0.5 * dt * k2)
    k4 = f(x + dt * k3)
    return x + (dt / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def propagate(x: Array, dt: float, *, max_step_s: float = 5.0, accel: Array | None = None) -> Array:
    """Propagate states ``x`` (..., 6) by ``dt`` seconds (negative goes back in time)."""
    if dt == 0.0:
        return np.array(x, dtype=np.float64, copy=True)
    n = max(1, int(np.ceil(abs(dt) / max_step_s)))
    h = dt / n
    out = np.asarray(x, dtype=np.float64)
    for _ in range(n):
        out = rk4_step(out, h, accel)
    return out


@dataclass(frozen=True, slots=True)
class GroundCrossing:
    """Where and when propagated states reach the ground (altitude 0)."""

    dt_s: Array  # (N,) seconds from the start state to the crossing; nan if never reached
    state: Array  # (N, 6) state at the crossing
    path_ecef: Array  # (K, 3) sampled path of the first (mean) state, for ground tracks
    max_alt_m: Array  # (N,) highest altitude along each propagated path


def propagate_to_ground(
    x: Array, *, step_s: float = 5.0, max_time_s: float = 7200.0
) -> GroundCrossing:
    """Propagate states ``x`` (N, 6) until each reaches altitude 0 (or ``max_time_s``).

    A negative ``step_s`` propagates backwards in time (to find where a ballistic arc left
    the ground); ``dt_s`` is then negative.

    The crossing is located by bisection within the last RK4 step, so its time error is far
    below the integration step.
    """
    states = np.atleast_2d(np.asarray(x, dtype=np.float64))
    n = states.shape[0]
    dt_hit = np.full(n, np.nan)
    hit = np.zeros((n, 6))
    done = np.zeros(n, dtype=bool)
    alt0 = altitude_m(states[:, :3])
    max_alt = alt0.copy()
    path = [states[0, :3].copy()]
    t = 0.0
    cur = states
    prev_alt = alt0
    while abs(t) < max_time_s and not np.all(done):
        nxt = rk4_step(cur, step_s)
        alt = altitude_m(nxt[:, :3])
        max_alt = np.maximum(max_alt, np.where(done, max_alt, alt))
        crossed = (~done) & (alt <= 0.0) & (prev_alt > 0.0)
        if np.any(crossed):
            rows = np.flatnonzero(crossed)
            tau = _refine_crossings(cur[rows], step_s)
            dt_hit[rows] = t + tau
            hit[rows] = rk4_step(cur[rows], tau[:, None])
        done |= crossed
        if not done[0]:
            path.append(nxt[0, :3].copy())
        elif crossed[0]:
            path.append(hit[0, :3].copy())
        cur, prev_alt = nxt, alt
        t += step_s
    return GroundCrossing(dt_s=dt_hit, state=hit, path_ecef=np.asarray(path), max_alt_m=max_alt)


def _refine_crossings(x: Array, step_s: float) -> Array:
    """Times within a step at which states ``x`` (M, 6) reach altitude 0: bisection, all
    states at once."""
    lo = np.zeros(x.shape[0])
    hi = np.full(x.shape[0], step_s)
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        above = altitude_m(rk4_step(x, mid[:, None])[:, :3]) > 0.0
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    return np.asarray(0.5 * (lo + hi), dtype=np.float64)
