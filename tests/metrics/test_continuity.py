"""Track continuity: identity switches and breaks as defined in trilink.metrics.continuity."""

from __future__ import annotations

import numpy as np
import pytest

from trilink.metrics import Continuity, assignments, track_continuity


def test_a_perfect_history_has_no_switches_or_breaks() -> None:
    scans = [{"a": "T1", "b": "T2"}] * 5
    c = track_continuity(scans)
    assert c.id_switches == {"a": 0, "b": 0} and c.breaks == {"a": 0, "b": 0}
    assert c.tracks_per_truth == {"a": 1, "b": 1}
    assert c.truths_per_track == {"T1": 1, "T2": 1}
    assert c.n_scans == 5


def test_a_swap_counts_one_switch_for_each_truth() -> None:
    scans = [{"a": "T1", "b": "T2"}, {"a": "T1", "b": "T2"}, {"a": "T2", "b": "T1"}]
    c = track_continuity(scans)
    assert c.id_switches == {"a": 1, "b": 1}
    assert c.total_id_switches == 2
    assert c.breaks == {"a": 0, "b": 0}
    assert c.tracks_per_truth == {"a": 2, "b": 2}
    assert c.truths_per_track == {"T1": 2, "T2": 2}


def test_drop_out_and_reacquisition_by_the_same_track() -> None:
    c = track_continuity([{"a": "T1"}, {}, {}, {"a": "T1"}])
    assert c.breaks == {"a": 1} and c.id_switches == {"a": 0}
    assert c.tracks_per_truth == {"a": 1}


def test_drop_out_and_reacquisition_by_a_new_track() -> None:
    c = track_continuity([{"a": "T1"}, {}, {"a": "T9"}, {"a": "T9"}])
    assert c.breaks == {"a": 1} and c.id_switches == {"a": 1}
    assert c.tracks_per_truth == {"a": 2}
    assert c.truths_per_track == {"T1": 1, "T9": 1}


def test_leading_and_trailing_gaps_are_not_breaks() -> None:
    c = track_continuity([{}, {"a": "T1"}, {"a": "T1"}, {}, {}])
    assert c.breaks == {"a": 0} and c.total_breaks == 0


def test_each_gap_is_one_break_and_switches_compare_with_the_last_track() -> None:
    # A - B - B - A: gaps at 1 and 3 (and scan 5), switches at 2 (A->B) and 6 (B->A).
    scans = [{"a": "A"}, {}, {"a": "B"}, {}, {"a": "B"}, {}, {"a": "A"}]
    c = track_continuity(scans)
    assert c.breaks == {"a": 3} and c.id_switches == {"a": 2}


def test_truths_never_assigned_are_reported_with_zeros() -> None:
    c = track_continuity([{"a": "T1"}], truth_ids=["a", "ghost"])
    assert c.id_switches == {"a": 0, "ghost": 0}
    assert c.tracks_per_truth == {"a": 1, "ghost": 0}


def test_refuses_one_track_for_two_truths() -> None:
    with pytest.raises(ValueError, match="scan 1 assigns track 'T1' to two truths"):
        track_continuity([{"a": "T1"}, {"a": "T1", "b": "T1"}])


def test_assignments_pair_only_points_closer_than_c() -> None:
    truth = np.array([[0.0, 0.0, 0.0], [1000.0, 0.0, 0.0], [5000.0, 0.0, 0.0]])
    tracks = np.array([[990.0, 5.0, 0.0], [3.0, -4.0, 0.0], [9000.0, 0.0, 0.0]])
    got = assignments(["a", "b", "c"], truth, ["T1", "T2", "T3"], tracks, c=50.0)
    assert got == {"a": "T2", "b": "T1"}


def test_assignments_feed_continuity_through_a_crossing() -> None:
    rng = np.random.default_rng(4)
    t = np.linspace(-5.0, 5.0, 11)
    scans = []
    for k, tk in enumerate(t):
        truth = np.array([[tk * 100.0, 0.0], [-tk * 100.0, 0.0]])
        tracks = truth + rng.normal(0.0, 1.0, truth.shape)
        # The tracker swaps its labels after the crossing (k > 5).
        ids = ["T1", "T2"] if k <= 5 else ["T2", "T1"]
        scans.append(assignments(["a", "b"], truth, ids, tracks, c=50.0))
    c = track_continuity(scans)
    assert isinstance(c, Continuity)
    assert c.id_switches == {"a": 1, "b": 1}
    assert c.breaks == {"a": 0, "b": 0}


def test_assignments_refuse_mismatched_ids() -> None:
    with pytest.raises(ValueError, match="2 ids for 1 positions"):
        assignments(["a", "b"], np.zeros((1, 2)), ["T1"], np.zeros((1, 2)), c=1.0)
    with pytest.raises(ValueError, match="repeated"):
        assignments(["a"], np.zeros((1, 2)), ["T1", "T1"], np.zeros((2, 2)), c=1.0)
    assert assignments([], np.empty((0, 2)), ["T1"], np.zeros((1, 2)), c=1.0) == {}
