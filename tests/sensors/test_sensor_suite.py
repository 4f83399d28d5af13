"""The sensor network against geometry, and its definitions (issue 4)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import msgspec
import numpy as np
import pytest
from typer.testing import CliRunner

from trilink.cli import app
from trilink.config import load_default_network, parse_network
from trilink.errors import ConfigError
from trilink.geo.earth import geodetic_to_ecef
from trilink.sensors.radar import Radar
from trilink.sensors.suite import SensorSuite, Sighting
from trilink.world.launches import fly_event
from trilink.world.library import load_library

NET = load_default_network()


@pytest.fixture(scope="module")
def hwasong17() -> tuple[SensorSuite, list[Sighting]]:
    flight = fly_event(load_library().get("2022-11-18-hwasong-17-1"))
    suite = SensorSuite(
        flight.trajectory, list(NET.radar), list(NET.infrared), np.random.default_rng(2022)
    )
    return suite, suite.run(end_s=900.0)


def test_each_nation_first_detects_only_after_the_missile_clears_the_horizon(
    hwasong17: tuple[SensorSuite, list[Sighting]],
) -> None:
    suite, rows = hwasong17
    traj = suite.trajectory
    radars = {r.id: r for r in NET.radar}
    first_by_nation: dict[str, float] = {}
    for row in rows:
        if row.sensor_kind != "radar" or row.object != "rv" or row.first_detected_s is None:
            continue
        radar = radars[row.sensor_id]
        t = row.first_detected_s
        pos = traj.states(t)[:, :3]
        # Above the 4/3-Earth horizon (and inside the sensor's view) when first detected...
        assert radar.refracted_elevation(pos)[0] >= math.radians(radar.min_el_deg)
        assert bool(radar.in_coverage(pos)[0])
        # ... and below it (or outside the view) a second earlier.
        assert not bool(radar.in_coverage(traj.states(t - 1.0)[:, :3])[0])
        first_by_nation[row.nation] = min(first_by_nation.get(row.nation, math.inf), t)
    assert set(first_by_nation) == {"JPN", "KOR", "USA"}
    # Korea's radars are nearest: they see it first; Japan's need the missile higher.
    assert first_by_nation["KOR"] < first_by_nation["JPN"]


def test_space_infrared_sees_the_boost_only(
    hwasong17: tuple[SensorSuite, list[Sighting]],
) -> None:
    suite, rows = hwasong17
    ir = [r for r in rows if r.sensor_kind == "infrared"]
    assert ir and all(r.nation == "USA" for r in ir)
    for r in ir:
        assert r.first_detected_s is not None and r.last_detected_s is not None
        assert r.last_detected_s < suite.trajectory.burnout_s
        alt = float(np.linalg.norm(suite.trajectory.states(r.first_detected_s)[0, :3]))
        assert alt > 6.36e6  # above the ground, i.e. after lift-off
    earliest_radar = min(
        r.first_detected_s
        for r in rows
        if r.sensor_kind == "radar" and r.first_detected_s is not None
    )
    assert min(r.first_detected_s for r in ir if r.first_detected_s) < earliest_radar + 10.0


def test_unresolved_objects_report_as_one_and_resolved_ones_apart() -> None:
    radar = Radar(
        id="TST",
        nation="JPN",
        name="t",
        lat_deg=38.0,
        lon_deg=138.0,
        antenna_gain_db=70.0,
        false_alarms_per_scan=0.0,
        bandwidth_mhz=5.0,
    )
    base = geodetic_to_ecef(40.0, 136.0, 200e3)
    los = (base - radar.ecef_m) / np.linalg.norm(base - radar.ecef_m)
    rng = np.random.default_rng(1)
    close = np.stack([base, base + 5.0 * los])
    batch = radar.scan(0.0, close, np.zeros((2, 3)), np.ones(2), ["a", "b"], rng)
    assert len(batch) == 1 and int(batch.merged[0]) == 2
    apart = np.stack([base, base + 5_000.0 * los])
    batch = radar.scan(0.0, apart, np.zeros((2, 3)), np.ones(2), ["a", "b"], rng)
    assert len(batch) == 2 and set(batch.truth_ids) == {"a", "b"}


def test_a_cued_radar_searches_a_sector_faster() -> None:
    radar = next(r for r in NET.radar if r.id == "JPN-FPS5-SADO")
    cued = radar.cued(270.0, 30.0)
    assert cued.half_width_az_deg == 30.0 and cued.boresight_az_deg == 270.0
    assert cued.scan_period_s < radar.scan_period_s
    east = geodetic_to_ecef(38.0, 145.0, 300e3)[None, :]
    assert bool(radar.in_coverage(east)[0]) and not bool(cued.in_coverage(east)[0])


def test_ships_are_placed_per_scenario_and_unknown_ships_refused() -> None:
    moved = NET.with_ships({"JPN-AEGIS-1": (37.0, 133.0)})
    ship = next(r for r in moved.radar if r.id == "JPN-AEGIS-1")
    assert (ship.lat_deg, ship.lon_deg) == (37.0, 133.0)
    with pytest.raises(ConfigError, match="JPN-FPS5-SADO"):
        NET.with_ships({"JPN-FPS5-SADO": (37.0, 133.0)})


BASE = """
format = 1
nations = ["JPN"]
links = []
[[radar]]
id = "JPN-TEST"
nation = "JPN"
name = "test"
lat_deg = 38.0
lon_deg = 138.0
"""


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("powr = 3.0\n", ["radar[0].powr", "peak_power_kw"]),
        ("peak_power_kw = -5.0\n", ["JPN-TEST", "peak_power_kw"]),
        ("", ["JPN-TEST", "lat_deg"]),
    ],
)
def test_bad_sensor_definitions_name_the_sensor_and_field(extra: str, expected: list[str]) -> None:
    text = BASE + extra
    if not extra:
        text = text.replace("lat_deg = 38.0", "lat_deg = 98.0")
    with pytest.raises(ConfigError) as info:
        parse_network(text, source="net.toml")
    message = str(info.value)
    assert "net.toml" in message
    for word in expected:
        assert word in message


def test_default_network_labels_notional_sites() -> None:
    public = {r.id for r in NET.radar if not r.notional}
    assert public == {"USA-TPY2-SHARIKI", "USA-TPY2-KYOGAMISAKI"}
    assert all(s.notional for s in NET.infrared)
    assert {r.nation for r in NET.radar} == {"JPN", "KOR", "USA"}
    assert all(
        isinstance(r, Radar)
        for r in msgspec.convert([msgspec.to_builtins(r) for r in NET.radar], list[Radar])
    )


def test_cli_coverage_png_and_timeline(tmp_path: Path) -> None:
    out = tmp_path / "jpn.png"
    runner = CliRunner()
    res = runner.invoke(
        app,
        ["sensors", "coverage", "--nation", "JPN", "--png", str(out), "--altitudes-km", "10,100"],
    )
    assert res.exit_code == 0, res.output
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    bad = runner.invoke(app, ["sensors", "coverage", "--nation", "XYZ", "--png", str(out)])
    assert bad.exit_code == 2 and "JPN" in bad.output
    tl = runner.invoke(app, ["sensors", "timeline", "2017-08-28-hwasong-12-1", "--json"])
    assert tl.exit_code == 0
    rows = json.loads(tl.stdout)
    kinds = {r["sensor_kind"] for r in rows}
    assert kinds == {"radar", "infrared"}
    assert all(
        r["first_detected_s"] >= r["first_visible_s"]
        for r in rows
        if r["first_detected_s"] is not None
    )


def test_one_nations_suite_sees_exactly_what_its_sensors_see_in_the_whole_network() -> None:
    """Per-sensor random streams: a nation in its own process reproduces its detections."""
    from trilink.config import load_default_network
    from trilink.world.launches import fly_event
    from trilink.world.library import DEFAULT_EVENT_ID, load_library

    traj = fly_event(load_library().get(DEFAULT_EVENT_ID)).trajectory
    net = load_default_network()
    whole = SensorSuite(traj, list(net.radar), list(net.infrared), np.random.default_rng(7))
    kor = SensorSuite(
        traj,
        [r for r in net.radar if r.nation == "KOR"],
        [s for s in net.infrared if s.nation == "KOR"],
        np.random.default_rng(7),
    )
    seen = 0
    for t in range(0, 400, 10):
        a = {r.id: dets for r, dets in whole.tick(float(t)).radar if r.nation == "KOR"}
        b = {r.id: dets for r, dets in kor.tick(float(t)).radar}
        assert a.keys() == b.keys()
        for rid in a:
            assert [d.z.tolist() for d in a[rid]] == [d.z.tolist() for d in b[rid]]
            seen += len(a[rid])
    assert seen > 10


def test_registration_reference_must_be_a_nation_of_the_network() -> None:
    head, sep, rest = BASE.partition("[[radar]]")
    good = parse_network(head + 'registration_reference = "JPN"\n' + sep + rest, source="n.toml")
    assert good.registration_reference == "JPN"
    assert parse_network(BASE, source="n.toml").registration_reference is None
    assert load_default_network().registration_reference == "USA"
    with pytest.raises(ConfigError) as info:
        parse_network(head + 'registration_reference = "AUS"\n' + sep + rest, source="n.toml")
    message = str(info.value)
    assert "registration_reference" in message and "AUS" in message and "JPN" in message
