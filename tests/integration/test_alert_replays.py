"""Replays of historical launches through the whole chain, judged on their alerts (issue 7).

Each event runs once (module fixture) on the embedded transport with the shipped network
and agreements. Truth is used only to judge: when the reentry vehicle really entered a
prefecture, and where it really fell. SIMULATION.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from trilink.alerting.warnings import EstimateFault
from trilink.geo.areas import prefecture_entries
from trilink.geo.earth import ecef_to_geodetic
from trilink.sharing.audit import read_events
from trilink.simulation import RunResult, run_event
from trilink.types import AlertStage
from trilink.world.library import load_library

OVERFLIGHTS = {
    "2017-08-28-hwasong-12-1": "Hokkaido",  # 2017-08-29 JST
    "2022-10-03-new-irbm-2022-1": "Aomori",  # 2022-10-04 JST
}
VERDICTS = {
    "2022-11-18-hwasong-17-1": AlertStage.FELL_IN_EEZ,
    "2023-07-12-hwasong-18-1": AlertStage.FELL_OUTSIDE_EEZ,
}
STAGES = {s.value for s in AlertStage}
REPLAY_KEYS = {"t_s", "stage", "prefectures", "eez_verdict", "correction_of"}

_runs: dict[str, RunResult] = {}


def _replay(event_id: str, tmp: Path, **options: object) -> RunResult:
    key = event_id + repr(sorted(options.items()))
    if key not in _runs:
        event = load_library().get(event_id)
        _runs[key] = asyncio.run(run_event(event, data_dir=tmp, seed=2017, **options))  # type: ignore[arg-type]
    return _runs[key]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("replays")


def _true_entry_s(result: RunResult, prefecture: str) -> float:
    """Seconds after launch at which the reentry vehicle's ground track entered it."""
    rv = result.trajectory.rv
    lat, lon, _ = ecef_to_geodetic(rv.y[:, :3])
    entries = {e.name: e.index for e in prefecture_entries(lat, lon)}
    assert prefecture in entries, f"truth never overflies {prefecture}: {sorted(entries)}"
    return float(rv.t_s[entries[prefecture]])


@pytest.mark.parametrize(("event_id", "prefecture"), sorted(OVERFLIGHTS.items()))
def test_japan_names_the_prefecture_in_its_evacuate_alert_before_the_missile_passes(
    event_id: str, prefecture: str, data_dir: Path
) -> None:
    result = _replay(event_id, data_dir)
    t0 = result.trajectory.t_launch_s
    evacuate = [a for a in result.alerts["JPN"] if a.stage is AlertStage.EVACUATE]
    assert evacuate, [a.stage.value for a in result.alerts["JPN"]]
    first = evacuate[0]
    assert prefecture in first.prefectures
    passes_s = _true_entry_s(result, prefecture)
    assert first.t_s - t0 < passes_s, (first.t_s - t0, passes_s)
    assert first.predicted_t_s is not None and first.predicted_t_s > first.t_s
    stages = [a.stage for a in result.alerts["JPN"]]
    assert stages[0] is AlertStage.LAUNCH and stages[-1] is AlertStage.ALL_CLEAR
    assert AlertStage.PASSED_OVER in stages and AlertStage.FELL_OUTSIDE_EEZ in stages


@pytest.mark.parametrize(("event_id", "verdict"), sorted(VERDICTS.items()))
def test_replay_ends_with_the_eez_verdict_then_all_clear(
    event_id: str, verdict: AlertStage, data_dir: Path
) -> None:
    """Every nation that alerted closes with the verdict and the all-clear; Japan alerts
    only when it is at risk (as J-Alert does), so on a fall outside its EEZ with no
    overflight it may stay silent — its summary then carries the verdict."""
    result = _replay(event_id, data_dir)
    for nation in ("JPN", "KOR", "USA"):
        stages = [a.stage for a in result.alerts[nation]]
        if nation == "JPN" and not stages and verdict is AlertStage.FELL_OUTSIDE_EEZ:
            summary = result.summaries["JPN"]
            assert summary is not None and not summary.impact_in_japan_eez
            continue
        assert stages[-2:] == [verdict, AlertStage.ALL_CLEAR], (nation, stages)


def test_replay_json_has_the_issue_shape(data_dir: Path, tmp_path: Path) -> None:
    result = _replay("2017-08-28-hwasong-12-1", data_dir)
    doc = json.loads(json.dumps(result.replay_json()))  # JSON-clean
    assert set(doc["truth"]) >= {"apogee_km", "range_km", "flight_time_s"}
    assert set(doc["nations"]) == {"JPN", "KOR", "USA"}
    for nation, body in doc["nations"].items():
        assert {"summary", "alerts", "timeliness"} <= set(body)
        assert body["alerts"], nation
        for alert in body["alerts"]:
            assert REPLAY_KEYS <= set(alert) and alert["stage"] in STAGES
        marks = body["timeliness"]
        assert marks["first_alert_s"] is not None and marks["first_alert_s"] > 0
        assert marks["impact_within_50km_s"] is not None
        assert marks["eez_verdict_s"] is not None
    # Japan alerts first when it is at risk; the partners on their first launch estimate.
    assert doc["nations"]["KOR"]["timeliness"]["first_alert_s"] < 60.0


def test_a_bad_early_estimate_is_corrected_at_every_partner_and_audited(
    data_dir: Path,
) -> None:
    """The 13 April 2023 case: an early estimate at Japan puts Hokkaido at risk; once the
    estimate is right the warning is withdrawn, and the withdrawal reaches every partner
    under the agreements, each receipt audited."""
    fault = EstimateFault("JPN", until_t_s=400.0, dv_enu_m_s=(280.0, 60.0, 0.0))
    result = _replay("2023-07-12-hwasong-18-1", data_dir, estimate_faults=(fault,))
    jpn = result.alerts["JPN"]
    stages = [a.stage for a in jpn]
    evacuate = next(a for a in jpn if a.stage is AlertStage.EVACUATE)
    assert "Hokkaido" in evacuate.prefectures
    withdrawn = [a for a in jpn if a.stage in (AlertStage.CORRECTION, AlertStage.CANCEL)]
    assert withdrawn, stages
    issued = {a.alert_id for a in jpn}
    assert all(a.correction_of in issued for a in withdrawn)
    assert stages[-2:] == [AlertStage.FELL_OUTSIDE_EEZ, AlertStage.ALL_CLEAR]
    for partner in ("KOR", "USA"):
        got = {a.alert_id for a in result.centers[partner].received_alerts}
        assert {a.alert_id for a in withdrawn} <= got, partner
        received = [
            r
            for r in read_events(result.audit_dir / f"{partner}.jsonl")
            if r.get("name") == "received"
            and r.get("originator") == "JPN"
            and r.get("kind") == "correction"
        ]
        assert len(received) == len(withdrawn), partner
    sent = [
        r
        for r in read_events(result.audit_dir / "JPN.jsonl")
        if r.get("name") == "released" and r.get("kind") == "correction"
    ]
    assert len(sent) == 2 * len(withdrawn)  # one per partner
    assert np.isfinite(evacuate.t_s)
