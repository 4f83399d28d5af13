"""A node's picture: its own and its partners' tracks, associated, de-biased and fused.

Every national track (own or received) is mapped to one system track of this node
(``JPN-S001``), and the mapping is queryable both ways (:meth:`Picture.system_of`,
:attr:`SystemTrack.track_numbers`).

* **Registration bias.** Each nation's tracks carry its radars' registration error. A
  :class:`~trilink.fusion.bias.BiasEstimator` learns every nation's bias (in range,
  azimuth and elevation from its tracks' radar sites when ``sites`` gives them, else as a
  translation)
  relative to a reference nation (the network's ``registration_reference``, else this
  node's own) from pairs of members of the same system track; members are corrected
  (``r - b``, covariance ``+ P_b`` and the bias model's error) before they are gated or
  fused, so gates start wide (the prior) and tighten as offsets are learnt.
* **Association.** A new national track joins the nearest system track (χ² gate on
  de-biased positions) holding no live track (updated within ``exclusive_s``) of the same
  nation (unless the two are that nation's tracker holding the object twice, a *dual
  track*: their states agree), or starts a new one. Two system tracks whose live members
  come from different nations (or are duals) and whose fused
  positions fall in the gate are merged (an object first tracked apart before the bias
  was learnt); the older number stays. A member that stays outside a wider gate
  (``split_chi2``) from every other nation's member for ``split_after`` updates in a row
  leaves for a system track of its own (a wrong first association).
* **Fusion.** Each nation's sharpest fresh member's de-biased state is brought to a common
  time and fused by inverse covariance intersection (default) or covariance intersection:
  consistent under unknown common information, and never larger in trace than the best
  member. Members are first tested against each other (position and velocity, χ² 6 dof):
  one outvoted by the rest is not fused (a national track that swapped to the spent stage
  or went overconfident through a manoeuvre), and a disagreement no majority settles
  widens the fused covariance to cover every member (covariance union).
* **Reporting responsibility.** One member holds it (``SystemTrack.reporting``): the
  fresh member with the smallest de-biased position covariance; another takes it only when
  its trace is below ``report_switch_ratio`` of the holder's, or the holder goes quiet.
* **Provenance.** Members are keyed by (originator, track number); repeated updates,
  fused tracks and the node's own tracks echoed back are not counted again
  (:mod:`trilink.fusion.provenance`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from numpy.typing import NDArray

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

    gate_chi2: float = field(
        default=GATE_CHI2_3DOF, metadata={"doc": "association and merge gate, χ² 3 dof"}
    )
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
        default=5.0,
        metadata={
            "doc": "one track per nation per object: a nation's member updated within this "
            "(s) keeps that nation's other tracks out of its system track (a national "
            "track quiet for longer is taken as dropped or renumbered)"
        },
    )
    merge: bool = field(default=True, metadata={"doc": "merge system tracks of one object"})
    split_chi2: float = field(
        default=2.0 * GATE_CHI2_3DOF,
        metadata={"doc": "a member this far (χ², 3 dof) from every other member is suspect"},
    )
    split_after: int = field(
        default=5, metadata={"doc": "a member suspect on this many updates in a row leaves"}
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
        for name in ("gate_chi2", "stale_s", "report_fresh_s", "exclusive_s"):
            if not getattr(self, name) > 0.0:
                raise ValueError(f"PictureConfig: `{name}` must be positive")
        if not 0.0 < self.report_switch_ratio <= 1.0:
            raise ValueError("PictureConfig: `report_switch_ratio` must be in (0, 1]")


@dataclass
class SystemTrack:
    """One object in a node's picture."""

    system_id: str
    members: dict[MemberKey, list[Track]] = field(default_factory=dict)
    fused: Track | None = None
    fused_history: list[Track] = field(default_factory=list)
    reporting: MemberKey | None = None

    def latest(self) -> list[Track]:
        return [h[-1] for h in self.members.values()]

    def fresh(self, t_s: float, stale_s: float = STALE_S) -> list[tuple[MemberKey, Track]]:
        """Members whose latest update is at most ``stale_s`` seconds before ``t_s``."""
        return [(k, h[-1]) for k, h in self.members.items() if t_s - h[-1].t_s <= stale_s]

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


def predict_track(track: Track, t_s: float) -> tuple[Array, Array]:
    """A track's state (9) and covariance brought to ``t_s`` with the tracker's model."""
    x = np.zeros(9)
    p = np.zeros((9, 9))
    n = track.state.shape[0]
    x[:n] = track.state
    p[:n, :n] = track.covariance
    if n == 6:
        p[6:9, 6:9] = 1e-12 * np.eye(3)
    q_jerk = 20.0 if track.thrusting else 0.0
    return ekf.predict(x, p, t_s - track.t_s, q_jerk=q_jerk, q_accel=0.01)


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
        self._fuser = FUSERS[self.config.fusion]
        self._systems: list[SystemTrack] = []
        self._by_member: dict[MemberKey, SystemTrack] = {}
        self._pair_t: dict[tuple[MemberKey, MemberKey], float] = {}
        self._suspect: dict[MemberKey, int] = {}
        self.splits = 0
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
        if st is None:
            st = self._associate(track)
            self._by_member[key] = st
        st.members.setdefault(key, []).append(track)
        if self._misfits(st, key, track):
            st = self._split(st, key)
        elif self.config.estimate_bias:
            self._learn_bias(st, key, track)
        self._refresh(st, track.t_s)
        if self.config.merge:
            st = self._merge(st, track.t_s)
        return st

    def site_of(self, track: Track) -> Array | None:
        """Mean ECEF site (m) of the track's sensors whose sites this picture knows."""
        known = [self.sites[s] for s in track.sensors if s in self.sites]
        return np.mean(known, axis=0) if known else None

    def corrected(self, track: Track, t_s: float) -> tuple[Array, Array]:
        """A member's state (9) and covariance at ``t_s`` with its nation's estimated offset
        removed from the position and the offset's uncertainty added (ECEF, m, m/s)."""
        x, p = predict_track(track, t_s)
        if self.config.estimate_bias:
            b, pb = self.bias.offset(track.nation, x[:3], self.site_of(track), t_s)
            x[:3] -= b
            p[:3, :3] += pb
        return x, p

    def _associate(self, track: Track) -> SystemTrack:
        x, p = self.corrected(track, track.t_s)
        best: tuple[float, SystemTrack] | None = None
        for st in self._systems:
            if st.fused is None:
                continue
            own = [
                m for k, m in st.fresh(track.t_s, self.config.exclusive_s) if k[0] == track.nation
            ]
            if own and not all(self._dual(track, m) for m in own):
                continue  # one live track per nation per object, but for a dual track
            xf, pf = predict_track(st.fused, track.t_s)
            d2 = _position_d2(x, p, xf, pf)
            if d2 < self.config.gate_chi2 and (best is None or d2 < best[0]):
                best = (d2, st)
        if best is not None:
            return best[1]
        st = SystemTrack(system_id=f"{self.nation}-S{self._next:03d}")
        self._next += 1
        self._systems.append(st)
        return st

    def _dual(self, track: Track, other: Track) -> bool:
        """Whether ``track`` and ``other``, two live tracks of one nation, are that nation's
        tracker holding one object twice: their states (position and velocity) agree
        within ``consistency_chi2`` (6 dof) on their own covariances. They share the
        nation's registration bias, so only the part of it that differs between its
        tracks (the bias model's error, from radars biased each in its own geometry)
        enters the test: two tracks of one nation on closely spaced objects (a re-entry
        vehicle and its stage, tens of metres apart with tens of metres of error) stay
        apart while that nation's bias is not being removed."""
        xa, pa = predict_track(track, track.t_s)
        xb, pb = predict_track(other, track.t_s)
        if self.config.estimate_bias:
            model = self.bias.model_error(track.nation, xa[:3], self.site_of(track))
            pa[:3, :3] += model
            pb[:3, :3] += model
        return _state_d2(xa, pa, xb, pb) < self.config.consistency_chi2

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

    def _misfits(self, st: SystemTrack, key: MemberKey, track: Track) -> bool:
        """Whether ``track`` has now been outside ``split_chi2`` of every other nation's
        fresh member for ``split_after`` updates in a row."""
        cfg = self.config
        others = [
            m
            for k, m in st.fresh(track.t_s, cfg.stale_s)
            if k[0] != key[0] and abs(track.t_s - m.t_s) <= cfg.pair_max_age_s
        ]
        if not others:
            self._suspect.pop(key, None)
            return False
        x, p = self.corrected(track, track.t_s)
        far = all(
            _position_d2(x, p, *self.corrected(m, track.t_s)) > cfg.split_chi2 for m in others
        )
        count = self._suspect.get(key, 0) + 1 if far else 0
        self._suspect[key] = count
        return count >= cfg.split_after

    def _split(self, st: SystemTrack, key: MemberKey) -> SystemTrack:
        """Move member ``key`` out of ``st`` into a new system track; refresh both."""
        hist = st.members.pop(key)
        t_s = hist[-1].t_s
        self._suspect.pop(key, None)
        new = SystemTrack(system_id=f"{self.nation}-S{self._next:03d}", members={key: hist})
        self._next += 1
        self._systems.append(new)
        self._by_member[key] = new
        self.splits += 1
        if st.reporting == key:
            st.reporting = None
        if st.fresh(t_s, self.config.stale_s):
            self._refresh(st, t_s)
        return new

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
        overconfident through a manoeuvre); a disagreement no majority settles is
        returned as such.
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
        # Best member first: ties and near-ties then lean on the sharpest track.
        order = sorted(use, key=lambda km: float(np.trace(states[km[0]][1][:3, :3])))
        x, p = states[order[0][0]]
        for k, _ in order[1:]:
            xm, pm = states[k]
            x6, p6 = self._fuser(x[:6], p[:6, :6], xm[:6], pm[:6, :6])
            x, p = np.concatenate([x6, np.zeros(3)]), np.pad(p6, ((0, 3), (0, 3)))
            p[6:9, 6:9] = 1e-12 * np.eye(3)
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

    def _merge(self, st: SystemTrack, t_s: float) -> SystemTrack:
        """Merge ``st`` with the nearest system track in the gate whose fresh members come
        from other nations; the older system track survives. Returns the survivor."""
        if st.fused is None:
            return st
        stale = self.config.stale_s
        live = self.config.exclusive_s
        mine = st.fresh(t_s, live)
        xs, ps = predict_track(st.fused, t_s)
        best: tuple[float, SystemTrack] | None = None
        for other in self._systems:
            if other is st or other.fused is None:
                continue
            if not other.fresh(t_s, stale):
                continue
            theirs = other.fresh(t_s, live)
            if any(ka[0] == kb[0] and not self._dual(a, b) for ka, a in mine for kb, b in theirs):
                continue  # one nation's two tracks of two objects
            xo, po = predict_track(other.fused, t_s)
            d2 = _position_d2(xs, ps, xo, po)
            if d2 < self.config.gate_chi2 and (best is None or d2 < best[0]):
                best = (d2, other)
        if best is None:
            return st
        other = best[1]
        keep, gone = (
            (st, other)
            if self._systems.index(st) < self._systems.index(other)
            else (
                other,
                st,
            )
        )
        for k, hist in gone.members.items():
            keep.members[k] = hist
            self._by_member[k] = keep
        if keep.reporting is None:
            keep.reporting = gone.reporting
        self._systems.remove(gone)
        self.merges += 1
        self._refresh(keep, t_s)
        return keep
