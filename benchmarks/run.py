"""`make bench`: measured figures of trilink, printed as tables. SIMULATION.

Targets from DESIGN.md and the issues are shown beside the figures. Peer comparisons
(Stone Soup, raw nats-py) arrive with the tracking and sharing work.
"""

from __future__ import annotations

import asyncio
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from trilink.simulation import run_event
from trilink.world.launches import fly_event
from trilink.world.library import DEFAULT_EVENT_ID, load_library

console = Console(width=120)


def bench_world() -> None:
    """All 339 library launches: solve the steering, fly, shed stages, on one core."""
    lib = load_library()
    fly_event(lib.events[0])  # compile (numba caches to disk) outside the timing
    times, fit = [], []
    for event in lib.events:
        t0 = time.perf_counter()
        flight = fly_event(event)
        times.append(time.perf_counter() - t0)
        fit.append(flight.trajectory.fit_error)
    # Memory in a second, untimed pass (tracing allocations slows numpy down).
    tracemalloc.start()
    for event in lib.events:
        fly_event(event)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    ms = 1e3 * np.array(times)
    table = Table(title=f"world: all {len(ms)} historical launches (target < 20 ms per launch)")
    for col in (
        "mean",
        "median",
        "p90",
        "max",
        "total",
        "peak Python memory",
        "max RSS",
        "fit within 2 %",
    ):
        table.add_column(col)
    table.add_row(
        f"{ms.mean():.1f} ms",
        f"{np.median(ms):.1f} ms",
        f"{np.percentile(ms, 90):.1f} ms",
        f"{ms.max():.0f} ms",
        f"{ms.sum() / 1e3:.1f} s",
        f"{peak / 2**20:.1f} MiB",
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB",
        f"{sum(f <= 0.02 for f in fit)} / {len(fit)}",
    )
    console.print(table)


def bench_sensors() -> None:
    """1,000 objects (a debris cloud around a lofted ICBM) x 10 radars x 600 s of scans."""
    from trilink.config import load_default_network

    lib = load_library()
    traj = fly_event(lib.get("2022-11-18-hwasong-17-1")).trajectory
    radars = load_default_network().radar[:10]
    rng = np.random.default_rng(5)
    n = 1000
    offsets = rng.normal(0.0, 20e3, (n, 3))
    drift = rng.normal(0.0, 50.0, (n, 3))
    ids = [f"debris-{i}" for i in range(n)]
    rcs = np.full(n, 0.5)
    t0 = 200.0
    reports = 0
    start = time.perf_counter()
    for k in range(600):
        base = traj.states(t0 + k)[0]
        pos = base[:3] + offsets + drift * k
        vel = base[3:] + drift
        for radar in radars:
            reports += len(radar.scan(float(k), pos, vel, rcs, ids, rng))
    wall = time.perf_counter() - start
    table = Table(title="sensors: 1,000 objects x 10 radars x 600 s (target < 10 s)")
    for col in ("scans", "object-scans", "reports", "wall", "per scan"):
        table.add_column(col)
    table.add_row(
        f"{600 * len(radars):,}",
        f"{600 * len(radars) * n:,}",
        f"{reports:,}",
        f"{wall:.1f} s",
        f"{1e3 * wall / (600 * len(radars)):.2f} ms",
    )
    console.print(table)


def bench_chain() -> None:
    """The whole chain on the default event."""
    lib = load_library()
    ev = lib.get(DEFAULT_EVENT_ID)
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run_event(ev, data_dir=Path(tmp)))
    flight = result.trajectory.impact_s
    table = Table(title="whole chain, default event")
    for col in ("what", "measured", "note"):
        table.add_column(col)
    table.add_row(
        "wall time",
        f"{result.wall_s:.1f} s for {flight:.0f} s of flight",
        f"{flight / result.wall_s:.0f}× faster than real time",
    )
    received = sum(n.received for n in result.nodes.values())
    table.add_row("verified receipts", f"{received}", "all signed, verified, audited")
    for n, first in result.first_alert_s.items():
        det = result.first_detection_s[n]
        table.add_row(
            f"{n}: first own detection / first alert",
            f"T+{det:.0f} s / T+{first:.0f} s" if det is not None and first is not None else "-",
            "an alert can precede own detection: shared data",
        )
    console.print(table)


def main() -> None:
    bench_world()
    bench_sensors()
    bench_chain()


if __name__ == "__main__":
    main()
