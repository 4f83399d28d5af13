"""Tests of the picture: association with a biased nation, the track-number mapping,
reporting responsibility and provenance (no information counted twice)."""

import numpy as np
import pytest

from trilink.fusion import Picture, PictureConfig, ProvenanceRefused
from trilink.fusion.provenance import is_system_track_id, refusal
from trilink.geo.earth import enu_rotation, geodetic_to_ecef
from trilink.geo.motion import propagate
from trilink.types import Track, TrackState

T0 = 1_503_875_000.0
KOR_OFFSET = np.array([1200.0, -900.0, 600.0])  # ECEF m: a 500 m + 2 mrad bias at ~700 km


def _truth() -> np.ndarray:
    rot = enu_rotation(np.radians(40.0), np.radians(133.0))
    v = rot.T @ np.array([3000.0, 1000.0, 1500.0])
    return np.concatenate([geodetic_to_ecef(40.0, 133.0, 300e3), v])


def _track(
    nation: str,
    x: np.ndarray,
    t_s: float,
    rng: np.random.Generator,
    *,
    number: int = 1,
    sigma_m: float = 50.0,
    offset: np.ndarray | None = None,
) -> Track:
    p = np.diag([sigma_m**2] * 3 + [5.0**2] * 3)
    state = x + rng.normal(0.0, np.sqrt(np.diag(p)))
    if offset is not None:
        state[:3] += offset
    return Track(
        track_id=f"{nation}-T{number:04d}",
        nation=nation,
        t_s=t_s,
        state=state,
        covariance=p,
        status=TrackState.CONFIRMED,
        sensors=(f"{nation}-RADAR",),
        first_t_s=T0,
        n_updates=10,
    )


def _fly(picture: Picture, seconds: int, seed: int) -> list[int]:
    """JPN, USA (unbiased) and KOR (offset) report one object each second; returns the
    number of system tracks after each second."""
    rng = np.random.default_rng(seed)
    x0 = _truth()
    counts = []
    for k in range(seconds):
        t = T0 + k
        x = propagate(x0, float(k))
        picture.ingest(_track("JPN", x, t, rng))
        picture.ingest(_track("USA", x, t, rng), received_from="USA")
        picture.ingest(_track("KOR", x, t, rng, offset=KOR_OFFSET), received_from="USA")
        counts.append(len(picture.system_tracks()))
    return counts


# -- association with bias -----------------------------------------------------------------


def test_a_biased_nation_joins_the_one_system_track_once_its_bias_is_learnt() -> None:
    picture = Picture("JPN")
    counts = _fly(picture, 60, seed=1)
    assert counts[-30:] == [1] * 30
    (st,) = picture.system_tracks()
    assert st.nations == ("JPN", "KOR", "USA")
    offset, cov = picture.bias.offset("KOR", np.zeros(3), None)
    assert np.linalg.norm(offset - KOR_OFFSET) < 100.0
    # The gate has tightened: the learnt offset is known to better than 100 m per axis,
    # down from the 1.5 km prior.
    # What is left: the learnt offset's own uncertainty, and the bias model's error
    # (a fraction of the offset, the same for every axis).
    learnt = cov - picture.bias.model_error("KOR", np.zeros(3), None)
    assert np.all(np.sqrt(np.diag(learnt)) < 100.0)
    fraction = picture.config.bias.model_error_fraction
    np.testing.assert_allclose(
        np.diag(cov - learnt), fraction**2 * float(offset @ offset) / 3.0, rtol=1e-9
    )
    # The fused track is corrected: close to truth, not pulled toward Korea's offset.
    assert st.fused is not None
    truth = propagate(_truth(), 59.0)
    assert np.linalg.norm(st.fused.state[:3] - truth[:3]) < 150.0


def test_without_bias_estimation_the_biased_nation_is_a_duplicate() -> None:
    # The same tracks without the bias filter: Korea's track is 1.6 km off with 50 m
    # covariance, so it is split off (or never joins) — two system tracks for one object.
    picture = Picture("JPN", PictureConfig(estimate_bias=False))
    counts = _fly(picture, 60, seed=1)
    assert counts[-1] == 2
    kor = picture.system_of("KOR", "KOR-T0001")
    jpn = picture.system_of("JPN", "JPN-T0001")
    assert kor is not None and jpn is not None and kor is not jpn


# -- mapping and reporting responsibility --------------------------------------------------


def test_track_numbers_map_both_ways() -> None:
    picture = Picture("JPN")
    _fly(picture, 20, seed=2)
    (st,) = picture.system_tracks()
    assert st.track_numbers == (("JPN", "JPN-T0001"), ("KOR", "KOR-T0001"), ("USA", "USA-T0001"))
    assert picture.track_numbers() == {st.system_id: st.track_numbers}
    for nation, number in st.track_numbers:
        assert picture.system_of(nation, number) is st
    assert picture.system_of("KOR", "KOR-T0099") is None


def test_reporting_responsibility_is_stable_and_moves_when_quality_changes() -> None:
    rng = np.random.default_rng(3)
    picture = Picture("JPN", PictureConfig(estimate_bias=False))
    x0 = _truth()
    holders = []
    # JPN 60 m, USA 50 m: USA is better, but not by the hysteresis factor: JPN keeps it.
    for k in range(10):
        x = propagate(x0, float(k))
        picture.ingest(_track("JPN", x, T0 + k, rng, sigma_m=60.0))
        st = picture.ingest(_track("USA", x, T0 + k, rng, sigma_m=50.0), received_from="USA")
        holders.append(st.reporting_nation)
    assert holders == ["JPN"] * 10
    assert st.reporting == ("JPN", "JPN-T0001")
    # USA's track sharpens to 30 m (trace 2700 < 0.5 × 10800): USA takes over, for good.
    for k in range(10, 20):
        x = propagate(x0, float(k))
        picture.ingest(_track("JPN", x, T0 + k, rng, sigma_m=60.0))
        st = picture.ingest(_track("USA", x, T0 + k, rng, sigma_m=30.0), received_from="USA")
        holders.append(st.reporting_nation)
    assert holders[10:] == ["USA"] * 10
    # USA goes quiet: JPN, the only fresh member, takes it back.
    for k in range(20, 30):
        st = picture.ingest(_track("JPN", propagate(x0, float(k)), T0 + k, rng, sigma_m=60.0))
        holders.append(st.reporting_nation)
    assert holders[-1] == "JPN"
    assert holders[20:25] == ["USA"] * 5  # fresh for report_fresh_s = 5 s


# -- provenance ----------------------------------------------------------------------------


def test_the_same_track_direct_and_through_a_relay_is_counted_once() -> None:
    rng = np.random.default_rng(4)
    picture = Picture("JPN", PictureConfig(estimate_bias=False))
    x = _truth()
    picture.ingest(_track("JPN", x, T0, rng, sigma_m=100.0))
    kor = _track("KOR", x, T0, rng, sigma_m=100.0)
    st = picture.ingest(kor, received_from="KOR")  # direct
    fused_once = st.fused
    again = picture.ingest(kor, received_from="USA")  # the same update relayed by USA
    assert again is st
    assert len(st.members[("KOR", "KOR-T0001")]) == 1
    assert picture.duplicates_dropped == 1
    assert st.fused is fused_once
    assert len(st.fused_history) == 2  # one per counted update


def test_fused_tracks_and_own_echoes_are_refused() -> None:
    rng = np.random.default_rng(5)
    usa = Picture("USA")
    st = usa.ingest(_track("USA", _truth(), T0, rng))
    assert st.fused is not None and st.fused.track_id == "USA-S001"
    jpn = Picture("JPN")
    with pytest.raises(ProvenanceRefused, match="fused-track") as info:
        jpn.ingest(st.fused, received_from="USA")
    assert info.value.rule == "fused-track"
    assert info.value.reason == "provenance"
    own = _track("JPN", _truth(), T0, rng)
    jpn.ingest(own)
    with pytest.raises(ProvenanceRefused, match="own-echo"):
        jpn.ingest(own, received_from="USA")
    assert len(jpn.system_tracks()) == 1
    assert len(jpn.system_tracks()[0].members[("JPN", "JPN-T0001")]) == 1


@pytest.mark.parametrize(
    ("track_id", "nation", "received_from", "rule"),
    [
        ("KOR-T0001", "KOR", "USA", None),
        ("KOR-T0001", "KOR", None, None),
        ("JPN-T0001", "JPN", None, None),
        ("JPN-T0001", "JPN", "USA", "own-echo"),
        ("USA-S001", "USA", "USA", "fused-track"),
        ("JPN-S012", "JPN", None, "fused-track"),
    ],
)
def test_refusal_rules_as_a_table(
    track_id: str, nation: str, received_from: str | None, rule: str | None
) -> None:
    trk = _track(nation, _truth(), T0, np.random.default_rng(0))
    trk = Track(**{**{f: getattr(trk, f) for f in trk.__slots__}, "track_id": track_id})
    why = refusal(trk, "JPN", received_from)
    assert (why[0] if why else None) == rule
    assert is_system_track_id(track_id) == (rule == "fused-track")


# -- fusion never worse than the best member ------------------------------------------------


def test_fused_track_is_never_larger_than_its_best_corrected_member() -> None:
    picture = Picture("JPN")
    _fly(picture, 40, seed=6)
    (st,) = picture.system_tracks()
    assert st.fused is not None
    t = st.fused.t_s
    traces = [np.trace(picture.corrected(m, t)[1][:6, :6]) for _, m in st.fresh(t)]
    assert len(traces) == 3
    assert np.trace(st.fused.covariance[:6, :6]) <= min(traces) * (1.0 + 1e-9)
