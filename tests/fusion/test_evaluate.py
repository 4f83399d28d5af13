"""The evaluation's choice of the picture's track on an object the picture holds twice."""

from __future__ import annotations

import numpy as np

from trilink.fusion.evaluate import followed_by
from trilink.fusion.picture import SystemTrack
from trilink.types import Track, TrackState

T = 1_700_000_000.0


def track(track_id: str, t_s: float, sigma_m: float) -> Track:
    nation = track_id[:3]
    return Track(
        track_id=track_id,
        nation=nation,
        t_s=t_s,
        state=np.array([-3.0e6, 4.0e6, 4.0e6, 1000.0, 0.0, 2000.0]),
        covariance=np.eye(6) * sigma_m**2,
        status=TrackState.CONFIRMED,
        sensors=(f"{nation}-R",),
        first_t_s=t_s - 100.0,
        n_updates=50,
    )


def system(system_id: str, members: dict[str, list[float]], sigma_m: float) -> SystemTrack:
    """A system track whose members were updated at the given times (its fused track
    with the given position sigma)."""
    st = SystemTrack(system_id)
    for track_id, times in members.items():
        st.members[(track_id[:3], track_id)] = [track(track_id, t, sigma_m) for t in times]
    st.fused = track(f"{system_id}-F", max(max(t) for t in members.values()), sigma_m)
    return st


def test_the_established_precise_track_stands_for_the_object_not_a_young_vague_one() -> None:
    established = system("S1", {"JPN-T1": [T - 3, T - 2, T - 1, T], "USA-T1": [T - 300]}, 25.0)
    young = system("S2", {"USA-T6": [T]}, 1400.0)  # one fresh member each: a tie
    assert followed_by([young, established], T, 2.0) is established
    assert followed_by([established, young], T, 2.0) is established


def test_more_members_updated_lately_outweigh_precision() -> None:
    precise = system("S1", {"JPN-T1": [T]}, 10.0)
    shared = system("S2", {"JPN-T2": [T], "USA-T2": [T - 1]}, 50.0)
    assert followed_by([precise, shared], T, 2.0) is shared
