"""A KML 2.2 document of one event as one nation saw it (SIMULATION), for Google Earth.

Built with :mod:`xml.etree.ElementTree` in the namespace ``http://www.opengis.net/kml/2.2``
(OGC 07-147r2). Coordinates are ``lon,lat,alt`` tuples (WGS-84 degrees, metres) separated
by spaces. The same content as the GeoJSON export, in folders:

* *Truth* — the simulated missile as a LineString (``altitudeMode`` absolute), its
  launch and impact points;
* *Tracks* — each system track the nation held, a LineString with a ``TimeSpan``;
* *Launch estimate* — a Point;
* *Impact predictions* — each 95 % ellipse as a Polygon (outer ring counter-clockwise and
  closed, as KML asks), shown from its prediction's time until the next one;
* *Alerts* — each alert as a Placemark with its text, at its ``TimeStamp``.

The document's name and every placemark's say SIMULATION.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from typing import Final

from trilink.interop.ellipse import ellipse_ring
from trilink.interop.history import NationHistory
from trilink.interop.paths import DEFAULT_TRUTH_STEP_S, TimedPath, track_path, truth_path
from trilink.interop.timestamps import iso_z
from trilink.types import ImpactPrediction
from trilink.world.trajectory import Trajectory

__all__ = ["KML_NAMESPACE", "kml_document"]

KML_NAMESPACE: Final = "http://www.opengis.net/kml/2.2"
_SIM: Final = "SIMULATION"
_STYLES: Final = {  # id: (line colour aabbggrr, polygon fill aabbggrr)
    "truth": ("ffffffff", "00ffffff"),
    "track": ("ff2828e6", "00ffffff"),
    "ellipse": ("ff0096ff", "460050ff"),
    "alert": ("ff00e6ff", "00ffffff"),
}


def kml_document(
    trajectory: Trajectory,
    history: NationHistory,
    *,
    event_id: str,
    truth_step_s: float = DEFAULT_TRUTH_STEP_S,
) -> bytes:
    """The KML 2.2 document (UTF-8 bytes) of ``event_id`` as ``history.nation`` held it."""
    nation = history.nation
    # Plain tag names under a default namespace declaration: the document reads as KML
    # 2.2 and no ns0: prefixes (nor ElementTree's global prefix registry) are involved.
    root = ET.Element("kml", xmlns=KML_NAMESPACE)
    doc = _sub(root, "Document")
    _text(doc, "name", f"trilink {_SIM} — {event_id} — {nation}'s picture")
    _text(doc, "description", f"{_SIM}: a simulated launch and what {nation} held of it.")
    for style_id, (line, fill) in _STYLES.items():
        style = _sub(doc, "Style", id=style_id)
        line_style = _sub(style, "LineStyle")
        _text(line_style, "color", line)
        _text(line_style, "width", "2")
        _text(_sub(style, "PolyStyle"), "color", fill)

    truth = truth_path(trajectory, step_s=truth_step_s)
    folder = _folder(doc, f"{_SIM} truth")
    _line(folder, f"{_SIM} truth: {event_id}", truth, "truth")
    spec = trajectory.spec
    _point(folder, f"{_SIM} launch (truth)", spec.lat_deg, spec.lon_deg, "truth")
    _point(
        folder,
        f"{_SIM} impact (truth)",
        trajectory.impact_lat_deg,
        trajectory.impact_lon_deg,
        "truth",
        when_s=trajectory.t_launch_s + trajectory.impact_s,
    )

    folder = _folder(doc, f"{_SIM} {nation} system tracks")
    for track in history.tracks.values():
        if len(track.states) >= 2:
            name = f"{_SIM} {nation} system track {track.system_id}"
            _line(folder, name, track_path(track), "track")
    if history.launch is not None:
        est = history.launch
        folder = _folder(doc, f"{_SIM} launch estimate")
        name = f"{_SIM} launch estimate ({est.nation})"
        _point(folder, name, est.lat_deg, est.lon_deg, "alert", when_s=est.t_launch_s)
    _impacts(_folder(doc, f"{_SIM} impact predictions (95 %)"), history.impacts)

    folder = _folder(doc, f"{_SIM} alerts")
    for alert in sorted(history.alerts, key=lambda a: a.t_s):
        name = f"{_SIM} {alert.nation} alert: {alert.stage.value}"
        mark = _placemark(folder, name, "alert", description=alert.text, when_s=alert.t_s)
        where = history.alert_position(alert)
        if where is not None:
            _text(_sub(mark, "Point"), "coordinates", _coords([(where[1], where[0], 0.0)]))
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


def _impacts(folder: ET.Element, impacts: Sequence[ImpactPrediction]) -> None:
    ordered = sorted(impacts, key=lambda p: p.t_valid_s)
    for n, pred in enumerate(ordered):
        later = [
            p.t_valid_s
            for p in ordered[n + 1 :]
            if (p.nation, p.track_id) == (pred.nation, pred.track_id)
        ]
        mark = _placemark(
            folder,
            f"{_SIM} predicted impact ({pred.nation} {pred.track_id})",
            "ellipse",
            description=f"{_SIM}. Predicted impact at {iso_z(pred.t_impact_s)} "
            f"(±{pred.t_impact_sigma_s:.0f} s), made at {iso_z(pred.t_valid_s)}; "
            f"Japan EEZ: {pred.eez_verdict}.",
            span_s=(pred.t_valid_s, later[0] if later else None),
        )
        polygon = _sub(mark, "Polygon")
        _text(polygon, "altitudeMode", "clampToGround")
        ring = ellipse_ring(
            pred.lat_deg, pred.lon_deg, pred.semi_major_m, pred.semi_minor_m, pred.orientation_deg
        )
        linear = _sub(_sub(polygon, "outerBoundaryIs"), "LinearRing")
        _text(linear, "coordinates", _coords((lon, lat, 0.0) for lon, lat in ring))


def _line(folder: ET.Element, name: str, path: TimedPath, style: str) -> None:
    span = (float(path.t_s[0]), float(path.t_s[-1]))
    mark = _placemark(folder, name, style, span_s=span)
    line = _sub(mark, "LineString")
    _text(line, "altitudeMode", "absolute")
    _text(line, "coordinates", _coords(tuple(p) for p in path.lon_lat_alt()))


def _point(
    folder: ET.Element,
    name: str,
    lat_deg: float,
    lon_deg: float,
    style: str,
    *,
    when_s: float | None = None,
) -> None:
    mark = _placemark(folder, name, style, when_s=when_s)
    _text(_sub(mark, "Point"), "coordinates", _coords([(lon_deg, lat_deg, 0.0)]))


def _placemark(
    folder: ET.Element,
    name: str,
    style: str,
    *,
    description: str | None = None,
    when_s: float | None = None,
    span_s: tuple[float, float | None] | None = None,
) -> ET.Element:
    """A Placemark with its children in the schema's order: name, description, time,
    style (the caller adds the geometry)."""
    mark = _sub(folder, "Placemark")
    _text(mark, "name", name)
    if description is not None:
        _text(mark, "description", description)
    if when_s is not None:
        _text(_sub(mark, "TimeStamp"), "when", iso_z(when_s))
    if span_s is not None:
        span = _sub(mark, "TimeSpan")
        _text(span, "begin", iso_z(span_s[0]))
        if span_s[1] is not None:
            _text(span, "end", iso_z(span_s[1]))
    _text(mark, "styleUrl", f"#{style}")
    return mark


def _folder(doc: ET.Element, name: str) -> ET.Element:
    folder = _sub(doc, "Folder")
    _text(folder, "name", name)
    return folder


def _coords(points: Iterable[Sequence[float]]) -> str:
    """``lon,lat,alt`` tuples separated by spaces (degrees to 6 decimals, metres to 0.1)."""
    return " ".join(f"{p[0]:.6f},{p[1]:.6f},{p[2]:.1f}" for p in points)


def _sub(parent: ET.Element, tag: str, **attrib: str) -> ET.Element:
    return ET.SubElement(parent, tag, attrib)


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = _sub(parent, tag)
    element.text = text
    return element
