"""Fusion measured against truth, without the network (SIMULATION).

:func:`replay_event` flies a library event, runs the network's sensors (optionally with
registration biases on some radars) and every nation's tracker, and keeps, per 1 s tick,
the confirmed tracks each nation reported and which true object each track follows (from
the detections' truth labels). :func:`fuse_replay` feeds those tracks into one node's
:class:`~trilink.fusion.Picture` in the order a node receives them (its own first) and
measures, per tick, the fused and each nation's errors and NEES on the missile (the
re-entry vehicle) and the number of system tracks per true object. A replay is fused
as often as wanted (different picture settings) at the cost of one tracking run; a Monte
Carlo runs :func:`evaluate` over seeds (``benchmarks/fusion_mc.py``).
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import msgspec
import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from trilink.config import NetworkConfig, load_default_network
from trilink.fusion.picture import Picture, PictureConfig, SystemTrack, predict_track
from trilink.metrics.continuity import label_assignments
from trilink.sensors.radar import Radar
from trilink.sensors.suite import SensorSuite
from trilink.tracking import Tracker
from trilink.types import Track
from trilink.world.launches import fly_event
from trilink.world.library import load_library
from trilink.world.trajectory import Trajectory

__all__ = [
    "FusionRun",
    "RadarBias",
    "Replay",
    "ReplayStep",
    "SourceErrors",
    "evaluate",
    "followed_by",
    "fuse_replay",
    "replay_event",
    "system_labels",
]

Array = NDArray[np.float64]
RadarBias = tuple[float, float, float]  # range (m), azimuth (mrad), elevation (mrad)
MISSILE = "rv"
FALSE_ALARM = "false-alarm"
"""The label of a track whose recent detections were mostly false alarms (no object)."""
LABEL_WINDOW = 10
"""A track follows the body most of its last this many associated detections came from:
a track that swaps from one object to another (re-entry vehicle and spent stage after
separation) is then judged against the object it now follows, not the one it followed
longest (a whole-life vote kept judging a track on the stage against the RV, NEES ~10²)."""


@dataclass(frozen=True)
class ReplayStep:
    """One tick: the confirmed tracks each nation reported (latest state per track) and
    the true object each national track follows (``{track number: body name}``, the body
    most of its last ``label_window`` associated detections came from)."""

    t_s: float
    t_rel_s: float
    tracks: tuple[Track, ...]
    truth_of: Mapping[str, str]


@dataclass(frozen=True)
class Replay:
    """Every nation's tracks over one flown event."""

    event_id: str
    seed: int
    trajectory: Trajectory
    steps: tuple[ReplayStep, ...]
    radars: tuple[Radar, ...]
    registration_reference: str | None = None

    def truth(self, body: str, t_rel_s: float) -> Array:
        """True ECEF state (6: m, m/s) of a body ``t_rel_s`` after launch."""
        b = next(b for b in self.trajectory.bodies if b.name == body)
        return np.asarray(b.states(t_rel_s)[0], dtype=np.float64)


def _with_bias(radar: Radar, bias: RadarBias | None) -> Radar:
    if bias is None:
        return radar
    rng_m, az_mrad, el_mrad = bias
    return msgspec.structs.replace(
        radar, range_bias_m=rng_m, azimuth_bias_mrad=az_mrad, elevation_bias_mrad=el_mrad
    )


def replay_event(
    event_id: str,
    *,
    seed: int,
    radar_bias: Mapping[str, RadarBias] | None = None,
    end_s: float | None = None,
    network: NetworkConfig | None = None,
    label_window: int = LABEL_WINDOW,
) -> Replay:
    """Fly ``event_id`` and run every nation's sensors and tracker, 1 s ticks up to
    ``end_s`` seconds after launch (default: every body down). ``radar_bias`` gives some
    radars (by id) a registration bias. A track's true object is the body most of its last
    ``label_window`` associated detections came from. Randomness: one generator seeded
    with ``seed``."""
    net = network or load_default_network()
    biases = dict(radar_bias or {})
    unknown = set(biases) - {r.id for r in net.radar}
    if unknown:
        raise ValueError(f"radar_bias names radars not in the network: {sorted(unknown)}")
    radars = [_with_bias(r, biases.get(r.id)) for r in net.radar]
    traj = fly_event(load_library().get(event_id)).trajectory
    suite = SensorSuite(traj, radars, list(net.infrared), np.random.default_rng(seed))
    trackers = {n: Tracker(n) for n in net.nations}
    end = max(b.impact_s for b in traj.bodies) + 5.0 if end_s is None else end_s
    if label_window < 1:
        raise ValueError(f"label_window must be at least 1, got {label_window}")
    votes: dict[str, deque[str]] = {}
    steps: list[ReplayStep] = []
    t_rel = 0.0
    while t_rel <= end:
        t = traj.t_launch_s + t_rel
        tick = suite.tick(t_rel)
        for sat, reports in tick.infrared:
            trackers[sat.nation].process_infrared(t, reports)
        latest: dict[str, Track] = {}
        for radar, dets in tick.radar:
            tracker = trackers[radar.nation]
            for trk in tracker.process(t, dets, covers=radar.in_coverage):
                latest[trk.track_id] = trk
            labels = [d.truth_id for d in dets]
            associations = tracker.associations()
            for body, track_id in label_assignments(associations, labels).items():
                votes.setdefault(track_id, deque(maxlen=label_window)).append(body)
            for track_id, det in associations.items():
                if dets[det].false_alarm:  # a track fed false alarms follows no object
                    votes.setdefault(track_id, deque(maxlen=label_window)).append(FALSE_ALARM)
        truth_of = {k: _most_recent_majority(v) for k, v in votes.items()}
        steps.append(ReplayStep(t, t_rel, tuple(latest.values()), truth_of))
        t_rel += 1.0
    return Replay(event_id, seed, traj, tuple(steps), tuple(radars), net.registration_reference)


def _most_recent_majority(labels: deque[str]) -> str:
    """The most frequent label; a tie goes to the one seen most recently. A track whose
    latest detection was a false alarm follows no object now (a track that coasted out
    of coverage for minutes, its gate grown wide, then took clutter)."""
    if labels[-1] == FALSE_ALARM:
        return FALSE_ALARM
    counts = Counter(labels)
    top = max(counts.values())
    return next(lab for lab in reversed(labels) if counts[lab] == top)


@dataclass
class SourceErrors:
    """Errors of one source (the fused picture or one nation) on the missile, per tick:
    time after launch (s), state error (K, 6: ECEF m, m/s), NEES (6 dof)."""

    t_rel_s: list[float] = field(default_factory=list)
    error: list[Array] = field(default_factory=list)
    nees: list[float] = field(default_factory=list)
    trace_m2: list[float] = field(default_factory=list)

    def add(self, t_rel_s: float, x: Array, p: Array, truth: Array) -> None:
        e = x[:6] - truth
        self.t_rel_s.append(t_rel_s)
        self.error.append(e)
        self.nees.append(float(e @ np.linalg.solve(p[:6, :6], e)))
        self.trace_m2.append(float(np.trace(p[:3, :3])))

    def window(self, since_s: float) -> NDArray[np.bool_]:
        return np.asarray(self.t_rel_s, dtype=np.float64) >= since_s

    def rmse_m(self, since_s: float = 0.0) -> float:
        """Position RMSE (m) over the ticks from ``since_s`` on."""
        e = np.asarray(self.error).reshape(-1, 6)[self.window(since_s), :3]
        return float(np.sqrt(np.mean(np.sum(e * e, axis=1)))) if e.size else float("nan")

    def mean_nees(self, since_s: float = 0.0) -> float:
        n = np.asarray(self.nees, dtype=np.float64)[self.window(since_s)]
        return float(np.mean(n)) if n.size else float("nan")

    def mean_offset_m(self, since_s: float = 0.0) -> Array:
        """Mean position error (ECEF m, 3): a bias shows here."""
        e = np.asarray(self.error).reshape(-1, 6)[self.window(since_s), :3]
        return np.asarray(e.mean(axis=0)) if e.size else np.full(3, np.nan)


@dataclass
class FusionRun:
    """What one node's picture made of a replay."""

    picture: Picture
    t_rel_s: list[float] = field(default_factory=list)
    systems_per_object: list[dict[str, int]] = field(default_factory=list)
    national_per_object: list[dict[str, int]] = field(default_factory=list)
    fresh_systems: list[int] = field(default_factory=list)
    most_national: list[int] = field(default_factory=list)
    errors: dict[str, SourceErrors] = field(default_factory=dict)
    missile_tracks: list[Track] = field(default_factory=list)
    """The fused track on the missile at each tick it had one (as in ``errors["fused"]``)."""
    missile_paths: list[Array] = field(default_factory=list)
    """For each of ``missile_tracks``, its system track's fused positions so far (K, 3)."""

    def excess_systems(self, since_s: float = 0.0) -> list[tuple[float, int]]:
        """Ticks (from ``since_s`` on) at which the picture held more recently updated
        system tracks than the nation holding most tracks: ``[(t_rel_s, excess)]``. Needs
        no truth labels, so closely spaced objects swapping tracks do not blur it."""
        return [
            (t, s - n)
            for t, s, n in zip(self.t_rel_s, self.fresh_systems, self.most_national, strict=True)
            if t >= since_s and s > n
        ]

    def duplicate_ticks(self, since_s: float = 0.0) -> list[tuple[float, str]]:
        """Ticks (from ``since_s`` on) at which an object had more system tracks than the
        most tracks any one nation held on it (duplicates made by fusion, not inherited
        from a national tracker): ``[(t_rel_s, object)]``."""
        out = []
        for t, sys, nat in zip(
            self.t_rel_s, self.systems_per_object, self.national_per_object, strict=True
        ):
            if t >= since_s:
                out += [(t, obj) for obj, n in sys.items() if n > max(1, nat.get(obj, 0))]
        return out

    def paired_rmse_m(self, nation: str, since_s: float = 0.0) -> tuple[float, float, int]:
        """Position RMSE (m) of the fused track and of ``nation``'s track over the ticks
        (from ``since_s`` on) at which both had one on the missile, and how many."""
        fused, own = self.errors.get("fused"), self.errors.get(nation)
        if fused is None or own is None:
            return float("nan"), float("nan"), 0
        f_at = {t: e for t, e in zip(fused.t_rel_s, fused.error, strict=True) if t >= since_s}
        common = [(f_at[t], e) for t, e in zip(own.t_rel_s, own.error, strict=True) if t in f_at]
        if not common:
            return float("nan"), float("nan"), 0
        ef = np.array([c[0][:3] for c in common])
        en = np.array([c[1][:3] for c in common])
        return _rms(ef), _rms(en), len(common)


def followed_by(candidates: Sequence[SystemTrack], t_s: float, fresh_s: float) -> SystemTrack:
    """Of system tracks on one object, the one taken as the picture's: most members
    updated within ``fresh_s``, then the most precise fused position at ``t_s`` (predicted
    there: a fused track last updated seconds ago, its only member astray 9 km off, was
    taken over a newer one on its own last covariance, seed 6 of the 2022-11-18 replay)."""

    def precision(st: SystemTrack) -> float:
        if st.fused is None:
            return -math.inf
        return -float(np.trace(predict_track(st.fused, t_s)[1][:3, :3]))

    return max(candidates, key=lambda st: (len(st.fresh(t_s, fresh_s)), precision(st)))


def _rms(e: Array) -> float:
    """Root mean square of the norms of the rows of ``e`` (K, 3)."""
    return float(np.sqrt(np.mean(np.sum(e * e, axis=1))))


def system_labels(
    systems: Sequence[SystemTrack], truth_of: Mapping[str, str], t_s: float, fresh_s: float
) -> dict[str, str | None]:
    """The true object each system track follows, from its members updated within
    ``fresh_s``: as many system tracks as possible to distinct objects that one of their
    members follows (an optimal assignment, most votes first), the rest to the object most
    of their members follow. Two objects 40 m apart that one nation resolves and the others
    hold as one track (the re-entry vehicle leaving its stage) are two system tracks on two
    objects, not a duplicate of the one the unresolved tracks were labelled with."""
    votes = [
        Counter(truth_of[k[1]] for k, _ in st.fresh(t_s, fresh_s) if k[1] in truth_of)
        for st in systems
    ]
    labels: dict[str, str | None] = {
        st.system_id: (v.most_common(1)[0][0] if v else None)
        for st, v in zip(systems, votes, strict=True)
    }
    objects = sorted({obj for v in votes for obj in v})
    if not objects:
        return labels
    # A pairing with a vote is worth more than any number of votes within one.
    weight = np.array([[v[obj] for obj in objects] for v in votes], dtype=float)
    gain = np.where(weight > 0, 1.0e6 + weight, 0.0)
    rows, cols = linear_sum_assignment(gain, maximize=True)
    for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
        if weight[i, j] > 0:
            labels[systems[i].system_id] = objects[j]
    return labels


def fuse_replay(
    replay: Replay,
    node: str = "JPN",
    config: PictureConfig | None = None,
    *,
    fresh_s: float = 2.0,
    use_sites: bool = True,
) -> FusionRun:
    """Feed a replay into ``node``'s picture (its own tracks first each tick, then the
    partners' in nation order) and measure it against truth. A system track counts for an
    object at a tick if a member updated within ``fresh_s`` follows it. With ``use_sites``
    the picture knows the radar sites (bias in range/azimuth/elevation). Without
    ``config``, the picture registers to the network's reference nation."""
    sites = {r.id: r.ecef_m for r in replay.radars} if use_sites else None
    config = config or PictureConfig(reference=replay.registration_reference)
    picture = Picture(node, config, sites=sites)
    run = FusionRun(picture)
    recent: dict[str, Track] = {}  # every national track by number, at its latest update
    for step in replay.steps:
        order = sorted(step.tracks, key=lambda trk: (trk.nation != node, trk.nation))
        for trk in order:
            picture.ingest(trk, received_from=None if trk.nation == node else trk.nation)
            recent[trk.track_id] = trk
        if not step.tracks:
            continue
        # The national tracks updated within ``fresh_s``, the window the system tracks
        # are counted in (a track a nation did not report in this very tick still counts).
        live = [trk for trk in recent.values() if step.t_s - trk.t_s <= fresh_s]
        labels = system_labels(picture.system_tracks(), step.truth_of, step.t_s, fresh_s)
        per_object = Counter(lab for lab in labels.values() if lab is not None)
        per_nation = Counter(
            (trk.nation, step.truth_of[trk.track_id])
            for trk in live
            if trk.track_id in step.truth_of
        )
        floor: dict[str, int] = {}
        for (_, obj), n in per_nation.items():
            floor[obj] = max(floor.get(obj, 0), n)
        run.t_rel_s.append(step.t_rel_s)
        run.systems_per_object.append(dict(per_object))
        run.national_per_object.append(floor)
        run.fresh_systems.append(
            sum(1 for st in picture.system_tracks() if st.fresh(step.t_s, fresh_s))
        )
        run.most_national.append(max(Counter(trk.nation for trk in live).values()))
        _measure(run, replay, step, labels, fresh_s)
    return run


def _measure(
    run: FusionRun,
    replay: Replay,
    step: ReplayStep,
    labels: Mapping[str, str | None],
    fresh_s: float,
) -> None:
    """Errors on the missile at this tick: the fused track that follows it and each
    nation's track that follows it. If the picture holds the missile twice (counted as a
    duplicate), the one with most members updated within ``fresh_s`` (not most members
    ever: an old system track keeps its members' histories), and among those the most
    precise, as a user of the picture would take it (the tie went to the youngest before:
    a nation's second track, 2–5 km off with a 1.4–2.8 km sigma, stood for the fused
    track while the established one was 10–20 m off, seed 48)."""
    truth = replay.truth(MISSILE, step.t_rel_s)
    on_missile = [
        st
        for st in run.picture.system_tracks()
        if labels.get(st.system_id) == MISSILE and st.fused is not None
    ]
    if on_missile:
        st = followed_by(on_missile, step.t_s, fresh_s)
        assert st.fused is not None
        x, p = predict_track(st.fused, step.t_s)
        run.errors.setdefault("fused", SourceErrors()).add(step.t_rel_s, x, p, truth)
        run.missile_tracks.append(st.fused)
        run.missile_paths.append(np.array([h.state[:3] for h in st.fused_history[-600::10]]))
    for trk in step.tracks:
        if step.truth_of.get(trk.track_id) == MISSILE:
            x, p = predict_track(trk, step.t_s)
            run.errors.setdefault(trk.nation, SourceErrors()).add(step.t_rel_s, x, p, truth)


def evaluate(
    event_id: str,
    seed: int,
    *,
    node: str = "JPN",
    radar_bias: Mapping[str, RadarBias] | None = None,
    config: PictureConfig | None = None,
    end_s: float | None = None,
) -> FusionRun:
    """One seeded run: replay ``event_id`` and fuse it in ``node``'s picture."""
    replay = replay_event(event_id, seed=seed, radar_bias=radar_bias, end_s=end_s)
    return fuse_replay(replay, node, config)
