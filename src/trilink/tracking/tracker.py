"""The national tracker: one nation's sensors in, confirmed tracks out — batched.

Per scan of one sensor: predict every track to the scan time (one batched EKF step), find
candidate track–detection pairs through a k-d tree of the detections' positions, gate them
by Mahalanobis distance, assign by global nearest neighbour (optimal assignment within
each connected cluster of candidates), update all assigned tracks at once, give a
boosting track that missed its gate a second, wider try (its thrust may have changed),
start tentative tracks from the rest, confirm M-of-N and delete after misses. No Python
loop runs per track–detection pair.

Track numbers are owned by the tracker instance (``JPN-T0001``) and given on confirmation.
A boosting track carries its thrust acceleration as state; once its velocity has followed
free flight for a while (tested against the state ``thrust_window_s`` earlier) it turns
ballistic and the acceleration is fixed at 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from trilink.geo.earth import altitude_m, enu_rotation
from trilink.geo.motion import rk4_step
from trilink.tracking import ekf
from trilink.types import Detection, DetectionBatch, Track, TrackState

__all__ = ["Tracker", "TrackerConfig"]

Array = NDArray[np.float64]
Covers = Callable[[Array], NDArray[np.bool_]]
THRUST_CHI2_3DOF: Final = 11.34  # 99 %: a velocity change distinguishable from zero
_ANCHORS: Final = 6  # snapshots kept per track for the thrust test, >= 5 s apart
_ANCHOR_SPACING_S: Final = 5.0


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


@dataclass
class _Tracks:
    """All tracks as arrays (one row per track)."""

    x: Array
    p: Array
    t: Array
    first_t: Array
    hits: NDArray[np.int64]  # bit i set: hit i opportunities ago
    opportunities: NDArray[np.int64]
    misses: NDArray[np.int64]
    updates: NDArray[np.int64]
    number: NDArray[np.int64]  # 0 while tentative
    ballistic: NDArray[np.bool_]
    coast_run: NDArray[np.int64]
    anchor_t: Array  # (n, _ANCHORS), nan where empty; column 0 newest
    anchor_x: Array  # (n, _ANCHORS, 6)
    anchor_pv: Array  # (n, _ANCHORS, 3, 3)
    last_x: Array  # state, covariance and time of the last update (for the wider retry)
    last_p: Array
    last_t: Array
    sensors: list[set[str]]

    @classmethod
    def new(cls, x: Array, p: Array, t_s: float, sensor: str | None) -> _Tracks:
        """Tentative tracks started at ``t_s`` from states (k, 9) and covariances."""
        k = x.shape[0]
        zi = np.zeros(k, np.int64)
        return cls(
            x=x,
            p=p,
            t=np.full(k, t_s),
            first_t=np.full(k, t_s),
            hits=np.ones(k, np.int64),
            opportunities=np.ones(k, np.int64),
            misses=zi.copy(),
            updates=np.ones(k, np.int64),
            number=zi.copy(),
            ballistic=np.zeros(k, bool),
            coast_run=zi.copy(),
            anchor_t=np.full((k, _ANCHORS), np.nan),
            anchor_x=np.zeros((k, _ANCHORS, 6)),
            anchor_pv=np.zeros((k, _ANCHORS, 3, 3)),
            last_x=x.copy(),
            last_p=p.copy(),
            last_t=np.full(k, t_s),
            sensors=[{sensor} if sensor else set() for _ in range(k)],
        )

    @classmethod
    def empty(cls) -> _Tracks:
        return cls.new(np.zeros((0, 9)), np.zeros((0, 9, 9)), 0.0, None)

    def __len__(self) -> int:
        return int(self.t.size)

    def select(self, keep: NDArray[np.bool_]) -> _Tracks:
        idx = np.flatnonzero(keep)
        arrays = {f: getattr(self, f)[idx] for f in _ARRAY_FIELDS}
        return _Tracks(**arrays, sensors=[self.sensors[i] for i in idx])

    def extend(self, other: _Tracks) -> _Tracks:
        arrays = {f: np.concatenate([getattr(self, f), getattr(other, f)]) for f in _ARRAY_FIELDS}
        return _Tracks(**arrays, sensors=self.sensors + other.sensors)


_ARRAY_FIELDS: Final = (
    "x",
    "p",
    "t",
    "first_t",
    "hits",
    "opportunities",
    "misses",
    "updates",
    "number",
    "ballistic",
    "coast_run",
    "anchor_t",
    "anchor_x",
    "anchor_pv",
    "last_x",
    "last_p",
    "last_t",
)


class Tracker:
    """One nation's multi-sensor tracker (batched EKF + GNN + M-of-N)."""

    def __init__(self, nation: str, config: TrackerConfig | None = None) -> None:
        self.nation = nation
        self.config = config or TrackerConfig()
        self._tr = _Tracks.empty()
        self._next_number = 1

    # -- public -----------------------------------------------------------------------------

    def process(
        self, t_s: float, detections: Sequence[Detection], *, covers: Covers | None = None
    ) -> list[Track]:
        """Take one scan of one sensor at ``t_s``; return confirmed tracks it updated.

        ``covers`` says which predicted positions (N, 3) the scanning sensor could see, so
        that only tracks it should have seen count a miss.
        """
        if detections:
            d0 = detections[0]
            batch = DetectionBatch(
                sensor_id=d0.sensor_id,
                nation=d0.nation,
                t_s=t_s,
                sensor_ecef_m=d0.sensor_ecef_m,
                sensor_lat_rad=d0.sensor_lat_rad,
                sensor_lon_rad=d0.sensor_lon_rad,
                z=np.array([d.z for d in detections]),
                sigma=np.array([d.sigma for d in detections]),
                truth_ids=[d.truth_id for d in detections],
                merged=np.ones(len(detections), dtype=np.int64),
                false_alarm=np.array([d.false_alarm for d in detections], dtype=bool),
            )
            updated = self.process_batch(batch, covers=covers)
        else:
            updated = self._scan_without_detections(t_s, covers)
        return [self._snapshot(i) for i in updated if self._tr.number[i] > 0]

    def process_batch(self, batch: DetectionBatch, *, covers: Covers | None = None) -> list[int]:
        """Take one scan as arrays; return the row indices of the tracks it updated."""
        t_s = batch.t_s
        self._predict_all(t_s)
        tr = self._tr
        n, m = len(tr), len(batch)
        rot = enu_rotation(batch.sensor_lat_rad, batch.sensor_lon_rad)
        assigned_t = np.zeros(0, dtype=np.int64)
        assigned_d = np.zeros(0, dtype=np.int64)
        if n and m:
            z_pred, h = ekf.measure_batch(tr.x, batch.sensor_ecef_m, rot)
            ti, di, d2 = self._gate(tr.p, h, z_pred, batch, rot, np.arange(n))
            bias = np.where(tr.number[ti] > 0, 0.0, 1.0)  # prefer confirmed tracks
            assigned_t, assigned_d = _assign(ti, di, d2 + bias)
            self._update(assigned_t, assigned_d, z_pred, h, batch)
            # A boosting confirmed track that missed may have changed thrust: retry wider.
            free_t = np.setdiff1d(np.flatnonzero((tr.number > 0) & ~tr.ballistic), assigned_t)
            free_d = np.setdiff1d(np.arange(m), assigned_d)
            if free_t.size and free_d.size:
                rt, rd = self._retry(free_t, free_d, batch, rot, t_s)
                assigned_t = np.concatenate([assigned_t, rt])
                assigned_d = np.concatenate([assigned_d, rd])
        hit = np.zeros(n, dtype=bool)
        hit[assigned_t] = True
        seen = np.ones(n, dtype=bool) if covers is None or n == 0 else covers(tr.x[:, :3])
        self._count(hit, seen & ~hit)
        for i in assigned_t:
            tr.sensors[i].add(batch.sensor_id)
        self._thrust_logic(assigned_t, t_s)
        updated = assigned_t.tolist()
        unused = np.setdiff1d(np.arange(m), assigned_d)
        if unused.size:
            self._start(batch, unused, rot)
        kept = self._manage()
        remap = np.cumsum(kept) - 1
        return sorted(int(remap[i]) for i in updated if kept[i])

    def positions(self) -> tuple[list[str], Array]:
        """Track numbers and ECEF positions (K, 3) of the confirmed tracks."""
        idx = np.flatnonzero(self._tr.number > 0)
        return [self._id(i) for i in idx], self._tr.x[idx, :3].copy()

    def tracks(self) -> list[Track]:
        """Snapshots of every confirmed track."""
        return [self._snapshot(int(i)) for i in np.flatnonzero(self._tr.number > 0)]

    # -- steps ------------------------------------------------------------------------------

    def _scan_without_detections(self, t_s: float, covers: Covers | None) -> list[int]:
        self._predict_all(t_s)
        n = len(self._tr)
        seen = np.ones(n, dtype=bool) if covers is None or n == 0 else covers(self._tr.x[:, :3])
        self._count(np.zeros(n, dtype=bool), seen)
        self._manage()
        return []

    def _predict_all(self, t_s: float) -> None:
        tr = self._tr
        if not len(tr):
            return
        dt = t_s - tr.t
        move = dt != 0.0
        if np.any(move):
            cfg = self.config
            qj = np.where(tr.ballistic[move], 0.0, cfg.q_jerk)
            qa = np.where(tr.ballistic[move], cfg.q_accel_ballistic, cfg.q_accel)
            tr.x[move], tr.p[move] = ekf.predict_batch(
                tr.x[move], tr.p[move], dt[move], q_jerk=qj, q_accel=qa
            )
            tr.t[move] = t_s

    def _gate(
        self,
        p: Array,
        h: Array,
        z_pred: Array,
        batch: DetectionBatch,
        rot: Array,
        rows: NDArray[np.int64],
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], Array]:
        """Candidate pairs (track row, detection index, d²) inside the gate."""
        tr = self._tr
        det_pos = _detection_positions(batch.z, batch.sensor_ecef_m, rot)
        pos_sigma = np.sqrt(np.trace(p[:, :3, :3], axis1=1, axis2=2))
        meas_sigma = batch.z[:, 0].max() * batch.sigma[:, 1:3].max() + batch.sigma[:, 0].max()
        radius = math.sqrt(self.config.gate_chi2) * (pos_sigma + meas_sigma) + 1.0
        tree = cKDTree(det_pos)
        hits = tree.query_ball_point(tr.x[rows, :3], radius)
        counts = np.array([len(hh) for hh in hits], dtype=np.int64)
        if counts.sum() == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        ti_local = np.repeat(np.arange(rows.size), counts)
        di = np.concatenate([np.asarray(hh, dtype=np.int64) for hh in hits if hh])
        y = ekf.wrap_innovation(batch.z[di], z_pred[ti_local])
        hp = h[ti_local] @ p[ti_local]
        s = hp @ np.swapaxes(h[ti_local], 1, 2)
        s[:, np.arange(4), np.arange(4)] += _noise_variance(
            batch.sigma[di], p[ti_local], batch.z[di]
        )
        d2 = np.einsum("ni,ni->n", y, np.linalg.solve(s, y[:, :, None])[:, :, 0])
        keep = d2 < self.config.gate_chi2
        return rows[ti_local[keep]], di[keep], d2[keep]

    def _update(
        self,
        ti: NDArray[np.int64],
        di: NDArray[np.int64],
        z_pred: Array,
        h: Array,
        batch: DetectionBatch,
        p: Array | None = None,
        x: Array | None = None,
    ) -> None:
        if not ti.size:
            return
        tr = self._tr
        x0 = tr.x[ti] if x is None else x
        p0 = tr.p[ti] if p is None else p
        hh = h if h.shape[0] == ti.size else h[ti]
        zp = z_pred if z_pred.shape[0] == ti.size else z_pred[ti]
        r = np.zeros((ti.size, 4, 4))
        r[:, np.arange(4), np.arange(4)] = _noise_variance(batch.sigma[di], p0, batch.z[di])
        y = ekf.wrap_innovation(batch.z[di], zp)
        s = hh @ p0 @ np.swapaxes(hh, 1, 2) + r
        tr.x[ti], tr.p[ti] = ekf.update_batch(x0, p0, y, s, hh, r)
        tr.last_x[ti], tr.last_p[ti], tr.last_t[ti] = tr.x[ti], tr.p[ti], batch.t_s

    def _retry(
        self,
        rows: NDArray[np.int64],
        dets: NDArray[np.int64],
        batch: DetectionBatch,
        rot: Array,
        t_s: float,
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Re-predict boosting tracks from their last update with inflated noise and gate
        them against the unused detections."""
        cfg, tr = self.config, self._tr
        infl = cfg.manoeuvre_inflation
        dt = t_s - tr.last_t[rows]
        x, p = ekf.predict_batch(
            tr.last_x[rows],
            tr.last_p[rows],
            dt,
            q_jerk=cfg.q_jerk * infl,
            q_accel=cfg.q_accel * infl,
        )
        sub = DetectionBatch(
            sensor_id=batch.sensor_id,
            nation=batch.nation,
            t_s=batch.t_s,
            sensor_ecef_m=batch.sensor_ecef_m,
            sensor_lat_rad=batch.sensor_lat_rad,
            sensor_lon_rad=batch.sensor_lon_rad,
            z=batch.z[dets],
            sigma=batch.sigma[dets],
            truth_ids=[batch.truth_ids[i] for i in dets],
            merged=batch.merged[dets],
            false_alarm=batch.false_alarm[dets],
        )
        z_pred, h = ekf.measure_batch(x, batch.sensor_ecef_m, rot)
        saved = tr.x[rows].copy(), tr.p[rows].copy()
        tr.x[rows], tr.p[rows] = x, p
        ti, di, d2 = self._gate(p, h, z_pred, sub, rot, rows)
        tr.x[rows], tr.p[rows] = saved
        at, ad = _assign(ti, di, d2)
        if at.size:
            local = np.searchsorted(rows, at)
            self._update(at, dets[ad], z_pred[local], h[local], batch, p=p[local], x=x[local])
        return at, dets[ad]

    def _count(self, hit: NDArray[np.bool_], missed: NDArray[np.bool_]) -> None:
        tr = self._tr
        scanned = hit | missed
        window = (1 << self.config.confirm_window) - 1
        tr.hits[scanned] = ((tr.hits[scanned] << 1) | hit[scanned].astype(np.int64)) & window
        tr.opportunities[scanned] += 1
        tr.misses[hit] = 0
        tr.misses[missed] += 1
        tr.updates[hit] += 1
        confirm = (tr.number == 0) & hit & (_popcount(tr.hits) >= self.config.confirm_hits)
        for i in np.flatnonzero(confirm):
            tr.number[i] = self._next_number
            self._next_number += 1

    def _thrust_logic(self, rows: NDArray[np.int64], t_s: float) -> None:
        """Turn tracks ballistic once their velocity has followed free flight for a while:
        the velocity change since an anchor at least ``thrust_window_s`` old is compared with
        the free-flight prediction from that anchor."""
        cfg, tr = self.config, self._tr
        rows = rows[~tr.ballistic[rows]]
        if not rows.size:
            return
        push = np.isnan(tr.anchor_t[rows, 0]) | (t_s - tr.anchor_t[rows, 0] >= _ANCHOR_SPACING_S)
        pr = rows[push]
        if pr.size:
            tr.anchor_t[pr] = np.roll(tr.anchor_t[pr], 1, axis=1)
            tr.anchor_x[pr] = np.roll(tr.anchor_x[pr], 1, axis=1)
            tr.anchor_pv[pr] = np.roll(tr.anchor_pv[pr], 1, axis=1)
            tr.anchor_t[pr, 0] = t_s
            tr.anchor_x[pr, 0] = tr.x[pr, :6]
            tr.anchor_pv[pr, 0] = tr.p[pr, 3:6, 3:6]
        age = t_s - tr.anchor_t[rows]
        ok = np.where(np.isnan(age), False, age >= cfg.thrust_window_s)
        has = ok.any(axis=1)
        if not has.any():
            return
        r2 = rows[has]
        col = np.argmax(ok[has], axis=1)  # the newest anchor old enough
        then_t = tr.anchor_t[r2, col]
        window = t_s - then_t
        free = tr.anchor_x[r2, col]
        steps = int(math.ceil(float(window.max()) / 5.0))
        for _ in range(steps):
            free = rk4_step(free, (window / steps)[:, None])
        dv = tr.x[r2, 3:6] - free[:, 3:6]
        cov = tr.p[r2, 3:6, 3:6] + tr.anchor_pv[r2, col]
        chi2 = np.einsum("ni,ni->n", dv, np.linalg.solve(cov, dv[:, :, None])[:, :, 0])
        coasting = (chi2 < THRUST_CHI2_3DOF) | (np.linalg.norm(dv, axis=1) / window < 2.0)
        tr.coast_run[r2] = np.where(coasting, tr.coast_run[r2] + 1, 0)
        turn = r2[(tr.number[r2] > 0) & (tr.coast_run[r2] >= cfg.ballistic_after)]
        if turn.size:
            tr.ballistic[turn] = True
            tr.x[turn, 6:9] = 0.0
            tr.p[turn, 6:9, :] = 0.0
            tr.p[turn, :, 6:9] = 0.0
            tr.p[turn, 6:9, 6:9] = 1e-12 * np.eye(3)

    def _start(self, batch: DetectionBatch, idx: NDArray[np.int64], rot: Array) -> None:
        cfg = self.config
        x, p = ekf.initial_states(
            batch.z[idx],
            batch.sigma[idx],
            batch.sensor_ecef_m,
            rot,
            sigma_speed_mps=cfg.sigma_speed_mps,
            sigma_accel_mps2=cfg.sigma_accel_mps2,
        )
        new = _Tracks.new(x, p, batch.t_s, batch.sensor_id)
        self._tr = self._tr.extend(new)

    def _manage(self) -> NDArray[np.bool_]:
        cfg, tr = self.config, self._tr
        if not len(tr):
            return np.zeros(0, dtype=bool)
        confirmed = tr.number > 0
        below = altitude_m(tr.x[:, :3]) < 0.0
        dead_confirmed = confirmed & ((tr.misses >= cfg.delete_misses) | below)
        hopeless = (tr.opportunities >= cfg.confirm_window) & (
            _popcount(tr.hits) < cfg.confirm_hits
        )
        dead_tentative = ~confirmed & (hopeless | (tr.misses >= 2))
        keep = ~(dead_confirmed | dead_tentative)
        self._tr = tr.select(keep)
        return keep

    def _id(self, i: int) -> str:
        return f"{self.nation}-T{int(self._tr.number[i]):04d}"

    def _snapshot(self, i: int) -> Track:
        tr = self._tr
        return Track(
            track_id=self._id(i),
            nation=self.nation,
            t_s=float(tr.t[i]),
            state=tr.x[i].copy(),
            covariance=tr.p[i].copy(),
            status=TrackState.CONFIRMED if tr.misses[i] == 0 else TrackState.COASTING,
            sensors=tuple(sorted(tr.sensors[i])),
            first_t_s=float(tr.first_t[i]),
            n_updates=int(tr.updates[i]),
            thrusting=not bool(tr.ballistic[i]),
        )


def _noise_variance(sigma: Array, p: Array, z: Array) -> Array:
    """Measurement variances (n, 4) plus the second-order error of the linearised range and
    range-rate, which matters while the velocity is still poorly known (a young track):
    an unknown cross-range velocity δv moves the range by |δv|² t² / 2ρ and the range-rate
    by |δv|² t / ρ over t = 1 s, terms the EKF's Jacobian does not see."""
    var_v = np.trace(p[:, 3:6, 3:6], axis1=1, axis2=2)
    rho = np.maximum(z[:, 0], 1.0)
    out = sigma**2
    out[:, 0] += (0.5 * var_v / rho) ** 2
    out[:, 3] += (var_v / rho) ** 2
    return np.asarray(out, dtype=np.float64)


def _popcount(v: NDArray[np.int64]) -> NDArray[np.int64]:
    out = np.zeros_like(v)
    w = v.copy()
    while np.any(w):
        out += w & 1
        w >>= 1
    return out


def _detection_positions(z: Array, sensor_ecef: Array, rot: Array) -> Array:
    rho, az, el = z[:, 0], z[:, 1], z[:, 2]
    ce = np.cos(el)
    enu = rho[:, None] * np.stack([ce * np.sin(az), ce * np.cos(az), np.sin(el)], axis=1)
    return np.asarray(sensor_ecef + enu @ rot, dtype=np.float64)


def _assign(
    ti: NDArray[np.int64], di: NDArray[np.int64], cost: Array
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Global nearest neighbour: optimal assignment within each connected cluster of
    candidate pairs; one-to-one clusters (the common case) are taken directly."""
    if not ti.size:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    tracks, t_local = np.unique(ti, return_inverse=True)
    dets, d_local = np.unique(di, return_inverse=True)
    nt, nd = tracks.size, dets.size
    graph = coo_matrix((np.ones(ti.size), (t_local, nt + d_local)), shape=(nt + nd, nt + nd))
    _, label = connected_components(graph, directed=False)
    pair_label = label[t_local]
    sizes = np.bincount(pair_label)
    out_t: list[NDArray[np.int64]] = []
    out_d: list[NDArray[np.int64]] = []
    single = sizes[pair_label] == 1
    out_t.append(ti[single])
    out_d.append(di[single])
    for lab in np.unique(pair_label[~single]):
        sel = pair_label == lab
        ut, ui = np.unique(ti[sel], return_inverse=True)
        ud, uj = np.unique(di[sel], return_inverse=True)
        big = 1e9
        mat = np.full((ut.size, ud.size), big)
        mat[ui, uj] = cost[sel]
        rr, cc = linear_sum_assignment(mat)
        ok = mat[rr, cc] < big
        out_t.append(ut[rr[ok]])
        out_d.append(ud[cc[ok]])
    return np.concatenate(out_t).astype(np.int64), np.concatenate(out_d).astype(np.int64)
