"""Monte Carlo of the fused picture against truth, without the network. SIMULATION.

Each run flies the event with one seed, runs every nation's radars and tracker
(:func:`trilink.fusion.evaluate.replay_event`) and feeds the tracks into a node's picture
(:func:`trilink.fusion.evaluate.fuse_replay`). Printed per run and overall, on the
re-entry vehicle (RV):

* the fused track's mean NEES over the run (6 dof: ECEF position and velocity) beside
  the 95 % two-sided band of a mean of K independent χ²(6) samples (K the ticks with a
  fused RV track; the ticks are correlated in time, so the band is a narrow yardstick),
  and the share of ticks whose NEES lies in the single-sample 95 % interval of χ²(6);
* the average NEES over runs at each tick (ANEES, Bar-Shalom, Li & Kirubarajan §5.4):
  at each second after launch, the mean over the runs with a fused RV track then, against
  the 95 % band of a mean of n independent χ²(6) (n those runs): the share of ticks inside
  the band, below it (conservative) and above it (overconfident), by phase of flight;
  this is the textbook consistency test, as the runs are independent where the ticks of
  one run are not;
* the fused position RMSE beside each nation's, each pair over the ticks at which both
  had a track on the RV;
* the excess system tracks: ticks at which the picture held more recently updated system
  tracks than the nation holding most recently updated tracks (a duplicate made by
  fusion), and the duplicates by truth: ticks at which an object had more system tracks
  than any nation had tracks on it, each system track labelled with a distinct object one
  of its fresh members follows where it can (:func:`trilink.fusion.evaluate.system_labels`:
  the RV leaving its stage, resolved by one nation, is two objects, not a duplicate);
* containment of the true RV impact in the 95 % ellipse of
  :func:`trilink.alerting.impact.predict_impact` (drag with the RV's uncertain ballistic
  coefficient) from the fused RV track at a few times after launch (the latest fused RV
  state at or before that time; "-" where there is none yet);
* the runtime.

The issue's targets (2022-11-18 Hwasong-17, 50 runs): fused NEES consistent, fused RMSE no
worse than the best nation's, the ellipse contains the true impact in at least 90 % of
runs; with a Korean radar biased by 500 m and 2 mrad (``--kor-bias``), no excess system
tracks.

    python benchmarks/fusion_mc.py [--runs 50] [--seed0 1] [--event ID] [--nodes JPN]
                                   [--workers 2] [--kor-bias] [--json FILE]
                                   [--replays DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import pickle
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from trilink.alerting.impact import ellipse_contains, predict_impact
from trilink.fusion.evaluate import FusionRun, RadarBias, Replay, fuse_replay, replay_event
from trilink.geo.earth import altitude_m

EVENT = "2022-11-18-hwasong-17-1"
NATIONS = ("JPN", "KOR", "USA")
DOF = 6
IMPACT_TIMES_S = (300.0, 450.0, 1000.0, 2000.0, 3950.0)
KOR_RADARS = ("KOR-GREENPINE-S", "KOR-GREENPINE-N", "KOR-GREENPINE-BUSAN")
KOR_BIAS: RadarBias = (500.0, 2.0, 2.0)  # range m, azimuth mrad, elevation mrad
SINGLE_LO, SINGLE_HI = (float(stats.chi2.ppf(q, DOF)) for q in (0.025, 0.975))


def nees_band(k: int, dof: int = DOF) -> tuple[float, float]:
    """95 % two-sided band of the mean of ``k`` independent χ²(dof) samples."""
    if k <= 0:
        return float("nan"), float("nan")
    return (
        float(stats.chi2.ppf(0.025, dof * k)) / k,
        float(stats.chi2.ppf(0.975, dof * k)) / k,
    )


@dataclass
class NodeResult:
    """What one node's picture made of one run."""

    node: str
    nees_mean: float
    nees_median: float
    nees_k: int
    nees_in_single_band: float
    nees_sum: float
    rmse_fused_m: float
    rmse_paired: dict[str, tuple[float, float, int]]
    excess_ticks: int
    excess_max: int
    duplicate_ticks: int
    contained: dict[str, bool | None]
    fuse_s: float
    nees_samples: list[float] = field(default_factory=list)
    nees_t_rel_s: list[float] = field(default_factory=list)
    national_nees: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    """Each nation's own RV track: (times after launch, NEES), the fusion's inputs."""


@dataclass
class RunResult:
    seed: int
    replay_s: float
    nodes: list[NodeResult]


def _containment(
    run: FusionRun, t_launch_s: float, impact: tuple[float, float], times_s: tuple[float, ...]
) -> dict[str, bool | None]:
    """For each time after launch, whether the 95 % ellipse predicted from the latest
    fused RV state at or before it contains the true impact (None: no fused RV track)."""
    out: dict[str, bool | None] = {}
    t_rel = np.array([trk.t_s - t_launch_s for trk in run.missile_tracks])
    for t in times_s:
        idx = np.flatnonzero(t_rel <= t)
        if idx.size == 0:
            out[f"{t:.0f}"] = None
            continue
        i = int(idx[-1])
        trk, path = run.missile_tracks[i], run.missile_paths[i]
        pred = predict_impact(
            trk,
            past_path_ecef=path,
            past_max_alt_m=float(np.max(altitude_m(path))) if len(path) else 0.0,
        )
        out[f"{t:.0f}"] = None if pred is None else ellipse_contains(pred, *impact)
    return out


def _replay(event: str, seed: int, kor_bias: bool, cache: Path | None) -> Replay:
    """Fly and track one run, or take it from ``cache`` (a folder this script filled: the
    replays hold no fusion, so fusion settings can be compared on the same tracking runs;
    empty the folder after changing the world, the sensors or the trackers)."""
    path = None if cache is None else cache / f"{event}-{seed}{'-kor-bias' if kor_bias else ''}.pkl"
    if path is not None and path.exists():
        replay: Replay = pickle.loads(path.read_bytes())
        return replay
    bias = dict.fromkeys(KOR_RADARS, KOR_BIAS) if kor_bias else None
    replay = replay_event(event, seed=seed, radar_bias=bias)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(replay))
    return replay


def one_run(
    args: tuple[str, int, tuple[str, ...], bool, tuple[float, ...], Path | None],
) -> RunResult:
    event, seed, nodes, kor_bias, times_s, cache = args
    t0 = time.perf_counter()
    replay = _replay(event, seed, kor_bias, cache)
    replay_s = time.perf_counter() - t0
    rv = replay.trajectory.rv
    impact = (rv.impact_lat_deg, rv.impact_lon_deg)
    results = []
    for node in nodes:
        t1 = time.perf_counter()
        run = fuse_replay(replay, node)
        fuse_s = time.perf_counter() - t1
        fused = run.errors.get("fused")
        nees = np.asarray(fused.nees if fused else [], dtype=np.float64)
        paired = {n: run.paired_rmse_m(n) for n in NATIONS}
        excess = run.excess_systems()
        results.append(
            NodeResult(
                node=node,
                nees_mean=float(nees.mean()) if nees.size else math.nan,
                nees_median=float(np.median(nees)) if nees.size else math.nan,
                nees_k=int(nees.size),
                nees_in_single_band=float(np.mean((nees >= SINGLE_LO) & (nees <= SINGLE_HI)))
                if nees.size
                else math.nan,
                nees_sum=float(nees.sum()),
                rmse_fused_m=fused.rmse_m() if fused else math.nan,
                rmse_paired=paired,
                excess_ticks=len(excess),
                duplicate_ticks=len(run.duplicate_ticks()),
                excess_max=max((e for _, e in excess), default=0),
                contained=_containment(run, replay.trajectory.t_launch_s, impact, times_s),
                fuse_s=fuse_s,
                nees_samples=nees.tolist(),
                nees_t_rel_s=list(fused.t_rel_s) if fused else [],
                national_nees={
                    n: (list(e.t_rel_s), list(e.nees))
                    for n, e in run.errors.items()
                    if n != "fused"
                },
            )
        )
    return RunResult(seed, replay_s, results)


def _fmt_contained(c: dict[str, bool | None]) -> str:
    return " ".join("-" if v is None else ("in" if v else "OUT") for v in c.values())


def report(results: list[RunResult], nodes: tuple[str, ...], times_s: tuple[float, ...]) -> None:
    for node in nodes:
        rows = [(r, next(n for n in r.nodes if n.node == node)) for r in results]
        print(f"\n== node {node}: fused RV track, NEES dof {DOF} ==")
        print(
            "seed  K     NEES mean [95% band]       median in-χ²(6)  RMSE fused"
            "  paired fused/nation m (ticks)                       excess  ellipse@"
            + ",".join(f"{t:.0f}" for t in times_s)
        )
        for r, n in rows:
            lo, hi = nees_band(n.nees_k)
            pair = "  ".join(
                f"{k}:{f:.0f}/{o:.0f}({c})" for k, (f, o, c) in n.rmse_paired.items() if c
            )
            print(
                f"{r.seed:4d} {n.nees_k:4d} {n.nees_mean:8.2f} [{lo:.2f},{hi:.2f}] "
                f"{n.nees_median:8.2f} {100 * n.nees_in_single_band:6.1f}% "
                f"{n.rmse_fused_m:9.1f}  {pair:52s} {n.excess_ticks:4d}/{n.excess_max}"
                f"  {_fmt_contained(n.contained)}  ({r.replay_s:.0f}+{n.fuse_s:.0f} s)"
            )
        k = sum(n.nees_k for _, n in rows)
        all_nees = np.concatenate([np.asarray(n.nees_samples) for _, n in rows if n.nees_k])
        in_single = 100 * np.mean((all_nees >= SINGLE_LO) & (all_nees <= SINGLE_HI))
        run_means = np.array([n.nees_mean for _, n in rows if n.nees_k])
        in_band = [nees_band(n.nees_k)[0] <= n.nees_mean <= nees_band(n.nees_k)[1] for _, n in rows]
        lo, hi = nees_band(k)
        print(
            f"overall: {len(rows)} runs, {k} ticks; NEES mean {all_nees.mean():.2f} "
            f"[band of {k} independent χ²(6): {lo:.2f},{hi:.2f}], median "
            f"{np.median(all_nees):.2f}; {in_single:.1f}% of ticks in the χ²(6) 95% interval "
            f"[{SINGLE_LO:.2f},{SINGLE_HI:.2f}]"
        )
        print(
            f"  runs' mean NEES: median {np.median(run_means):.2f}, max {run_means.max():.2f}; "
            f"{sum(in_band)}/{len(rows)} runs inside their own band, "
            f"{sum(1 for _, n in rows if n.nees_mean > nees_band(n.nees_k)[1])} above it"
        )
        _report_anees([n for _, n in rows])
        for nation in NATIONS:
            pairs = [n.rmse_paired[nation] for _, n in rows if n.rmse_paired[nation][2]]
            if not pairs:
                continue
            wf = sum(f * f * c for f, _, c in pairs) / sum(c for *_, c in pairs)
            wo = sum(o * o * c for _, o, c in pairs) / sum(c for *_, c in pairs)
            better = sum(1 for f, o, _ in pairs if f <= o)
            print(
                f"  vs {nation}: pooled RMSE fused {math.sqrt(wf):.1f} m vs {nation} "
                f"{math.sqrt(wo):.1f} m over {sum(c for *_, c in pairs)} common ticks; "
                f"fused no worse in {better}/{len(pairs)} runs"
            )
        excess = [n.excess_ticks for _, n in rows]
        print(
            f"  excess system tracks: {sum(1 for e in excess if e)} of {len(rows)} runs "
            f"have any; ticks total {sum(excess)}, worst run {max(excess)}"
        )
        dups = [n.duplicate_ticks for _, n in rows]
        print(
            f"  duplicates by truth (an object with more system tracks than any nation's "
            f"tracks on it): {sum(1 for d in dups if d)} of {len(rows)} runs have any; "
            f"ticks total {sum(dups)}, worst run {max(dups)}"
        )
        for t in times_s:
            vals = [n.contained[f"{t:.0f}"] for _, n in rows]
            have = [v for v in vals if v is not None]
            share = f"{100 * np.mean(have):.0f}%" if have else "-"
            print(
                f"  impact ellipse at T+{t:.0f} s: contains the true impact in {share} "
                f"({sum(have)}/{len(have)} runs with a fused RV track by then)"
            )
        print(
            f"  runtime: replay {np.mean([r.replay_s for r, _ in rows]):.1f} s, "
            f"fusion {np.mean([n.fuse_s for _, n in rows]):.1f} s per run (mean)"
        )


PHASES_S = ((0.0, 240.0, "boost"), (240.0, 3900.0, "midcourse"), (3900.0, 1e9, "descent"))


Series = tuple[list[float], list[float]]  # (times after launch, NEES) of one run


def anees_by_tick(series: list[Series]) -> dict[float, tuple[float, int]]:
    """``{t_rel_s: (mean NEES over the runs with a sample then, how many runs)}``."""
    by_t: dict[float, list[float]] = {}
    for times, values in series:
        for t, v in zip(times, values, strict=True):
            by_t.setdefault(t, []).append(v)
    return {t: (float(np.mean(v)), len(v)) for t, v in sorted(by_t.items())}


def _report_anees(results: list[NodeResult]) -> None:
    """Print the share of ticks whose ANEES lies inside, below and above its 95 % band
    (ticks held by at least half of the runs), overall and per phase of flight: of the
    fused track, then of each nation's own track (the fusion's inputs, for comparison)."""
    sources: list[tuple[str, list[Series]]] = [
        ("fused", [(n.nees_t_rel_s, n.nees_samples) for n in results])
    ]
    for nation in NATIONS:
        sources.append(
            (nation, [n.national_nees[nation] for n in results if nation in n.national_nees])
        )
    half = max(1, len(results) // 2)
    for source, series in sources:
        ticks = [(t, m, k) for t, (m, k) in anees_by_tick(series).items() if k >= half]
        for lo_t, hi_t, name in ((0.0, 1e9, "all"), *PHASES_S):
            sel = [(m, *nees_band(k)) for t, m, k in ticks if lo_t <= t < hi_t]
            if not sel:
                continue
            inside = sum(1 for m, lo, hi in sel if lo <= m <= hi)
            below = sum(1 for m, lo, _ in sel if m < lo)
            above = sum(1 for m, _, hi in sel if m > hi)
            mean = float(np.mean([m for m, *_ in sel]))
            print(
                f"  ANEES over runs per tick, {source:5s} {name:9s} ({len(sel)} ticks held by "
                f"≥{half} runs): mean {mean:.2f}; {100 * inside / len(sel):.0f}% inside the "
                f"95% band, {100 * below / len(sel):.0f}% below, "
                f"{100 * above / len(sel):.0f}% above"
            )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--seed0", type=int, default=1)
    ap.add_argument("--event", default=EVENT)
    ap.add_argument("--nodes", default="JPN", help="comma-separated nodes, e.g. JPN,KOR,USA")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--kor-bias", action="store_true", help="bias Korea's radars 500 m, 2 mrad")
    ap.add_argument(
        "--impact-times",
        default=",".join(f"{t:.0f}" for t in IMPACT_TIMES_S),
        help="seconds after launch at which the impact ellipse is scored",
    )
    ap.add_argument("--json", type=Path, default=None, help="write the per-run results here")
    ap.add_argument(
        "--replays",
        type=Path,
        default=None,
        help="keep each run's tracking (pickled) in this folder and reuse it: fusion "
        "settings compared on the same runs; empty it after changing the trackers",
    )
    a = ap.parse_args()
    nodes = tuple(a.nodes.split(","))
    times_s = tuple(float(t) for t in a.impact_times.split(","))
    jobs = [(a.event, a.seed0 + i, nodes, a.kor_bias, times_s, a.replays) for i in range(a.runs)]
    print(
        f"SIMULATION — fusion Monte Carlo: {a.event}, {a.runs} runs, seeds {a.seed0}.."
        f"{a.seed0 + a.runs - 1}, nodes {','.join(nodes)}, {a.workers} workers"
        + (", Korean radars biased 500 m / 2 mrad" if a.kor_bias else "")
    )
    t0 = time.perf_counter()
    if a.workers > 1:
        with multiprocessing.get_context("spawn").Pool(a.workers) as pool:
            results = list(pool.imap(one_run, jobs))
    else:
        results = [one_run(j) for j in jobs]
    report(results, nodes, times_s)
    print(f"wall time {time.perf_counter() - t0:.0f} s")
    if a.json is not None:
        a.json.write_text(json.dumps([asdict(r) for r in results], indent=1))


if __name__ == "__main__":
    main()
