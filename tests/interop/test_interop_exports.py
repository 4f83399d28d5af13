"""CZML, GeoJSON and KML of one recorded run: structure, order of coordinates, rings."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET

import pytest
from cot_schema import parse_time
from interop_run import RecordedRun
from pymap3d.vincenty import vdist

from trilink.errors import ConfigError
from trilink.interop.ellipse import ellipse_ring
from trilink.interop.exports import EXPORT_FORMATS, export_document
from trilink.interop.history import HistoryRecorder, NationHistory
from trilink.interop.kml import KML_NAMESPACE
from trilink.interop.paths import truth_path
from trilink.world.library import DEFAULT_EVENT_ID

NATION = "JPN"
K = f"{{{KML_NAMESPACE}}}"
ISO_INTERVAL = re.compile(r"(\S+Z)/(\S+Z)")


def _history(run: RecordedRun) -> NationHistory:
    return run.recorder.history(NATION)


def _export(run: RecordedRun, fmt: str) -> bytes:
    return export_document(fmt, run.result.trajectory, _history(run), event_id=DEFAULT_EVENT_ID)


def _signed_area(ring: list[tuple[float, float]]) -> float:
    """Shoelace area in (lon, lat) degrees²: positive when counter-clockwise."""
    edges = zip(ring[:-1], ring[1:], strict=True)
    return 0.5 * sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in edges)


def test_the_recorder_kept_what_the_centre_held(recorded_run: RecordedRun) -> None:
    hist = _history(recorded_run)
    center = recorded_run.result.centers[NATION]
    assert len(hist.ticks_s) == recorded_run.steps
    held = [*center.impacts, *center.received_impacts]
    assert sorted(map(id, hist.impacts)) == sorted(map(id, held))
    assert set(map(id, hist.alerts)) == set(
        map(id, [*center.lifecycle.alerts, *center.received_alerts])
    )
    assert hist.launch == center.best_launch()
    assert set(hist.tracks) >= {st.system_id for st in center.picture.system_tracks()}
    for track in hist.tracks.values():
        assert track.t_s == sorted(set(track.t_s))  # one state per update, in time order
    assert set(recorded_run.recorder.nations) == set(recorded_run.result.centers)
    with pytest.raises(ConfigError, match=r"nation 'PHL'.*recorded: .*JPN"):
        recorded_run.recorder.history("PHL")
    assert HistoryRecorder(nations=["KOR"]).nations == ()


def test_czml_document_packet_samples_and_times(recorded_run: RecordedRun) -> None:
    packets = json.loads(_export(recorded_run, "czml"))
    document = packets[0]
    assert document["id"] == "document" and document["version"] == "1.0"
    assert "SIMULATION" in document["name"]
    start, stop = ISO_INTERVAL.fullmatch(document["clock"]["interval"]).groups()  # type: ignore[union-attr]
    assert parse_time(start) < parse_time(stop)
    by_id = {p["id"]: p for p in packets}
    assert len(by_id) == len(packets), "packet ids are unique"
    truth = by_id["truth/missile"]["position"]
    assert len(truth["cartesian"]) == 4 * len(truth_path(recorded_run.result.trajectory))
    hist = _history(recorded_run)
    tracks = [t for t in hist.tracks.values() if t.states]
    assert tracks
    for track in tracks:
        position = by_id[f"track/{track.system_id}"]["position"]
        samples = position["cartesian"]
        assert len(samples) == 4 * len(track.states)
        epoch = parse_time(position["epoch"]).timestamp()
        assert [epoch + dt for dt in samples[0::4]] == pytest.approx(track.t_s, abs=1e-3)
        r = math.dist(samples[1:4], [0.0, 0.0, 0.0])
        assert 6.3e6 < r < 8e6  # ECEF metres, on the missile's way
    for packet in packets[1:]:
        assert "SIMULATION" in packet["name"]
        if "availability" in packet:
            begin, end = ISO_INTERVAL.fullmatch(packet["availability"]).groups()  # type: ignore[union-attr]
            assert parse_time(begin) <= parse_time(end)
    ellipses = [p for p in packets if p["id"].startswith("impact/") and "polygon" in p]
    assert len(ellipses) == len(hist.impacts)
    assert all(len(p["polygon"]["positions"]["cartographicDegrees"]) % 3 == 0 for p in ellipses)
    alerts = [p for p in packets if p["id"].startswith("alert/")]
    assert len(alerts) == len(hist.alerts)


def _check_position(position: list[float]) -> None:
    assert len(position) in (2, 3)
    lon, lat = position[0], position[1]
    assert -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0


def test_geojson_follows_rfc_7946(recorded_run: RecordedRun) -> None:
    collection = json.loads(_export(recorded_run, "geojson"))
    assert collection["type"] == "FeatureCollection" and collection["simulation"] is True
    kinds: dict[str, list[dict[str, object]]] = {}
    for feature in collection["features"]:
        assert feature["type"] == "Feature" and feature["properties"]["simulation"] is True
        kinds.setdefault(feature["properties"]["kind"], []).append(feature)
        geometry = feature["geometry"]
        if geometry is None:
            continue
        coords = geometry["coordinates"]
        if geometry["type"] == "Point":
            _check_position(coords)
        elif geometry["type"] == "LineString":
            assert len(coords) >= 2
            for position in coords:
                _check_position(position)
        else:
            assert geometry["type"] == "Polygon"
            for ring in coords:
                assert len(ring) >= 4 and ring[0] == ring[-1], "rings are closed"
                for position in ring:
                    _check_position(position)
            exterior = [(p[0], p[1]) for p in coords[0]]
            assert _signed_area(exterior) > 0, "the exterior ring is counter-clockwise"
    # Longitude first: Pyongyang is near 39.0 N, 125.7 E.
    launch = kinds["launch-truth"][0]["geometry"]["coordinates"]  # type: ignore[index]
    assert launch[0] == pytest.approx(125.67, abs=0.2) and launch[1] == pytest.approx(39.2, abs=0.2)
    hist = _history(recorded_run)
    lines = {f["properties"]["system_track"]: f for f in kinds["track"]}  # type: ignore[index]
    for track in hist.tracks.values():
        coords = lines[track.system_id]["geometry"]["coordinates"]  # type: ignore[index]
        assert len(coords) == len(track.states) or len(track.states) == 1
    assert len(kinds["impact-ellipse"]) == len(hist.impacts)
    assert len(kinds["alert"]) == len(hist.alerts)
    stages = {f["properties"]["stage"] for f in kinds["alert"]}  # type: ignore[index]
    assert "evacuate" in stages and "all_clear" in stages


def _kml_coords(text: str | None) -> list[tuple[float, float, float]]:
    out = []
    for token in (text or "").split():
        lon, lat, alt = (float(v) for v in token.split(","))
        assert -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0
        out.append((lon, lat, alt))
    return out


def test_kml_is_kml_2_2_with_lon_lat_alt(recorded_run: RecordedRun) -> None:
    root = ET.fromstring(_export(recorded_run, "kml"))
    assert root.tag == f"{K}kml"
    assert "SIMULATION" in (root.findtext(f"{K}Document/{K}name") or "")
    placemarks = root.findall(f".//{K}Placemark")
    assert placemarks and all("SIMULATION" in (p.findtext(f"{K}name") or "") for p in placemarks)
    for element in root.iter(f"{K}coordinates"):
        assert _kml_coords(element.text)
    launch = next(p for p in placemarks if p.findtext(f"{K}name") == "SIMULATION launch (truth)")
    (lon, lat, _), *_ = _kml_coords(launch.findtext(f"{K}Point/{K}coordinates"))
    assert lon == pytest.approx(125.67, abs=0.2) and lat == pytest.approx(39.2, abs=0.2)
    rings = root.findall(f".//{K}outerBoundaryIs/{K}LinearRing/{K}coordinates")
    assert len(rings) == len(_history(recorded_run).impacts)
    for ring_element in rings:
        ring = [(x, y) for x, y, _ in _kml_coords(ring_element.text)]
        assert ring[0] == ring[-1] and _signed_area(ring) > 0
    track_lines = [p for p in placemarks if "system track" in (p.findtext(f"{K}name") or "")]
    assert track_lines and all(p.find(f"{K}LineString") is not None for p in track_lines)


def test_the_ellipse_ring_has_the_axes_and_bearing_of_the_prediction() -> None:
    ring = ellipse_ring(41.1, 157.4, 20_000.0, 5_000.0, 30.0, vertices=72)
    assert len(ring) == 73 and ring[0] == ring[-1]
    assert _signed_area(ring) > 0
    major, bearing = vdist(41.1, 157.4, ring[0][1], ring[0][0])
    minor, _ = vdist(41.1, 157.4, ring[18][1], ring[18][0])  # a quarter turn on
    assert float(major) == pytest.approx(20_000.0, rel=1e-3)
    assert float(minor) == pytest.approx(5_000.0, rel=1e-3)
    assert float(bearing) == pytest.approx(30.0, abs=0.05)
    with pytest.raises(ConfigError, match="semi_major_m"):
        ellipse_ring(0.0, 0.0, math.inf, 1.0, 0.0)


def test_an_unknown_format_names_the_known_ones(recorded_run: RecordedRun) -> None:
    assert set(EXPORT_FORMATS) == {"czml", "geojson", "kml"}
    with pytest.raises(ConfigError, match=r"field `format`.*use one of czml, geojson, kml"):
        _export(recorded_run, "shapefile")
