"""A node's picture: its own and its partners' tracks, associated, de-biased and fused.

Every national track (own or received) is mapped to one system track of this node
(``JPN-S001``), and the mapping is queryable both ways (:meth:`Picture.system_of`,
:attr:`SystemTrack.track_numbers`).

* **Registration bias.** Each nation's tracks carry its radars' registration error. A
  :class:`~trilink.fusion.bias.BiasEstimator` learns every nation's bias (in range,
  azimuth and elevation from its tracks' radar sites when ``sites`` gives them, else as a
  translation)
  relative to a reference nation (the network's ``registration_reference``, else this
  node's own) from pairs of members of the same system track; members are corrected in
  position and velocity (``x - b``, covariance ``+ P_b`` and the bias model's error)
  before they are gated or fused, so gates start wide (the prior) and tighten as offsets
  are learnt.
* **Association.** A new national track joins the system track it fits best (the χ² of the
  de-biased positions plus the log-det spread, below ``new_object_chi2``: the same
  weighing and threshold as re-association, so a track is not left standing alone for a
  tick that re-association then places) holding no live track (updated within
  ``exclusive_s``) of the same nation (unless the two are that nation's tracker holding
  the object twice, a *dual track*: their states agree), or starts a new one. Once per
  ``reassociate_s`` of event time the whole picture is solved again
  (:meth:`Picture.reassociate`), one nation at a time: that nation's live tracks are
  assigned (optimal assignment, scipy's ``linear_sum_assignment``) to the system tracks as
  the *other* nations' members place them, or to a system track of their own (costing
  ``new_object_chi2``: two nations' tracks of one object that disagree beyond their 99.9 %
  χ², with nothing else near, stay one system track); a track's present system track is
  cheaper by ``stay_bonus_chi2`` (hysteresis). So a nation's tracks of one group of
  objects are spread over as many system tracks as it has tracks there, never more: after
  a stage separation, when one nation's tracker hands the re-entry vehicle to a new track
  and another's keeps it on the old one, the two are paired anew at once instead of
  standing apart as a duplicate. A system track left without members is gone; when the
  only members of an older system track move into a younger one, the older number stays
  (an object first tracked apart before the bias was learnt).
* **Fusion.** Each nation's sharpest fresh member's de-biased state is brought to a common
  time and fused by inverse covariance intersection (default) or covariance intersection:
  consistent under unknown common information, and never larger in trace than the best
  member. Members are first tested against each other (position and velocity, χ² 6 dof):
  one outvoted by the rest is not fused (a national track that swapped to the spent stage
  or went overconfident through a manoeuvre), nor is a quiet one (not updated within
  ``exclusive_s``) that disagrees with live ones, and a disagreement no majority settles
  widens the fused covariance to cover every member (covariance union).
* **Reporting responsibility.** One member holds it (``SystemTrack.reporting``): the
  fresh member with the smallest de-biased position covariance; another takes it only when
  its trace is below ``report_switch_ratio`` of the holder's, or the holder goes quiet.
* **Provenance.** Members are keyed by (originator, track number); repeated updates,
  fused tracks and the node's own tracks echoed back are not counted again
  (:mod:`trilink.fusion.provenance`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from trilink.fusion.bias import BiasConfig, BiasEstimator
from trilink.fusion.covariance_intersection import covariance_intersection
from trilink.fusion.inverse_covariance_intersection import inverse_covariance_intersection
from trilink.fusion.provenance import ProvenanceRefused, refusal
from trilink.tracking import ekf
from trilink.types import Track, TrackState

__all__ = ["FUSERS", "MemberKey", "Picture", "PictureConfig", "SystemTrack", "predict_track"]

Array = NDArray[np.float64]
MemberKey = tuple[str, str]  # (originator nation, national track number)
Fuser = Callable[[Array, Array, Array, Array], tuple[Array, Array]]
GATE_CHI2_3DOF: Final = 16.27  # 99.9 %
CONSISTENCY_CHI2_6DOF: Final = 22.46  # 99.9 %
STALE_S: Final = 30.0
FUSERS: Final[dict[str, Fuser]] = {
    "ci": covariance_intersection,
    "ici": inverse_covariance_intersection,
}


@dataclass(frozen=True, slots=True)
class PictureConfig:
    """Parameters of a node's picture."""

    stale_s: float = field(
        default=STALE_S, metadata={"doc": "a member older than this (s) is no longer fused"}
    )
    estimate_bias: bool = field(
        default=True, metadata={"doc": "learn and remove each nation's registration bias"}
    )
    bias: BiasConfig = field(default_factory=BiasConfig)
    reference: str | None = field(
        default=None, metadata={"doc": "nation taken as unbiased (default: this node)"}
    )
    bias_pair_period_s: float = field(
        default=5.0, metadata={"doc": "one bias observation per member pair per this (s)"}
    )
    pair_max_age_s: float = field(
        default=2.0, metadata={"doc": "members further apart in time than this (s) do not pair"}
    )
    fusion: str = field(default="ici", metadata={"doc": f"fusion rule, one of {tuple(FUSERS)}"})
    report_fresh_s: float = field(
        default=5.0, metadata={"doc": "a member may hold reporting responsibility if this fresh"}
    )
    report_switch_ratio: float = field(
        default=0.5,
        metadata={"doc": "hysteresis: a challenger's trace must be below this × the holder's"},
    )
    exclusive_s: float = field(
        default=2.5,
        metadata={
            "doc": "one track per nation per object: a nation's member updated within this "
            "(s) keeps that nation's other tracks out of its system track (a national "
            "track quiet for longer is taken as dropped or renumbered; 2.5 s, two missed "
            "updates at the trackers' 1 s: with 5 s a track lagging a falling stage under "
            "drag kept its nation's new track of the stage apart)"
        },
    )
    reassociate: bool = field(
        default=True, metadata={"doc": "solve the association of all live tracks again"}
    )
    reassociate_s: float = field(
        default=1.0,
        metadata={"doc": "how often (s of event time) the association is solved again"},
    )
    stay_bonus_chi2: float = field(
        default=4.0,
        metadata={
            "doc": "hysteresis: a track's present system track costs this much less (χ², "
            "3 dof) than another when the association is solved again"
        },
    )
    new_object_chi2: float = field(
        default=150.0,
        metadata={
            "doc": "a track (new, or when the association is solved again) stands as an object of "
            "its own only when every system track costs more than this (χ² of the position "
            "difference, 3 dof, plus the log-likelihood spread): further, it is another "
            "object; nearer, the same object reported inconsistently by two nations (their "
            "members are then fused under a covariance union that covers both)"
        },
    )
    bias_pair_chi2: float = field(
        default=2.0 * GATE_CHI2_3DOF,
        metadata={
            "doc": "a track feeds the bias filter only while within this (χ², 3 dof) of "
            "another nation's member of its system track"
        },
    )
    consistency_chi2: float = field(
        default=CONSISTENCY_CHI2_6DOF,
        metadata={
            "doc": "two members whose de-biased states (position and velocity) differ by more "
            "than this χ² (6 dof) are inconsistent: an outvoted one is not fused, and "
            "a disagreement no majority settles widens the fused covariance to cover "
            "every member (covariance union). 0 turns the test off"
        },
    )

    def __post_init__(self) -> None:
        if self.fusion not in FUSERS:
            raise ValueError(f"PictureConfig: `fusion` must be one of {tuple(FUSERS)}")
        for name in (
            "new_object_chi2",
            "stale_s",
            "report_fresh_s",
            "exclusive_s",
            "reassociate_s",
        ):
            if not getattr(self, name) > 0.0:
                raise ValueError(f"PictureConfig: `{name}` must be positive")
        if not 0.0 < self.report_switch_ratio <= 1.0:
            raise ValueError("PictureConfig: `report_switch_ratio` must be in (0, 1]")


@dataclass(eq=False)
class SystemTrack:
    """One object in a node's picture (compared by identity)."""

    system_id: str
    members: dict[MemberKey, list[Track]] = field(default_factory=dict)
    fused: Track | None = None
    fused_history: list[Track] = field(default_factory=list)
    reporting: MemberKey | None = None

    def latest(self) -> list[Track]:
        return [h[-1] for h in self.members.values()]

    def fresh(self, t_s: float, stale_s: float = STALE_S) -> list[tuple[MemberKey, Track]]:
        """Members whose latest update is at most ``stale_s`` seconds before ``t_s``."""
        return [(k, h[-1]) for k, h in self.members.items() if _updated_within(h[-1], t_s, stale_s)]

    @property
    def first_t_s(self) -> float:
        return min(h[0].first_t_s for h in self.members.values())

    @property
    def nations(self) -> tuple[str, ...]:
        return tuple(sorted({n for n, _ in self.members}))

    @property
    def track_numbers(self) -> tuple[MemberKey, ...]:
        """Every national track mapped to this system track, as (nation, track number)."""
        return tuple(sorted(self.members))

    @property
    def reporting_nation(self) -> str | None:
        """The nation holding reporting responsibility for this object (its single voice)."""
        return None if self.reporting is None else self.reporting[0]


def _updated_within(track: Track, t_s: float, age_s: float) -> bool:
    return t_s - track.t_s <= age_s


def predict_track(track: Track, t_s: float) -> tuple[Array, Array]:
    """A track's state (9) and covariance brought to ``t_s`` with the tracker's model."""
    x = np.zeros(9)
    p = np.zeros((9, 9))
    n = track.state.shape[0]
    x[:n] = track.state
    p[:n, :n] = track.covariance
    if n == 6:
        p[6:9, 6:9] = 1e-12 * np.eye(3)
    dt = t_s - track.t_s
    if track.thrusting:
        return ekf.predict(x, p, dt, q_jerk=20.0, q_accel=0.01)
    # unpowered: in the air, its drag may grow as the tracker's unpowered model allows
    _, axis, q_drag = ekf.drag_regime(x[None], ekf.DRAG_BETA_MIN_KG_M2)
    xs, ps = ekf.predict_batch(
        x[None], p[None], np.array([dt]), q_jerk=q_drag, q_accel=0.01, jerk_axis=axis
    )
    return xs[0], ps[0]


def _best_per_nation(
    fresh: list[tuple[MemberKey, Track]], states: Mapping[MemberKey, tuple[Array, Array]]
) -> list[tuple[MemberKey, Track]]:
    """Each nation's sharpest member only (smallest position covariance trace, brought to
    the common time): a nation's older track of the object (dropped and renumbered by its
    tracker, its covariance grown since) or the weaker of a dual track is superseded, not
    fused beside it (it holds the same nation's information)."""
    best: dict[str, tuple[MemberKey, float]] = {}
    for k, _ in fresh:
        q = float(np.trace(states[k][1][:3, :3]))
        if k[0] not in best or q < best[k[0]][1]:
            best[k[0]] = (k, q)
    return [(k, m) for k, m in fresh if best[k[0]][0] == k]


def _state_d2(xa: Array, pa: Array, xb: Array, pb: Array) -> float:
    """χ² (6 dof) of the difference of two position-velocity states."""
    d = xa[:6] - xb[:6]
    return float(d @ np.linalg.solve(pa[:6, :6] + pb[:6, :6], d))


def _loewner_upper_bound(a: Array, b: Array) -> Array:
    """A covariance ``U`` with ``U ⪰ A`` and ``U ⪰ B`` (Uhlmann's covariance union step):
    in the frame where ``A`` is the identity, ``B``'s eigenvalues below one are raised to
    one."""
    s = np.linalg.cholesky(a)
    s_inv = np.linalg.inv(s)
    m = s_inv @ b @ s_inv.T
    w, v = np.linalg.eigh(0.5 * (m + m.T))
    u = s @ v @ np.diag(np.maximum(w, 1.0)) @ v.T @ s.T
    return np.asarray(0.5 * (u + u.T))


def _position_d2(xa: Array, pa: Array, xb: Array, pb: Array) -> float:
    d = xa[:3] - xb[:3]
    return float(d @ np.linalg.solve(pa[:3, :3] + pb[:3, :3], d))


def _spread(pa: Array, pb: Array) -> float:
    """``ln det(Pa + Pb) - ln det(Pa)`` of the positions: with the χ², the negative
    log-likelihood of a target beside track ``a``'s own, so a vague target (a young or
    long-coasted track, kilometres wide) does not win a track over a sharp one it also
    fits."""
    return float(np.linalg.slogdet(pa[:3, :3] + pb[:3, :3])[1] - np.linalg.slogdet(pa[:3, :3])[1])


class Picture:
    """One node's fused picture."""

    def __init__(
        self,
        nation: str,
        config: PictureConfig | None = None,
        *,
        sites: Mapping[str, Array] | None = None,
    ) -> None:
        self.nation = nation
        self.sites = {k: np.asarray(v, dtype=np.float64) for k, v in (sites or {}).items()}
        self.config = config or PictureConfig()
        self.bias = BiasEstimator(self.config.reference or nation, self.config.bias)
        self.duplicates_dropped = 0
        self.merges = 0
        self.splits = 0
        self.moves = 0
        self._fuser = FUSERS[self.config.fusion]
        self._systems: list[SystemTrack] = []
        self._by_member: dict[MemberKey, SystemTrack] = {}
        self._pair_t: dict[tuple[MemberKey, MemberKey], float] = {}
        self._reassociated_t = -math.inf
        # Corrected member states while the association is solved (the bias filter does
        # not change meanwhile): each is needed for every candidate system track.
        self._corrected: dict[tuple[int, float], tuple[Array, Array]] | None = None
        self.excluded = 0
        self.unions = 0
        self._next = 1

    # -- queries --------------------------------------------------------------------------

    def system_tracks(self) -> list[SystemTrack]:
        return list(self._systems)

    def system_of(self, nation: str, track_id: str) -> SystemTrack | None:
        """The system track a national track is mapped to (None if never received)."""
        return self._by_member.get((nation, track_id))

    def track_numbers(self) -> dict[str, tuple[MemberKey, ...]]:
        """``{system track number: its national tracks}`` for the whole picture."""
        return {st.system_id: st.track_numbers for st in self._systems}

    # -- updates --------------------------------------------------------------------------

    def ingest(self, track: Track, *, received_from: str | None = None) -> SystemTrack:
        """Add a national track update and refresh its system track; return that track.

        ``received_from`` is the partner it came from (None: this node's own tracker).
        Raises :class:`~trilink.fusion.provenance.ProvenanceRefused` for a fused track or
        this node's own track echoed back; a repeated or older update of a member is
        counted once (discarded, ``duplicates_dropped``).
        """
        why = refusal(track, self.nation, received_from)
        if why is not None:
            raise ProvenanceRefused(track.track_id, track.nation, *why)
        key = (track.nation, track.track_id)
        st = self._by_member.get(key)
        if st is not None and track.t_s <= st.members[key][-1].t_s:
            self.duplicates_dropped += 1
            return st
        cfg = self.config
        if cfg.reassociate and track.t_s - self._reassociated_t >= cfg.reassociate_s:
            self.reassociate(track.t_s)
            st = self._by_member.get(key)
        if st is None:
            st = self._associate(track)
            self._by_member[key] = st
        st.members.setdefault(key, []).append(track)
        if cfg.estimate_bias and self._fits(st, key, track):
            self._learn_bias(st, key, track)
        self._refresh(st, track.t_s)
        return st

    def site_of(self, track: Track) -> Array | None:
        """Mean ECEF site (m) of the track's sensors whose sites this picture knows."""
        known = [self.sites[s] for s in track.sensors if s in self.sites]
        return np.mean(known, axis=0) if known else None

    def corrected(self, track: Track, t_s: float) -> tuple[Array, Array]:
        """A member's state (9) and covariance at ``t_s`` with its nation's estimated offset
        removed from the position and velocity and the offset's uncertainty added (ECEF,
        m, m/s)."""
        key = (id(track), t_s)
        if self._corrected is not None and key in self._corrected:
            return self._corrected[key]
        x, p = predict_track(track, t_s)
        if self.config.estimate_bias:
            b, pb = self.bias.state_offset(track.nation, x[:3], x[3:6], self.site_of(track), t_s)
            x[:6] -= b
            p[:6, :6] += pb
        if self._corrected is not None:
            x.flags.writeable = False
            p.flags.writeable = False
            self._corrected[key] = (x, p)
        return x, p

    def _associate(self, track: Track) -> SystemTrack:
        x, p = self.corrected(track, track.t_s)
        best: tuple[float, SystemTrack] | None = None
        for st in self._systems:
            if st.fused is None:
                continue
            own = [m for k, m in self._live_members(st, track.t_s) if k[0] == track.nation]
            if own and not all(self._dual(track, m) for m in own):
                continue  # one live track per nation per object, but for a dual track
            # As re-association weighs it, and by its threshold: a tighter gate here made a
            # new track stand alone for a tick before re-association placed it.
            cost = self._placement_cost(x, p, *predict_track(st.fused, track.t_s))
            if cost < self.config.new_object_chi2 and (best is None or cost < best[0]):
                best = (cost, st)
        if best is not None:
            return best[1]
        return self._new_system()

    def _dual(self, track: Track, other: Track, *, widen: float = 1.0) -> bool:
        """Whether ``track`` and ``other``, two live tracks of one nation, are that nation's
        tracker holding one object twice: their states (position and velocity) agree
        within ``consistency_chi2`` (6 dof) on their own covariances. They share the
        nation's registration bias, so only the part of it that differs between its
        tracks (the bias model's error, from radars biased each in its own geometry)
        enters the test: two tracks of one nation on closely spaced objects (a re-entry
        vehicle and its stage, tens of metres apart with tens of metres of error) stay
        apart while that nation's bias is not being removed."""
        t_s = max(track.t_s, other.t_s)
        xa, pa = predict_track(track, t_s)
        xb, pb = predict_track(other, t_s)
        if self.config.estimate_bias:
            model = self.bias.model_error(track.nation, xa[:3], self.site_of(track))
            pa[:3, :3] += model
            pb[:3, :3] += model
        return _state_d2(xa, pa, xb, pb) < self.config.consistency_chi2 * widen

    def _learn_bias(self, st: SystemTrack, key: MemberKey, track: Track) -> None:
        """Feed the bias filter the position differences between ``track`` and the other
        nations' fresh members of its system track (each pair at most once per period)."""
        cfg = self.config
        for other_key, m in st.fresh(track.t_s, cfg.stale_s):
            if other_key[0] == key[0] or abs(track.t_s - m.t_s) > cfg.pair_max_age_s:
                continue
            a, b = sorted((key, other_key))
            last = self._pair_t.get((a, b))
            if last is not None and track.t_s - last < cfg.bias_pair_period_s:
                continue
            self._pair_t[(a, b)] = track.t_s
            xm, pm = predict_track(m, track.t_s)
            self.bias.update(
                track.t_s,
                (key[0], track.state[:3], track.covariance[:3, :3], self.site_of(track)),
                (other_key[0], xm[:3], pm[:3, :3], self.site_of(m)),
            )

    def _fits(self, st: SystemTrack, key: MemberKey, track: Track) -> bool:
        """Whether ``track`` lies within ``bias_pair_chi2`` of some other nation's fresh member
        of its system track (or has none to be judged by): only then does it pair with
        them to learn registration biases."""
        cfg = self.config
        others = [
            m
            for k, m in st.fresh(track.t_s, cfg.stale_s)
            if k[0] != key[0] and abs(track.t_s - m.t_s) <= cfg.pair_max_age_s
        ]
        if not others:
            return True
        x, p = self.corrected(track, track.t_s)
        return any(
            _position_d2(x, p, *self.corrected(m, track.t_s)) <= cfg.bias_pair_chi2 for m in others
        )

    def _refresh(self, st: SystemTrack, t_s: float) -> None:
        every = st.fresh(t_s, self.config.stale_s)
        states = {k: self.corrected(m, t_s) for k, m in every}
        fresh = _best_per_nation(every, states)
        st.fused = self._fuse(st, fresh, states, t_s)
        st.fused_history.append(st.fused)
        self._assign_reporting(st, fresh, states, t_s)

    def _consistent(
        self, fresh: list[tuple[MemberKey, Track]], states: dict[MemberKey, tuple[Array, Array]]
    ) -> tuple[list[tuple[MemberKey, Track]], bool]:
        """The members to fuse and whether they still disagree.

        Two members are inconsistent when their de-biased 6-states (position and
        velocity) differ by more than ``consistency_chi2`` (their covariances summed: a
        conservative test, as shared information only shrinks the difference). A member
        inconsistent with a strict majority of the others while the rest agree among
        themselves is left out (a national track that swapped to the spent stage, or one
        overconfident through a manoeuvre). A member not updated within ``exclusive_s``
        that disagrees with live members is left out too. A disagreement no majority
        settles is returned as such.
        """
        gate = self.config.consistency_chi2
        if gate <= 0.0 or len(fresh) < 2:
            return fresh, False
        keys = [k for k, _ in fresh]
        bad: dict[MemberKey, int] = dict.fromkeys(keys, 0)
        disagree = False
        for i, a in enumerate(keys):
            for b in keys[i + 1 :]:
                if _state_d2(*states[a], *states[b]) > gate:
                    bad[a] += 1
                    bad[b] += 1
                    disagree = True
        if not disagree:
            return fresh, False
        t_s = max(m.t_s for _, m in fresh)
        live = {k for k, m in fresh if self._live(m, t_s)}
        quiet = {k for k in keys if k not in live and bad[k]}
        if quiet and live and not any(bad[k] > sum(1 for q in quiet if q != k) for k in live):
            # What a member reported before it went quiet does not outweigh what live
            # members say now (a young track that lost its object, kilometres off).
            return self._consistent([(k, m) for k, m in fresh if k not in quiet], states)
        n_other = len(keys) - 1
        out = {k for k in keys if 2 * bad[k] > n_other and n_other >= 2}
        kept = [(k, m) for k, m in fresh if k not in out]
        if out and kept and all(bad[k] <= len(out) for k, _ in kept):
            return kept, False
        return fresh, True

    def _fuse(
        self,
        st: SystemTrack,
        fresh: list[tuple[MemberKey, Track]],
        states: dict[MemberKey, tuple[Array, Array]],
        t_s: float,
    ) -> Track:
        use, disagree = self._consistent(fresh, states)
        x, p = self._fold([k for k, _ in use], states)
        if disagree:
            p6 = p[:6, :6]
            for k, _ in use:
                xm, pm = states[k]
                d = xm[:6] - x[:6]
                p6 = _loewner_upper_bound(p6, pm[:6, :6] + np.outer(d, d))
            x, p = x[:6].copy(), p6
            self.unions += 1
        self.excluded += len(fresh) - len(use)
        members = [m for _, m in use]
        n = members[0].state.shape[0] if len(members) == 1 and not disagree else 6
        return Track(
            track_id=st.system_id,
            nation=self.nation,
            t_s=t_s,
            state=x[:n],
            covariance=p[:n, :n],
            status=TrackState.CONFIRMED,
            sensors=tuple(sorted({s for m in members for s in m.sensors})),
            first_t_s=st.first_t_s,
            n_updates=sum(m.n_updates for m in members),
            thrusting=any(m.thrusting for m in members),
        )

    def _fold(
        self, keys: list[MemberKey], states: Mapping[MemberKey, tuple[Array, Array]]
    ) -> tuple[Array, Array]:
        """The states of ``keys`` fused one after another, the sharpest first (ties and
        near-ties then lean on the sharpest track): a lone member's own state, else the
        fused 6-state."""
        order = sorted(keys, key=lambda k: float(np.trace(states[k][1][:3, :3])))
        x, p = states[order[0]]
        for k in order[1:]:
            xm, pm = states[k]
            x, p = self._fuser(x[:6], p[:6, :6], xm[:6], pm[:6, :6])
        return x, p

    def _assign_reporting(
        self,
        st: SystemTrack,
        fresh: list[tuple[MemberKey, Track]],
        states: dict[MemberKey, tuple[Array, Array]],
        t_s: float,
    ) -> None:
        """The fresh member with the smallest de-biased position trace holds reporting
        responsibility; a holder keeps it until a challenger is ``report_switch_ratio``
        times better or the holder is no longer fresh."""
        cfg = self.config
        quality = {
            k: float(np.trace(states[k][1][:3, :3]))
            for k, m in fresh
            if t_s - m.t_s <= cfg.report_fresh_s
        }
        if not quality:
            return
        best = min(quality, key=lambda k: (quality[k], k))
        holder = st.reporting
        if holder not in quality or quality[best] < cfg.report_switch_ratio * quality[holder]:
            st.reporting = best

    # -- re-association ---------------------------------------------------------------------

    def reassociate(self, t_s: float) -> None:
        """Solve again, at ``t_s``, which system track each live national track (updated
        within ``exclusive_s``) belongs to.

        One nation at a time (the nation with most live tracks first), its live tracks
        are assigned by optimal assignment to the system tracks as the other nations'
        fresh members there place them (their de-biased states fused, this nation's live
        members left out; its quiet ones, taken as dropped, place their system track for
        a track that continues them), each system track taking at most one of them, or
        each to a system track of its own. The cost is the χ² (3 dof) of the position difference
        plus ``ln det(P + P_o) - ln det(P)`` (the negative log-likelihood beside the
        track's own: a vague target does not win a track over a sharp one it also fits);
        a track's present system track is ``stay_bonus_chi2`` cheaper; standing alone
        costs ``new_object_chi2``. A nation's dual tracks (:meth:`_dual`) move as one.
        Called by :meth:`ingest` once per ``reassociate_s`` of event time; empty system
        tracks are dropped and every system track that changed is fused again.
        """
        self._reassociated_t = t_s
        cfg = self.config
        live: dict[str, list[MemberKey]] = {}
        for st in self._systems:
            for k, _ in self._live_members(st, t_s):
                live.setdefault(k[0], []).append(k)
        changed: dict[int, SystemTrack] = {}
        self._corrected = {}
        try:
            for nation in sorted(live, key=lambda n: (-len(live[n]), n)):
                for st in self._assign(nation, live[nation], t_s):
                    changed[id(st)] = st
            for st in changed.values():
                if st in self._systems and st.fresh(t_s, cfg.stale_s):
                    self._refresh(st, t_s)
        finally:
            self._corrected = None

    def _units(self, nation: str, keys: list[MemberKey], t_s: float) -> list[list[MemberKey]]:
        """``nation``'s live tracks grouped into what moves together: a track and the
        nation's other tracks that are its dual (that nation's tracker holding the object
        twice: their states agree, :meth:`_dual`; a dual track already held together
        parts only beyond twice the test's threshold, so a marginal one does not come
        and go), sharpest first; any other track alone."""
        quality = {k: self._quality(k, t_s) for k in keys}
        units: list[list[MemberKey]] = []
        for k in sorted(keys, key=lambda k: (quality[k], k)):
            track = self._latest(k)
            home = self._by_member[k]
            unit = next(
                (
                    u
                    for u in units
                    if self._dual(
                        track,
                        self._latest(u[0]),
                        widen=2.0 if self._by_member[u[0]] is home else 1.0,
                    )
                ),
                None,
            )
            if unit is None:
                units.append([k])
            else:
                unit.append(k)
        return units

    def _latest(self, key: MemberKey) -> Track:
        return self._by_member[key].members[key][-1]

    def _quality(self, key: MemberKey, t_s: float) -> float:
        """Trace (m²) of a member's de-biased position covariance at ``t_s``."""
        return float(np.trace(self.corrected(self._latest(key), t_s)[1][:3, :3]))

    def _others_state(self, st: SystemTrack, nation: str, t_s: float) -> tuple[Array, Array] | None:
        """The fused de-biased state of ``st``'s fresh members of nations other than
        ``nation`` and of ``nation``'s own quiet ones (each nation's sharpest), or None if
        it has none. A member of ``nation`` not updated within ``exclusive_s`` is taken as
        dropped by its tracker (as :meth:`ingest` takes it), so it places its system
        track for the nation's live tracks: a track the tracker renumbered, or started
        again on the object, continues the system track (seed 48 of the 2022-11-18
        replay: Japan's RV track went quiet at T+502 s and a 3-update track, 2.5 km wide,
        stood alone for the rest of the flight)."""
        others = [
            (k, m) for k, m in st.fresh(t_s, self.config.stale_s) if self._places(k, m, nation, t_s)
        ]
        if not others:
            return None
        states = {k: self.corrected(m, t_s) for k, m in others}
        x, p = self._fold([k for k, _ in _best_per_nation(others, states)], states)
        return x[:6], p[:6, :6]

    def _places(self, key: MemberKey, member: Track, nation: str, t_s: float) -> bool:
        """Whether a fresh member places its system track for ``nation``'s live tracks in
        re-association: another nation's, or ``nation``'s own quiet one (not updated
        within ``exclusive_s``, taken as dropped)."""
        return key[0] != nation or not self._live(member, t_s)

    def _placement_cost(self, x: Array, p: Array, xo: Array, po: Array) -> float:
        """What placing a track (``x``, ``p``) on a target state (``xo``, ``po``) costs: the
        χ² (3 dof) of the position difference plus the log-det spread (:func:`_spread`),
        or infinity beyond ``new_object_chi2`` (the spread is not computed there). A new
        track's first association and re-association weigh by this alone."""
        d2 = _position_d2(x, p, xo, po)
        if d2 > self.config.new_object_chi2:
            return math.inf
        return d2 + _spread(p, po)

    def _live(self, member: Track, t_s: float) -> bool:
        """Whether a member is live at ``t_s``: updated within ``exclusive_s``. A member
        quiet for longer is taken as dropped or renumbered by its tracker (the one
        boundary :meth:`ingest`, :meth:`reassociate`, :meth:`_places` and the fusion's
        consistency test share)."""
        return _updated_within(member, t_s, self.config.exclusive_s)

    def _live_members(self, st: SystemTrack, t_s: float) -> list[tuple[MemberKey, Track]]:
        return st.fresh(t_s, self.config.exclusive_s)

    def _assign(self, nation: str, keys: list[MemberKey], t_s: float) -> list[SystemTrack]:
        """Re-assign ``nation``'s live tracks ``keys``; return the system tracks changed."""
        cfg = self.config
        units = self._units(nation, keys, t_s)
        targets = [
            (st, state)
            for st in self._systems
            if (state := self._others_state(st, nation, t_s)) is not None
        ]
        n_u, n_t = len(units), len(targets)
        forbidden = 1e12
        cost = np.full((n_u, n_t + n_u), forbidden)
        for i, unit in enumerate(units):
            x, p = self.corrected(self._latest(unit[0]), t_s)
            home = self._by_member[unit[0]]
            for j, (st, (xo, po)) in enumerate(targets):
                placing = self._placement_cost(x, p, xo, po)
                if math.isfinite(placing):
                    cost[i, j] = placing - (cfg.stay_bonus_chi2 if st is home else 0.0)
            cost[i, n_t + i] = cfg.new_object_chi2
        rows, cols = linear_sum_assignment(cost)
        changed: list[SystemTrack] = []
        claimed: set[int] = set()  # system tracks a unit of this nation stays in alone
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
            unit = units[i]
            home = self._by_member[unit[0]]
            if j < n_t:
                changed += self._move(unit, targets[j][0])
                continue
            # Standing alone, it fitted none of the members that place its system track
            # (another nation's, or this nation's quiet ones): it leaves them.
            placed = any(self._places(k, m, nation, t_s) for k, m in home.fresh(t_s, cfg.stale_s))
            if placed or id(home) in claimed:
                self.splits += 1
                home = self._new_system()
            changed += self._move(unit, home)
            claimed.add(id(self._by_member[unit[0]]))  # where it is now: a move can renumber
        return changed

    def _new_system(self) -> SystemTrack:
        st = SystemTrack(system_id=f"{self.nation}-S{self._next:03d}")
        self._next += 1
        self._systems.append(st)
        return st

    def _move(self, unit: list[MemberKey], dest: SystemTrack) -> list[SystemTrack]:
        """Move the members ``unit`` to ``dest`` (from wherever each is); a system track
        left empty is dropped, and if it was older than ``dest``, ``dest``'s members go
        over to it instead (the older number stays). Returns the system tracks changed."""
        changed: list[SystemTrack] = []
        moved = False
        for k in unit:
            src = self._by_member[k]
            if src is dest:
                continue
            moved = True
            dest.members[k] = src.members.pop(k)
            self._by_member[k] = dest
            if src.reporting == k:
                src.reporting = None
            if dest.reporting is None:
                dest.reporting = k
            if src.members:
                self.moves += 1
                changed.append(src)
                continue
            self.merges += 1
            gone, keep = (dest, src) if self._index(src) < self._index(dest) else (src, dest)
            if keep is src:  # the older system track keeps its number
                for key, hist in dest.members.items():
                    src.members[key] = hist
                    self._by_member[key] = src
                src.reporting = dest.reporting
                dest.members = {}
            self._systems.remove(gone)
            changed = [c for c in changed if c is not gone]
            dest = keep
        return [*changed, dest] if moved else []

    def _index(self, st: SystemTrack) -> int:
        return next(i for i, s in enumerate(self._systems) if s is st)
