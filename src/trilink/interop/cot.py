"""Cursor on Target 2.0 events from what one nation's warning centre holds (SIMULATION).

A TAK client (ATAK, WinTAK, iTAK, TAK Server) reads CoT events: XML ``<event>`` elements
with a ``<point>`` and a ``<detail>``. :func:`center_events` gives the events for
everything a :class:`~trilink.alerting.warnings.WarningCenter` holds at an event time:
its fused system tracks, the latest impact prediction of each track (its own and its
partners'), and the standing alert of each nation. The builders for one item
(:func:`track_event`, :func:`impact_event`, :func:`alert_event`) take trilink's value
types. Every event is built with :mod:`xml.etree.ElementTree`, so text from names and
alert messages is escaped, never pasted into markup.

The rules followed are those of the CoT 2.0 base-event schema (MITRE, ``Event-PUBLIC.xsd``,
"Schema for Cursor-On-Target (CoT) Event data model (Version 2.0)", MITRE Case #11-3895):
``version`` ≥ 2; ``type`` matches ``\\w+(-\\w+)*(;[^;]*)?``; ``how`` matches ``\\w(-\\w+)*``;
``time``, ``start`` and ``stale`` are xs:dateTime, written here in UTC with a ``Z``
(:func:`~trilink.interop.timestamps.iso_z`); ``lat`` in [-90, 90] and ``lon`` in
[-180, 180] (WGS-84 degrees); ``hae``, ``ce`` and ``le`` in metres.

Choices, with their source:

* **Simulation marking.** ``opex="s-trilink"``. The schema's ``opex`` is ``o-<name>``
  (operations), ``e-<nickname>`` (exercise) or ``s-<nickname>`` (simulation); the 2007
  clarification in its header says a value "can begin with 's' to denote a simulation",
  and MITRE's ``CoTtypes.xml`` predicate ``o.simulation`` is ``^s-``. trilink is a
  simulation, not an exercise of real forces, so ``s-``. Every event also carries
  ``<remarks>`` beginning with ``SIMULATION`` and a callsign beginning ``SIM``.
* **ce and le.** The schema: where ce/le "represent an error ... the value will represent
  the one sigma point for a zero mean normal (Gaussian) distribution". ce is the 1-sigma
  horizontal error taken on the worst horizontal axis: the square root of the largest
  eigenvalue of the East-North block of the position covariance (the radius of the
  smallest circle holding the 1-sigma ellipse; exactly sigma when the error is circular).
  le is the 1-sigma vertical error, the square root of the Up variance. 9999999 (the
  schema's and TAK's "unknown") when not known or larger than that.
* **Types.** System tracks: ``a-h-A-W-M-S-S`` (atom, hostile, air, weapon, missile in
  flight, surface-to-surface; MITRE ``CoTtypes.xml``). Impact predictions:
  ``u-d-c-e``, the ellipse drawing type TAK clients draw from ``<shape><ellipse major=
  minor= angle=/></shape>`` (semi-axes in metres; ``angle`` here is the semi-major
  axis's bearing, degrees clockwise from true north). Alerts: ``b-l``, the alarm branch
  of CoT's "bits" tree (predicate ``alarm`` = ``^b-l`` in ``CoTtypes.xml``); not TAK's
  ``b-a-o-*`` types, which a TAK client treats as one person's 911 emergency beacon.
* **how.** ``m-f`` (machine, fused) for system tracks; ``m-p`` (machine, predicted) for
  impact predictions and for alerts, which rest on predictions.
* **uid.** Stable, so each update replaces the last on a TAK map:
  ``trilink.<holder>.<system track>`` for a track (:func:`track_uid`),
  ``trilink.<holder>.impact.<originator>.<track>`` for predictions and
  ``trilink.<holder>.alert.<issuing nation>`` for the standing alert of each nation.
* **Times.** ``time`` is the event time the picture is shown at; ``start`` is when the
  content was valid (the track's time, the prediction's, the alert's issue); ``stale``
  is ``start + stale_s`` for tracks, the predicted impact plus ``impact_keep_s`` for
  predictions and the issue plus ``alert_keep_s`` for alerts.
* **Course and speed** (``<track course= speed=/>``): from the ECEF velocity in the local
  East-North-Up frame: course in degrees clockwise from true north, speed the horizontal
  speed in m/s (course and speed describe motion over the map).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

import numpy as np
from numpy.typing import NDArray

from trilink.alerting.warnings import WarningCenter
from trilink.errors import ConfigError
from trilink.geo.earth import ecef_to_geodetic, enu_rotation
from trilink.geo.ellipse import CHI2_2DOF_95
from trilink.interop.timestamps import iso_z
from trilink.types import Alert, ImpactPrediction, LaunchEstimate, Track

__all__ = [
    "ALERT_TYPE",
    "COT_VERSION",
    "DEFAULT_ALERT_KEEP_S",
    "DEFAULT_IMPACT_KEEP_S",
    "DEFAULT_STALE_S",
    "HOW_FUSED",
    "HOW_PREDICTED",
    "IMPACT_TYPE",
    "OPEX_SIMULATION",
    "SIMULATION_REMARK",
    "TRACK_TYPE",
    "UNKNOWN_ERROR_M",
    "CotPoint",
    "alert_event",
    "center_events",
    "impact_event",
    "track_event",
    "track_uid",
]

COT_VERSION: Final = "2.0"
OPEX_SIMULATION: Final = "s-trilink"
TRACK_TYPE: Final = "a-h-A-W-M-S-S"
IMPACT_TYPE: Final = "u-d-c-e"
ALERT_TYPE: Final = "b-l"
HOW_FUSED: Final = "m-f"
HOW_PREDICTED: Final = "m-p"
UNKNOWN_ERROR_M: Final = 9999999.0
"""ce/le (and hae) meaning "not known", as the schema's users and TAK clients read it."""
DEFAULT_STALE_S: Final = 30.0
"""A track event stays valid this long after the track's time (the picture's own limit)."""
DEFAULT_IMPACT_KEEP_S: Final = 600.0
"""An impact ellipse stays on the map this long after the predicted impact."""
DEFAULT_ALERT_KEEP_S: Final = 600.0
"""An alert stays on the map this long after it was issued."""
SIMULATION_REMARK: Final = "SIMULATION — trilink, not a real missile warning"
_XML_DECLARATION: Final = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
_NOT_XML_CHARS: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SIGMA_PER_95_AXIS: Final = 1.0 / math.sqrt(CHI2_2DOF_95)
_Item = TypeVar("_Item", ImpactPrediction, Alert)


@dataclass(frozen=True, slots=True)
class CotPoint:
    """A CoT ``<point>``: WGS-84 degrees, height above the ellipsoid and 1-sigma errors (m)."""

    lat_deg: float
    lon_deg: float
    hae_m: float = 0.0
    ce_m: float = UNKNOWN_ERROR_M
    le_m: float = UNKNOWN_ERROR_M

    @classmethod
    def unknown(cls) -> CotPoint:
        """No position: 0°, 0° with every error unknown (TAK's convention)."""
        return cls(0.0, 0.0, UNKNOWN_ERROR_M)

    @classmethod
    def of_launch(cls, launch: LaunchEstimate) -> CotPoint:
        """A launch estimate's point; ce from its 95 % circle (1-sigma per axis)."""
        return cls(launch.lat_deg, launch.lon_deg, 0.0, launch.radius_95_m * _SIGMA_PER_95_AXIS)


def track_uid(nation: str, system_id: str) -> str:
    """The stable uid of one system track of ``nation``'s picture: ``trilink.JPN.JPN-S001``."""
    return f"trilink.{nation}.{system_id}"


def track_event(
    track: Track,
    *,
    uid: str,
    t_s: float,
    stale_s: float = DEFAULT_STALE_S,
    callsign: str | None = None,
    remark: str = "",
) -> bytes:
    """One system track (a fused :class:`~trilink.types.Track`) as a CoT event.

    ``t_s`` is the event time it is shown at (``time``); the event is valid from the
    track's time for ``stale_s`` seconds.
    """
    _check_keep("stale_s", stale_s)
    r = track.state[:3]
    lat, lon, hae = (float(v) for v in ecef_to_geodetic(r))
    rot = enu_rotation(math.radians(lat), math.radians(lon))
    p_enu = rot @ track.covariance[:3, :3] @ rot.T
    v_enu = rot @ track.state[3:6]
    point = CotPoint(lat, lon, hae, _ce_m(p_enu[:2, :2]), _sigma_m(float(p_enu[2, 2])))
    course = _bearing_deg(math.degrees(math.atan2(float(v_enu[0]), float(v_enu[1]))))
    speed = math.hypot(float(v_enu[0]), float(v_enu[1]))
    motion = ET.Element("track", course=f"{course:.2f}", speed=f"{speed:.2f}")
    return _event(
        TRACK_TYPE,
        uid,
        HOW_FUSED,
        t_s=t_s,
        start_s=track.t_s,
        stale_s=track.t_s + stale_s,
        point=point,
        details=[motion],
        callsign=callsign or f"SIM {track.track_id}",
        remark=remark or f"fused track {track.track_id} of {track.nation}",
    )


def impact_event(
    prediction: ImpactPrediction,
    *,
    uid: str,
    t_s: float,
    keep_s: float = DEFAULT_IMPACT_KEEP_S,
    callsign: str | None = None,
) -> bytes:
    """One impact prediction as a CoT ellipse event (``how="m-p"``).

    The point is the predicted impact point on the ellipsoid; ``<shape><ellipse>`` holds
    the 95 % ellipse; ``<trilink_impact>`` the predicted impact time and its 1-sigma, the
    EEZ verdict and the track it was made from. Valid from the prediction's time until
    ``keep_s`` seconds after the predicted impact.
    """
    _check_keep("keep_s", keep_s)
    p = prediction
    point = CotPoint(p.lat_deg, p.lon_deg, 0.0, p.semi_major_m * _SIGMA_PER_95_AXIS)
    shape = ET.Element("shape")
    ET.SubElement(
        shape,
        "ellipse",
        major=f"{p.semi_major_m:.1f}",
        minor=f"{p.semi_minor_m:.1f}",
        angle=f"{_bearing_deg(p.orientation_deg):.2f}",
    )
    facts = ET.Element(
        "trilink_impact",
        time=iso_z(p.t_impact_s),
        sigma_s=f"{p.t_impact_sigma_s:.1f}",
        probability="0.95",
        eez=_text(p.eez_verdict),
        track=_text(p.track_id),
        nation=_text(p.nation),
    )
    when = iso_z(p.t_impact_s)
    return _event(
        IMPACT_TYPE,
        uid,
        HOW_PREDICTED,
        t_s=t_s,
        start_s=p.t_valid_s,
        stale_s=max(p.t_valid_s, p.t_impact_s + keep_s),
        point=point,
        details=[shape, facts],
        callsign=callsign or f"SIM impact {p.track_id}",
        remark=f"predicted impact of {p.nation} track {p.track_id} at {when}, 95 % ellipse",
    )


def alert_event(
    alert: Alert,
    *,
    uid: str,
    t_s: float,
    keep_s: float = DEFAULT_ALERT_KEEP_S,
    position: CotPoint | None = None,
    callsign: str | None = None,
) -> bytes:
    """One public alert (a J-Alert stage) as a CoT event (type ``b-l``, ``how="m-p"``).

    Placed at the predicted impact point the alert rests on; else at ``position``
    (e.g. :meth:`CotPoint.of_launch`); else at an unknown point. ``<trilink_alert>``
    holds its stage, the areas it names, the EEZ verdict and what it corrects; the
    remark holds its text.
    """
    _check_keep("keep_s", keep_s)
    if alert.impact_lat_deg is not None and alert.impact_lon_deg is not None:
        point = CotPoint(alert.impact_lat_deg, alert.impact_lon_deg)
    else:
        point = position or CotPoint.unknown()
    facts = ET.Element(
        "trilink_alert",
        id=_text(alert.alert_id),
        nation=_text(alert.nation),
        stage=alert.stage.value,
        areas=_text(", ".join(alert.prefectures)),
    )
    for name, value in (
        ("eez", alert.eez_verdict),
        ("correction_of", alert.correction_of),
        ("predicted_time", None if alert.predicted_t_s is None else iso_z(alert.predicted_t_s)),
    ):
        if value:
            facts.set(name, _text(value))
    return _event(
        ALERT_TYPE,
        uid,
        HOW_PREDICTED,
        t_s=t_s,
        start_s=alert.t_s,
        stale_s=alert.t_s + keep_s,
        point=point,
        details=[facts],
        callsign=callsign or f"SIM {alert.nation} alert: {alert.stage.value}",
        remark=alert.text,
    )


def center_events(
    center: WarningCenter,
    t_s: float,
    *,
    stale_s: float = DEFAULT_STALE_S,
    impact_keep_s: float = DEFAULT_IMPACT_KEEP_S,
    alert_keep_s: float = DEFAULT_ALERT_KEEP_S,
) -> list[bytes]:
    """The CoT events for everything ``center`` holds at event time ``t_s`` (POSIX s UTC).

    In order: each system track with a fused state no older than ``stale_s``; the latest
    impact prediction of each (originator, track), own or received, until
    ``impact_keep_s`` after its predicted impact; the latest alert of each issuing nation
    (own or received), until ``alert_keep_s`` after its issue — an alert without an
    impact point is placed at the centre's best launch estimate. Call it every tick and
    send the result to TAK clients (:class:`~trilink.interop.cot_feed.CotFeed`): each uid
    is stable, so an update replaces what it updates.
    """
    for name, value in (
        ("stale_s", stale_s),
        ("impact_keep_s", impact_keep_s),
        ("alert_keep_s", alert_keep_s),
    ):
        _check_keep(name, value)
    holder = center.nation
    out: list[bytes] = []
    for st in center.picture.system_tracks():
        fused = st.fused
        if fused is None or t_s - fused.t_s > stale_s:
            continue
        members = ", ".join(f"{n} {tid}" for n, tid in st.track_numbers)
        reporting = st.reporting_nation or "none"
        out.append(
            track_event(
                fused,
                uid=track_uid(holder, st.system_id),
                t_s=t_s,
                stale_s=stale_s,
                remark=f"{holder} system track {st.system_id}; national tracks: {members}; "
                f"reporting: {reporting}",
            )
        )
    for pred in _latest(
        [*center.impacts, *center.received_impacts],
        key=lambda p: (p.nation, p.track_id),
        when=lambda p: p.t_valid_s,
    ):
        if pred.t_valid_s <= t_s <= pred.t_impact_s + impact_keep_s:
            uid = f"trilink.{holder}.impact.{pred.nation}.{pred.track_id}"
            out.append(impact_event(pred, uid=uid, t_s=t_s, keep_s=impact_keep_s))
    launch = center.best_launch()
    at_launch = None if launch is None else CotPoint.of_launch(launch)
    for alert in _latest(
        [*center.lifecycle.alerts, *center.received_alerts],
        key=lambda a: (a.nation,),
        when=lambda a: a.t_s,
    ):
        if alert.t_s <= t_s <= alert.t_s + alert_keep_s:
            uid = f"trilink.{holder}.alert.{alert.nation}"
            out.append(
                alert_event(alert, uid=uid, t_s=t_s, keep_s=alert_keep_s, position=at_launch)
            )
    return out


# -- building -------------------------------------------------------------------------------


def _event(
    cot_type: str,
    uid: str,
    how: str,
    *,
    t_s: float,
    start_s: float,
    stale_s: float,
    point: CotPoint,
    details: Sequence[ET.Element],
    callsign: str,
    remark: str,
) -> bytes:
    """Serialise one event: the base attributes, its point and its detail."""
    event = ET.Element(
        "event",
        version=COT_VERSION,
        uid=_text(uid),
        type=cot_type,
        how=how,
        time=iso_z(t_s),
        start=iso_z(start_s),
        stale=iso_z(max(stale_s, start_s)),
        opex=OPEX_SIMULATION,
    )
    ET.SubElement(event, "point", _point_attributes(point))
    detail = ET.SubElement(event, "detail")
    ET.SubElement(detail, "contact", callsign=_text(callsign))
    detail.extend(details)
    remarks = ET.SubElement(detail, "remarks")
    if not remark:
        remark = SIMULATION_REMARK
    elif not remark.startswith("SIMULATION"):  # alert texts carry their own label
        remark = f"{SIMULATION_REMARK}. {remark}"
    remarks.text = _text(remark)
    body: bytes = ET.tostring(event, encoding="utf-8", xml_declaration=False)
    return _XML_DECLARATION + body


def _point_attributes(point: CotPoint) -> dict[str, str]:
    """Decimal strings (xs:decimal has no exponent) within the schema's ranges."""
    lat = min(90.0, max(-90.0, point.lat_deg))
    lon = (point.lon_deg + 180.0) % 360.0 - 180.0
    return {
        "lat": f"{lat:.7f}",
        "lon": f"{lon:.7f}",
        "hae": f"{_bounded(point.hae_m, signed=True):.1f}",
        "ce": f"{_bounded(point.ce_m):.1f}",
        "le": f"{_bounded(point.le_m):.1f}",
    }


def _bounded(value_m: float, *, signed: bool = False) -> float:
    """A length the schema accepts: unknown (9999999) when not finite or beyond that."""
    if not math.isfinite(value_m) or abs(value_m) > UNKNOWN_ERROR_M:
        return UNKNOWN_ERROR_M
    return value_m if signed else max(value_m, 0.0)


def _ce_m(p_en: NDArray[np.float64]) -> float:
    """1-sigma on the worst horizontal axis: sqrt of the East-North block's largest
    eigenvalue (m)."""
    return _sigma_m(float(np.linalg.eigvalsh(0.5 * (p_en + p_en.T))[-1]))


def _bearing_deg(angle_deg: float) -> float:
    """An angle in [0, 360) degrees at the 0.01° the events print (359.999 is 0.00)."""
    return round(angle_deg % 360.0, 2) % 360.0


def _sigma_m(variance_m2: float) -> float:
    return math.sqrt(variance_m2) if variance_m2 > 0.0 else 0.0


def _text(value: str) -> str:
    """Text safe in XML 1.0: characters XML cannot carry are dropped."""
    return _NOT_XML_CHARS.sub("", value)


def _check_keep(name: str, value_s: float) -> None:
    if not (math.isfinite(value_s) and value_s >= 0.0):
        raise ConfigError(
            f"{name} is {value_s}", field=name, fix="give a finite number of seconds, >= 0"
        )


def _latest(
    items: Iterable[_Item],
    *,
    key: Callable[[_Item], tuple[str, ...]],
    when: Callable[[_Item], float],
) -> list[_Item]:
    """The newest item (by ``when``) of each ``key``, in order of first appearance."""
    newest: dict[tuple[str, ...], _Item] = {}
    for item in items:
        k = key(item)
        if k not in newest or when(item) >= when(newest[k]):
            newest[k] = item
    return list(newest.values())
