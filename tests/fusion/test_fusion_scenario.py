"""The 2017-08-28 Hwasong-12 through every nation's radars and tracker, Korea's radars
biased by 500 m in range and 2 mrad in azimuth and elevation, fused in Japan's picture
(SIMULATION; no network: the tracks are fed as JPN's node would receive them)."""

from __future__ import annotations

import numpy as np
import pytest

from trilink.fusion import PictureConfig
from trilink.fusion.evaluate import FusionRun, Replay, fuse_replay, replay_event

EVENT = "2017-08-28-hwasong-12-1"
KOR_RADARS = ("KOR-GREENPINE-S", "KOR-GREENPINE-N", "KOR-GREENPINE-BUSAN")
BIAS = (500.0, 2.0, 2.0)  # range m, azimuth mrad, elevation mrad
LEARNT_S = 100.0  # Korea tracks from T+42 s, the US from T+53 s: 60 s of common tracking
SEPARATION_S = 136.0  # the first stage separates: one object until then


@pytest.fixture(scope="module")
def replay() -> Replay:
    return replay_event(EVENT, seed=7, radar_bias=dict.fromkeys(KOR_RADARS, BIAS))


@pytest.fixture(scope="module")
def fused(replay: Replay) -> FusionRun:
    return fuse_replay(replay, "JPN")


def test_koreas_bias_is_learnt(fused: FusionRun) -> None:
    beta, cov, with_site = fused.picture.bias.parameters("KOR")
    assert with_site
    assert abs(beta[0] - 500.0) < 200.0
    assert np.all(np.abs(beta[1:] - 2e-3) < 0.7e-3), beta
    # The US is unbiased: its learnt range bias is small beside Korea's.
    assert abs(fused.picture.bias.parameters("USA")[0][0]) < 150.0


def test_the_correction_removes_koreas_offset(fused: FusionRun) -> None:
    # Korea's own track is off by the bias's effect (most of a km); the fused track is not.
    kor = fused.errors["KOR"].mean_offset_m(LEARNT_S)
    assert np.linalg.norm(kor) > 500.0
    f_rmse, kor_rmse, n = fused.paired_rmse_m("KOR", LEARNT_S)
    assert n > 100
    assert f_rmse < 0.2 * kor_rmse


def test_one_system_track_for_the_missile_once_the_bias_is_learnt(
    replay: Replay, fused: FusionRun
) -> None:
    window = [
        (s, n)
        for t, s, n in zip(fused.t_rel_s, fused.fresh_systems, fused.most_national, strict=True)
        if LEARNT_S <= t < SEPARATION_S
    ]
    assert len(window) > 30
    # No more system tracks than the nation holding most tracks (Korea's tracker itself
    # holds two on the missile for a while in this run: that duplicate is Korea's).
    assert all(s <= n for s, n in window), window
    # Not vacuous: without the bias filter Korea's track stands apart (a duplicate).
    plain = fuse_replay(replay, "JPN", PictureConfig(estimate_bias=False))
    excess = [e for t, e in plain.excess_systems(LEARNT_S) if t < SEPARATION_S]
    assert len(excess) > 30
