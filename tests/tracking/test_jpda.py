"""JPDA: marginal association probabilities, and the tracker with JPDA selected on two
crossing targets (SIMULATION)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _scans import ROT, _batch
from hypothesis import given, settings
from hypothesis import strategies as st

from trilink.geo.earth import geodetic_to_ecef
from trilink.geo.motion import propagate
from trilink.tracking import Tracker, TrackerConfig
from trilink.tracking.jpda import jpda_probabilities
from trilink.tracking.tracker import _LOG_2PI


def _brute_force(
    nt: int, nd: int, pairs: list[tuple[int, int]], loglik: np.ndarray, pd: float, lam: float
) -> np.ndarray:
    """Marginals by listing every assignment of tracks to detections or none."""
    w = {p: pd * np.exp(ll) / lam for p, ll in zip(pairs, loglik, strict=True)}
    miss = 1.0 - pd * 0.999
    acc = np.zeros((nt, nd))
    total = 0.0
    for choice in itertools.product(range(-1, nd), repeat=nt):
        used = [d for d in choice if d >= 0]
        if len(used) != len(set(used)) or any(
            d >= 0 and (t, d) not in w for t, d in enumerate(choice)
        ):
            continue
        weight = float(np.prod([w[(t, d)] if d >= 0 else miss for t, d in enumerate(choice)]))
        total += weight
        for t, d in enumerate(choice):
            if d >= 0:
                acc[t, d] += weight
    return acc / total


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), nt=st.integers(1, 4), nd=st.integers(1, 4))
def test_exact_marginals_match_brute_force_and_sum_to_one(seed: int, nt: int, nd: int) -> None:
    rng = np.random.default_rng(seed)
    pairs = [(t, d) for t in range(nt) for d in range(nd) if rng.random() < 0.7]
    if not pairs:
        pairs = [(0, 0)]
    ti = np.array([p[0] for p in pairs], dtype=np.int64)
    di = np.array([p[1] for p in pairs], dtype=np.int64)
    loglik = rng.normal(-20.0, 3.0, len(pairs))
    res = jpda_probabilities(ti, di, loglik, pd=0.9, clutter_density=1e-9)
    assert res.exact.all()
    ref = _brute_force(nt, nd, pairs, loglik, 0.9, 1e-9)
    np.testing.assert_allclose(res.pair_beta, ref[ti, di], rtol=1e-9, atol=1e-12)
    per_track = np.bincount(np.searchsorted(res.tracks, ti), weights=res.pair_beta)
    np.testing.assert_allclose(per_track + res.miss_beta, 1.0, atol=1e-12)
    per_det = np.bincount(di, weights=res.pair_beta)
    assert np.all(per_det <= 1.0 + 1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_cheap_marginals_above_the_cap_stay_probabilities(seed: int) -> None:
    rng = np.random.default_rng(seed)
    nt, nd = 7, 7
    ti, di = (a.ravel().astype(np.int64) for a in np.meshgrid(range(nt), range(nd)))
    loglik = rng.normal(-20.0, 3.0, ti.size)
    res = jpda_probabilities(ti, di, loglik, pd=0.9, clutter_density=1e-9, max_events=100)
    assert not res.exact.any()
    per_track = np.bincount(np.searchsorted(res.tracks, ti), weights=res.pair_beta)
    assert np.all(per_track <= 1.0 + 1e-12)
    assert np.all(res.pair_beta >= 0.0)
    np.testing.assert_allclose(per_track + res.miss_beta, 1.0, atol=1e-12)


def test_a_lone_pair_is_the_ratio_of_detection_to_miss() -> None:
    ll = np.array([-18.0])
    res = jpda_probabilities(np.array([0]), np.array([0]), ll, pd=0.9, clutter_density=1e-9)
    w = 0.9 * np.exp(-18.0) / 1e-9
    assert res.pair_beta[0] == pytest.approx(w / (w + 1.0 - 0.9 * 0.999))


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="pd"):
        jpda_probabilities(
            np.array([0]), np.array([0]), np.array([0.0]), pd=0.0, clutter_density=1.0
        )
    with pytest.raises(ValueError, match="association"):
        TrackerConfig(association="mht")  # type: ignore[arg-type]


def _crossing(n_scans: int) -> list[np.ndarray]:
    """Two targets 300 km up whose paths cross at mid-run, 1 km apart, moving 3 km/s at
    right angles to each other."""
    rc = geodetic_to_ecef(40.5, 132.0, 300e3)
    up = rc / np.linalg.norm(rc)
    east = np.cross([0.0, 0.0, 1.0], up)
    east /= np.linalg.norm(east)
    north = np.cross(up, east)
    a = np.concatenate([rc, 3e3 * east])
    b = np.concatenate([rc + 1e3 * up, 3e3 * north])
    mid = n_scans // 2
    x = propagate(np.stack([a, b]), -float(mid))
    out = []
    for _ in range(n_scans):
        out.append(x)
        x = propagate(x, 1.0)
    return out


@pytest.mark.parametrize("association", ["gnn", "jpda"])
def test_both_associations_hold_two_crossing_targets(association: str) -> None:
    rng = np.random.default_rng(11)
    truth = _crossing(24)
    tracker = Tracker("JPN", TrackerConfig(association=association))  # type: ignore[arg-type]
    betas_checked = 0
    for k, x in enumerate(truth):
        batch = _batch(1.0e9 + k, x, rng, clutter=3)
        if association == "jpda" and k == len(truth) // 2:
            # At the crossing: the probabilities the tracker uses are probabilities.
            tracker._predict_all(batch.t_s)
            ti, di, cost = tracker._gate_models(batch, ROT)
            res = jpda_probabilities(
                ti,
                di,
                -0.5 * (cost + 4.0 * _LOG_2PI),
                pd=0.9,
                clutter_density=tracker.config.jpda_clutter_density,
            )
            per_track = np.bincount(np.searchsorted(res.tracks, ti), weights=res.pair_beta)
            assert np.all(per_track <= 1.0 + 1e-9)
            np.testing.assert_allclose(per_track + res.miss_beta, 1.0, atol=1e-9)
            betas_checked = int(res.tracks.size)
        tracker.process_batch(batch)
    if association == "jpda":
        assert betas_checked >= 2
    _, pos = tracker.positions()
    final = truth[-1][:, :3]
    d = np.linalg.norm(final[:, None, :] - pos[None, :, :], axis=2)
    assert pos.shape[0] >= 2
    assert np.all(d.min(axis=1) < 2_000.0), d.min(axis=1)
    # One track per target: the nearest tracks differ.
    assert len(set(d.argmin(axis=1).tolist())) == 2
