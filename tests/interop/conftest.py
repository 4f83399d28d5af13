"""One real run of the default event, shared by every interop test (about 20 s).

The run is ``trilink export 2017-08-28-hwasong-12-1 --format kml --nation jpn``, invoked
once through the command line with an observer beside the command's own recorder: the
observer records every nation's history (the exports' input) and, every 15 s of event
time, the CoT events of every nation's warning centre.
"""

from __future__ import annotations

from typing import Any

import pytest
from interop_run import COT_EVERY_S, RecordedRun
from typer.testing import CliRunner

import trilink.cli
from trilink.interop.cot import center_events
from trilink.interop.history import HistoryRecorder, StepView
from trilink.simulation import RunResult, Step, run_event
from trilink.world.library import DEFAULT_EVENT_ID


@pytest.fixture(scope="session")
def recorded_run(tmp_path_factory: pytest.TempPathFactory) -> RecordedRun:
    work = tmp_path_factory.mktemp("interop-run")
    out = work / "jpn.kml"
    recorder = HistoryRecorder()
    cot: dict[str, list[tuple[float, list[bytes]]]] = {}
    counter = {"steps": 0}
    results: list[RunResult] = []

    def observe(step: Step) -> None:
        view: StepView = step  # the simulation's Step is what the recorder reads
        recorder(view)
        counter["steps"] += 1
        if round(step.t_rel_s) % COT_EVERY_S == 0:
            for nation, center in step.centers.items():
                cot.setdefault(nation, []).append((step.t_s, center_events(center, step.t_s)))

    async def observed_run_event(*args: Any, on_step: Any = None, **kwargs: Any) -> RunResult:
        def both(step: Step) -> None:
            if on_step is not None:
                on_step(step)
            observe(step)

        result = await run_event(*args, on_step=both, **kwargs)
        results.append(result)
        return result

    argv = [
        "export",
        DEFAULT_EVENT_ID,
        "--format",
        "KML",
        "--nation",
        "jpn",
        "--out",
        str(out),
        "--seed",
        "2017",
        "--data-dir",
        str(work / "data"),
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trilink.cli, "run_event", observed_run_event)
        invoked = CliRunner().invoke(trilink.cli.app, argv)
    assert invoked.exit_code == 0, invoked.output
    assert len(results) == 1
    return RecordedRun(results[0], recorder, counter["steps"], cot, out, invoked.output)
