"""`make bench`: what the first slice costs, measured in one run. SIMULATION.

Prints a table; targets from DESIGN.md are shown beside the figures. The side-by-side peer
comparisons (Stone Soup, raw nats-py) arrive with the tracking and sharing issues.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from trilink.simulation import run_event
from trilink.world.launches import fly_event
from trilink.world.library import DEFAULT_EVENT_ID, load_library


def _best_of(n: int, fn: object) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    lib = load_library()
    ev = lib.get(DEFAULT_EVENT_ID)
    solve_s = _best_of(3, lambda: fly_event(ev))
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run_event(ev, data_dir=Path(tmp)))
    flight = result.trajectory.impact_s
    table = Table(title="trilink benchmarks (first slice)")
    for col in ("what", "measured", "note"):
        table.add_column(col)
    table.add_row(
        "solve + fly the default launch", f"{solve_s * 1e3:.0f} ms", "issue 3 target: < 20 ms"
    )
    table.add_row(
        "whole chain, default event",
        f"{result.wall_s:.1f} s wall for {flight:.0f} s of flight",
        f"{flight / result.wall_s:.0f}× faster than real time",
    )
    sent = sum(n.received for n in result.nodes.values())
    table.add_row("verified receipts in that run", f"{sent}", "all signed, verified, audited")
    for n, first in result.first_alert_s.items():
        det = result.first_detection_s[n]
        table.add_row(
            f"{n}: first own detection / first alert",
            f"T+{det:.0f} s / T+{first:.0f} s" if det is not None and first is not None else "-",
            "alerts can precede own detection: shared data",
        )
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
