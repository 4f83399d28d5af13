"""GOSPA (alpha = 2): closed-form cases, metric properties, and a brute-force check."""

from __future__ import annotations

import importlib
import itertools
import math
from contextlib import AbstractContextManager
from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from trilink.metrics import (
    GospaResult,
    gospa,
    gospa_assignment,
    gospa_over_time,
    mean_gospa,
)

gospa_module = importlib.import_module("trilink.metrics.gospa")

C = 10.0


def split_paths() -> AbstractContextManager[object]:
    """Force the connected-component path (never the single dense assignment)."""
    return mock.patch.object(gospa_module, "_DENSE_FRACTION", 1.0)


def points(max_size: int, dim: int = 2) -> st.SearchStrategy[np.ndarray]:
    coord = st.floats(-20.0, 20.0, allow_nan=False, allow_infinity=False)
    return st.lists(st.tuples(*([coord] * dim)), min_size=0, max_size=max_size).map(
        lambda rows: np.array(rows, dtype=np.float64).reshape(len(rows), dim)
    )


def brute_force(x: np.ndarray, y: np.ndarray, c: float, p: float) -> float:
    """GOSPA by its definition: the minimum over every partial one-to-one assignment."""
    n, m = len(x), len(y)
    best = math.inf
    for k in range(min(n, m) + 1):
        for xs in itertools.combinations(range(n), k):
            for ys in itertools.permutations(range(m), k):
                pairs = zip(xs, ys, strict=True)
                cost = sum(float(np.linalg.norm(x[i] - y[j])) ** p for i, j in pairs)
                best = min(best, cost + c**p / 2.0 * (n + m - 2 * k))
    return best ** (1.0 / p)


def parts_sum(r: GospaResult) -> float:
    return r.localisation + r.missed + r.false


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_identical_sets_score_zero(p: float) -> None:
    x = np.random.default_rng(1).normal(size=(7, 3))
    r = gospa(x, x.copy(), c=C, p=p)
    assert r.total == 0.0
    assert (r.n_assigned, r.n_missed, r.n_false) == (7, 0, 0)


def test_both_empty_scores_zero() -> None:
    r = gospa(np.empty((0, 3)), np.empty((0, 3)), c=C)
    assert r.total == 0.0 and r.n_assigned == 0


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_one_missed_target(p: float) -> None:
    r = gospa(np.array([[1.0, 2.0, 3.0]]), np.empty((0, 3)), c=C, p=p)
    assert r.total == pytest.approx((C**p / 2) ** (1 / p))
    assert r.missed == pytest.approx(C**p / 2) and r.false == 0.0 and r.localisation == 0.0
    assert (r.n_assigned, r.n_missed, r.n_false) == (0, 1, 0)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_one_false_estimate(p: float) -> None:
    r = gospa(np.empty(0), np.array([[1.0, 2.0, 3.0]]), c=C, p=p)
    assert r.total == pytest.approx((C**p / 2) ** (1 / p))
    assert r.false == pytest.approx(C**p / 2) and r.missed == 0.0
    assert (r.n_assigned, r.n_missed, r.n_false) == (0, 0, 1)


@pytest.mark.parametrize("d", [0.5, 3.0, 9.99])
def test_displaced_target_within_cutoff_scores_its_distance(d: float) -> None:
    truth = np.array([[6.4e6, 0.0, 0.0]])
    r = gospa(truth, truth + [[0.0, d, 0.0]], c=C)
    assert r.total == pytest.approx(d)
    assert r.localisation == pytest.approx(d**2)
    assert (r.n_assigned, r.n_missed, r.n_false) == (1, 0, 0)


@pytest.mark.parametrize("d", [C, 10.5, 1e4])
def test_displaced_target_beyond_cutoff_is_missed_plus_false(d: float) -> None:
    truth = np.array([[0.0, 0.0, 0.0]])
    r = gospa(truth, truth + [[d, 0.0, 0.0]], c=C)
    assert r.total == pytest.approx(C)
    assert r.missed == pytest.approx(C**2 / 2) and r.false == pytest.approx(C**2 / 2)
    assert (r.n_assigned, r.n_missed, r.n_false) == (0, 1, 1)


def test_parts_of_a_mixed_scene() -> None:
    truth = np.array([[0.0, 0.0], [100.0, 0.0], [200.0, 0.0]])
    est = np.array([[3.0, 4.0], [100.0, 1.0], [500.0, 0.0], [600.0, 0.0]])
    r = gospa(truth, est, c=C)
    assert (r.n_assigned, r.n_missed, r.n_false) == (2, 1, 2)
    assert r.localisation == pytest.approx(25.0 + 1.0)
    assert r.missed == pytest.approx(50.0) and r.false == pytest.approx(100.0)
    assert r.total == pytest.approx(math.sqrt(176.0))


@given(points(6), points(6), st.sampled_from([1.0, 2.0, 3.0]))
def test_parts_sum_to_total_power(x: np.ndarray, y: np.ndarray, p: float) -> None:
    r = gospa(x, y, c=C, p=p)
    assert parts_sum(r) == pytest.approx(r.total**p, rel=1e-9, abs=1e-12)
    assert r.n_assigned + r.n_missed == len(x)
    assert r.n_assigned + r.n_false == len(y)
    assert r.missed == pytest.approx(C**p / 2 * r.n_missed)
    assert r.false == pytest.approx(C**p / 2 * r.n_false)


@given(points(6), points(6))
def test_symmetric_with_missed_and_false_swapped(x: np.ndarray, y: np.ndarray) -> None:
    a, b = gospa(x, y, c=C), gospa(y, x, c=C)
    assert a.total == pytest.approx(b.total, rel=1e-9, abs=1e-12)
    assert (a.n_missed, a.n_false) == (b.n_false, b.n_missed)
    assert a.missed == pytest.approx(b.false) and a.false == pytest.approx(b.missed)


@given(points(5), points(5), points(5), st.sampled_from([1.0, 2.0]))
def test_triangle_inequality(x: np.ndarray, y: np.ndarray, z: np.ndarray, p: float) -> None:
    xz = gospa(x, z, c=C, p=p).total
    xy = gospa(x, y, c=C, p=p).total
    yz = gospa(y, z, c=C, p=p).total
    assert xz <= xy + yz + 1e-9 * (1.0 + xy + yz)


@given(points(5), points(5), st.sampled_from([1.0, 2.0, 3.0]))
def test_assignment_equals_brute_force(x: np.ndarray, y: np.ndarray, p: float) -> None:
    expected = brute_force(x, y, C, p)
    assert gospa(x, y, c=C, p=p).total == pytest.approx(expected, rel=1e-9, abs=1e-9)
    with split_paths():
        assert gospa(x, y, c=C, p=p).total == pytest.approx(expected, rel=1e-9, abs=1e-9)


@given(points(5, dim=1), points(5, dim=1))
def test_brute_force_on_clustered_points_with_ties(x: np.ndarray, y: np.ndarray) -> None:
    x, y = np.round(x / 4.0) * 4.0, np.round(y / 4.0) * 4.0  # many equal distances
    expected = brute_force(x, y, C, 2.0)
    with split_paths():
        assert gospa(x, y, c=C).total == pytest.approx(expected, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("spread", [1e3, 3e4, 1e6])
def test_large_scene_matches_one_dense_assignment(spread: float) -> None:
    rng = np.random.default_rng(7)
    c = 5e3
    x = rng.uniform(-spread, spread, (400, 3)) + [6.4e6, 0.0, 0.0]
    y = np.vstack([x[:350] + rng.normal(0.0, 2e3, (350, 3)), rng.uniform(-spread, spread, (80, 3))])
    d = cdist(x, y)
    a, b = linear_sum_assignment(np.minimum(d, c) ** 2)
    expected = math.sqrt(
        float(np.sum(np.minimum(d[a, b], c) ** 2)) + c**2 / 2 * (len(x) + len(y) - 2 * len(a))
    )
    for forced in (False, True):
        with mock.patch.object(gospa_module, "_DENSE_FRACTION", 1.0 if forced else 0.02):
            r = gospa(x, y, c=c)
        assert r.total == pytest.approx(expected, rel=1e-9)
        assert parts_sum(r) == pytest.approx(r.total**2, rel=1e-9)


def test_assignment_pairs_are_closer_than_cutoff_and_one_to_one() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(0.0, 100.0, (50, 2))
    y = x[rng.permutation(50)] + rng.normal(0.0, 2.0, (50, 2))
    rows, cols = gospa_assignment(x, y, c=C)
    assert len(set(rows.tolist())) == len(rows) and len(set(cols.tolist())) == len(cols)
    assert np.all(np.linalg.norm(x[rows] - y[cols], axis=1) < C)
    assert len(rows) == gospa(x, y, c=C).n_assigned


def test_over_time_and_mean() -> None:
    truths = [np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((2, 2))]
    ests = [np.array([[3.0, 4.0]]), np.empty((0, 2)), np.array([[0.0, 0.0], [0.0, 1.0]])]
    results = gospa_over_time(truths, ests, c=C)
    assert [r.total for r in results] == pytest.approx([5.0, math.sqrt(50.0), 1.0])
    s = mean_gospa(results)
    assert s.n_scans == 3
    assert s.total == pytest.approx((5.0 + math.sqrt(50.0) + 1.0) / 3)
    assert s.localisation == pytest.approx((25.0 + 0.0 + 1.0) / 3)
    assert s.missed == pytest.approx(50.0 / 3) and s.false == 0.0
    assert s.root_mean_power == pytest.approx(math.sqrt((25.0 + 50.0 + 1.0) / 3))
    assert s.n_assigned == pytest.approx(1.0) and s.n_missed == pytest.approx(1 / 3)


def test_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="c=0"):
        gospa(np.zeros((1, 2)), np.zeros((1, 2)), c=0.0)
    with pytest.raises(ValueError, match="p=0.5"):
        gospa(np.zeros((1, 2)), np.zeros((1, 2)), c=1.0, p=0.5)
    with pytest.raises(ValueError, match=r"\(1, 3\)"):
        gospa(np.zeros((1, 2)), np.zeros((1, 3)), c=1.0)
    with pytest.raises(ValueError, match="shape"):
        gospa(np.zeros(3), np.zeros((1, 3)), c=1.0)
    with pytest.raises(ValueError, match="2 truth sets and 1"):
        gospa_over_time([np.zeros((1, 2))] * 2, [np.zeros((1, 2))], c=1.0)
    with pytest.raises(ValueError, match="at least one"):
        mean_gospa([])
    mixed = [gospa(np.zeros((1, 2)), np.zeros((1, 2)), c=c) for c in (1.0, 2.0)]
    with pytest.raises(ValueError, match="one \\(c, p\\)"):
        mean_gospa(mixed)
