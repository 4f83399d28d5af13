"""The first slice end to end: one launch, three nations, every stage real."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from trilink.cli import app
from trilink.geo.earth import surface_distance_m

NATIONS = ("JPN", "KOR", "USA")


def test_every_nation_alerts(demo_run: dict[str, Any]) -> None:
    for n in NATIONS:
        first = demo_run["nations"][n]["first_alert_s"]
        assert first is not None and 0.0 < first < 180.0, (n, first)


@pytest.mark.parametrize("nation", NATIONS)
@pytest.mark.parametrize("field", ["apogee_km", "range_km", "flight_time_s"])
def test_summary_within_5_percent_of_truth(
    demo_run: dict[str, Any], nation: str, field: str
) -> None:
    truth = demo_run["truth"][field]
    got = demo_run["nations"][nation]["summary"][field]
    assert abs(got - truth) <= 0.05 * truth, (nation, field, got, truth)


@pytest.mark.parametrize("nation", NATIONS)
def test_final_impact_within_50_km(demo_run: dict[str, Any], nation: str) -> None:
    t, s = demo_run["truth"], demo_run["nations"][nation]["summary"]
    miss = surface_distance_m(t["impact_lat"], t["impact_lon"], s["impact_lat"], s["impact_lon"])
    assert miss < 50_000.0, miss


def test_truth_is_the_published_launch(demo_run: dict[str, Any]) -> None:
    t = demo_run["truth"]
    assert t["launch_time_utc"] == "2017-08-28T20:58:00Z"
    assert math.isclose(t["apogee_km"], 550.0, rel_tol=0.02)
    assert math.isclose(t["range_km"], 2700.0, rel_tol=0.02)
    assert t["overflight_japan"] and "Hokkaido" in t["overflight_regions"]
    assert t["impact_in_japan_eez"] is False


def test_japan_reports_hokkaido_overflight_and_impact_outside_eez(
    demo_run: dict[str, Any],
) -> None:
    s = demo_run["nations"]["JPN"]["summary"]
    assert s["overflight_japan"] is True
    assert "Hokkaido" in s["overflight_regions"]
    assert s["impact_in_japan_eez"] is False


def test_demo_is_labelled_simulation_and_nothing_rejected(demo_run: dict[str, Any]) -> None:
    assert demo_run["simulation"] is True
    assert "SIMULATION" in demo_run["_stdout"]
    assert demo_run["rejected"] == 0


def test_audit_logs_of_the_run_verify_and_detect_tampering(
    demo_run: dict[str, Any], tmp_path: Path
) -> None:
    runner = CliRunner()
    audit_dir = Path(demo_run["audit_dir"])
    if not audit_dir.is_absolute():
        audit_dir = Path(demo_run["_data_dir"]).parent / audit_dir
    ok = runner.invoke(app, ["audit", "verify", str(audit_dir)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.count("OK") == 3
    # Copy the logs and keys, then edit one line of one log.
    copy = tmp_path / "data"
    (copy / "audit").mkdir(parents=True)
    (copy / "keys").mkdir()
    for f in (Path(demo_run["_data_dir"]) / "keys").iterdir():
        (copy / "keys" / f.name).write_bytes(f.read_bytes())
    for f in audit_dir.glob("*.jsonl"):
        (copy / "audit" / f.name).write_bytes(f.read_bytes())
    log = copy / "audit" / "USA.jsonl"
    lines = log.read_text().splitlines()
    lines[5] = (
        lines[5]
        .replace('"name":"received"', '"name":"rejected"')
        .replace('"name":"released"', '"name":"rejected"')
        .replace('"name":"relayed"', '"name":"rejected"')
    )
    log.write_text("\n".join(lines) + "\n")
    bad = runner.invoke(app, ["audit", "verify", str(copy / "audit")])
    assert bad.exit_code == 1
    assert "USA.jsonl" in bad.output and ":6" in bad.output.replace("\n", "")


@pytest.mark.parametrize("seed", [5, 2017])
async def test_no_impact_is_predicted_while_the_missile_is_still_boosting(
    tmp_path: Path, seed: int
) -> None:
    """A prediction made under thrust would place the impact near the launch site."""
    from trilink.simulation import Step, run_event
    from trilink.world.library import DEFAULT_EVENT_ID, load_library

    steps: list[tuple[float, dict[str, int]]] = []

    def observe(step: Step) -> None:
        held = {n: len(c.picture.system_tracks()) for n, c in step.centers.items()}
        steps.append((step.t_rel_s, held))

    result = await run_event(
        load_library().get(DEFAULT_EVENT_ID),
        data_dir=tmp_path / "data",
        seed=seed,
        on_step=observe,
    )
    burnout = result.trajectory.t_launch_s + result.trajectory.burnout_s
    for center in result.centers.values():
        assert center.impacts
        assert min(i.t_valid_s for i in center.impacts) >= burnout
    # the observer saw every tick, in order, and the pictures fill as the missile is tracked
    assert [t for t, _ in steps] == [float(i) for i in range(len(steps))]
    assert all(steps[-1][1][n] >= 1 for n in result.centers)
    assert all(h == 0 for h in steps[0][1].values())
