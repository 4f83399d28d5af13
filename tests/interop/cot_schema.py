"""The rules of the CoT 2.0 base-event schema, checked by hand (a test helper).

From MITRE's ``Event-PUBLIC.xsd`` ("Schema for Cursor-On-Target (CoT) Event data model
(Version 2.0)", MITRE Case #11-3895): required ``version`` (xs:decimal ≥ 2), ``uid``,
``type`` (pattern ``\\w+(-\\w+)*(;[^;]*)?``), ``time``/``start``/``stale`` (xs:dateTime),
``how`` (pattern ``\\w(-\\w+)*``); optional ``opex`` (``o``/``e``/``s`` then ``-name``);
one ``<point>`` with ``lat`` in [-90, 90], ``lon`` in [-180, 180], ``hae``, ``ce`` and
``le`` (xs:decimal, metres); at most one ``<detail>``. XSD patterns match the whole value.
trilink's own rules on top: times in UTC with ``Z``, ``start <= stale``, ``ce``/``le``
non-negative (9999999 = unknown), ``opex`` of a simulation, a remark saying SIMULATION.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

__all__ = ["check_cot_event", "parse_time"]

TYPE_PATTERN = re.compile(r"\w+(-\w+)*(;[^;]*)?")
HOW_PATTERN = re.compile(r"\w(-\w+)*")
OPEX_PATTERN = re.compile(r"[oes](-.*)?")
DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
UTC_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
REQUIRED = ("version", "uid", "type", "time", "start", "stale", "how")


def parse_time(text: str) -> dt.datetime:
    """An xs:dateTime in UTC with ``Z`` (the form trilink writes)."""
    assert UTC_TIME.fullmatch(text), f"not an ISO 8601 UTC time with Z: {text!r}"
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _decimal(point: ET.Element, name: str) -> float:
    text = point.get(name)
    assert text is not None, f"point has no {name}"
    assert DECIMAL.fullmatch(text), f"point {name}={text!r} is not an xs:decimal"
    return float(text)


def check_cot_event(data: bytes) -> ET.Element:
    """Parse one serialised event and assert every rule; return the ``<event>`` element."""
    event = ET.fromstring(data)
    assert event.tag == "event", event.tag
    for name in REQUIRED:
        assert event.get(name), f"event lacks required attribute {name!r}"
    version = event.get("version", "")
    assert DECIMAL.fullmatch(version) and float(version) >= 2.0, version
    assert TYPE_PATTERN.fullmatch(event.get("type", "")), event.get("type")
    assert HOW_PATTERN.fullmatch(event.get("how", "")), event.get("how")
    time, start, stale = (parse_time(event.get(k, "")) for k in ("time", "start", "stale"))
    assert start <= stale, (start, stale)
    opex = event.get("opex", "")
    assert OPEX_PATTERN.fullmatch(opex) and opex.startswith("s"), f"opex {opex!r}"
    points = event.findall("point")
    assert len(points) == 1, "an event has exactly one <point>"
    point = points[0]
    lat, lon = _decimal(point, "lat"), _decimal(point, "lon")
    assert -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0, (lat, lon)
    _decimal(point, "hae")
    for name in ("ce", "le"):
        value = _decimal(point, name)
        assert 0.0 <= value <= 9999999.0, f"{name}={value}"
    details = event.findall("detail")
    assert len(details) <= 1, "at most one <detail>"
    remarks = event.findtext("detail/remarks") or ""
    assert remarks.startswith("SIMULATION"), remarks
    return event
