"""The recorded run the interop tests share (a test helper; the fixture is in conftest)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from trilink.interop.history import HistoryRecorder
from trilink.simulation import RunResult

__all__ = ["COT_EVERY_S", "RecordedRun"]

COT_EVERY_S = 15
"""Seconds of event time between the CoT snapshots taken during the run."""


@dataclass
class RecordedRun:
    """A finished run: its result, a recorder of every nation, the ticks, CoT snapshots
    ``{nation: [(t_s, events)]}``, the file ``trilink export`` wrote and what it printed."""

    result: RunResult
    recorder: HistoryRecorder
    steps: int
    cot: dict[str, list[tuple[float, list[bytes]]]] = field(default_factory=dict)
    export_path: Path = Path()
    cli_output: str = ""
