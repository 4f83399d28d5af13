"""Tests of the picture's member-consistency test, its one-voice-per-nation rule and the
replay's truth labelling (SIMULATION)."""

from collections import deque

import numpy as np

from trilink.fusion.evaluate import _most_recent_majority
from trilink.fusion.picture import Picture, PictureConfig
from trilink.geo.earth import geodetic_to_ecef
from trilink.types import Track, TrackState

T0 = 1.7e9
R0 = geodetic_to_ecef(40.0, 135.0, 300e3)
V0 = np.array([1000.0, 2000.0, 500.0])
COV = np.diag([30.0**2] * 3 + [2.0**2] * 3)


def _track(
    nation: str, number: int, t_s: float, dv: np.ndarray | None = None, scale: float = 1.0
) -> Track:
    v = V0 + (np.zeros(3) if dv is None else dv)
    return Track(
        f"{nation}-T{number:04d}",
        nation,
        t_s,
        np.concatenate([R0 + V0 * (t_s - T0), v]),
        scale * COV,
        TrackState.CONFIRMED,
        (f"{nation}-R",),
        T0,
    )


def _picture(**kw: float) -> Picture:
    return Picture("JPN", PictureConfig(estimate_bias=False, reassociate=False, **kw))


def test_a_member_outvoted_on_velocity_is_not_fused() -> None:
    # USA's track sits on the object's position but 40 m/s off (a track swapped to the
    # spent stage, or overconfident through a manoeuvre): positions agree, velocities not.
    # It also claims the smallest covariance, so plain fusion leans on it.
    def fuse(picture: Picture) -> Track:
        picture.ingest(_track("JPN", 1, T0), received_from=None)
        picture.ingest(_track("KOR", 1, T0, scale=1.5), received_from=None)
        st = picture.ingest(_track("USA", 1, T0, np.array([40.0, 0, 0]), 0.5), received_from=None)
        assert len(picture.system_tracks()) == 1
        assert st.fused is not None
        return st.fused

    picture = _picture()
    fused = fuse(picture)
    assert picture.excluded > 0
    assert abs(fused.state[3] - V0[0]) < 1.0
    # Not vacuous: without the test the outlier pulls the fused velocity.
    plain = fuse(_picture(consistency_chi2=0.0))
    assert abs(plain.state[3] - V0[0]) > 5.0


def test_two_disagreeing_members_are_both_covered_by_the_fused_covariance() -> None:
    def fuse(picture: Picture) -> Track:
        picture.ingest(_track("JPN", 1, T0), received_from=None)
        st = picture.ingest(_track("USA", 1, T0, np.array([0.0, 30.0, 0.0])), received_from=None)
        assert st.fused is not None
        return st.fused

    def worst_d2(fused: Track) -> float:
        p = fused.covariance[:6, :6]
        members = (_track("JPN", 1, T0), _track("USA", 1, T0, np.array([0.0, 30.0, 0.0])))
        return max(
            float((m.state - fused.state[:6]) @ np.linalg.solve(p, m.state - fused.state[:6]))
            for m in members
        )

    picture = _picture()
    fused = fuse(picture)
    assert picture.unions == 1
    # Covariance union: each member's own covariance plus its offset fits inside.
    assert worst_d2(fused) <= 1.0 + 1e-6
    assert np.linalg.eigvalsh(fused.covariance - COV).min() > -1e-6
    # Not vacuous: plain fusion is far more confident than the disagreement allows.
    assert worst_d2(fuse(_picture(consistency_chi2=0.0))) > 10.0


def test_a_renumbered_national_track_joins_its_object() -> None:
    # USA's tracker drops USA-T0001 and picks the object up again 7 s later as USA-T0002.
    def run(picture: Picture) -> int:
        for t in np.arange(0.0, 10.0):
            picture.ingest(_track("JPN", 1, T0 + t), received_from=None)
            picture.ingest(_track("USA", 1, T0 + t), received_from="USA")
        for t in np.arange(10.0, 16.0):
            picture.ingest(_track("JPN", 1, T0 + t), received_from=None)
        for t in np.arange(16.0, 26.0):
            picture.ingest(_track("JPN", 1, T0 + t), received_from=None)
            st = picture.ingest(_track("USA", 2, T0 + t), received_from="USA")
            # One voice per nation in the fusion: the dropped track is not fused beside it.
            assert st.fused is not None
        return len(picture.system_tracks())

    assert run(_picture()) == 1
    # Not vacuous: if the quiet track still held USA's place, the new one stands apart.
    assert run(_picture(exclusive_s=30.0)) == 2


def test_a_track_is_labelled_by_its_recent_detections() -> None:
    # Labelled the RV for its first 50 detections, then the stage for the last 6 of 10.
    window: deque[str] = deque(maxlen=10)
    for lab in ["rv"] * 50 + ["stage-2"] * 6:
        window.append(lab)
    assert _most_recent_majority(window) == "stage-2"
    window.extend(["rv"] * 5)  # a 5–5 tie goes to the most recent label
    assert _most_recent_majority(window) == "rv"
