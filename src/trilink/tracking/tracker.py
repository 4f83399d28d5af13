"""The national tracker: one nation's sensors in, confirmed tracks out — batched.

Per scan of one sensor: predict every track to the scan time (one batched EKF step), find
candidate track–detection pairs through a k-d tree of the detections' positions, gate them
by Mahalanobis distance, assign by global nearest neighbour (optimal assignment within
each connected cluster of candidates), update all assigned tracks at once, give a
boosting track that missed its gate a second, wider try (its thrust may have changed),
start tentative tracks from the rest, confirm M-of-N and delete after misses. No Python
loop runs per track–detection pair.

Track numbers are owned by the tracker instance (``JPN-T0001``) and given on confirmation.

Each track runs an interacting multiple model (IMM) filter over two motion models: *boost*
(the thrust acceleration is a state driven by white jerk) and *ballistic* (free flight:
gravity with J2, Coriolis and centrifugal terms; the acceleration is held at 0). Every scan
mixes the two by their Markov switching probabilities, predicts and updates each, and
re-weighs them by their measurement likelihoods; the track's estimate is the mixture. A
track is *thrusting* while the boost model is the more probable.
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
from trilink.tracking import ekf
from trilink.types import Detection, DetectionBatch, Track, TrackState

__all__ = ["Tracker", "TrackerConfig"]

Array = NDArray[np.float64]
Covers = Callable[[Array], NDArray[np.bool_]]
_FROZEN_ACCEL_VAR: Final = 1e-12  # the ballistic model's acceleration: 0, held fixed
_LOG_2PI: Final = math.log(2.0 * math.pi)
_RETRY_BOOST_PROBABILITY: Final = 0.05  # only tracks this likely to be boosting get a retry


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
    p_boost_to_ballistic: float = field(
        default=0.01, metadata={"doc": "IMM switching probability per second, boost → coast"}
    )
    p_ballistic_to_boost: float = field(
        default=0.001, metadata={"doc": "IMM switching probability per second, coast → boost"}
    )
    initial_boost_probability: float = field(
        default=0.5, metadata={"doc": "IMM boost-model probability of a new track"}
    )
    manoeuvre_inflation: float = field(
        default=400.0, metadata={"doc": "process-noise factor of the second gate try"}
    )
    boost_prior_altitude_m: float = field(
        default=80_000.0, metadata={"doc": "below this a new track starts as likely boosting"}
    )
    low_boost_probability: float = field(
        default=0.95, metadata={"doc": "boost-model probability of such a low new track"}
    )


@dataclass
class _Tracks:
    """All tracks as arrays (one row per track); ``x``/``p`` hold the IMM mixture, ``xm``,
    ``pm`` and ``mu`` the two models (0 boost, 1 ballistic) and their probabilities."""

    x: Array
    p: Array
    xm: Array  # (n, 2, 9)
    pm: Array  # (n, 2, 9, 9)
    mu: Array  # (n, 2)
    t: Array
    first_t: Array
    hits: NDArray[np.int64]  # bit i set: hit i opportunities ago
    opportunities: NDArray[np.int64]
    misses: NDArray[np.int64]
    updates: NDArray[np.int64]
    number: NDArray[np.int64]  # 0 while tentative
    sensors: list[set[str]]

    @classmethod
    def new(
        cls, x: Array, p: Array, t_s: float, sensor: str | None, boost_probability: float
    ) -> _Tracks:
        """Tentative tracks started at ``t_s`` from states (k, 9) and covariances."""
        k = x.shape[0]
        zi = np.zeros(k, np.int64)
        xm = np.stack([x, _ballistic_state(x)], axis=1)
        pm = np.stack([p, _ballistic_covariance(p)], axis=1)
        mu = np.tile([boost_probability, 1.0 - boost_probability], (k, 1))
        out = cls(
            x=x.copy(),
            p=p.copy(),
            xm=xm,
            pm=pm,
            mu=mu,
            t=np.full(k, t_s),
            first_t=np.full(k, t_s),
            hits=np.ones(k, np.int64),
            opportunities=np.ones(k, np.int64),
            misses=zi.copy(),
            updates=np.ones(k, np.int64),
            number=zi.copy(),
            sensors=[{sensor} if sensor else set() for _ in range(k)],
        )
        out.combine(np.arange(k))
        return out

    @classmethod
    def empty(cls) -> _Tracks:
        return cls.new(np.zeros((0, 9)), np.zeros((0, 9, 9)), 0.0, None, 0.5)

    def combine(self, rows: NDArray[np.int64]) -> None:
        """Set the mixture estimate of ``rows`` from their models."""
        mu, xm, pm = self.mu[rows], self.xm[rows], self.pm[rows]
        x = np.einsum("nj,nji->ni", mu, xm)
        d = xm - x[:, None, :]
        p = np.einsum("nj,njab->nab", mu, pm + d[:, :, :, None] * d[:, :, None, :])
        self.x[rows], self.p[rows] = x, 0.5 * (p + np.swapaxes(p, 1, 2))

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
    "xm",
    "pm",
    "mu",
    "t",
    "first_t",
    "hits",
    "opportunities",
    "misses",
    "updates",
    "number",
)


def _ballistic_state(x: Array) -> Array:
    out = np.array(x, copy=True)
    out[..., 6:9] = 0.0
    return out


def _ballistic_covariance(p: Array) -> Array:
    out = np.array(p, copy=True)
    out[..., 6:9, :] = 0.0
    out[..., :, 6:9] = 0.0
    out[..., 6:9, 6:9] = _FROZEN_ACCEL_VAR * np.eye(3)
    return out


class Tracker:
    """One nation's multi-sensor tracker (batched EKF + GNN + M-of-N)."""

    def __init__(self, nation: str, config: TrackerConfig | None = None) -> None:
        self.nation = nation
        self.config = config or TrackerConfig()
        self._tr = _Tracks.empty()
        self._next_number = 1
        self._tree_batch: DetectionBatch | None = None
        self._tree_cache: cKDTree | None = None

    # -- public -----------------------------------------------------------------------------

    def process(
        self, t_s: float, detections: Sequence[Detection], *, covers: Covers | None = None
    ) -> list[Track]:
        """Take one scan of one sensor at ``t_s``; return confirmed tracks it updated.

        ``covers`` says which predicted positions (N, 3) the scanning sensor could see, so
        that only tracks it should have seen count a miss.
        """
        if detections:
            batch = DetectionBatch.from_detections(t_s, detections)
            updated = self.process_batch(batch, covers=covers)
        else:
            updated = self._scan_without_detections(t_s, covers)
        return [self._snapshot(i) for i in updated if self._tr.number[i] > 0]

    def process_batch(self, batch: DetectionBatch, *, covers: Covers | None = None) -> list[int]:
        """Take one scan as arrays; return the row indices of the tracks it updated."""
        self._predict_all(batch.t_s)
        tr = self._tr
        n, m = len(tr), len(batch)
        rot = enu_rotation(batch.sensor_lat_rad, batch.sensor_lon_rad)
        assigned_t = np.zeros(0, dtype=np.int64)
        assigned_d = np.zeros(0, dtype=np.int64)
        if n and m:
            ti, di, d2 = self._gate_models(batch, rot)
            bias = np.where(tr.number[ti] > 0, 0.0, 1.0)  # prefer confirmed tracks
            assigned_t, assigned_d = _assign(ti, di, d2 + bias)
            self._update(assigned_t, assigned_d, batch, rot)
            # A confirmed, possibly boosting track that missed may have just changed thrust
            # (burn-out, staging): give it a second, wider gate over the unused detections.
            boosting = (tr.number > 0) & (tr.mu[:, 0] > _RETRY_BOOST_PROBABILITY)
            free_t = np.setdiff1d(np.flatnonzero(boosting), assigned_t)
            free_d = np.setdiff1d(np.arange(m), assigned_d)
            if free_t.size and free_d.size:
                rt, rd = self._retry(free_t, free_d, batch, rot)
                assigned_t = np.concatenate([assigned_t, rt])
                assigned_d = np.concatenate([assigned_d, rd])
        hit = np.zeros(n, dtype=bool)
        hit[assigned_t] = True
        seen = np.ones(n, dtype=bool) if covers is None or n == 0 else covers(tr.x[:, :3])
        self._count(hit, seen & ~hit)
        for i in assigned_t:
            tr.sensors[i].add(batch.sensor_id)
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
        """IMM mixing and prediction of every track to ``t_s``."""
        tr, cfg = self._tr, self.config
        if not len(tr):
            return
        rows = np.flatnonzero(tr.t != t_s)
        if not rows.size:
            return
        dt = t_s - tr.t[rows]
        adt = np.abs(dt)
        a = 1.0 - (1.0 - cfg.p_boost_to_ballistic) ** adt
        b = 1.0 - (1.0 - cfg.p_ballistic_to_boost) ** adt
        pi = np.stack([np.stack([1.0 - a, a], axis=1), np.stack([b, 1.0 - b], axis=1)], axis=1)
        mu = tr.mu[rows]
        c = np.einsum("ni,nij->nj", mu, pi)
        w = mu[:, :, None] * pi / np.maximum(c[:, None, :], 1e-300)  # w[n, i, j] = mu_{i|j}
        xm, pm = tr.xm[rows], tr.pm[rows]
        x0 = np.einsum("nij,nia->nja", w, xm)
        d = xm[:, :, None, :] - x0[:, None, :, :]
        wd = w[..., None] * d  # (n, i, j, 9)
        p0 = np.einsum("nij,niab->njab", w, pm) + np.swapaxes(wd, 1, 2).transpose(
            0, 1, 3, 2
        ) @ np.swapaxes(d, 1, 2)
        x0[:, 1] = _ballistic_state(x0[:, 1])
        p0[:, 1] = _ballistic_covariance(p0[:, 1])
        k = rows.size
        qj = np.tile([cfg.q_jerk, 0.0], k)
        qa = np.tile([cfg.q_accel, cfg.q_accel_ballistic], k)
        xp, pp = ekf.predict_batch(
            x0.reshape(2 * k, 9),
            p0.reshape(2 * k, 9, 9),
            np.repeat(dt, 2),
            q_jerk=qj,
            q_accel=qa,
        )
        tr.xm[rows] = xp.reshape(k, 2, 9)
        tr.pm[rows] = pp.reshape(k, 2, 9, 9)
        tr.mu[rows] = c / c.sum(axis=1, keepdims=True)
        tr.t[rows] = t_s
        tr.combine(rows)

    def _tree(self, batch: DetectionBatch, rot: Array) -> cKDTree:
        """A k-d tree of the detections' ECEF positions, built once per batch."""
        if self._tree_batch is not batch or self._tree_cache is None:
            self._tree_batch = batch  # held, so the identity test cannot be fooled by reuse
            self._tree_cache = cKDTree(_detection_positions(batch.z, batch.sensor_ecef_m, rot))
        return self._tree_cache

    def _retry(
        self,
        rows: NDArray[np.int64],
        dets: NDArray[np.int64],
        batch: DetectionBatch,
        rot: Array,
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Inflate the process noise of ``rows`` over one second and gate them again against
        the detections ``dets``; update the tracks that now match. The others keep their
        covariances."""
        cfg, tr = self.config, self._tr
        infl = cfg.manoeuvre_inflation
        one = np.ones(rows.size)
        saved = tr.pm[rows].copy()
        tr.pm[rows, 0] += ekf.process_noise(one, cfg.q_jerk * infl * one, cfg.q_accel * infl * one)
        tr.pm[rows, 1] += ekf.process_noise(one, 0.0 * one, cfg.q_accel * infl * one)
        tr.pm[rows, 1] = _ballistic_covariance(tr.pm[rows, 1])
        ti, di, d2 = self._gate_models(batch, rot, rows=rows, dets=dets)
        at, ad = _assign(ti, di, d2)
        back = np.setdiff1d(rows, at)
        tr.pm[back] = saved[np.searchsorted(rows, back)]
        self._update(at, ad, batch, rot)
        return at, ad

    def _gate_models(
        self,
        batch: DetectionBatch,
        rot: Array,
        *,
        rows: NDArray[np.int64] | None = None,
        dets: NDArray[np.int64] | None = None,
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], Array]:
        """Candidate pairs inside the gate of either IMM model, with the smaller d²: right
        after burnout only the ballistic model predicts where the missile is."""
        tr = self._tr
        rows = np.arange(len(tr)) if rows is None else rows
        sub = batch if dets is None else batch.subset(dets)
        found = []
        for j in (0, 1):
            z_pred, h = ekf.measure_batch(tr.xm[rows, j], batch.sensor_ecef_m, rot)
            found.append(self._gate(tr.pm[rows, j], h, z_pred, sub, rot, rows, tr.xm[rows, j, :3]))
        ti = np.concatenate([f[0] for f in found])
        di = np.concatenate([f[1] for f in found])
        if dets is not None:
            di = dets[di]
        d2 = np.concatenate([f[2] for f in found])
        if not ti.size:
            return ti, di, d2
        order = np.lexsort((d2, di, ti))
        ti, di, d2 = ti[order], di[order], d2[order]
        first = np.ones(ti.size, dtype=bool)
        first[1:] = (ti[1:] != ti[:-1]) | (di[1:] != di[:-1])
        return ti[first], di[first], d2[first]

    def _gate(
        self,
        p: Array,
        h: Array,
        z_pred: Array,
        batch: DetectionBatch,
        rot: Array,
        rows: NDArray[np.int64],
        positions: Array,
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], Array]:
        """Candidate pairs (track row, detection index, d²) inside the gate of one
        estimate (``positions``, ``p``, ``h``, ``z_pred`` are per row)."""
        tree = self._tree(batch, rot)
        pos_sigma = np.sqrt(np.trace(p[:, :3, :3], axis1=1, axis2=2))
        meas_sigma = batch.z[:, 0].max() * batch.sigma[:, 1:3].max() + batch.sigma[:, 0].max()
        radius = math.sqrt(self.config.gate_chi2) * (pos_sigma + meas_sigma) + 1.0
        hits = tree.query_ball_point(positions, radius)
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
        self, ti: NDArray[np.int64], di: NDArray[np.int64], batch: DetectionBatch, rot: Array
    ) -> None:
        """Update both models of the assigned tracks and re-weigh them by likelihood."""
        if not ti.size:
            return
        tr = self._tr
        loglik = np.zeros((ti.size, 2))
        for j in (0, 1):
            x, p = tr.xm[ti, j], tr.pm[ti, j]
            z_pred, h = ekf.measure_batch(x, batch.sensor_ecef_m, rot)
            r = np.zeros((ti.size, 4, 4))
            r[:, np.arange(4), np.arange(4)] = _noise_variance(batch.sigma[di], p, batch.z[di])
            y = ekf.wrap_innovation(batch.z[di], z_pred)
            s = h @ p @ np.swapaxes(h, 1, 2) + r
            xu, pu = ekf.update_batch(x, p, y, s, h, r)
            if j == 1:
                xu, pu = _ballistic_state(xu), _ballistic_covariance(pu)
            tr.xm[ti, j], tr.pm[ti, j] = xu, pu
            d2 = np.einsum("ni,ni->n", y, np.linalg.solve(s, y[:, :, None])[:, :, 0])
            _, logdet = np.linalg.slogdet(s)
            loglik[:, j] = -0.5 * (d2 + logdet + 4.0 * _LOG_2PI)
        weights = tr.mu[ti] * np.exp(loglik - loglik.max(axis=1, keepdims=True))
        tr.mu[ti] = np.maximum(weights / weights.sum(axis=1, keepdims=True), 1e-9)
        tr.mu[ti] /= tr.mu[ti].sum(axis=1, keepdims=True)
        tr.combine(ti)

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
        new = _Tracks.new(x, p, batch.t_s, batch.sensor_id, cfg.initial_boost_probability)
        # Prior: an object first seen low in the atmosphere is almost surely still under
        # power (a ballistic one that low would be re-entering, seen long before).
        low = altitude_m(x[:, :3]) < cfg.boost_prior_altitude_m
        new.mu[low] = [cfg.low_boost_probability, 1.0 - cfg.low_boost_probability]
        new.combine(np.flatnonzero(low))
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
        if not keep.all():
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
            thrusting=bool(tr.mu[i, 0] > 0.5),
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
