"""The command line as a user meets it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from trilink.cli import app

runner = CliRunner()
Cli = Callable[..., subprocess.CompletedProcess[str]]
EVENT_KEYS = {
    "id",
    "date",
    "time_utc",
    "missile",
    "site",
    "site_lat",
    "site_lon",
    "apogee_km",
    "range_km",
    "bearing_deg",
    "outcome",
}


def test_events_list_json_has_all_339_launches() -> None:
    result = runner.invoke(app, ["events", "list", "--json"])
    assert result.exit_code == 0
    events = json.loads(result.stdout)
    assert len(events) == 339
    assert all(set(e) == EVENT_KEYS for e in events)
    default = next(e for e in events if e["id"] == "2017-08-28-hwasong-12-1")
    assert default["apogee_km"] == 550 and default["range_km"] == 2700
    assert default["bearing_deg"] == 73 and default["site"] == "pyongyang"


def test_events_show_and_unknown_event(trilink_cli: Cli) -> None:
    ok = runner.invoke(app, ["events", "show", "2022-11-18-hwasong-17-1"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["apogee_km"] == 6100
    bad = trilink_cli("events", "show", "2017-08-28-hwasong-12-9")
    assert bad.returncode == 2
    assert "2017-08-28-hwasong-12-1" in bad.stderr and "trilink events list" in bad.stderr


def test_malformed_agreements_file_names_file_field_and_fix(
    tmp_path: Path, trilink_cli: Cli
) -> None:
    bad = tmp_path / "agreements.toml"
    bad.write_text(
        'format = 1\n[[agreement]]\nid = "KOR-JPN"\nversion = 1\nfrom = "KOR"\nto = "JPN"\n'
        'kinds = ["track", "tracks"]\nstate = "active"\nbacklog = "hold"\n'
    )
    proc = trilink_cli("demo", "--agreements", str(bad), "--data-dir", str(tmp_path / "data"))
    assert proc.returncode == 2
    err = " ".join(proc.stderr.split())
    assert str(bad) in err.replace(" ", "") or "agreements.toml" in err
    assert "agreement[0].kinds[1]" in err
    assert "Fix:" in err and "track" in err


def test_malformed_network_file_names_field(tmp_path: Path, trilink_cli: Cli) -> None:
    bad = tmp_path / "network.toml"
    bad.write_text(
        'format = 1\nnations = ["JPN"]\nlinks = []\n[[radar]]\nid = "X"\nnation = "JPN"\n'
        'name = "x"\nlat_deg = 38.0\nlon_deg = 138.0\nmax_range_km = -5.0\n'
    )
    proc = trilink_cli("demo", "--network", str(bad), "--data-dir", str(tmp_path / "data"))
    assert proc.returncode == 2
    err = " ".join(proc.stderr.split())
    assert "network.toml" in err and "radar[0]" in err and "max_range_km" in err


def test_replay_writes_alerts_and_timeliness_as_json(tmp_path: Path, trilink_cli: Cli) -> None:
    out = tmp_path / "replay.json"
    proc = trilink_cli(
        "replay", "2017-08-28-hwasong-12-1", "--json", str(out), "--data-dir", str(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr
    assert "evacuate" in proc.stdout and "SIMULATION" in proc.stdout
    doc = json.loads(out.read_text())
    jpn = doc["nations"]["JPN"]
    stages = [a["stage"] for a in jpn["alerts"]]
    assert stages[0] == "launch" and stages[-1] == "all_clear"
    evacuate = next(a for a in jpn["alerts"] if a["stage"] == "evacuate")
    assert "Hokkaido" in evacuate["prefectures"] and evacuate["correction_of"] is None
    assert jpn["timeliness"]["eez_verdict"] == "outside"
    unknown = trilink_cli("replay", "2017-08-28-hwasong-12-9", "--json", str(out))
    assert unknown.returncode == 2 and "trilink events list" in unknown.stderr
