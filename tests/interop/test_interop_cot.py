"""Cursor on Target events: the schema's rules, TAK's parsers, and the numbers in them."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import takproto
from cot_schema import check_cot_event, parse_time
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from interop_run import RecordedRun

from trilink.errors import ConfigError
from trilink.geo.earth import enu_rotation, geodetic_to_ecef
from trilink.geo.ellipse import CHI2_2DOF_95
from trilink.interop.cot import (
    ALERT_TYPE,
    IMPACT_TYPE,
    OPEX_SIMULATION,
    TRACK_TYPE,
    CotPoint,
    alert_event,
    center_events,
    impact_event,
    track_event,
    track_uid,
)
from trilink.interop.timestamps import iso_z
from trilink.types import Alert, AlertStage, ImpactPrediction, Track, TrackState

T0 = 1_503_953_880.0  # 2017-08-28T20:58:00Z


def _track(
    lat: float,
    lon: float,
    alt: float,
    *,
    v_enu: tuple[float, float, float] = (0.0, 0.0, 0.0),
    sigma_enu: tuple[float, float, float] = (100.0, 100.0, 100.0),
    t_s: float = T0,
) -> Track:
    """A track at a geodetic point whose covariance is diagonal in local ENU."""
    rot = enu_rotation(math.radians(lat), math.radians(lon))
    state = np.concatenate([geodetic_to_ecef(lat, lon, alt), rot.T @ np.array(v_enu)])
    p = np.eye(6)
    p[:3, :3] = rot.T @ np.diag(np.square(sigma_enu)) @ rot
    return Track("JPN-S001", "JPN", t_s, state, p, TrackState.CONFIRMED, ("R1",), t_s - 10.0)


def _prediction(**overrides: object) -> ImpactPrediction:
    values: dict[str, object] = {
        "t_valid_s": T0 + 300.0,
        "t_impact_s": T0 + 840.0,
        "lat_deg": 41.1,
        "lon_deg": 157.4,
        "semi_major_m": 2000.0,
        "semi_minor_m": 100.0,
        "orientation_deg": 98.0,
        "apogee_m": 550e3,
        "eez_verdict": "outside",
        "eez_near_boundary": False,
        "overflight": ("Hokkaido",),
        "track_id": "JPN-S001",
        "nation": "JPN",
        "t_impact_sigma_s": 6.4,
    }
    values.update(overrides)
    return ImpactPrediction(**values)  # type: ignore[arg-type]


def _proto_round_trip(data: bytes) -> None:
    """takproto reads the XML, and its protobuf (mesh and stream) round trips."""
    event = ET.fromstring(data)
    parsed = takproto.parse_proto(bytearray(data))
    assert parsed is not None and parsed.cotEvent.uid == event.get("uid")
    cot = parsed.cotEvent
    assert cot.type == event.get("type") and cot.how == event.get("how")
    assert cot.opex == OPEX_SIMULATION
    point = event.find("point")
    assert point is not None
    assert cot.lat == pytest.approx(float(point.get("lat", "nan")))
    assert cot.lon == pytest.approx(float(point.get("lon", "nan")))
    stale_ms = int(parse_time(event.get("stale", "")).timestamp() * 1000)
    assert abs(cot.staleTime - stale_ms) <= 1
    for version in (takproto.TAKProtoVer.MESH, takproto.TAKProtoVer.STREAM):
        wire = takproto.xml2proto(data, version)
        again = takproto.parse_proto(wire)
        assert again is not None and again.SerializeToString() == parsed.SerializeToString()


def test_center_events_of_a_real_run_meet_the_schema_and_parse_in_tak(
    recorded_run: RecordedRun,
) -> None:
    seen_types: set[str] = set()
    count = 0
    for snapshots in recorded_run.cot.values():
        for t_s, events in snapshots:
            for data in events:
                event = check_cot_event(data)
                _proto_round_trip(data)
                assert parse_time(event.get("time", "")).timestamp() == pytest.approx(t_s)
                seen_types.add(event.get("type", ""))
                count += 1
    assert seen_types == {TRACK_TYPE, IMPACT_TYPE, ALERT_TYPE}
    assert count > 50


def test_center_events_at_the_end_hold_each_nations_latest_alert(
    recorded_run: RecordedRun,
) -> None:
    centers = recorded_run.result.centers
    jpn = centers["JPN"]
    last = max(a.t_s for a in jpn.lifecycle.alerts)
    events = [ET.fromstring(e) for e in center_events(jpn, last)]
    alerts = [e for e in events if e.get("type") == ALERT_TYPE]
    uids = sorted(e.get("uid", "") for e in alerts)
    issuers = sorted({a.nation for a in [*jpn.lifecycle.alerts, *jpn.received_alerts]})
    assert uids == [f"trilink.JPN.alert.{n}" for n in issuers]
    own = next(e for e in alerts if e.get("uid") == "trilink.JPN.alert.JPN")
    stage = own.find("detail/trilink_alert")
    assert stage is not None and stage.get("stage") == jpn.lifecycle.alerts[-1].stage.value
    # Long after the event nothing is current: no stale events are sent.
    assert center_events(jpn, last + 86_400.0) == []


def test_track_event_errors_position_and_motion() -> None:
    data = track_event(
        _track(40.0, 135.0, 300e3, v_enu=(3000.0, 0.0, -500.0), sigma_enu=(50.0, 200.0, 30.0)),
        uid=track_uid("JPN", "JPN-S001"),
        t_s=T0 + 1.0,
    )
    event = check_cot_event(data)
    point = event.find("point")
    assert point is not None
    assert float(point.get("lat", "")) == pytest.approx(40.0, abs=1e-6)
    assert float(point.get("lon", "")) == pytest.approx(135.0, abs=1e-6)
    assert float(point.get("hae", "")) == pytest.approx(300e3, abs=0.1)
    # ce: 1-sigma on the worst horizontal axis; le: 1-sigma vertical.
    assert float(point.get("ce", "")) == pytest.approx(200.0, abs=0.1)
    assert float(point.get("le", "")) == pytest.approx(30.0, abs=0.1)
    motion = event.find("detail/track")
    assert motion is not None
    assert float(motion.get("course", "")) == pytest.approx(90.0, abs=0.01)
    assert float(motion.get("speed", "")) == pytest.approx(3000.0, abs=0.01)
    assert event.get("uid") == "trilink.JPN.JPN-S001"
    assert event.get("how") == "m-f" and event.get("type") == "a-h-A-W-M-S-S"
    assert event.get("start") == iso_z(T0) and event.get("stale") == iso_z(T0 + 30.0)
    assert event.get("time") == iso_z(T0 + 1.0)
    contact = event.find("detail/contact")
    assert contact is not None and contact.get("callsign", "").startswith("SIM")


def test_impact_event_carries_the_ellipse_and_the_predicted_time() -> None:
    pred = _prediction()
    event = check_cot_event(impact_event(pred, uid="trilink.JPN.impact.JPN.JPN-S001", t_s=T0 + 301))
    assert event.get("type") == "u-d-c-e" and event.get("how") == "m-p"
    ellipse = event.find("detail/shape/ellipse")
    assert ellipse is not None
    assert float(ellipse.get("major", "")) == 2000.0 and float(ellipse.get("minor", "")) == 100.0
    assert float(ellipse.get("angle", "")) == 98.0
    point = event.find("point")
    assert point is not None
    assert float(point.get("ce", "")) == pytest.approx(2000.0 / math.sqrt(CHI2_2DOF_95), abs=0.1)
    assert float(point.get("le", "")) == 9999999.0
    facts = event.find("detail/trilink_impact")
    assert facts is not None and facts.get("time") == iso_z(pred.t_impact_s)
    assert event.get("start") == iso_z(pred.t_valid_s)
    assert event.get("stale") == iso_z(pred.t_impact_s + 600.0)
    _proto_round_trip(impact_event(pred, uid="u", t_s=T0))


def test_alert_event_escapes_text_and_finds_a_place() -> None:
    alert = Alert(
        alert_id="JPN-A002",
        nation="JPN",
        t_s=T0 + 240.0,
        stage=AlertStage.EVACUATE,
        text='SIMULATION — <evacuate> & "shelter"\x07 now',
        prefectures=("Hokkaido", "Aomori"),
        predicted_t_s=T0 + 420.0,
        eez_verdict="outside",
    )
    event = check_cot_event(alert_event(alert, uid="trilink.JPN.alert.JPN", t_s=T0 + 241.0))
    assert event.get("type") == "b-l" and event.get("how") == "m-p"
    remarks = event.findtext("detail/remarks") or ""
    assert '<evacuate> & "shelter" now' in remarks  # escaped on the wire, intact when read
    facts = event.find("detail/trilink_alert")
    assert facts is not None
    assert facts.get("stage") == "evacuate" and facts.get("areas") == "Hokkaido, Aomori"
    assert facts.get("predicted_time") == iso_z(T0 + 420.0)
    point = event.find("point")
    assert point is not None and float(point.get("ce", "")) == 9999999.0  # no place known
    placed = ET.fromstring(
        alert_event(alert, uid="u", t_s=T0, position=CotPoint(39.2, 125.7, 0.0, 1000.0))
    )
    assert placed.find("point") is not None
    assert placed.find("point").get("lat") == "39.2000000"  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["stale_s", "impact_keep_s", "alert_keep_s"])
def test_a_negative_validity_names_the_field_and_the_fix(
    recorded_run: RecordedRun, name: str
) -> None:
    center = recorded_run.result.centers["JPN"]
    with pytest.raises(ConfigError, match=rf"field `{name}`.*Fix: give a finite number"):
        center_events(center, T0, **{name: -1.0})


def test_iso_times_round_to_the_millisecond_and_end_in_z() -> None:
    assert iso_z(0.0) == "1970-01-01T00:00:00.000Z"
    assert iso_z(59.9996) == "1970-01-01T00:01:00.000Z"
    assert iso_z(T0 + 0.25) == "2017-08-28T20:58:00.250Z"
    with pytest.raises(ConfigError, match="t_s"):
        iso_z(math.nan)


def _spd(matrix: np.ndarray, scale: float) -> np.ndarray:
    return scale * (matrix @ matrix.T) + 1e-6 * np.eye(6)


@given(
    lat=st.floats(-90.0, 90.0),
    lon=st.floats(-180.0, 180.0),
    alt=st.floats(-1e3, 7e6),
    velocity=arrays(np.float64, 3, elements=st.floats(-8e3, 8e3)),
    factor=arrays(np.float64, (6, 6), elements=st.floats(-1.0, 1.0)),
    scale_m2=st.floats(1e-6, 1e13),
    t_s=st.floats(0.0, 4.0e9),
    age_s=st.floats(0.0, 120.0),
    stale_s=st.floats(0.0, 3600.0),
)
def test_any_track_gives_a_valid_event(
    lat: float,
    lon: float,
    alt: float,
    velocity: np.ndarray,
    factor: np.ndarray,
    scale_m2: float,
    t_s: float,
    age_s: float,
    stale_s: float,
) -> None:
    state = np.concatenate([geodetic_to_ecef(lat, lon, alt), velocity])
    track = Track(
        "KOR-S042", "KOR", t_s, state, _spd(factor, scale_m2), TrackState.CONFIRMED, (), t_s
    )
    data = track_event(track, uid="trilink.KOR.KOR-S042", t_s=t_s + age_s, stale_s=stale_s)
    event = check_cot_event(data)
    point = event.find("point")
    assert point is not None
    if abs(lat) < 89.9:  # longitude is undefined at the poles
        d_lon = (float(point.get("lon", "")) - lon + 180.0) % 360.0 - 180.0
        assert abs(d_lon) < 1e-5
    # pymap3d's ECEF-to-geodetic inversion is good to ~1.5e-5 deg (1.7 m) 7,000 km up.
    assert float(point.get("lat", "")) == pytest.approx(lat, abs=5e-5)
    course = float(event.find("detail/track").get("course", ""))  # type: ignore[union-attr]
    assert 0.0 <= course < 360.0
    _proto_round_trip(data)


@given(
    lat=st.floats(-90.0, 90.0),
    lon=st.floats(-180.0, 180.0),
    axes_m=st.tuples(st.floats(0.0, 5e6), st.floats(0.0, 5e6)),
    orientation_deg=st.floats(-720.0, 720.0),
    t_valid_s=st.floats(0.0, 4.0e9),
    flight_s=st.floats(0.0, 10_800.0),
    sigma_s=st.floats(0.0, 600.0),
)
def test_any_impact_prediction_gives_a_valid_event(
    lat: float,
    lon: float,
    axes_m: tuple[float, float],
    orientation_deg: float,
    t_valid_s: float,
    flight_s: float,
    sigma_s: float,
) -> None:
    pred = _prediction(
        lat_deg=lat,
        lon_deg=lon,
        semi_major_m=max(axes_m),
        semi_minor_m=min(axes_m),
        orientation_deg=orientation_deg,
        t_valid_s=t_valid_s,
        t_impact_s=t_valid_s + flight_s,
        t_impact_sigma_s=sigma_s,
    )
    data = impact_event(pred, uid="trilink.JPN.impact.JPN.JPN-S001", t_s=t_valid_s)
    event = check_cot_event(data)
    angle = float(event.find("detail/shape/ellipse").get("angle", ""))  # type: ignore[union-attr]
    assert 0.0 <= angle < 360.0
    _proto_round_trip(data)
