"""The batched tracker: gating, assignment and many targets at once."""

from __future__ import annotations

import numpy as np
from _scans import ROT, _batch
from hypothesis import given, settings
from hypothesis import strategies as st

from trilink.geo.earth import geodetic_to_ecef
from trilink.geo.motion import propagate
from trilink.tracking import ekf
from trilink.tracking.tracker import Tracker, _assign


def _targets(n: int, rng: np.random.Generator) -> np.ndarray:
    lat = rng.uniform(39.0, 42.0, n)
    lon = rng.uniform(130.0, 134.0, n)
    r = geodetic_to_ecef(lat, lon, rng.uniform(150e3, 500e3, n))
    east = np.cross([0.0, 0.0, 1.0], r)
    east /= np.linalg.norm(east, axis=1)[:, None]
    return np.hstack([r, east * rng.uniform(2e3, 4e3, n)[:, None]])


def test_many_targets_are_all_tracked_with_clutter() -> None:
    rng = np.random.default_rng(3)
    truth = _targets(200, rng)
    tracker = Tracker("JPN")
    for k in range(12):
        if k:
            truth = propagate(truth, 1.0)
        tracker.process_batch(_batch(1.0e9 + k, truth, rng, pd=0.9, clutter=20))
    ids, pos = tracker.positions()  # at the last scan's time, like ``truth``
    assert 190 <= len(ids) <= 215
    assert len(set(ids)) == len(ids)
    # Every truth has a confirmed track within 2 km (angle noise alone is ~1 km).
    d = np.linalg.norm(truth[:, None, :3] - pos[None, :, :], axis=2)
    assert np.all(d.min(axis=1) < 2_000.0)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_no_track_updates_with_a_detection_outside_its_gate(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = _targets(8, rng)
    tracker = Tracker("JPN")
    for k in range(4):
        tracker.process_batch(_batch(1.0e9 + k, truth, rng))
        truth = propagate(truth, 1.0)
    batch = _batch(
        1.0e9 + 4, truth + rng.normal(0.0, 3e3, truth.shape) * [1, 1, 1, 0, 0, 0], rng, clutter=5
    )
    tracker._predict_all(batch.t_s)
    tr = tracker._tr
    ti, di, cost = tracker._gate_models(batch, ROT)
    ut, ud, hold, _, _ = tracker._associate(ti, di, cost, batch, ROT)
    at, ad = ut[~hold], ud[~hold]  # what the scan updates (retried tracks aside)
    assert len(set(at.tolist())) == at.size and len(set(ad.tolist())) == ad.size
    for t_row, d_idx in zip(at, ad, strict=True):
        det = batch.detections()[int(d_idx)]
        # Inside the gate of at least one of the track's two IMM models.
        d2_models = [ekf.innovation(tr.xm[t_row, j], tr.pm[t_row, j], det).d2 for j in (0, 1)]
        assert min(d2_models) < tracker.config.gate_chi2 + 1e-6 * max(d2_models)


def test_assignment_is_optimal_within_a_cluster() -> None:
    # Two tracks, two detections, crossed costs: the optimum is the anti-diagonal.
    ti = np.array([0, 0, 1, 1])
    di = np.array([0, 1, 0, 1])
    cost = np.array([1.0, 2.0, 2.0, 10.0])
    at, ad, ambiguous = _assign(ti, di, cost, ambiguity=4.0)
    assert dict(zip(at.tolist(), ad.tolist(), strict=True)) == {0: 1, 1: 0}
    assert not ambiguous.any()  # the swap costs 11 - 4 = 7 more


def test_near_ties_in_a_cluster_are_flagged_ambiguous() -> None:
    ti = np.array([0, 0, 1, 1])
    di = np.array([0, 1, 0, 1])
    cost = np.array([1.0, 2.0, 2.0, 1.5])  # the swap costs only 1.5 more
    at, ad, ambiguous = _assign(ti, di, cost, ambiguity=4.0)
    assert dict(zip(at.tolist(), ad.tolist(), strict=True)) == {0: 0, 1: 1}
    assert ambiguous.all()
    _, _, ambiguous = _assign(ti, di, cost, ambiguity=1.0)
    assert not ambiguous.any()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), dt=st.floats(0.1, 10.0))
def test_imm_mixing_prediction_and_update_keep_covariances_positive_definite(
    seed: int, dt: float
) -> None:
    rng = np.random.default_rng(seed)
    truth = _targets(6, rng)
    tracker = Tracker("JPN")
    for k in range(5):
        tracker.process_batch(_batch(1.0e9 + k * dt, truth, rng, pd=0.8, clutter=3))
        truth = propagate(truth, dt)
    tr = tracker._tr
    assert len(tr) > 0
    for p in (tr.p, tr.pm[:, 0], tr.pm[:, 1]):
        np.testing.assert_allclose(p, np.swapaxes(p, 1, 2), rtol=0, atol=1e-6 * np.abs(p).max())
        assert np.all(np.linalg.eigvalsh(p[:, :6, :6]) > 0.0)
    np.testing.assert_allclose(tr.mu.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all((tr.mu > 0.0) & (tr.mu < 1.0))
    # The ballistic model holds the thrust acceleration at zero.
    assert np.all(tr.xm[:, 1, 6:9] == 0.0)
