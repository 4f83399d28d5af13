"""Joint probabilistic data association (JPDA): marginal association probabilities.

Given the gated track–detection pairs of one scan with their measurement log-likelihoods,
the probability that track ``t`` produced detection ``d``, ``β[t, d]``, and that it
produced none, ``β[t, ∅]``, are marginals over the *joint events* of each cluster (a
connected component of the gating graph): each track takes at most one of its gated
detections, each detection goes to at most one track, the rest are false alarms. An event
weighs

    Π over tracks that took a detection d:  Pd · N(y_td; 0, S_td) / λ
    Π over tracks that took none:           1 - Pd · Pg

with ``λ`` the false-alarm density in measurement space and ``Pg`` the gate probability.
For every track ``β[t, ∅] + Σ_d β[t, d] = 1``.

Small clusters are enumerated exactly (``max_events`` joint events at most). Above that,
the marginals use Fitzgerald's "cheap JPDA" approximation

    β[t, d] = G[t, d] / (G[t, ·] + G[·, d] - G[t, d] + B),   β[t, ∅] = 1 - Σ_d β[t, d]

with ``G`` the pair weights above and ``B`` the miss weight: it discounts a detection
other tracks also claim and keeps ``Σ_d β[t, d] <= 1``, at the price of ignoring the
one-to-one constraint beyond pairs. Everything is vectorised over pairs except the exact
enumeration, which is per cluster and small by construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["MAX_EVENTS", "JpdaResult", "jpda_probabilities"]

Array = NDArray[np.float64]
MAX_EVENTS: Final = 20_000


@dataclass(frozen=True, slots=True)
class JpdaResult:
    """Marginal association probabilities of one scan.

    ``pair_beta[k]`` belongs to the pair (``ti[k]``, ``di[k]``) given to
    :func:`jpda_probabilities`; ``tracks`` are the distinct track rows of those pairs and
    ``miss_beta`` their probabilities of having no detection. ``exact[k]`` says whether the
    pair's cluster was enumerated exactly (else approximated)."""

    pair_beta: Array
    tracks: NDArray[np.int64]
    miss_beta: Array
    exact: NDArray[np.bool_]


def jpda_probabilities(
    ti: NDArray[np.int64],
    di: NDArray[np.int64],
    loglik: Array,
    *,
    pd: float,
    clutter_density: float,
    gate_probability: float = 0.999,
    max_events: int = MAX_EVENTS,
) -> JpdaResult:
    """Marginal probabilities for the gated pairs (``ti``, ``di``) with measurement
    log-likelihoods ``loglik`` (``log N(y; 0, S)``), per the module docstring."""
    if not 0.0 < pd <= 1.0 or clutter_density <= 0.0:
        raise ValueError(
            f"JPDA needs 0 < pd <= 1 and clutter_density > 0, got pd={pd}, "
            f"clutter_density={clutter_density}"
        )
    tracks, t_local = np.unique(ti, return_inverse=True)
    if not ti.size:
        empty = np.zeros(0)
        return JpdaResult(empty, tracks.astype(np.int64), empty, np.zeros(0, dtype=bool))
    miss = 1.0 - pd * gate_probability
    # Weights relative to the miss weight, in logs, shifted per cluster for range.
    logw = math.log(pd / clutter_density) + loglik - math.log(miss)
    dets, d_local = np.unique(di, return_inverse=True)
    nt, nd = tracks.size, dets.size
    graph = coo_matrix((np.ones(ti.size), (t_local, nt + d_local)), shape=(nt + nd, nt + nd))
    _, label = connected_components(graph, directed=False)
    pair_label = label[t_local]
    beta = np.zeros(ti.size)
    exact = np.zeros(ti.size, dtype=bool)
    # One-pair clusters (the common case), vectorised: β = w / (1 + w).
    sizes = np.bincount(pair_label)
    single = sizes[pair_label] == 1
    beta[single] = 1.0 / (1.0 + np.exp(-logw[single]))
    exact[single] = True
    for lab in np.unique(pair_label[~single]):
        sel = np.flatnonzero(pair_label == lab)
        ut, ui = np.unique(ti[sel], return_inverse=True)
        ud, uj = np.unique(di[sel], return_inverse=True)
        lw = logw[sel] - logw[sel].max()  # common scale: cancels in the marginals
        w = np.zeros((ut.size, ud.size))
        w[ui, uj] = np.exp(lw)
        miss_w = math.exp(-float(logw[sel].max()))
        if _event_count_bound(w > 0.0, max_events) <= max_events:
            b = _exact(w, miss_w)
            exact[sel] = True
        else:
            b = _cheap(w, miss_w)
        beta[sel] = b[ui, uj]
    per_track = np.bincount(t_local, weights=beta, minlength=nt)
    return JpdaResult(beta, tracks.astype(np.int64), np.clip(1.0 - per_track, 0.0, 1.0), exact)


def _event_count_bound(gated: NDArray[np.bool_], cap: int) -> int:
    """An upper bound on the number of joint events (product over tracks of options),
    stopped once it passes ``cap``."""
    bound = 1
    for n in gated.sum(axis=1).tolist():
        bound *= int(n) + 1
        if bound > cap:
            return bound
    return bound


def _exact(w: Array, miss_w: float) -> Array:
    """Exact marginals by enumerating the joint events of one cluster; ``w`` (tracks,
    detections) holds the pair weights (0: not gated), ``miss_w`` the miss weight."""
    nt, nd = w.shape
    options = [np.flatnonzero(w[t] > 0.0).tolist() for t in range(nt)]
    acc = np.zeros((nt, nd))
    total = 0.0
    choice = [-1] * nt
    used = [False] * nd

    def walk(t: int, weight: float) -> None:
        nonlocal total
        if t == nt:
            total += weight
            for k, d in enumerate(choice):
                if d >= 0:
                    acc[k, d] += weight
            return
        choice[t] = -1
        walk(t + 1, weight * miss_w)
        for d in options[t]:
            if not used[d]:
                used[d] = True
                choice[t] = d
                walk(t + 1, weight * float(w[t, d]))
                used[d] = False
        choice[t] = -1

    walk(0, 1.0)
    return np.asarray(acc / total, dtype=np.float64)


def _cheap(w: Array, miss_w: float) -> Array:
    """Fitzgerald's cheap-JPDA marginals (see the module docstring)."""
    row = w.sum(axis=1, keepdims=True)
    col = w.sum(axis=0, keepdims=True)
    return np.asarray(w / (row + col - w + miss_w), dtype=np.float64)
