"""Generalized OSPA (GOSPA) with alpha = 2, for scoring a set of estimates against the truth.

The metric of Rahmathullah, García-Fernández and Svensson ("Generalized optimal sub-pattern
assignment metric", FUSION 2017) with the assignment parameter alpha = 2. For a truth set
X = {x_1..x_N} and an estimate set Y = {y_1..y_M}, cut-off ``c`` (in the units of the
coordinates, metres for positions) and order ``p`` (1 <= p < inf)::

    GOSPA(X, Y)^p = min over partial one-to-one assignments g of
                    sum_{(i, j) in g} d(x_i, y_j)^p + c^p / 2 * (N + M - 2 |g|)

where only pairs with d(x_i, y_j) < c are worth assigning: a pair at distance >= c costs
c^p as a pair, exactly what one missed target plus one false estimate cost (c^p / 2 each),
so it is counted as one missed and one false. The minimum is found with
:func:`scipy.optimize.linear_sum_assignment` on the cost ``min(d, c)^p``, after splitting the
problem into the connected components of the "closer than c" bipartite graph (the
components are independent, and most are single pairs in a real scenario); when more than
2 % of all pairs are closer than c, one dense assignment is solved instead.

The parts are reported as their contributions to ``total^p`` (squared metres for p = 2
and positions in metres)::

    localisation = sum of d^p over the assigned pairs (each closer than c)
    missed       = c^p / 2 * n_missed
    false        = c^p / 2 * n_false
    total        = (localisation + missed + false)^(1/p)      (metres)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import cdist

__all__ = [
    "GospaResult",
    "GospaSummary",
    "gospa",
    "gospa_assignment",
    "gospa_over_time",
    "mean_gospa",
]

IndexArray = NDArray[np.intp]

# Above this fraction of close pairs, solve one dense assignment instead of splitting the
# problem into connected components (splitting then costs more than it saves).
_DENSE_FRACTION = 0.02


@dataclass(frozen=True, slots=True)
class GospaResult:
    """GOSPA (alpha = 2) of one scan; the parts are contributions to ``total**p``.

    ``total == (localisation + missed + false) ** (1 / p)`` up to rounding.
    """

    total: float = field(metadata={"doc": "the GOSPA distance, in coordinate units (m)"})
    localisation: float = field(
        metadata={"doc": "sum of d^p over assigned pairs, in coordinate units ^ p (m^p)"}
    )
    missed: float = field(metadata={"doc": "c^p / 2 * n_missed, in m^p"})
    false: float = field(metadata={"doc": "c^p / 2 * n_false, in m^p"})
    n_assigned: int = field(metadata={"doc": "truth-estimate pairs closer than c"})
    n_missed: int = field(metadata={"doc": "truths without an estimate closer than c"})
    n_false: int = field(metadata={"doc": "estimates without a truth closer than c"})
    c: float = field(metadata={"doc": "cut-off distance, in coordinate units (m)"})
    p: float = field(metadata={"doc": "order of the metric, 1 <= p < inf"})


@dataclass(frozen=True, slots=True)
class GospaSummary:
    """The mean of several :class:`GospaResult` (over scans or Monte Carlo runs).

    ``localisation``, ``missed`` and ``false`` are the means of the per-scan parts (m^p),
    so ``root_mean_power == (localisation + missed + false) ** (1 / p)`` is the p-th root of
    the mean of ``total**p`` (the RMS GOSPA for p = 2). ``total`` is the plain mean of the
    per-scan totals, which is never larger than ``root_mean_power``.
    """

    total: float = field(metadata={"doc": "mean of the per-scan GOSPA distances (m)"})
    root_mean_power: float = field(metadata={"doc": "(mean of total^p)^(1/p), in m"})
    localisation: float = field(metadata={"doc": "mean localisation part, in m^p"})
    missed: float = field(metadata={"doc": "mean missed part, in m^p"})
    false: float = field(metadata={"doc": "mean false part, in m^p"})
    n_assigned: float = field(metadata={"doc": "mean number of assigned pairs"})
    n_missed: float = field(metadata={"doc": "mean number of missed truths"})
    n_false: float = field(metadata={"doc": "mean number of false estimates"})
    n_scans: int = field(metadata={"doc": "number of results averaged"})
    c: float = field(metadata={"doc": "cut-off distance (m)"})
    p: float = field(metadata={"doc": "order of the metric"})


def _check_c_p(c: float, p: float) -> None:
    if not (math.isfinite(c) and c > 0.0):
        raise ValueError(f"GOSPA cut-off c must be a finite positive distance, got c={c}")
    if not (math.isfinite(p) and p >= 1.0):
        raise ValueError(f"GOSPA order p must be finite and >= 1, got p={p}")


def _as_points(value: ArrayLike, name: str) -> NDArray[np.float64]:
    """Return ``value`` as an (N, d) float64 array; an empty 1-D array means no points."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 1 and arr.size == 0:
        return arr.reshape(0, 0)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be an (N, d) array of points, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has non-finite values")
    return arr


def _pair_points(
    truth: ArrayLike, estimates: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x = _as_points(truth, "truth")
    y = _as_points(estimates, "estimates")
    if x.shape[0] and y.shape[0] and x.shape[1] != y.shape[1]:
        raise ValueError(
            f"truth and estimates must have the same number of columns, got truth shape "
            f"{x.shape} and estimates shape {y.shape}"
        )
    return x, y


def _empty_pairs() -> tuple[IndexArray, IndexArray]:
    return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)


def _optimal_pairs(dist: NDArray[np.float64], c: float, p: float) -> tuple[IndexArray, IndexArray]:
    """Return (truth index, estimate index) of an optimal assignment's pairs closer than c."""
    n, m = dist.shape
    close = dist < c
    n_close = int(np.count_nonzero(close))
    if n_close == 0:
        return _empty_pairs()
    if n_close > _DENSE_FRACTION * n * m:
        # Most pairs are close: the components would be one giant block anyway.
        a, b = linear_sum_assignment(np.minimum(dist, c) ** p)
        keep = dist[a, b] < c
        return a[keep].astype(np.intp), b[keep].astype(np.intp)
    rows, cols = np.nonzero(close)
    # Truths are nodes 0..n-1, estimates n..n+m-1; edges join pairs closer than c. Pairs in
    # different components are >= c apart, so each component is an independent problem.
    graph = coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols + n)), shape=(n + m, n + m))
    n_comp, labels = connected_components(graph, directed=False)
    row_lab: IndexArray = labels[:n]
    col_lab: IndexArray = labels[n:]
    rows_in = np.bincount(row_lab, minlength=n_comp)
    cols_in = np.bincount(col_lab, minlength=n_comp)
    edge_lab = row_lab[rows]
    single = (rows_in[edge_lab] == 1) & (cols_in[edge_lab] == 1)
    out_rows = [rows[single]]
    out_cols = [cols[single]]
    multi = np.unique(edge_lab[~single])
    if multi.size:
        r_order = np.argsort(row_lab, kind="stable")
        c_order = np.argsort(col_lab, kind="stable")
        r_sorted = row_lab[r_order]
        c_sorted = col_lab[c_order]
        r_lo = np.searchsorted(r_sorted, multi, side="left")
        r_hi = np.searchsorted(r_sorted, multi, side="right")
        c_lo = np.searchsorted(c_sorted, multi, side="left")
        c_hi = np.searchsorted(c_sorted, multi, side="right")
        for k in range(multi.size):
            ri = r_order[r_lo[k] : r_hi[k]]
            ci = c_order[c_lo[k] : c_hi[k]]
            sub = dist[np.ix_(ri, ci)]
            a, b = linear_sum_assignment(np.minimum(sub, c) ** p)
            keep = sub[a, b] < c
            out_rows.append(ri[a[keep]])
            out_cols.append(ci[b[keep]])
    return np.concatenate(out_rows), np.concatenate(out_cols)


def gospa_assignment(
    truth: ArrayLike, estimates: ArrayLike, *, c: float, p: float = 2.0
) -> tuple[IndexArray, IndexArray]:
    """Return the pairs ``(truth_index, estimate_index)`` of an optimal GOSPA assignment.

    Only pairs closer than ``c`` (coordinate units, m) are returned; when several
    assignments are optimal (ties), one of them is returned. ``truth`` is (N, d) and
    ``estimates`` (M, d); an empty array of any shape with no rows means no points.
    """
    _check_c_p(c, p)
    x, y = _pair_points(truth, estimates)
    if x.shape[0] == 0 or y.shape[0] == 0:
        return _empty_pairs()
    return _optimal_pairs(cdist(x, y), c, p)


def gospa(truth: ArrayLike, estimates: ArrayLike, *, c: float, p: float = 2.0) -> GospaResult:
    """GOSPA (alpha = 2) between ``truth`` (N, d) and ``estimates`` (M, d).

    Distances are Euclidean over the given columns: pass positions (ECEF metres) to get a
    result in metres. ``c`` is the cut-off (m) and ``p`` the order (1 <= p < inf). Either set
    may be empty. The parts of the result are contributions to ``total**p``; see the module
    docstring.
    """
    _check_c_p(c, p)
    x, y = _pair_points(truth, estimates)
    n, m = x.shape[0], y.shape[0]
    if n and m:
        dist = cdist(x, y)
        rows, cols = _optimal_pairs(dist, c, p)
        localisation = float(np.sum(dist[rows, cols] ** p))
        n_assigned = int(rows.size)
    else:
        localisation, n_assigned = 0.0, 0
    half = c**p / 2.0
    missed = half * (n - n_assigned)
    false = half * (m - n_assigned)
    return GospaResult(
        total=float((localisation + missed + false) ** (1.0 / p)),
        localisation=localisation,
        missed=missed,
        false=false,
        n_assigned=n_assigned,
        n_missed=n - n_assigned,
        n_false=m - n_assigned,
        c=float(c),
        p=float(p),
    )


def gospa_over_time(
    truths: Sequence[ArrayLike],
    estimates: Sequence[ArrayLike],
    *,
    c: float,
    p: float = 2.0,
) -> list[GospaResult]:
    """GOSPA of each scan: ``truths[k]`` (N_k, d) against ``estimates[k]`` (M_k, d)."""
    if len(truths) != len(estimates):
        raise ValueError(
            f"truths and estimates must list the same scans, got {len(truths)} truth sets "
            f"and {len(estimates)} estimate sets"
        )
    return [gospa(x, y, c=c, p=p) for x, y in zip(truths, estimates, strict=True)]


def mean_gospa(results: Sequence[GospaResult]) -> GospaSummary:
    """Average GOSPA results that share ``c`` and ``p``; see :class:`GospaSummary`."""
    if not results:
        raise ValueError("mean_gospa needs at least one GospaResult, got none")
    c, p = results[0].c, results[0].p
    others = {(r.c, r.p) for r in results} - {(c, p)}
    if others:
        raise ValueError(
            f"mean_gospa averages results with one (c, p); got {(c, p)} and {sorted(others)}"
        )
    table = np.array(
        [
            (r.total, r.localisation, r.missed, r.false, r.n_assigned, r.n_missed, r.n_false)
            for r in results
        ],
        dtype=np.float64,
    )
    mean = table.mean(axis=0)
    return GospaSummary(
        total=float(mean[0]),
        root_mean_power=float((mean[1] + mean[2] + mean[3]) ** (1.0 / p)),
        localisation=float(mean[1]),
        missed=float(mean[2]),
        false=float(mean[3]),
        n_assigned=float(mean[4]),
        n_missed=float(mean[5]),
        n_false=float(mean[6]),
        n_scans=len(results),
        c=c,
        p=p,
    )
