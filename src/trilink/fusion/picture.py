"""A node's picture: its own and its partners' tracks, associated and fused.

Every national track (own or received) is mapped to one system track of this node
(``JPN-S001``); a new national track joins the system track whose fused state it matches
(position chi-square gate) or starts a new one. The fused estimate is the covariance
intersection of each member's latest state, brought to a common time. Members are keyed by
(originator, track number), their provenance, so the same nation's information is never
counted twice; fused tracks are not re-shared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
from numpy.typing import NDArray

from trilink.fusion.covariance_intersection import covariance_intersection
from trilink.tracking import ekf
from trilink.types import Track, TrackState

__all__ = ["Picture", "SystemTrack"]

Array = NDArray[np.float64]
GATE_CHI2_3DOF: Final = 16.27  # 99.9 %
STALE_S: Final = 30.0


@dataclass
class SystemTrack:
    """One object in a node's picture."""

    system_id: str
    members: dict[tuple[str, str], list[Track]] = field(default_factory=dict)
    fused: Track | None = None
    fused_history: list[Track] = field(default_factory=list)

    def latest(self) -> list[Track]:
        return [h[-1] for h in self.members.values()]

    @property
    def first_t_s(self) -> float:
        return min(h[0].first_t_s for h in self.members.values())

    @property
    def nations(self) -> tuple[str, ...]:
        return tuple(sorted({n for n, _ in self.members}))


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


class Picture:
    """One node's fused picture."""

    def __init__(self, nation: str) -> None:
        self.nation = nation
        self._systems: list[SystemTrack] = []
        self._by_member: dict[tuple[str, str], SystemTrack] = {}
        self._next = 1

    def system_tracks(self) -> list[SystemTrack]:
        return list(self._systems)

    def ingest(self, track: Track) -> SystemTrack:
        """Add a national track update (own or received) and refresh its system track."""
        key = (track.nation, track.track_id)
        sys_track = self._by_member.get(key)
        if sys_track is None:
            sys_track = self._associate(track)
            self._by_member[key] = sys_track
        sys_track.members.setdefault(key, []).append(track)
        sys_track.fused = self._fuse(sys_track, track.t_s)
        sys_track.fused_history.append(sys_track.fused)
        return sys_track

    def _associate(self, track: Track) -> SystemTrack:
        best: tuple[float, SystemTrack] | None = None
        for st in self._systems:
            if st.fused is None:
                continue
            x, p = predict_track(st.fused, track.t_s)
            d = track.state[:3] - x[:3]
            s = track.covariance[:3, :3] + p[:3, :3]
            d2 = float(d @ np.linalg.solve(s, d))
            if d2 < GATE_CHI2_3DOF and (best is None or d2 < best[0]):
                best = (d2, st)
        if best is not None:
            return best[1]
        st = SystemTrack(system_id=f"{self.nation}-S{self._next:03d}")
        self._next += 1
        self._systems.append(st)
        return st

    def _fuse(self, st: SystemTrack, t_s: float) -> Track:
        fresh = [m for m in st.latest() if t_s - m.t_s <= STALE_S]
        x, p = predict_track(fresh[0], t_s)
        for m in fresh[1:]:
            xm, pm = predict_track(m, t_s)
            x6, p6 = covariance_intersection(x[:6], p[:6, :6], xm[:6], pm[:6, :6])
            x, p = np.concatenate([x6, np.zeros(3)]), np.pad(p6, ((0, 3), (0, 3)))
            p[6:9, 6:9] = 1e-12 * np.eye(3)
        thrusting = any(m.thrusting for m in fresh)
        n = fresh[0].state.shape[0] if len(fresh) == 1 else 6
        state, cov = x[:n], p[:n, :n]
        return Track(
            track_id=st.system_id,
            nation=self.nation,
            t_s=t_s,
            state=state,
            covariance=cov,
            status=TrackState.CONFIRMED,
            sensors=tuple(sorted({s for m in fresh for s in m.sensors})),
            first_t_s=st.first_t_s,
            n_updates=sum(m.n_updates for m in fresh),
            thrusting=thrusting,
        )
