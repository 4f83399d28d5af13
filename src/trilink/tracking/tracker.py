"""The national tracker: one nation's sensors in, confirmed tracks out — batched.

Per scan of one sensor: predict every track to the scan time (one batched EKF step), find
candidate track–detection pairs through a k-d tree of the detections' positions, gate them
by Mahalanobis distance, assign by global nearest neighbour (optimal assignment within
each connected cluster of candidates), update all assigned tracks at once, give a
boosting track that missed its gate a second, wider try (its thrust may have changed),
start tentative tracks from the rest, confirm M-of-N and delete after misses. No Python
loop runs per track–detection pair: the IMM mixing and prediction, the gating distances
and the Kalman updates run as compiled loops over tracks and pairs
(:mod:`trilink.tracking._kernels`, numba), the rest as numpy array operations.

Track numbers are owned by the tracker instance (``JPN-T0001``) and given on confirmation.

Each track runs an interacting multiple model (IMM) filter over two motion models: *boost*
(the thrust acceleration is a state driven by white jerk) and *ballistic* (unpowered
flight: gravity with J2, Coriolis and centrifugal terms; the acceleration is held at 0
above the air and is drag once the object falls into it: along the velocity, never a
push, a random walk whose jerk grows with the air density, bounded by the lightest
object allowed, ``drag_beta_min_kg_m2``: :func:`~trilink.tracking.ekf.drag_regime`).
Every scan mixes the two by their Markov switching probabilities, predicts and updates
each, and re-weighs them by their measurement likelihoods; the track's estimate is the
mixture. A track is *thrusting* while the boost model is the more probable.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from trilink.geo.atmosphere import DENSITY_TABLE
from trilink.geo.earth import altitude_m, enu_rotation
from trilink.sensors.infrared import LineOfSight
from trilink.tracking import _kernels, ekf, jpda
from trilink.types import Detection, DetectionBatch, Track, TrackState

__all__ = ["IR_KEEP_S", "Tracker", "TrackerConfig"]

Array = NDArray[np.float64]
Covers = Callable[[Array], NDArray[np.bool_]]
_FROZEN_ACCEL_VAR: Final = 1e-12  # the ballistic model's acceleration off its drag axis: 0
_LOG_2PI: Final = math.log(2.0 * math.pi)
_RETRY_BOOST_PROBABILITY: Final = 0.05  # only tracks this likely to be boosting get a retry
IR_KEEP_S: Final = 900.0  # infrared lines of sight kept for the launch-point fit


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """Parameters of a national tracker."""

    association: Literal["gnn", "jpda"] = field(
        default="gnn",
        metadata={
            "doc": "gnn: global nearest neighbour (one detection per track, with the "
            "closely-spaced-object rules); jpda: joint probabilistic data association"
        },
    )
    confirm_hits: int = field(default=3, metadata={"doc": "M of M-of-N confirmation"})
    confirm_window: int = field(default=5, metadata={"doc": "N of M-of-N confirmation"})
    delete_misses: int = field(default=6, metadata={"doc": "consecutive misses to delete"})
    gate_chi2: float = field(default=ekf.GATE_CHI2_4DOF, metadata={"doc": "gate, 4 dof"})
    q_jerk: float = field(default=20.0, metadata={"doc": "thrust jerk noise, m²/s⁵"})
    q_accel: float = field(default=0.5, metadata={"doc": "unmodelled acceleration, m²/s³"})
    q_accel_ballistic: float = field(default=0.01, metadata={"doc": "same when ballistic"})
    drag_beta_min_kg_m2: float = field(
        default=ekf.DRAG_BETA_MIN_KG_M2,
        metadata={
            "doc": "lightest ballistic coefficient m/(C_D A) the unpowered model allows for "
            "when it falls into the air (a tumbling spent stage ~1,000–2,000, a re-entry "
            "vehicle several thousand kg/m²): how fast its drag may grow"
        },
    )
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
    max_coast_s: float = field(
        default=120.0,
        metadata={
            "doc": "a confirmed track not updated for this long is deleted, even out of every "
            "sensor's coverage: after a long gap its identity among nearby objects is a guess"
        },
    )
    split_sigma_speed_mps: float = field(
        default=30.0,
        metadata={"doc": "1-sigma separation speed of an object splitting from a track"},
    )
    split_chi2: float = field(
        default=25.0,
        metadata={
            "doc": "a second detection in a confirmed track's gate starts a child track only "
            "if it differs from the track's own detection by this much (chi², 4 dof)"
        },
    )
    split_near_chi2: float = field(
        default=400.0,
        metadata={
            "doc": "two detections this close (chi², 4 dof, measurement noise only) may be "
            "objects of one group, to be kept in flight order"
        },
    )
    order_sigma: float = field(
        default=1.0,
        metadata={
            "doc": "two closely spaced split objects are ordered along the flight path only "
            "if their detections' ranges differ by this many noise sigmas"
        },
    )
    merge_range_m: float = field(
        default=150.0,
        metadata={
            "doc": "a split pair closer than this in a sensor's range (a few range cells) "
            "that gets one report from it holds the track that took it (0: never)"
        },
    )
    ir_cue_window_s: float = field(
        default=20.0, metadata={"doc": "an infrared line of sight cues initiation this long"}
    )
    ir_cue_sigmas: float = field(
        default=4.0,
        metadata={"doc": "a detection cued by a line of sight lies within this many sigmas of it"},
    )
    ir_cued_confirm_hits: int = field(
        default=2, metadata={"doc": "M of M-of-N confirmation for a track cued by infrared"}
    )
    jpda_detection_probability: float = field(
        default=0.9, metadata={"doc": "JPDA: probability a track is detected in a scan"}
    )
    jpda_clutter_density: float = field(
        default=1e-9,
        metadata={
            "doc": "JPDA: false alarms per unit of measurement space (m · rad² · m/s); "
            "10 per scan over 2,500 km × 2 rad × 1 rad × 6 km/s is about 3e-10"
        },
    )
    jpda_max_events: int = field(
        default=jpda.MAX_EVENTS,
        metadata={"doc": "JPDA: clusters with more joint events use the cheap-JPDA marginals"},
    )
    ambiguity_cost: float = field(
        default=4.0,
        metadata={
            "doc": "an assignment in a multi-track cluster that beats the best alternative "
            "by less than this (2 × log-likelihood ratio) is a near-tie: not updated"
        },
    )

    def __post_init__(self) -> None:
        if self.association not in ("gnn", "jpda"):
            raise ValueError(
                f"TrackerConfig.association must be 'gnn' or 'jpda', got {self.association!r}"
            )
        if not self.drag_beta_min_kg_m2 > 0.0:
            raise ValueError(
                "TrackerConfig.drag_beta_min_kg_m2 must be a positive ballistic coefficient "
                f"(kg/m²), got {self.drag_beta_min_kg_m2!r}; 1000 suits spent stages"
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
    last_hit_t: Array  # time of the last update
    hits: NDArray[np.int64]  # bit i set: hit i opportunities ago
    opportunities: NDArray[np.int64]
    misses: NDArray[np.int64]
    updates: NDArray[np.int64]
    number: NDArray[np.int64]  # 0 while tentative
    serial: NDArray[np.int64]  # unique within the tracker, from 1, given at creation
    trails: NDArray[np.int64]  # serial of the track this one split from and trails, or 0
    cued: NDArray[np.bool_]  # started on a detection an infrared line of sight pointed at
    sensors: list[set[str]]

    @classmethod
    def new(
        cls,
        x: Array,
        p: Array,
        t_s: float,
        sensor: str | None,
        boost_probability: float,
        beta_min_kg_m2: float,
    ) -> _Tracks:
        """Tentative tracks started at ``t_s`` from states (k, 9) and covariances."""
        k = x.shape[0]
        zi = np.zeros(k, np.int64)
        xb, pb = _unpowered(x, p, beta_min_kg_m2)
        xm = np.stack([x, xb], axis=1)
        pm = np.stack([p, pb], axis=1)
        mu = np.tile([boost_probability, 1.0 - boost_probability], (k, 1))
        out = cls(
            x=x.copy(),
            p=p.copy(),
            xm=xm,
            pm=pm,
            mu=mu,
            t=np.full(k, t_s),
            first_t=np.full(k, t_s),
            last_hit_t=np.full(k, t_s),
            hits=np.ones(k, np.int64),
            opportunities=np.ones(k, np.int64),
            misses=zi.copy(),
            updates=np.ones(k, np.int64),
            number=zi.copy(),
            serial=zi.copy(),
            trails=zi.copy(),
            cued=np.zeros(k, dtype=bool),
            sensors=[{sensor} if sensor else set() for _ in range(k)],
        )
        out.combine(np.arange(k))
        return out

    def clone(self, rows: NDArray[np.int64], t_s: float, sensor: str) -> _Tracks:
        """New tentative tracks (one hit, started at ``t_s``) with the filter state (models,
        mode probabilities) of ``rows``."""
        # (their models are replaced by the parents' below: the drag bound plays no part)
        out = _Tracks.new(self.x[rows], self.p[rows], t_s, sensor, 0.5, math.inf)
        out.xm, out.pm, out.mu = self.xm[rows].copy(), self.pm[rows].copy(), self.mu[rows].copy()
        out.combine(np.arange(rows.size))
        return out

    @classmethod
    def empty(cls) -> _Tracks:
        return cls.new(np.zeros((0, 9)), np.zeros((0, 9, 9)), 0.0, None, 0.5, math.inf)

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
    "last_hit_t",
    "hits",
    "opportunities",
    "misses",
    "updates",
    "number",
    "serial",
    "trails",
    "cued",
)


def _unpowered(x: Array, p: Array, beta_min_kg_m2: float) -> tuple[Array, Array]:
    """States (n, 9) and covariances (n, 9, 9) as the unpowered (ballistic) model holds
    them: no thrust; in the air (:func:`~trilink.tracking.ekf.drag_regime`) the
    acceleration is drag, its component along the velocity (never a push), and its
    covariance is projected on that axis (the two others held at 0)."""
    on, u, _ = ekf.drag_regime(x, beta_min_kg_m2)
    axis = np.where(on[:, None, None], u[:, :, None] * u[:, None, :], 0.0)
    along = np.minimum(np.einsum("ni,ni->n", x[:, 6:9], u), 0.0)
    xo = np.array(x, copy=True)
    xo[:, 6:9] = np.where(on, along, 0.0)[:, None] * u
    t = np.broadcast_to(np.eye(9), p.shape).copy()
    t[:, 6:9, 6:9] = axis
    po = t @ p @ np.swapaxes(t, 1, 2)
    po[:, 6:9, 6:9] += _FROZEN_ACCEL_VAR * (np.eye(3) - axis)
    return xo, po


class Tracker:
    """One nation's multi-sensor tracker (batched EKF + GNN + M-of-N)."""

    def __init__(self, nation: str, config: TrackerConfig | None = None) -> None:
        self.nation = nation
        self.config = config or TrackerConfig()
        ekf.load_kernels()
        _kernels.warm()
        self._tr = _Tracks.empty()
        self._next_number = 1
        self._next_serial = 1
        self._ir: list[LineOfSight] = []
        self._tree_batch: DetectionBatch | None = None
        self._tree_cache: cKDTree | None = None
        self._assoc_rows = np.zeros(0, dtype=np.int64)  # the last scan's updated rows
        self._assoc_dets = np.zeros(0, dtype=np.int64)  # and their detections

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
        tr, cfg = self._tr, self.config
        n, m = len(tr), len(batch)
        rot = enu_rotation(batch.sensor_lat_rad, batch.sensor_lon_rad)
        none = np.zeros(0, dtype=np.int64)
        ti, di, cost = none, none, np.zeros(0)
        ut, ud, hold, rt, rd = none, none, np.zeros(0, dtype=bool), none, none
        if n and m:
            ti, di, cost = self._gate_models(batch, rot)
            if cfg.association == "jpda":
                return self._process_jpda(ti, di, cost, batch, rot, covers)
            ut, ud, hold, rt, rd = self._associate(ti, di, cost, batch, rot)
        # Detections nobody took: in a confirmed track's gate, they are another object of
        # its group (a separating stage), or, too near to tell apart from the track's own
        # detection, its unresolved twin, which starts nothing.
        unused = np.setdiff1d(np.arange(m), np.concatenate([ud, rd]))
        took = np.full(n, -1, dtype=np.int64)
        took[ut], took[rt] = ud, rd
        parent = np.full(unused.size, -1, dtype=np.int64)
        twin = np.zeros(unused.size, dtype=bool)
        if unused.size and n:
            confirmed = tr.number > 0
            parent = _split_parents(ti, di, cost, confirmed, unused, m)
            near = parent < 0
            if near.any():
                parent[near] = _near_parents(batch, unused[near], took, confirmed, cfg)
            has = parent >= 0
            twin[has] = ~_resolved(batch, unused[has], took[parent[has]], cfg)
        self._update(ut[~hold], ud[~hold], batch, rot)
        assigned_t = np.concatenate([ut[~hold], rt])
        assigned_d = np.concatenate([ud[~hold], rd])
        hit = np.zeros(n, dtype=bool)
        hit[assigned_t] = True
        seen = np.ones(n, dtype=bool) if covers is None or n == 0 else covers(tr.x[:, :3])
        seen[ut[hold]] = False  # a held track neither hit nor missed
        self._count(hit, seen & ~hit)
        for i in assigned_t:
            tr.sensors[i].add(batch.sensor_id)
        spawn = (parent >= 0) & ~twin
        if spawn.any():
            moved = self._split(parent[spawn], unused[spawn], took[parent[spawn]], batch, rot)
            for row, det in moved.items():
                assigned_d[assigned_t == row] = det
        fresh = parent < 0
        if fresh.any():
            self._start(batch, unused[fresh], rot)
        kept = self._manage()
        remap = np.cumsum(kept) - 1
        alive = kept[assigned_t]
        self._assoc_rows = remap[assigned_t[alive]]
        self._assoc_dets = assigned_d[alive]
        return sorted(remap[assigned_t[alive]].tolist())

    def _process_jpda(
        self,
        ti: NDArray[np.int64],
        di: NDArray[np.int64],
        cost: Array,
        batch: DetectionBatch,
        rot: Array,
        covers: Covers | None,
    ) -> list[int]:
        """The rest of a scan under JPDA: every track is updated with all its gated
        detections weighed by their marginal probabilities; a track whose detection
        probability (1 - β∅) reaches 1/2 counts a hit; a detection that no track claims
        with probability 1/2 starts a tentative track."""
        tr, cfg = self._tr, self.config
        n, m = len(tr), len(batch)
        res = jpda.jpda_probabilities(
            ti,
            di,
            -0.5 * (cost + 4.0 * _LOG_2PI),
            pd=cfg.jpda_detection_probability,
            clutter_density=cfg.jpda_clutter_density,
            max_events=cfg.jpda_max_events,
        )
        self._update_jpda(ti, di, res, batch, rot)
        hit = np.zeros(n, dtype=bool)
        hit[res.tracks[res.miss_beta <= 0.5]] = True
        seen = np.ones(n, dtype=bool) if covers is None else covers(tr.x[:, :3])
        self._count(hit, seen & ~hit)
        best = np.full(n, -1, dtype=np.int64)
        order = np.argsort(res.pair_beta)  # the most probable detection written last
        best[ti[order]] = di[order]
        for i in np.flatnonzero(hit):
            tr.sensors[i].add(batch.sensor_id)
        claimed = np.bincount(di, weights=res.pair_beta, minlength=m)
        unused = np.flatnonzero(claimed < 0.5)
        if unused.size:
            self._start(batch, unused, rot)
        kept = self._manage()
        remap = np.cumsum(kept) - 1
        rows = np.flatnonzero(hit & kept[:n])
        self._assoc_rows, self._assoc_dets = remap[rows], best[rows]
        return sorted(remap[rows].tolist())

    def _update_jpda(
        self,
        ti: NDArray[np.int64],
        di: NDArray[np.int64],
        res: jpda.JpdaResult,
        batch: DetectionBatch,
        rot: Array,
    ) -> None:
        """PDA update of both IMM models of every track with gated detections: the
        innovation is the β-weighted mean over its detections, the covariance adds the
        spread of the innovations; the gain is that of the track's most probable pair
        (whose noise the others' differ from only by SNR). Mode probabilities are
        re-weighed by the β-weighted measurement likelihoods."""
        if not ti.size:
            return
        tr = self._tr
        rows = res.tracks
        local = np.searchsorted(rows, ti)
        nr = rows.size
        order = np.lexsort((res.pair_beta, local))
        last = np.ones(order.size, dtype=bool)
        last[:-1] = local[order][1:] != local[order][:-1]
        best_pair = np.empty(nr, dtype=np.int64)
        best_pair[local[order][last]] = order[last]
        beta = res.pair_beta
        b0 = res.miss_beta
        lik = np.zeros((nr, 2))
        for j in (0, 1):
            x, p = tr.xm[rows, j], tr.pm[rows, j]
            z_pred, h = ekf.measure_batch(x, batch.sensor_ecef_m, rot)
            y = ekf.wrap_innovation(batch.z[di], z_pred[local])  # (pairs, 4)
            dbest = di[best_pair]
            r = np.zeros((nr, 4, 4))
            r[:, np.arange(4), np.arange(4)] = _noise_variance(
                batch.sigma[dbest], p, batch.z[dbest]
            )
            s = h @ p @ np.swapaxes(h, 1, 2) + r
            k = np.swapaxes(np.linalg.solve(s, h @ p), 1, 2)  # (nr, 9, 4)
            nu = np.zeros((nr, 4))
            np.add.at(nu, local, beta[:, None] * y)
            spread = np.zeros((nr, 4, 4))
            np.add.at(spread, local, beta[:, None, None] * y[:, :, None] * y[:, None, :])
            spread -= nu[:, :, None] * nu[:, None, :]
            xu = x + np.einsum("nij,nj->ni", k, nu)
            kskt = k @ s @ np.swapaxes(k, 1, 2)
            pu = p - (1.0 - b0)[:, None, None] * kskt + k @ spread @ np.swapaxes(k, 1, 2)
            pu = 0.5 * (pu + np.swapaxes(pu, 1, 2))
            if j == 1:
                xu, pu = _unpowered(xu, pu, self.config.drag_beta_min_kg_m2)
            tr.xm[rows, j], tr.pm[rows, j] = xu, pu
            sinv_y = np.linalg.solve(s[local], y[:, :, None])[:, :, 0]
            d2 = np.einsum("ni,ni->n", y, sinv_y)
            _, logdet = np.linalg.slogdet(s)
            pair_lik = np.exp(-0.5 * (d2 + logdet[local] + 4.0 * _LOG_2PI))
            np.add.at(lik[:, j], local, beta * pair_lik)
        lik = np.maximum(lik, 1e-300)
        weights = tr.mu[rows] * (lik / lik.max(axis=1, keepdims=True))
        mu = np.maximum(weights / weights.sum(axis=1, keepdims=True), 1e-9)
        tr.mu[rows] = mu / mu.sum(axis=1, keepdims=True)
        tr.combine(rows)

    def process_infrared(self, t_s: float, lines: Sequence[LineOfSight]) -> None:
        """Take this nation's space-infrared reports up to ``t_s``: lines of sight to
        burning plumes, no range. For ``ir_cue_window_s`` each cues the initiation of radar
        tracks on it (fewer hits to confirm, started as boosting); all are kept for
        ``IR_KEEP_S`` for the launch-point fit (:meth:`infrared`)."""
        self._ir.extend(lines)
        horizon = t_s - max(IR_KEEP_S, self.config.ir_cue_window_s)
        self._ir = [ln for ln in self._ir if ln.t_s >= horizon]

    def infrared(self) -> list[LineOfSight]:
        """The infrared lines of sight kept (oldest first), for the launch-point fit of
        :func:`trilink.alerting.launch.fit_launch`."""
        return sorted(self._ir, key=lambda ln: ln.t_s)

    def _on_infrared(self, pos: Array, p_pos: Array, t_s: float) -> NDArray[np.bool_]:
        """Whether each position (K, 3), with covariance (K, 3, 3), lies on a recent line
        of sight: its distance from the ray within ``ir_cue_sigmas`` of the combined
        uncertainty (angular noise times range, plus the position's)."""
        cfg = self.config
        recent = [ln for ln in self._ir if 0.0 <= t_s - ln.t_s <= cfg.ir_cue_window_s]
        out = np.zeros(pos.shape[0], dtype=bool)
        if not recent or not pos.shape[0]:
            return out
        sat = np.array([ln.sensor_ecef_m for ln in recent])  # (L, 3)
        u = np.array([ln.los_ecef for ln in recent])
        sig = np.array([ln.sigma_rad for ln in recent])
        d = pos[:, None, :] - sat[None, :, :]  # (K, L, 3)
        along = np.einsum("kli,li->kl", d, u)
        perp = np.linalg.norm(d - along[:, :, None] * u[None, :, :], axis=2)
        pos_sigma = np.sqrt(np.trace(p_pos, axis1=1, axis2=2))[:, None]
        # Up to the window's age, the plume moved: allow its climb (~3 km/s) on top.
        age = t_s - np.array([ln.t_s for ln in recent])[None, :]
        limit = cfg.ir_cue_sigmas * (sig[None, :] * along + pos_sigma) + 3_000.0 * age
        return np.asarray(np.any((along > 0.0) & (perp < limit), axis=1))

    def associations(self) -> dict[str, int]:
        """Which detection of the last scan (its index in the scan) updated each confirmed
        track: for metrics that judge association against truth labels."""
        return {
            self._id(int(r)): int(d)
            for r, d in zip(self._assoc_rows.tolist(), self._assoc_dets.tolist(), strict=True)
            if self._tr.number[r] > 0
        }

    def positions(self) -> tuple[list[str], Array]:
        """Track numbers and ECEF positions (K, 3) of the confirmed tracks."""
        idx = np.flatnonzero(self._tr.number > 0)
        return [self._id(i) for i in idx], self._tr.x[idx, :3].copy()

    def tracks(self) -> list[Track]:
        """Snapshots of every confirmed track."""
        return [self._snapshot(int(i)) for i in np.flatnonzero(self._tr.number > 0)]

    # -- steps ------------------------------------------------------------------------------

    def _scan_without_detections(self, t_s: float, covers: Covers | None) -> list[int]:
        self._assoc_rows = self._assoc_dets = np.zeros(0, dtype=np.int64)
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
        _kernels.imm_predict(
            rows.astype(np.int64),
            float(t_s),
            tr.t,
            tr.x,
            tr.p,
            tr.xm,
            tr.pm,
            tr.mu,
            cfg.p_boost_to_ballistic,
            cfg.p_ballistic_to_boost,
            cfg.q_jerk,
            cfg.q_accel,
            cfg.q_accel_ballistic,
            _FROZEN_ACCEL_VAR,
            cfg.drag_beta_min_kg_m2,
            DENSITY_TABLE,
        )

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
        tr.xm[rows, 1], tr.pm[rows, 1] = _unpowered(
            tr.xm[rows, 1], tr.pm[rows, 1], cfg.drag_beta_min_kg_m2
        )
        ti, di, cost = self._gate_models(batch, rot, rows=rows, dets=dets)
        at, ad, _ = _assign(ti, di, cost)
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
        """Candidate pairs (track row, detection index, cost) inside the gate of either IMM
        model: right after burnout only the ballistic model predicts where the missile is.

        The cost of a pair is its negative log-likelihood ``d² + ln|S| - 2 ln μ`` under the
        more likely model (up to a constant): a vague track (a young one, or one that just
        manoeuvred) does not win a detection from a precise one on a small d² alone, which
        is what keeps two closely spaced objects on their own tracks.
        """
        tr = self._tr
        rows = np.arange(len(tr)) if rows is None else rows
        sub = batch if dets is None else batch.subset(dets)
        none = np.zeros(0, np.int64)
        if not rows.size or not len(sub):
            return none, none, np.zeros(0)
        # One k-d tree query for both models: around the mixture, wide enough for either.
        tree = self._tree(sub, rot)
        pos_sigma = np.sqrt(np.trace(tr.pm[:, :, :3, :3], axis1=2, axis2=3)[rows])  # (n, 2)
        spread = np.linalg.norm(tr.xm[rows, :, :3] - tr.x[rows, None, :3], axis=2)
        meas_sigma = sub.z[:, 0].max() * sub.sigma[:, 1:3].max() + sub.sigma[:, 0].max()
        radius = np.max(
            math.sqrt(self.config.gate_chi2) * (pos_sigma + meas_sigma) + spread, axis=1
        )
        hits = tree.query_ball_point(tr.x[rows, :3], radius + 1.0, return_sorted=False)
        counts = np.fromiter((len(hh) for hh in hits), dtype=np.int64, count=rows.size)
        total = int(counts.sum())
        if total == 0:
            return none, none, np.zeros(0)
        t_loc = np.repeat(np.arange(rows.size), counts)
        d_loc = np.fromiter(itertools.chain.from_iterable(hits), dtype=np.int64, count=total)
        cost = _kernels.gate_costs(
            rows.astype(np.int64),
            t_loc,
            d_loc,
            tr.xm,
            tr.pm,
            tr.mu,
            np.ascontiguousarray(sub.z),
            np.ascontiguousarray(sub.sigma),
            np.ascontiguousarray(sub.sensor_ecef_m, dtype=np.float64),
            np.ascontiguousarray(rot),
            float(self.config.gate_chi2),
        )
        keep = np.isfinite(cost)
        di = d_loc[keep] if dets is None else dets[d_loc[keep]]
        return rows[t_loc[keep]], di, cost[keep]

    def _update(
        self, ti: NDArray[np.int64], di: NDArray[np.int64], batch: DetectionBatch, rot: Array
    ) -> None:
        """Update both models of the assigned tracks and re-weigh them by likelihood."""
        if not ti.size:
            return
        tr = self._tr
        _kernels.imm_update(
            ti.astype(np.int64),
            di.astype(np.int64),
            tr.x,
            tr.p,
            tr.xm,
            tr.pm,
            tr.mu,
            np.ascontiguousarray(batch.z),
            np.ascontiguousarray(batch.sigma),
            np.ascontiguousarray(batch.sensor_ecef_m, dtype=np.float64),
            np.ascontiguousarray(rot),
            _FROZEN_ACCEL_VAR,
            self.config.drag_beta_min_kg_m2,
            DENSITY_TABLE,
        )

    def _count(self, hit: NDArray[np.bool_], missed: NDArray[np.bool_]) -> None:
        tr = self._tr
        scanned = hit | missed
        window = (1 << self.config.confirm_window) - 1
        tr.hits[scanned] = ((tr.hits[scanned] << 1) | hit[scanned].astype(np.int64)) & window
        tr.opportunities[scanned] += 1
        tr.misses[hit] = 0
        tr.misses[missed] += 1
        tr.updates[hit] += 1
        tr.last_hit_t[hit] = tr.t[hit]
        need = np.where(tr.cued, self.config.ir_cued_confirm_hits, self.config.confirm_hits)
        confirm = (tr.number == 0) & hit & (_popcount(tr.hits) >= need)
        for i in np.flatnonzero(confirm):
            tr.number[i] = self._next_number
            self._next_number += 1

    def _associate(
        self,
        ti: NDArray[np.int64],
        di: NDArray[np.int64],
        cost: Array,
        batch: DetectionBatch,
        rot: Array,
    ) -> tuple[
        NDArray[np.int64],
        NDArray[np.int64],
        NDArray[np.bool_],
        NDArray[np.int64],
        NDArray[np.int64],
    ]:
        """Assign the gated pairs: track rows and detections to update (or, flagged, to
        hold), and the retried tracks with their detections (already updated).

        Confirmed tracks choose first; then a confirmed track that may be boosting and
        found nothing gets a wider second try (its thrust may have just changed: burn-out,
        staging); only then do tentative tracks take what is left. Otherwise a young track
        started on a separating stage takes the missile's detection while the missile's own
        track, a little off after staging, misses. A near-tie between closely spaced
        objects holds those tracks (no update, no miss) unless their flight order settles it.
        """
        tr = self._tr
        m = len(batch)
        firm = tr.number[ti] > 0
        at, ad, amb = _assign(ti[firm], di[firm], cost[firm], ambiguity=self.config.ambiguity_cost)
        boosting = (tr.number > 0) & (tr.mu[:, 0] > _RETRY_BOOST_PROBABILITY)
        free_t = np.setdiff1d(np.flatnonzero(boosting), at)
        free_d = np.setdiff1d(np.arange(m), ad)
        rt = rd = np.zeros(0, dtype=np.int64)
        if free_t.size and free_d.size:
            rt, rd = self._retry(free_t, free_d, batch, rot)
        ad = self._lead_pick(at, ad, amb, np.concatenate([ad, rd]), (ti, di), batch, rot)
        taken = np.zeros(m, dtype=bool)
        taken[np.concatenate([ad, rd])] = True
        young = ~firm & ~taken[di]
        yt, yd, _ = _assign(ti[young], di[young], cost[young])
        ut = np.concatenate([at, yt])
        ud = np.concatenate([ad, yd])
        hold = np.concatenate([amb, np.zeros(yt.size, dtype=bool)])
        ud, hold = self._keep_order(ut, ud, hold, ti, di, batch, rot)
        hold = self._hold_lone(ut, hold, batch)
        return ut, ud, hold, rt, rd

    def _hold_lone(
        self, ut: NDArray[np.int64], hold: NDArray[np.bool_], batch: DetectionBatch
    ) -> NDArray[np.bool_]:
        """Hold a track of a split pair (one trails the other) that took a detection in a
        scan in which its confirmed partner took none, while the sensor sees the two at
        ranges closer than ``merge_range_m``: the lone report may be both objects in one
        resolution cell (a power-weighted centroid, nearer the brighter stage) or either
        one with the other missed, and updating whichever track is nearer with it pulls
        that track onto the other object. Range tells the pair apart a few range cells
        on; until then the sensors that resolve the pair carry both tracks."""
        tr, cfg = self._tr, self.config
        linked = np.flatnonzero((tr.trails > 0) & (tr.number > 0))
        if not linked.size or not ut.size or cfg.merge_range_m <= 0.0:
            return hold
        # Serials grow with the row (tracks are appended, deletions keep the order).
        pos = np.searchsorted(tr.serial, tr.trails[linked])
        found = pos < len(tr)
        found[found] = tr.serial[pos[found]] == tr.trails[linked][found]
        trailer, leader = linked[found], pos[found]
        took = np.zeros(len(tr), dtype=bool)
        took[ut] = True
        pair = (tr.number[leader] > 0) & (took[leader] != took[trailer])
        trailer, leader = trailer[pair], leader[pair]
        s = batch.sensor_ecef_m
        close = (
            np.abs(
                np.linalg.norm(tr.x[leader, :3] - s, axis=1)
                - np.linalg.norm(tr.x[trailer, :3] - s, axis=1)
            )
            < cfg.merge_range_m
        )
        lone = np.where(took[leader], leader, trailer)[close]
        if not lone.size:
            return hold
        hold = hold.copy()
        hold[np.isin(ut, lone)] = True
        return hold

    def _lead_pick(
        self,
        at: NDArray[np.int64],
        ad: NDArray[np.int64],
        hold: NDArray[np.bool_],
        taken: NDArray[np.int64],
        gated: tuple[NDArray[np.int64], NDArray[np.int64]],
        batch: DetectionBatch,
        rot: Array,
    ) -> NDArray[np.int64]:
        """Let each confirmed track (rows ``at``, not held) take, of its detection and the
        free detections in its gate (``gated``: pairs of rows and detections) close to it
        (``split_near_chi2``, measurement noise only: another object of the same group),
        the one ahead along its velocity.

        Taking the nearer one instead lets each sensor pick by the track's own small
        errors, which differ from sensor to sensor: the track ends up on one object for
        one radar and on the other for the next, and stays so as the objects separate.
        The flight order, in contrast, each sensor measures alike, and a spent stage
        always trails (pushed back at separation, outrun if it stopped thrusting)."""
        free = np.setdiff1d(np.arange(len(batch)), taken)
        mine = np.flatnonzero(~hold)
        if not free.size or not mine.size:
            return ad
        y = ekf.wrap_innovation(batch.z[free][:, None, :], batch.z[ad[mine]][None, :, :])
        var = batch.sigma[free][:, None, :] ** 2 + batch.sigma[ad[mine]][None, :, :] ** 2
        close = np.sum(y * y / var, axis=2) < self.config.split_near_chi2  # (free, mine)
        if not close.any():
            return ad
        ad = ad.copy()
        used: set[int] = set()
        in_gate = set(zip(gated[0].tolist(), gated[1].tolist(), strict=True))
        for f, k in zip(*np.nonzero(close), strict=True):
            u, kk = int(free[f]), int(mine[k])
            row = int(at[kk])
            if u in used or (row, u) not in in_gate:
                continue
            if _lead_score(self._tr.x[row, 3:6], batch, u, int(ad[kk]), rot) > 0.0:
                used.add(u)
                used.discard(int(ad[kk]))
                ad[kk] = u
        return ad

    def _keep_order(
        self,
        ut: NDArray[np.int64],
        ud: NDArray[np.int64],
        hold: NDArray[np.bool_],
        ti: NDArray[np.int64],
        di: NDArray[np.int64],
        batch: DetectionBatch,
        rot: Array,
    ) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        """Give each pair of a track and the track that split from it (which trails it)
        the two detections they took in this scan in flight order: the leader the one
        ahead along its velocity, by range and range-rate. Only pairs whose detections are
        close (``split_near_chi2``, measurement noise only) are ordered; a pair the
        detections cannot order (``order_sigma``), or a track whose detection in that order
        falls outside its gate, is held. Returns the detections and the hold flags.

        This keeps two closely spaced objects from trading tracks sensor by sensor: when
        their separation is below the angular noise, each sensor's nearest-neighbour
        choice depends on the tracks' cross-range errors, and different sensors can make
        different choices, leaving each track half on one object and half on the other.
        Their order along the flight path, in contrast, each sensor measures in its own
        range and range-rate, and it does not change: in vacuum the separation velocity
        is constant, in the atmosphere the lighter spent stage falls back further.
        """
        tr, cfg = self._tr, self.config
        if ut.size < 2:
            return ud, hold
        z, sig = batch.z, batch.sigma
        close_pairs = _candidate_pairs(
            ut, tr.serial, tr.trails, ti, di, self._near_taken(ut, ud, batch, rot)
        )
        if not close_pairs.size:
            return ud, hold
        gated = set(zip(ti.tolist(), di.tolist(), strict=True))
        ud, hold = ud.copy(), hold.copy()
        for k1, k2 in close_pairs.tolist():
            r1, r2 = int(ut[k1]), int(ut[k2])
            if tr.trails[r2] == tr.serial[r1]:
                lead_k, k = k1, k2
            elif tr.trails[r1] == tr.serial[r2]:
                lead_k, k = k2, k1
            else:
                lead_k, k = -1, -1
            a, b = int(ud[k1]), int(ud[k2])
            y = ekf.wrap_innovation(z[a], z[b])
            if float(np.sum(y * y / (sig[a] ** 2 + sig[b] ** 2))) >= cfg.split_near_chi2:
                continue
            if lead_k < 0:
                # Two confirmed tracks of one group not yet ordered (one started afresh
                # next to the other): as at a split, the older one leads.
                if tr.number[r1] == 0 or tr.number[r2] == 0:
                    continue
                if tr.trails[r1] and tr.trails[r2]:
                    continue
                dv = float(np.linalg.norm(tr.x[r1, 3:6] - tr.x[r2, 3:6]))
                if dv > 3.0 * cfg.split_sigma_speed_mps:
                    continue  # merely neighbours, not one group
                older = (tr.first_t[r1], tr.serial[r1]) <= (tr.first_t[r2], tr.serial[r2])
                lead_k, k = (k1, k2) if older else (k2, k1)
                if tr.trails[ut[k]]:
                    lead_k, k = k, lead_k
                tr.trails[ut[k]] = tr.serial[ut[lead_k]]
            lead_row, row = int(ut[lead_k]), int(ut[k])
            a, b = int(ud[lead_k]), int(ud[k])
            score = _lead_score(tr.x[lead_row, 3:6], batch, a, b, rot)
            if abs(score) < cfg.order_sigma:
                hold[[lead_k, k]] = True
                continue
            if score < 0.0:  # the trailer's detection is ahead: swap
                a, b = b, a
            ud[lead_k], ud[k] = a, b
            hold[lead_k] = (lead_row, a) not in gated
            hold[k] = (row, b) not in gated
        return ud, hold

    def _near_taken(
        self, ut: NDArray[np.int64], ud: NDArray[np.int64], batch: DetectionBatch, rot: Array
    ) -> NDArray[np.int64]:
        """Pairs (k1, k2) of positions in ``ut`` of confirmed tracks whose detections of
        this scan are close (``split_near_chi2``, measurement noise only) and move alike
        (range-rates within three separation-speed sigmas): two tracks of one group of
        objects, whatever their gates. Two such tracks whose gates no longer overlap would
        otherwise each take, sensor by sensor, the detection nearest its own estimate;
        once one sensor's choice differs from another's, each track is held by one
        object's range in one sensor and the other's in the next, a compromise off both
        objects in cross-range that the precise ranges keep confirming."""
        cfg = self.config
        firm = np.flatnonzero(self._tr.number[ut] > 0)
        if firm.size < 2:
            return np.zeros((0, 2), dtype=np.int64)
        z, sig = batch.z[ud[firm]], batch.sigma[ud[firm]]
        pos = _detection_positions(z, batch.sensor_ecef_m, rot)
        spread = np.stack([sig[:, 0], z[:, 0] * sig[:, 1], z[:, 0] * sig[:, 2]], axis=1)
        radius = math.sqrt(2.0 * cfg.split_near_chi2) * float(spread.max())
        pairs = cKDTree(pos).query_pairs(radius, output_type="ndarray").reshape(-1, 2)
        a, b = pairs[:, 0], pairs[:, 1]
        y = ekf.wrap_innovation(z[a], z[b])
        d2 = np.sum(y * y / (sig[a] ** 2 + sig[b] ** 2), axis=1)
        keep = (d2 < cfg.split_near_chi2) & (np.abs(y[:, 3]) <= 3.0 * cfg.split_sigma_speed_mps)
        out = np.sort(firm[pairs[keep]], axis=1)
        return np.asarray(out, dtype=np.int64).reshape(-1, 2)

    def _split(
        self,
        parents: NDArray[np.int64],
        dets: NDArray[np.int64],
        parent_dets: NDArray[np.int64],
        batch: DetectionBatch,
        rot: Array,
    ) -> dict[int, int]:
        """Start tentative tracks on detections ``dets`` that fell inside the gate of the
        confirmed tracks ``parents`` (which took ``parent_dets``, -1 if none) but were not
        theirs: an object separating from the parent (a spent stage, the re-entry vehicle).

        The child starts from the parent's models and mode probabilities, its velocity
        widened by the separation speed and its thrust by the initial thrust uncertainty,
        then updated with its detection. (A child started from the generic prior instead,
        3 km/s velocity uncertainty, would gate both objects for many scans and trade
        detections with its parent.)

        The parent keeps the *leading* object: a spent stage falls behind (springs push it
        back; a stage that stops thrusting is outrun), so the object ahead along the
        parent's velocity, by range and range-rate, continues the parent's trajectory and
        its track number. Returns ``{parent row: detection}`` for the parents that changed
        detection this way.
        """
        cfg = self.config
        child = self._tr.clone(parents, batch.t_s, batch.sensor_id)
        dv = cfg.split_sigma_speed_mps**2 * np.eye(3)
        child.pm[:, :, 0:3, 0:3] += dv * 1.0  # the separation acts for up to ~1 s
        child.pm[:, :, 3:6, 3:6] += dv
        child.pm[:, 0, 6:9, 6:9] += cfg.sigma_accel_mps2**2 * np.eye(3)
        child.trails[:] = self._tr.serial[parents]
        first = len(self._tr)
        self._tr = self._tr.extend(self._numbered(child))
        rows = np.arange(first, len(self._tr))
        self._update(rows, dets, batch, rot)
        lead = np.array(
            [
                pd >= 0 and _lead_score(self._tr.x[pr, 3:6], batch, int(d), int(pd), rot) > 0.0
                for pr, d, pd in zip(parents, dets, parent_dets, strict=True)
            ],
            dtype=bool,
        )
        _, once = np.unique(parents, return_index=True)
        swap = np.zeros(parents.size, dtype=bool)
        swap[once] = lead[once]
        tr = self._tr
        for f in ("x", "p", "xm", "pm", "mu"):
            a = getattr(tr, f)
            a[parents[swap]], a[rows[swap]] = a[rows[swap]].copy(), a[parents[swap]].copy()
        return {int(r): int(d) for r, d in zip(parents[swap], dets[swap], strict=True)}

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
        new = _Tracks.new(
            x, p, batch.t_s, batch.sensor_id, cfg.initial_boost_probability, cfg.drag_beta_min_kg_m2
        )
        # Prior: an object first seen low in the atmosphere is almost surely still under
        # power (a ballistic one that low would be re-entering, seen long before).
        low = altitude_m(x[:, :3]) < cfg.boost_prior_altitude_m
        # A detection on an infrared line of sight is a burning plume: cued, boosting.
        new.cued = self._on_infrared(x[:, :3], p[:, :3, :3], batch.t_s)
        boost = low | new.cued
        new.mu[boost] = [cfg.low_boost_probability, 1.0 - cfg.low_boost_probability]
        new.combine(np.flatnonzero(boost))
        self._tr = self._tr.extend(self._numbered(new))

    def _numbered(self, new: _Tracks) -> _Tracks:
        """``new`` with the next serials of this tracker."""
        new.serial[:] = np.arange(self._next_serial, self._next_serial + len(new))
        self._next_serial += len(new)
        return new

    def _manage(self) -> NDArray[np.bool_]:
        cfg, tr = self.config, self._tr
        if not len(tr):
            return np.zeros(0, dtype=bool)
        confirmed = tr.number > 0
        below = altitude_m(tr.x[:, :3]) < 0.0
        stale = tr.t - tr.last_hit_t > cfg.max_coast_s
        dead_confirmed = confirmed & ((tr.misses >= cfg.delete_misses) | below | stale)
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


def _resolved(
    batch: DetectionBatch, dets: NDArray[np.int64], others: NDArray[np.int64], cfg: TrackerConfig
) -> NDArray[np.bool_]:
    """Whether each detection of ``dets`` differs from the one at the same place of
    ``others`` (-1: none) by more than their noise allows (``split_chi2``, 4 dof)."""
    out = np.ones(dets.size, dtype=bool)
    has = others >= 0
    if has.any():
        a, b = dets[has], others[has]
        y = ekf.wrap_innovation(batch.z[a], batch.z[b])
        var = batch.sigma[a] ** 2 + batch.sigma[b] ** 2
        out[has] = np.sum(y * y / var, axis=1) > cfg.split_chi2
    return out


def _lead_score(velocity: Array, batch: DetectionBatch, a: int, b: int, rot: Array) -> float:
    """How far detection ``a`` is ahead of ``b`` along ``velocity`` (3,), in units of the
    noise of their range difference, signed by whether the motion recedes from the sensor.

    Only range is used: an offset ``s`` along the flight path changes the range by
    ``s cos θ`` (θ between the line of sight and the velocity), of one sign for every
    sensor that sees the motion recede. The range-rate difference also carries a term
    ``s |v⊥|² / (|v| ρ)`` that is positive whatever the sign of ``cos θ``, so near a
    right angle it would order the objects backwards."""
    z = batch.z
    los = _detection_positions(z[a : a + 1], batch.sensor_ecef_m, rot)[0] - batch.sensor_ecef_m
    recede = float(np.sign(los @ velocity))
    sigma = math.hypot(float(batch.sigma[a, 0]), float(batch.sigma[b, 0]))
    return recede * float(z[a, 0] - z[b, 0]) / sigma


def _candidate_pairs(
    ut: NDArray[np.int64],
    serial: NDArray[np.int64],
    trails: NDArray[np.int64],
    ti: NDArray[np.int64],
    di: NDArray[np.int64],
    near: NDArray[np.int64],
) -> NDArray[np.int64]:
    """Pairs (k1, k2) of positions in ``ut`` (the tracks that took a detection) that may be
    closely spaced objects of one group: one trails the other, both gate one detection, or
    (``near``, pairs of positions) their detections are close."""
    pos = np.full(serial.size, -1, dtype=np.int64)
    pos[ut] = np.arange(ut.size)
    out: list[tuple[int, int]] = []
    related = np.flatnonzero(trails[ut] > 0)
    if related.size:
        lookup = {int(serial[r]): int(pos[r]) for r in ut.tolist()}
        for k in related.tolist():
            lead = lookup.get(int(trails[ut[k]]))
            if lead is not None:
                out.append((lead, k))
    if ti.size > 1:
        order = np.argsort(di, kind="stable")
        d_sorted = di[order]
        same = np.flatnonzero(d_sorted[1:] == d_sorted[:-1])
        for j in same.tolist():
            a, b = int(pos[ti[order[j]]]), int(pos[ti[order[j + 1]]])
            if a >= 0 and b >= 0 and a != b:
                out.append((min(a, b), max(a, b)))
    out += [(int(a), int(b)) for a, b in near.tolist()]
    if not out:
        return np.zeros((0, 2), dtype=np.int64)
    return np.unique(np.array(out, dtype=np.int64), axis=0)


def _near_parents(
    batch: DetectionBatch,
    dets: NDArray[np.int64],
    took: NDArray[np.int64],
    confirmed: NDArray[np.bool_],
    cfg: TrackerConfig,
) -> NDArray[np.int64]:
    """For each detection of ``dets``, the confirmed track whose detection of this scan
    (``took``: per track row, -1 if none) is nearest to it in measurement space, if within
    ``split_near_chi2`` (measurement noise only) and moving alike (range-rates within three
    separation-speed sigmas), else -1: an object that separated from a tracked one but
    already fell outside that track's gate. Without this it would start a track of its
    own, a duplicate beside the parent that trades detections with it."""
    rows = np.flatnonzero(confirmed & (took >= 0))
    out = np.full(dets.size, -1, dtype=np.int64)
    if not rows.size or not dets.size:
        return out
    theirs = took[rows]
    y = ekf.wrap_innovation(batch.z[dets][:, None, :], batch.z[theirs][None, :, :])
    var = batch.sigma[dets][:, None, :] ** 2 + batch.sigma[theirs][None, :, :] ** 2
    d2 = np.sum(y * y / var, axis=2)  # (dets, rows)
    d2[np.abs(y[:, :, 3]) > 3.0 * cfg.split_sigma_speed_mps] = np.inf
    best = np.argmin(d2, axis=1)
    ok = d2[np.arange(dets.size), best] < cfg.split_near_chi2
    out[ok] = rows[best[ok]]
    return out


def _split_parents(
    ti: NDArray[np.int64],
    di: NDArray[np.int64],
    cost: Array,
    confirmed: NDArray[np.bool_],
    unused: NDArray[np.int64],
    m: int,
) -> NDArray[np.int64]:
    """For each unused detection, the confirmed track whose gate held it at the lowest cost
    (its parent if the detection is an object splitting off), or -1."""
    best = np.full(m, -1, dtype=np.int64)
    free = np.zeros(m, dtype=bool)
    free[unused] = True
    sel = confirmed[ti] & free[di]
    if sel.any():
        t, d, c = ti[sel], di[sel], cost[sel]
        order = np.lexsort((c, d))[::-1]  # per detection, the lowest cost written last
        best[d[order]] = t[order]
    return best[unused]


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
    ti: NDArray[np.int64], di: NDArray[np.int64], cost: Array, *, ambiguity: float = 0.0
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """Global nearest neighbour: optimal assignment within each connected cluster of
    candidate pairs; one-to-one clusters (the common case) are taken directly.

    Returns the assigned track rows, detection indices and, per pair, whether it is
    *ambiguous*: in a cluster of several tracks, the best assignment that does not give
    this track this detection costs less than ``ambiguity`` more (a likelihood ratio below
    ``exp(ambiguity / 2)``). Closely spaced objects right after a separation make such
    near-ties; updating on a coin toss would pull each track half-way to the other object.
    """
    none = np.zeros(0, np.int64)
    if not ti.size:
        return none, none, np.zeros(0, dtype=bool)
    if _all_distinct(ti) and _all_distinct(di):  # every cluster a single pair
        return ti.astype(np.int64), di.astype(np.int64), np.zeros(ti.size, dtype=bool)
    tracks, t_local = np.unique(ti, return_inverse=True)
    dets, d_local = np.unique(di, return_inverse=True)
    nt, nd = tracks.size, dets.size
    graph = coo_matrix((np.ones(ti.size), (t_local, nt + d_local)), shape=(nt + nd, nt + nd))
    _, label = connected_components(graph, directed=False)
    pair_label = label[t_local]
    sizes = np.bincount(pair_label)
    out_t: list[NDArray[np.int64]] = []
    out_d: list[NDArray[np.int64]] = []
    out_a: list[NDArray[np.bool_]] = []
    single = sizes[pair_label] == 1
    out_t.append(ti[single])
    out_d.append(di[single])
    out_a.append(np.zeros(int(single.sum()), dtype=bool))
    for lab in np.unique(pair_label[~single]):
        sel = pair_label == lab
        ut, ui = np.unique(ti[sel], return_inverse=True)
        ud, uj = np.unique(di[sel], return_inverse=True)
        mat = np.full((ut.size, ud.size), _NO_PAIR)
        mat[ui, uj] = cost[sel]
        rr, cc = linear_sum_assignment(mat)
        ok = mat[rr, cc] < _NO_PAIR
        rr, cc = rr[ok], cc[ok]
        amb = np.zeros(rr.size, dtype=bool)
        if ambiguity > 0.0 and ut.size > 1:
            amb = _near_ties(mat, rr, cc, ambiguity)
        out_t.append(ut[rr])
        out_d.append(ud[cc])
        out_a.append(amb)
    return (
        np.concatenate(out_t).astype(np.int64),
        np.concatenate(out_d).astype(np.int64),
        np.concatenate(out_a),
    )


def _all_distinct(v: NDArray[np.int64]) -> bool:
    """Whether no value repeats in ``v`` (non-negative integers)."""
    return bool(np.bincount(v).max() <= 1)


_NO_PAIR: Final = 1e9  # cost of a pair outside the gate in an assignment matrix


def _near_ties(
    mat: Array, rr: NDArray[np.intp], cc: NDArray[np.intp], ambiguity: float
) -> NDArray[np.bool_]:
    """For each pair (rr, cc) of the optimal assignment of ``mat``, whether the best
    assignment without that pair that still assigns as many tracks costs less than
    ``ambiguity`` more. (An alternative assigning fewer is not compared: GNN assigns as
    many as the gates allow.)"""
    best = float(mat[rr, cc].sum())
    out = np.zeros(rr.size, dtype=bool)
    for k in range(rr.size):
        alt = mat.copy()
        alt[rr[k], cc[k]] = _NO_PAIR
        ar, ac = linear_sum_assignment(alt)
        chosen = alt[ar, ac]
        valid = chosen < _NO_PAIR
        if int(valid.sum()) == rr.size:
            out[k] = float(chosen[valid].sum()) - best < ambiguity
    return out
