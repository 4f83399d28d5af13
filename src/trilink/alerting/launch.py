"""Launch time and point, estimated back from the earliest part of a track.

Two estimators, and the rule that picks one:

* :func:`launch_fit` fits a powered ascent from rest to the boost part of a national
  track and to the space-infrared lines of sight of the plume. In the local
  east-north-up frame of the launch area (centred on the closed form's guess) the
  missile is at ``r_L + a τ²/2 + j τ³/6 + s τ⁴/24`` a time ``τ = t - t_L`` after
  lift-off from the ground point ``r_L``, its horizontal motion starting only after a
  vertical rise ``τ_v`` (the horizontal components use ``τ - τ_v``). The jerk ``j``,
  snap ``s`` and ``τ_v`` have Gaussian priors (``SIGMA_JERK``, ``SIGMA_SNAP``,
  ``VERTICAL_S ± SIGMA_VERTICAL_S``): they stand for what a polynomial misses of a real
  ascent, so the fit's covariance carries that model error instead of pretending the
  polynomial is exact. Track states (at most one per ``RADAR_SPACING_S``: successive
  filtered states are correlated) weigh by their covariances plus ``STATE_FLOOR_M``;
  each line of sight adds its two cross-line residuals in units of its angular noise
  times its range (plus ``LINE_FLOOR_M``). The lines are associated with the track by
  a gate, first around the path the closed form implies, then, refitted, around the
  fitted path (a salvo's other plumes drop out). The weighted least-squares solution
  gives the launch time and point; the inverse of ``JᵀJ`` (priors included), scaled
  up by χ²/dof where that exceeds 1, plus a small floor (``FLOOR_POSITION_M``,
  ``FLOOR_TIME_S``: the fit's remaining late bias on liquid missiles) is their
  covariance (:class:`LaunchFit`). Infrared sees the plume from the cloud tops up, long
  before a radar sees over its horizon, so it shortens the extrapolation to the ground.

  Consistency, measured over 25 US tracks of 21 historical launches (both ICBMs and
  SRBMs, two noise seeds), the fit made 0-60 s after the track starts: mean NEES of the
  launch (east, north, time; 3 dof) 1.6, 99 % of fits below the 95 % point 7.81, 99 %
  of launch points inside the 95 % circle, 96 % of times within 2 sigma. Where it was
  chosen (below), one minute into the track: rms 5.3 km and 4.7 s against 6.1 km and
  6.9 s for the closed form on the same tracks. ``tests/alerting/test_launch_point.py``
  holds four of these events to their bounds. The priors were set on 13 of the launches
  and checked on the other 8 (mean NEES 1.9 there).

* The closed form (what :func:`estimate_launch` falls back to): a track first seen in
  boost is extrapolated back to rest under constant acceleration: from altitude ``h``
  climbing at ``v_up``, the launch was ``2 h / v_up`` earlier, and the launch point lies
  under the position moved back by half the horizontal distance the current horizontal
  velocity would cover in that time. Its 1-sigma errors are a fraction
  (``CF_DISTANCE_FRACTION``, ``CF_TIME_FRACTION``) of the distance and time extrapolated,
  calibrated on the same launches for all three nations' tracks (74 track starts: 100 %
  inside the 95 % circle, 96 % of times within 2 sigma; at 0.1 they were 68 % and 82 %).
  A track first seen in free flight is propagated ballistically back to the ground,
  which places the launch too late (the boost took longer than a free-flight arc), so
  its uncertainty is wider.

* :func:`estimate_launch` is what the warning centre calls, with a track's history and
  its nation's infrared lines. It takes the fit where :func:`fit_is_better`: enough
  lines, a good χ², and a launch time and point at least as certain as the closed
  form's, by their own (calibrated) uncertainties, never by truth.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

from trilink.geo.earth import altitude_m, ecef_to_geodetic, enu_rotation, geodetic_to_ecef
from trilink.geo.ellipse import CHI2_2DOF_95
from trilink.geo.motion import propagate_to_ground
from trilink.sensors.infrared import LineOfSight
from trilink.types import LaunchEstimate, Track

__all__ = [
    "BOOST_ALTITUDE_M",
    "MIN_UPDATES",
    "RADAR_SPACING_S",
    "LaunchFit",
    "estimate_launch",
    "fit_is_better",
    "fit_launch",
    "launch_fit",
]

Array = NDArray[np.float64]

BOOST_ALTITUDE_M: Final = 60_000.0
MIN_UPDATES: Final = 6
RADAR_SPACING_S: Final = 5.0
FIT_WINDOW_S: Final = 60.0  # track states used: the first minute of the boost track
STATE_FLOOR_M: Final = 300.0  # added to a track state's position sigma (filter lag)
LINE_FLOOR_M: Final = 300.0  # added to a line of sight's cross-range sigma (plume offset)
LINE_LEAD_S: Final = 60.0  # lines this long before the guessed launch may still be its own
LINE_GATE0_M: Final = 15_000.0  # first association of lines with the guessed path
LINE_GATE_CHI2: Final = 13.8  # then with the fitted path: 99.9 % of chi-square, 2 dof
LINE_ROUNDS: Final = 3
SIGMA_JERK: Final = 1.0  # prior 1-sigma of the ascent's jerk, m/s³ per axis
SIGMA_SNAP: Final = 0.05  # prior 1-sigma of its snap, m/s⁴ per axis
VERTICAL_S: Final = 6.0  # prior vertical rise before the pitch-over, s
SIGMA_VERTICAL_S: Final = 3.0  # and its 1-sigma
FLOOR_POSITION_M: Final = 300.0  # added to the fit's launch-point sigma per axis
FLOOR_TIME_S: Final = 3.0  # and to its launch-time sigma (the late bias of a smooth ascent model)
CF_DISTANCE_FRACTION: Final = 0.25  # closed form: 1-sigma of the launch point per metre moved back
CF_MIN_SIGMA_M: Final = 2_000.0
CF_TIME_FRACTION: Final = 0.25  # and of the launch time per second extrapolated back
CF_MIN_SIGMA_S: Final = 3.0
MIN_FIT_LINES: Final = 10  # the fit replaces the closed form only with this many lines
MAX_FIT_CHI2_DOF: Final = 4.0  # and only if the ascent model explains the data


@dataclass(frozen=True, slots=True)
class LaunchFit:
    """The infrared-assisted launch fit of :func:`launch_fit`: the estimate and its full
    covariance in the local frame of the launch area.

    ``mean`` and ``covariance`` are over (east m, north m, launch time s) with east and
    north in the tangent plane at ``origin_ecef_m`` (whose ECEF→ENU rotation is ``rot``)
    and the time relative to ``t_ref_s``. ``chi2`` over ``dof`` is the goodness of fit;
    where it exceeds 1 the covariance is already scaled up by it.
    """

    estimate: LaunchEstimate
    origin_ecef_m: Array
    rot: Array
    t_ref_s: float
    mean: Array
    covariance: Array
    chi2: float
    dof: int
    n_states: int
    n_lines: int

    def error(self, lat_deg: float, lon_deg: float, t_launch_s: float) -> Array:
        """Estimate minus a reference launch (east m, north m, time s), e.g. the truth."""
        ref = (geodetic_to_ecef(lat_deg, lon_deg, 0.0) - self.origin_ecef_m) @ self.rot.T
        return np.array(
            [self.mean[0] - ref[0], self.mean[1] - ref[1], self.mean[2] + self.t_ref_s - t_launch_s]
        )

    def nees(self, lat_deg: float, lon_deg: float, t_launch_s: float) -> float:
        """Normalised estimation error squared of the launch point and time (3 dof: its
        mean over consistent estimates is 3, 95 % of them lie below 7.81)."""
        e = self.error(lat_deg, lon_deg, t_launch_s)
        return float(e @ np.linalg.solve(self.covariance, e))


def launch_fit(history: Sequence[Track], lines: Sequence[LineOfSight] = ()) -> LaunchFit | None:
    """Fit a powered ascent from rest to the boost part of ``history`` (one national
    track's snapshots, oldest first) and to the infrared ``lines`` of sight (see the
    module docstring). None if the track has no boost part, too little data or the fit
    does not converge."""
    usable = [t for t in history if t.n_updates >= MIN_UPDATES]
    if not usable or altitude_m(usable[0].state[:3]) >= BOOST_ALTITUDE_M:
        return None
    guess = _closed_form(usable[0])
    if guess is None:
        return None
    states = _spaced(
        [t for t in usable if t.t_s <= usable[0].t_s + FIT_WINDOW_S and t.thrusting] or usable[:1]
    )
    t_end = states[-1].t_s
    origin = geodetic_to_ecef(guess.lat_deg, guess.lon_deg, 0.0)
    rot = enu_rotation(math.radians(guess.lat_deg), math.radians(guess.lon_deg))
    t_ref = guess.t_launch_s

    pos = np.array([(s.state[:3] - origin) @ rot.T for s in states])
    vel = np.array([rot @ s.state[3:6] for s in states])
    t_pos = np.array([s.t_s for s in states]) - t_ref  # relative: keeps t_L resolvable
    white = []
    for s in states:
        cov = rot @ s.covariance[:3, :3] @ rot.T + STATE_FLOOR_M**2 * np.eye(3)
        white.append(np.linalg.cholesky(np.linalg.inv(cov)).T)
    w_pos = np.array(white)

    ir = [ln for ln in lines if t_ref - LINE_LEAD_S <= ln.t_s <= t_end]
    sat = np.array([(ln.sensor_ecef_m - origin) @ rot.T for ln in ir]).reshape(-1, 3)
    u = np.array([rot @ ln.los_ecef for ln in ir]).reshape(-1, 3)
    t_ir = np.array([ln.t_s for ln in ir]) - t_ref
    basis = np.array([_perpendicular(v) for v in u]).reshape(-1, 2, 3)
    sig_rad = np.array([ln.sigma_rad for ln in ir])
    # First association: lines passing near the path the closed form implies (rest at
    # the guessed launch point, constant acceleration up to the first track state, then
    # the track's states and velocities).
    near = _perp_distance(_guess_path(t_ir, t_pos, pos, vel), sat, u) < LINE_GATE0_M
    prior = np.concatenate(
        [np.zeros(3), np.full(3, 1.0 / SIGMA_JERK), np.full(3, 1.0 / SIGMA_SNAP)]
    )

    def model(theta: Array, t: Array) -> Array:
        tau = np.maximum(t - theta[2], 0.0)[:, None]
        # The climb starts vertical: the horizontal motion only after ``theta[12]``.
        tau = np.concatenate([np.repeat(np.maximum(tau - theta[12], 0.0), 2, axis=1), tau], 1)
        r = (
            np.array([theta[0], theta[1], 0.0])
            + theta[3:6] * tau**2 / 2.0
            + theta[6:9] * tau**3 / 6.0
            + theta[9:12] * tau**4 / 24.0
        )
        return np.asarray(r, dtype=np.float64)

    def residuals(theta: Array, keep: NDArray[np.bool_]) -> Array:
        d = model(theta, t_pos) - pos
        out = [
            np.einsum("kij,kj->ki", w_pos, d).ravel(),
            prior[3:] * theta[6:12],
            np.array([(theta[12] - VERTICAL_S) / SIGMA_VERTICAL_S]),
        ]
        if keep.any():
            rel = model(theta, t_ir[keep]) - sat[keep]
            rng_m = np.linalg.norm(rel, axis=1)
            sig = np.hypot(sig_rad[keep] * rng_m, LINE_FLOOR_M)
            out.append((np.einsum("lij,lj->li", basis[keep], rel) / sig[:, None]).ravel())
        return np.concatenate(out)

    dt0 = max(float(t_pos[0]), 1.0)
    theta = np.zeros(13)
    theta[3:6] = 2.0 * pos[0] / dt0**2
    theta[12] = VERTICAL_S
    keep = near
    sol = None
    for _ in range(LINE_ROUNDS):
        if residuals(theta, keep).size < theta.size + 1:
            return None
        fit_keep = keep
        try:
            sol = least_squares(residuals, theta, args=(keep,), method="lm", x_scale="jac")
        except (ValueError, np.linalg.LinAlgError):
            return None
        if not sol.success or not np.all(np.isfinite(sol.x)):
            return None
        theta = sol.x
        if not ir:
            break
        # Re-associate: keep the lines within the gate of the fitted path.
        rel = model(theta, t_ir) - sat
        sig = np.hypot(sig_rad * np.linalg.norm(rel, axis=1), LINE_FLOOR_M)
        d2 = np.sum(np.einsum("lij,lj->li", basis, rel) ** 2, axis=1) / sig**2
        new_keep = d2 < LINE_GATE_CHI2
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    if sol is None:
        return None
    res = residuals(theta, fit_keep)
    jac = sol.jac
    dof = int(res.size - theta.size)
    chi2 = float(res @ res)
    try:
        cov_all = np.linalg.inv(jac.T @ jac)
    except np.linalg.LinAlgError:
        return None
    cov = cov_all[:3, :3] * max(1.0, chi2 / max(dof, 1))
    if not np.all(np.isfinite(cov)) or np.any(np.linalg.eigvalsh(cov) <= 0.0):
        return None
    cov = cov + np.diag([FLOOR_POSITION_M**2, FLOOR_POSITION_M**2, FLOOR_TIME_S**2])
    ground = origin + np.array([theta[0], theta[1], 0.0]) @ rot
    lat, lon, _ = ecef_to_geodetic(ground)
    radius = math.sqrt(CHI2_2DOF_95 * float(np.linalg.eigvalsh(cov[:2, :2]).max()))
    est = LaunchEstimate(
        t_launch_s=t_ref + float(theta[2]),
        lat_deg=float(lat),
        lon_deg=float(lon),
        radius_95_m=radius,
        t_sigma_s=math.sqrt(float(cov[2, 2])),
        track_id=usable[0].track_id,
        nation=usable[0].nation,
    )
    return LaunchFit(
        estimate=est,
        origin_ecef_m=origin,
        rot=rot,
        t_ref_s=t_ref,
        mean=np.asarray(theta[:3], dtype=np.float64).copy(),
        covariance=cov,
        chi2=chi2,
        dof=dof,
        n_states=len(states),
        n_lines=int(fit_keep.sum()),
    )


def fit_launch(
    history: Sequence[Track], lines: Sequence[LineOfSight] = ()
) -> LaunchEstimate | None:
    """The launch estimate of :func:`launch_fit` (None where it has none)."""
    fit = launch_fit(history, lines)
    return None if fit is None else fit.estimate


def estimate_launch(
    history: list[Track], lines: Sequence[LineOfSight] = ()
) -> LaunchEstimate | None:
    """Estimate the launch from one national track's snapshots (oldest first) and, if
    given, space-infrared ``lines`` of sight (what the warning centre calls).

    A track first seen in boost gets the closed form, or the infrared-assisted fit of
    :func:`launch_fit` where :func:`fit_is_better`; one first seen in free flight is
    propagated back to the ground."""
    usable = [t for t in history if t.n_updates >= MIN_UPDATES]
    if not usable:
        return None
    closed = _closed_form(usable[0])
    if closed is not None:
        fit = launch_fit(usable, lines) if len(lines) >= MIN_FIT_LINES else None
        if fit is not None and fit_is_better(fit, closed):
            return fit.estimate
        return closed
    trk = usable[0]
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


def fit_is_better(fit: LaunchFit, closed: LaunchEstimate) -> bool:
    """Whether the warning centre uses the infrared-assisted fit instead of the closed
    form. Decided on what each reports, never on truth: the fit must rest on at least
    ``MIN_FIT_LINES`` infrared lines of sight, explain its data (χ² per degree of
    freedom at most ``MAX_FIT_CHI2_DOF``: else the ascent model or the association of the
    lines is wrong) and be at least as certain as the closed form in both the launch
    time (1-sigma) and the launch point (95 % radius). Both uncertainties are
    calibrated (see the module docstring), so the more certain one is the better one."""
    return (
        fit.n_lines >= MIN_FIT_LINES
        and fit.chi2 <= MAX_FIT_CHI2_DOF * max(fit.dof, 1)
        and fit.estimate.t_sigma_s <= closed.t_sigma_s
        and fit.estimate.radius_95_m <= closed.radius_95_m
    )


def _closed_form(trk: Track) -> LaunchEstimate | None:
    """Back to rest under constant acceleration, for a state in boost (else None)."""
    r, v = trk.state[:3], trk.state[3:6]
    h = float(altitude_m(r))
    lat, lon, _ = ecef_to_geodetic(r)
    up = geodetic_to_ecef(float(lat), float(lon), 1.0) - geodetic_to_ecef(
        float(lat), float(lon), 0.0
    )
    v_up = float(v @ up)
    if not (h < BOOST_ALTITUDE_M and v_up > 50.0):
        return None
    dt = 2.0 * h / v_up
    v_h = v - v_up * up
    ground = r - h * up - 0.5 * dt * v_h
    lat_g, lon_g, _ = ecef_to_geodetic(ground)
    pos_sigma = float(np.sqrt(np.trace(trk.covariance[:3, :3]) / 3.0))
    back_m = float(np.linalg.norm(0.5 * dt * v_h))
    radius = 2.45 * max(pos_sigma, CF_DISTANCE_FRACTION * back_m, CF_MIN_SIGMA_M)
    return LaunchEstimate(
        t_launch_s=trk.t_s - dt,
        lat_deg=float(lat_g),
        lon_deg=float(lon_g),
        radius_95_m=radius,
        t_sigma_s=max(CF_MIN_SIGMA_S, CF_TIME_FRACTION * dt),
        track_id=trk.track_id,
        nation=trk.nation,
    )


def _spaced(states: list[Track]) -> list[Track]:
    """At most one state per ``RADAR_SPACING_S``, the first kept."""
    out: list[Track] = []
    for s in states:
        if not out or s.t_s - out[-1].t_s >= RADAR_SPACING_S:
            out.append(s)
    return out


def _guess_path(t: Array, t_pos: Array, pos: Array, vel: Array) -> Array:
    """Positions (L, 3) at times ``t`` (relative to the guessed launch) on the closed
    form's path: constant acceleration from rest at the origin up to the first track
    state, then along the nearest earlier track state's velocity."""
    out = np.empty((t.size, 3))
    first = t < t_pos[0]
    tau = np.clip(t[first], 0.0, None) / max(float(t_pos[0]), 1.0)
    out[first] = pos[0] * tau[:, None] ** 2
    k = np.clip(np.searchsorted(t_pos, t[~first], side="right") - 1, 0, t_pos.size - 1)
    out[~first] = pos[k] + vel[k] * (t[~first] - t_pos[k])[:, None]
    return out


def _perp_distance(points: Array, sat: Array, u: Array) -> Array:
    """Distance of each point (L, 3) from the ray from ``sat`` along unit ``u`` (L, 3)."""
    d = points - sat
    along = np.einsum("li,li->l", d, u)
    return np.asarray(np.linalg.norm(d - along[:, None] * u, axis=1), dtype=np.float64)


def _perpendicular(u: Array) -> Array:
    """Two unit vectors (2, 3) orthogonal to the unit vector ``u`` and to each other."""
    helper = np.zeros(3)
    helper[int(np.argmin(np.abs(u)))] = 1.0
    e1 = np.cross(u, helper)
    e1 /= np.linalg.norm(e1)
    return np.stack([e1, np.cross(u, e1)])
