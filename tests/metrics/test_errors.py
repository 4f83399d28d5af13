"""RMSE and NEES: closed forms and a seeded consistency check."""

from __future__ import annotations

import numpy as np
import pytest

from trilink.metrics import anees, nees, nees_band, rmse, rmse_over_runs


def random_spd(rng: np.random.Generator, count: int, n: int) -> np.ndarray:
    a = rng.normal(size=(count, n, n))
    return a @ np.swapaxes(a, -1, -2) + 0.5 * np.eye(n)


def test_rmse_of_a_constant_error_is_its_norm() -> None:
    e = np.array([3.0, -4.0, 12.0])
    assert rmse(np.tile(e, (25, 1))) == pytest.approx(13.0)


def test_rmse_mixes_times_as_root_mean_square() -> None:
    assert rmse(np.array([[3.0, 4.0], [0.0, 0.0]])) == pytest.approx(np.sqrt(12.5))


def test_rmse_over_runs_is_per_time() -> None:
    errors = np.zeros((4, 3, 2))
    errors[:, 0] = [3.0, 4.0]
    errors[0, 1] = [2.0, 0.0]
    out = rmse_over_runs(errors)
    assert out.shape == (3,)
    assert out == pytest.approx([5.0, 1.0, 0.0])


def test_nees_matches_the_inverse_form() -> None:
    rng = np.random.default_rng(11)
    cov = random_spd(rng, 10, 6)
    e = rng.normal(size=(10, 6))
    expected = np.einsum("ki,kij,kj->k", e, np.linalg.inv(cov), e)
    assert nees(e, cov) == pytest.approx(expected, rel=1e-9)


def test_nees_broadcasts_one_covariance() -> None:
    cov = np.diag([4.0, 9.0])
    e = np.array([[2.0, 0.0], [0.0, 3.0], [2.0, 3.0]])
    assert nees(e, cov) == pytest.approx([1.0, 1.0, 2.0])
    assert float(nees(np.array([2.0, 3.0]), cov)) == pytest.approx(2.0)


def test_nees_of_consistent_errors_averages_to_the_dimension() -> None:
    rng = np.random.default_rng(2024)
    n, draws = 3, 20_000
    cov = random_spd(rng, draws, n)
    e = np.einsum("kij,kj->ki", np.linalg.cholesky(cov), rng.normal(size=(draws, n)))
    values = nees(e, cov)
    assert values.shape == (draws,)
    assert float(values.mean()) == pytest.approx(n, rel=0.03)
    assert anees(e, cov) == pytest.approx(float(values.mean()))


def test_nees_band_brackets_the_dimension() -> None:
    lo, hi = nees_band(3, 100)
    assert lo < 3.0 < hi
    # Wilson-Hilferty: chi2(k) quantile ~ k (1 - 2/(9k) + z sqrt(2/(9k)))^3, here k = 300.
    k, z = 300, 1.959964
    wh = [k * (1 - 2 / (9 * k) + s * z * np.sqrt(2 / (9 * k))) ** 3 / 100 for s in (-1, 1)]
    assert (lo, hi) == pytest.approx(wh, abs=1e-3)
    wide = nees_band(3, 100, confidence=0.99)
    assert wide[0] < lo and wide[1] > hi


def test_anees_of_consistent_runs_usually_falls_in_the_band() -> None:
    rng = np.random.default_rng(5)
    n, runs, trials = 3, 100, 400
    lo, hi = nees_band(n, runs)
    cov = random_spd(rng, runs, n)
    chol = np.linalg.cholesky(cov)
    inside = 0
    for _ in range(trials):
        e = np.einsum("kij,kj->ki", chol, rng.normal(size=(runs, n)))
        inside += lo <= anees(e, cov) <= hi
    assert 0.9 <= inside / trials <= 0.99


def test_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match=r"\(T, d\)"):
        rmse(np.zeros(3))
    with pytest.raises(ValueError, match=r"\(R, T, d\)"):
        rmse_over_runs(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\(3, 2\)"):
        nees(np.zeros((3, 2)), np.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match="singular"):
        nees(np.ones((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="do not broadcast"):
        nees(np.ones((3, 2)), np.tile(np.eye(2), (4, 1, 1)))
    with pytest.raises(ValueError, match="confidence"):
        nees_band(3, 10, confidence=1.0)
    with pytest.raises(ValueError, match="n_runs"):
        nees_band(3, 0)
