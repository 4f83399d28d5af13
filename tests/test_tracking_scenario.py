"""The tracking benchmark's scenario generator and its side-by-side run (SIMULATION)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from trilink.bench.scenario import MIN_ELEVATION_RAD, make_scenario
from trilink.cli import app
from trilink.types import DetectionBatch


def test_scenario_is_deterministic_for_a_seed() -> None:
    a = make_scenario(20, 8, seed=7)
    b = make_scenario(20, 8, seed=7)
    c = make_scenario(20, 8, seed=8)
    for ba, bb in zip(a.batches, b.batches, strict=True):
        np.testing.assert_array_equal(ba.z, bb.z)
        assert ba.truth_ids == bb.truth_ids
        np.testing.assert_array_equal(ba.false_alarm, bb.false_alarm)
    for pa, pb in zip(a.truth_positions, b.truth_positions, strict=True):
        np.testing.assert_array_equal(pa, pb)
    assert not np.array_equal(a.truth_positions[0], c.truth_positions[0])


def test_batches_are_well_formed_scans() -> None:
    s = make_scenario(30, 6, seed=3)
    assert s.n_targets == 30 and s.n_scans == 6
    for k, batch in enumerate(s.batches):
        assert isinstance(batch, DetectionBatch)
        assert batch.t_s == pytest.approx(s.times_s[0] + k)
        assert batch.z.shape == (len(batch), 4) and batch.sigma.shape == (len(batch), 4)
        assert np.all((batch.z[:, 1] >= 0.0) & (batch.z[:, 1] < 2.0 * math.pi))
        assert np.all(batch.false_alarm == np.array([t is None for t in batch.truth_ids]))
        assert np.all(batch.merged[~batch.false_alarm] == 1)
        np.testing.assert_allclose(batch.sigma, np.broadcast_to(s.sigma, batch.sigma.shape))
        assert len(batch.detections()) == len(batch)


def test_targets_fly_where_the_brief_says() -> None:
    s = make_scenario(200, 10, seed=5)
    from trilink.geo.earth import altitude_m

    for k in range(s.n_scans):
        alt = altitude_m(s.truth_positions[k])
        speed = np.linalg.norm(s.truth_velocities[k], axis=1)
        assert alt.min() > 25e3 and alt.max() < 700e3
        assert speed.min() > 1.5e3 and speed.max() < 6.5e3
        enu = s.to_enu(s.truth_positions[k])
        el = np.arcsin(enu[:, 2] / np.linalg.norm(enu, axis=1))
        assert np.all(el[s.visible[k]] >= MIN_ELEVATION_RAD)
    # A debris field: some pairs come within a few km, most are well apart.
    mid = s.truth_positions[s.n_scans // 2]
    d = np.linalg.norm(mid[:, None] - mid[None, :], axis=-1)[np.triu_indices(s.n_targets, 1)]
    assert np.sum(d < 6e3) >= 3
    assert np.mean(d > 50e3) > 0.99


def test_detection_counts_match_pd_and_clutter() -> None:
    pd, clutter = 0.9, 10.0
    s = make_scenario(100, 30, seed=11, pd=pd, clutter_per_scan=clutter)
    visible = np.array([v.sum() for v in s.visible], dtype=float)
    hits = np.array([int((~b.false_alarm).sum()) for b in s.batches], dtype=float)
    fas = np.array([int(b.false_alarm.sum()) for b in s.batches], dtype=float)
    # Per scan: binomial hits and Poisson clutter within 4 sigma.
    sd_hits = np.sqrt(visible * pd * (1 - pd))
    assert np.all(np.abs(hits - pd * visible) <= 4 * sd_hits + 1)
    assert np.all(np.abs(fas - clutter) <= 4 * math.sqrt(clutter) + 1)
    totals = hits + fas
    assert np.all(
        np.abs(totals - (pd * visible + clutter)) <= 4 * np.sqrt(sd_hits**2 + clutter) + 1
    )
    # Over all scans the rates are close.
    assert hits.sum() / visible.sum() == pytest.approx(pd, abs=0.02)
    assert fas.mean() == pytest.approx(clutter, abs=4 * math.sqrt(clutter / len(fas)))


def test_truth_ids_are_stable_and_detections_come_from_visible_targets() -> None:
    s = make_scenario(40, 12, seed=2)
    assert len(set(s.truth_ids)) == 40
    for k, batch in enumerate(s.batches):
        ids, pos = s.truth_at(k)
        assert pos.shape == (len(ids), 3)
        seen = {t for t in batch.truth_ids if t is not None}
        assert seen <= set(ids)
        assert len(seen) == int((~batch.false_alarm).sum())  # one report per target
        # Each target detection lies near its truth (range within 6 sigma).
        for z, tid in zip(batch.z, batch.truth_ids, strict=True):
            if tid is None:
                continue
            r = s.truth_positions[k][s.truth_ids.index(tid)] - s.sensor_ecef_m
            assert abs(z[0] - np.linalg.norm(r)) < 6 * s.sigma[0]


def test_both_trackers_track_in_a_small_run() -> None:
    from trilink.bench.tracking import GOSPA_C_M, run

    r = run(10, 15)
    keys = {
        "targets",
        "scans",
        "trilink_s_per_scan",
        "stonesoup_s_per_scan",
        "trilink_gospa",
        "stonesoup_gospa",
        "ratio",
    }
    assert keys <= set(r)
    assert r["targets"] == 10 and r["scans"] == 15
    for k in keys - {"targets", "scans"}:
        assert math.isfinite(r[k]) and r[k] > 0.0
    assert r["trilink_gospa"] < GOSPA_C_M
    assert r["stonesoup_gospa"] < GOSPA_C_M


def test_cli_bench_tracking_prints_one_json_object() -> None:
    result = CliRunner().invoke(
        app, ["bench", "tracking", "--targets", "10", "--scans", "12", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    keys = {
        "targets",
        "scans",
        "trilink_s_per_scan",
        "stonesoup_s_per_scan",
        "trilink_gospa",
        "stonesoup_gospa",
    }
    assert keys <= set(out)
    assert out["targets"] == 10 and out["scans"] == 12
    for k in keys:
        assert isinstance(out[k], int | float) and math.isfinite(out[k]), k
    assert out["trilink_gospa"] < 5_000.0
    assert out["stonesoup_gospa"] < 5_000.0
