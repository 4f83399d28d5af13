"""The national tracker: one nation's radars in, confirmed tracks out.

Per scan of one sensor: predict every track to the scan time, gate, assign detections to
tracks by global nearest neighbour (optimal assignment on Mahalanobis distance), update,
start tentative tracks from unassigned detections, confirm M-of-N, delete after misses.
Track numbers are owned by the tracker instance (``JPN-T0001``) and given on confirmation.
A boosting track carries the thrust acceleration as state; once the thrust has been
insignificant for a while the track turns ballistic and the acceleration is fixed at 0.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from trilink.geo.earth import altitude_m
from trilink.geo.motion import propagate
from trilink.tracking import ekf
from trilink.types import Detection, Track, TrackState

__all__ = ["TrackHistoryPoint", "Tracker", "TrackerConfig"]

Array = NDArray[np.float64]
_INFEASIBLE: Final = 1e12
THRUST_CHI2_3DOF: Final = 11.34  # 99 %: thrust acceleration distinguishable from zero


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """Parameters of a national tracker."""

    confirm_hits: int = field(default=3, metadata={"doc": "M of M-of-N confirmation"})
    confirm_window: int = field(default=5, metadata={"doc": "N of M-of-N confirmation"})
    delete_misses: int = field(default=6, metadata={"doc": "consecutive misses to delete"})
    gate_chi2: float = field(default=ekf.GATE_CHI2_4DOF, metadata={"doc": "gate, 4 dof"})
    q_jerk: float = field(default=20.0, metadata={"doc": "thrust jerk noise, m²/s⁵"})
    q_accel: float = field(default=0.5, metadata={"doc": "unmodelled acceleration, m²/s³"})
    q_accel_ballistic: float = field(default=0.01, metadata={"doc": "same when ballistic"})
    sigma_speed_mps: float = field(default=3000.0, metadata={"doc": "initial speed 1-sigma"})
    sigma_accel_mps2: float = field(default=40.0, metadata={"doc": "initial thrust 1-sigma"})
    ballistic_after: int = field(default=5, metadata={"doc": "coast verdicts to turn ballistic"})
    thrust_window_s: float = field(default=20.0, metadata={"doc": "window of the thrust test"})
    manoeuvre_inflation: float = field(
        default=400.0, metadata={"doc": "process noise factor for a second gate try"}
    )


@dataclass(frozen=True, slots=True)
class TrackHistoryPoint:
    t_s: float
    state: Array
    covariance: Array
    thrusting: bool


@dataclass(eq=False)
class _Track:
    x: Array
    p: Array
    t_s: float
    first_t_s: float
    hits: deque[bool]
    track_id: str | None = None
    misses: int = 0
    n_updates: int = 0
    no_thrust_run: int = 0
    ballistic: bool = False
    sensors: set[str] = field(default_factory=set)
    history: list[TrackHistoryPoint] = field(default_factory=list)

    @property
    def confirmed(self) -> bool:
        return self.track_id is not None

    @property
    def thrusting(self) -> bool:
        if self.ballistic:
            return False
        a = self.x[6:9]
        try:
            return float(a @ np.linalg.solve(self.p[6:9, 6:9], a)) > THRUST_CHI2_3DOF
        except np.linalg.LinAlgError:
            return False


class Tracker:
    """One nation's multi-sensor tracker (EKF + GNN + M-of-N)."""

    def __init__(self, nation: str, config: TrackerConfig | None = None) -> None:
        self.nation = nation
        self.config = config or TrackerConfig()
        self._tracks: list[_Track] = []
        self._next_number = 1

    # -- public ---------------------------------------------------------------------

    def process(
        self,
        t_s: float,
        detections: Sequence[Detection],
        *,
        covers: Callable[[Array], NDArray[np.bool_]] | None = None,
    ) -> list[Track]:
        """Take one scan of one sensor at ``t_s``; return confirmed tracks updated by it.

        ``covers`` says which predicted positions (N, 3) the scanning sensor could see, so
        that only tracks it should have seen count a miss.
        """
        for trk in self._tracks:
            self._predict(trk, t_s, inflate=1.0)
        assigned_tracks, assigned_dets = self._assign(detections)
        updated: list[_Track] = []
        for ti, di in zip(assigned_tracks, assigned_dets, strict=True):
            trk = self._tracks[ti]
            self._update(trk, detections[di])
            updated.append(trk)
        unassigned = [d for i, d in enumerate(detections) if i not in set(assigned_dets)]
        idle = [t for i, t in enumerate(self._tracks) if i not in set(assigned_tracks)]
        # A boosting track that missed the gate may have changed thrust: retry it wider.
        for trk in idle:
            if trk.confirmed and not trk.ballistic and unassigned:
                det = self._retry_manoeuvre(trk, unassigned)
                if det is not None:
                    unassigned.remove(det)
                    updated.append(trk)
        seen = np.ones(len(self._tracks), dtype=bool)
        if covers is not None and self._tracks:
            seen = covers(np.array([t.x[:3] for t in self._tracks]))
        for i, trk in enumerate(self._tracks):
            if trk in updated:
                continue
            if seen[i]:
                trk.hits.append(False)
                trk.misses += 1
        for det in unassigned:
            self._start(det)
        self._manage()
        return [self._snapshot(t) for t in updated if t.confirmed]

    def tracks(self) -> list[Track]:
        """Snapshots of every confirmed track."""
        return [self._snapshot(t) for t in self._tracks if t.confirmed]

    def history(self, track_id: str) -> list[TrackHistoryPoint]:
        for t in self._tracks:
            if t.track_id == track_id:
                return list(t.history)
        return []

    # -- steps ----------------------------------------------------------------------

    def _predict(self, trk: _Track, t_s: float, *, inflate: float) -> None:
        dt = t_s - trk.t_s
        cfg = self.config
        if trk.ballistic:
            q_jerk, q_acc = 0.0, cfg.q_accel_ballistic
        else:
            q_jerk, q_acc = cfg.q_jerk, cfg.q_accel
        trk.x, trk.p = ekf.predict(
            trk.x, trk.p, dt, q_jerk=q_jerk * inflate, q_accel=q_acc * inflate
        )
        trk.t_s = t_s

    def _assign(self, dets: Sequence[Detection]) -> tuple[list[int], list[int]]:
        if not self._tracks or not dets:
            return [], []
        cost = np.full((len(self._tracks), len(dets)), _INFEASIBLE)
        for i, trk in enumerate(self._tracks):
            for j, det in enumerate(dets):
                d2 = ekf.innovation(trk.x, trk.p, det).d2
                if d2 < self.config.gate_chi2:
                    # Confirmed tracks are preferred over tentative ones at equal distance.
                    cost[i, j] = d2 + (0.0 if trk.confirmed else 1.0)
        rows, cols = linear_sum_assignment(cost)
        keep = cost[rows, cols] < _INFEASIBLE
        return rows[keep].tolist(), cols[keep].tolist()

    def _update(self, trk: _Track, det: Detection) -> None:
        inn = ekf.innovation(trk.x, trk.p, det)
        trk.x, trk.p = ekf.update(trk.x, trk.p, inn)
        trk.hits.append(True)
        trk.misses = 0
        trk.n_updates += 1
        trk.sensors.add(det.sensor_id)
        self._thrust_logic(trk)
        trk.history.append(TrackHistoryPoint(trk.t_s, trk.x.copy(), trk.p.copy(), trk.thrusting))
        if trk.track_id is None and sum(trk.hits) >= self.config.confirm_hits:
            trk.track_id = f"{self.nation}-T{self._next_number:04d}"
            self._next_number += 1

    def _retry_manoeuvre(self, trk: _Track, dets: list[Detection]) -> Detection | None:
        x0, p0 = trk.x, trk.p
        # Re-predict from the last update with inflated noise over the elapsed time.
        last = trk.history[-1] if trk.history else None
        if last is None:
            return None
        x, p = ekf.predict(
            last.state,
            last.covariance,
            trk.t_s - last.t_s,
            q_jerk=self.config.q_jerk * self.config.manoeuvre_inflation,
            q_accel=self.config.q_accel * self.config.manoeuvre_inflation,
        )
        best: tuple[float, Detection] | None = None
        for det in dets:
            d2 = ekf.innovation(x, p, det).d2
            if d2 < self.config.gate_chi2 and (best is None or d2 < best[0]):
                best = (d2, det)
        if best is None:
            trk.x, trk.p = x0, p0
            return None
        trk.x, trk.p = x, p
        self._update(trk, best[1])
        return best[1]

    def _thrust_logic(self, trk: _Track) -> None:
        """Turn a track ballistic once its velocity has followed free flight for a while.

        Over the last ``thrust_window_s`` the estimated velocity change is compared with
        the free-flight prediction from the state at the window's start: a thrusting
        missile gains hundreds of m/s there, a coasting one nothing beyond the noise.
        """
        cfg = self.config
        if trk.ballistic or not trk.history:
            return
        then = next(
            (h for h in reversed(trk.history) if trk.t_s - h.t_s >= cfg.thrust_window_s), None
        )
        if then is None:
            return
        window = trk.t_s - then.t_s
        free = propagate(then.state[:6], window, max_step_s=5.0)
        dv = trk.x[3:6] - free[3:6]
        cov = trk.p[3:6, 3:6] + then.covariance[3:6, 3:6]
        chi2 = float(dv @ np.linalg.solve(cov, dv))
        coasting = chi2 < THRUST_CHI2_3DOF or float(np.linalg.norm(dv)) / window < 2.0
        trk.no_thrust_run = trk.no_thrust_run + 1 if coasting else 0
        if trk.confirmed and trk.no_thrust_run >= cfg.ballistic_after:
            trk.ballistic = True
            trk.x[6:9] = 0.0
            trk.p[6:9, :] = 0.0
            trk.p[:, 6:9] = 0.0
            trk.p[6:9, 6:9] = 1e-12 * np.eye(3)

    def _start(self, det: Detection) -> None:
        x, p = ekf.initial_state(
            det,
            sigma_speed_mps=self.config.sigma_speed_mps,
            sigma_accel_mps2=self.config.sigma_accel_mps2,
        )
        trk = _Track(
            x=x,
            p=p,
            t_s=det.t_s,
            first_t_s=det.t_s,
            hits=deque([True], maxlen=self.config.confirm_window),
            sensors={det.sensor_id},
            n_updates=1,
        )
        trk.history.append(TrackHistoryPoint(det.t_s, x.copy(), p.copy(), False))
        self._tracks.append(trk)

    def _manage(self) -> None:
        cfg = self.config
        keep: list[_Track] = []
        for trk in self._tracks:
            if trk.confirmed:
                dead = trk.misses >= cfg.delete_misses or float(altitude_m(trk.x[:3])) < 0.0
            else:
                window_full = len(trk.hits) == trk.hits.maxlen
                dead = (window_full and sum(trk.hits) < cfg.confirm_hits) or trk.misses >= 2
            if not dead:
                keep.append(trk)
        self._tracks = keep

    def _snapshot(self, trk: _Track) -> Track:
        assert trk.track_id is not None
        status = TrackState.CONFIRMED if trk.misses == 0 else TrackState.COASTING
        return Track(
            track_id=trk.track_id,
            nation=self.nation,
            t_s=trk.t_s,
            state=trk.x.copy(),
            covariance=trk.p.copy(),
            status=status,
            sensors=tuple(sorted(trk.sensors)),
            first_t_s=trk.first_t_s,
            n_updates=trk.n_updates,
            thrusting=not trk.ballistic,
        )
