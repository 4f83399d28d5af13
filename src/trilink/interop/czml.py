"""A CZML document of one event as one nation saw it (SIMULATION), for Cesium.

CZML is a JSON array of packets; the first is the ``"document"`` packet (its ``version``
and the ``clock`` spanning the event). Then, each with ``availability`` in ISO 8601 UTC:

* ``truth/missile`` — the simulated missile, time-dynamic ``position`` as ECEF
  ``cartesian`` samples ``[seconds after epoch, x, y, z, ...]`` in the ``FIXED`` frame
  (Cesium's ECEF is WGS-84, as trilink's), with its path drawn;
* ``track/<system track>`` — each system track the nation held, the same way, one sample
  per fused update;
* ``launch/truth``, ``launch/estimate``, ``impact/truth`` — points with labels;
* ``impact/<originator>/<track>/<n>`` — each impact prediction's 95 % ellipse as a
  polygon (the ring of :func:`~trilink.interop.ellipse.ellipse_ring`, the same as the
  GeoJSON and KML exports), shown from the prediction's time until the next one;
* ``alert/<alert id>`` — each alert as a label with its text, shown until the next alert
  of its nation.

Every name and description says SIMULATION.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from trilink.interop.ellipse import ellipse_ring
from trilink.interop.history import NationHistory
from trilink.interop.paths import DEFAULT_TRUTH_STEP_S, TimedPath, track_path, truth_path
from trilink.interop.timestamps import iso_interval, iso_z
from trilink.types import Alert, ImpactPrediction
from trilink.world.trajectory import Trajectory

__all__ = ["CZML_VERSION", "czml_document"]

CZML_VERSION: Final = "1.0"
_SIM: Final = "SIMULATION"
_WHITE: Final = [255, 255, 255, 255]
_RED: Final = [230, 40, 40, 255]
_ORANGE: Final = [255, 150, 0, 255]
_ELLIPSE_FILL: Final = [255, 80, 0, 70]
_YELLOW: Final = [255, 230, 0, 255]

Packet = dict[str, object]


def czml_document(
    trajectory: Trajectory,
    history: NationHistory,
    *,
    event_id: str,
    truth_step_s: float = DEFAULT_TRUTH_STEP_S,
) -> list[Packet]:
    """The CZML packets of ``event_id`` as ``history.nation`` held it, with the truth."""
    truth = truth_path(trajectory, step_s=truth_step_s)
    start = trajectory.t_launch_s
    stop = max(
        float(truth.t_s[-1]),
        history.end_s or start,
        *(a.t_s for a in history.alerts),
    )
    nation = history.nation
    packets: list[Packet] = [
        {
            "id": "document",
            "name": f"trilink {_SIM} — {event_id} — {nation}'s picture",
            "version": CZML_VERSION,
            "clock": {
                "interval": iso_interval(start, stop),
                "currentTime": iso_z(start),
                "multiplier": 10,
                "range": "LOOP_STOP",
                "step": "SYSTEM_CLOCK_MULTIPLIER",
            },
        },
        _path_packet(
            "truth/missile",
            f"{_SIM} truth: the simulated missile",
            truth,
            _WHITE,
            description=f"{_SIM}. The simulated flight of {event_id} (re-entry vehicle).",
        ),
    ]
    for track in history.tracks.values():
        if track.states:
            packets.append(
                _path_packet(
                    f"track/{track.system_id}",
                    f"{_SIM} {nation} system track {track.system_id}",
                    track_path(track),
                    _RED,
                    description=f"{_SIM}. {nation}'s fused track {track.system_id}.",
                )
            )
    spec = trajectory.spec
    packets.append(
        _point_packet("launch/truth", f"{_SIM} launch (truth)", spec.lat_deg, spec.lon_deg, _WHITE)
    )
    if history.launch is not None:
        est = history.launch
        label = f"{_SIM} launch estimate ({est.nation})"
        packets.append(_point_packet("launch/estimate", label, est.lat_deg, est.lon_deg, _ORANGE))
    packets.append(
        _point_packet(
            "impact/truth",
            f"{_SIM} impact (truth)",
            trajectory.impact_lat_deg,
            trajectory.impact_lon_deg,
            _WHITE,
        )
    )
    packets += _impact_packets(history.impacts, stop)
    packets += _alert_packets(history.alerts, history, stop)
    return packets


def _path_packet(
    packet_id: str, name: str, path: TimedPath, rgba: list[int], *, description: str
) -> Packet:
    epoch = float(path.t_s[0])
    samples: list[float] = []
    for t, r in zip(path.t_s, path.ecef_m, strict=True):
        samples += [round(float(t) - epoch, 3), *(round(float(v), 1) for v in r)]
    return {
        "id": packet_id,
        "name": name,
        "description": description,
        "availability": iso_interval(epoch, float(path.t_s[-1])),
        "position": {"epoch": iso_z(epoch), "referenceFrame": "FIXED", "cartesian": samples},
        "point": {"pixelSize": 7, "color": {"rgba": rgba}},
        "path": {
            "material": {"solidColor": {"color": {"rgba": rgba}}},
            "width": 2,
            "leadTime": 0,
            "trailTime": 1.0e6,
        },
        "label": {"text": name, "font": "12px sans-serif", "pixelOffset": {"cartesian2": [8, -8]}},
    }


def _point_packet(
    packet_id: str, name: str, lat_deg: float, lon_deg: float, rgba: list[int]
) -> Packet:
    return {
        "id": packet_id,
        "name": name,
        "position": {"cartographicDegrees": [round(lon_deg, 6), round(lat_deg, 6), 0.0]},
        "point": {"pixelSize": 9, "color": {"rgba": rgba}},
        "label": {"text": name, "font": "12px sans-serif", "pixelOffset": {"cartesian2": [8, 8]}},
    }


def _impact_packets(impacts: Sequence[ImpactPrediction], stop_s: float) -> list[Packet]:
    """Each prediction's ellipse, shown until the next prediction of the same track."""
    by_track: dict[tuple[str, str], list[ImpactPrediction]] = {}
    for pred in sorted(impacts, key=lambda p: p.t_valid_s):
        by_track.setdefault((pred.nation, pred.track_id), []).append(pred)
    out: list[Packet] = []
    for (origin, track_id), preds in by_track.items():
        for n, pred in enumerate(preds):
            until = preds[n + 1].t_valid_s if n + 1 < len(preds) else stop_s
            ring = ellipse_ring(
                pred.lat_deg,
                pred.lon_deg,
                pred.semi_major_m,
                pred.semi_minor_m,
                pred.orientation_deg,
            )[:-1]
            positions: list[float] = []
            for lon, lat in ring:
                positions += [round(lon, 6), round(lat, 6), 0.0]
            out.append(
                {
                    "id": f"impact/{origin}/{track_id}/{n}",
                    "name": f"{_SIM} predicted impact ({origin} {track_id}, 95 %)",
                    "description": f"{_SIM}. Predicted impact at {iso_z(pred.t_impact_s)} "
                    f"(±{pred.t_impact_sigma_s:.0f} s), made at {iso_z(pred.t_valid_s)}; "
                    f"Japan EEZ: {pred.eez_verdict}.",
                    "availability": iso_interval(pred.t_valid_s, max(until, pred.t_valid_s)),
                    "polygon": {
                        "positions": {"cartographicDegrees": positions},
                        "height": 0.0,
                        "material": {"solidColor": {"color": {"rgba": _ELLIPSE_FILL}}},
                        "outline": True,
                        "outlineColor": {"rgba": _ORANGE},
                    },
                }
            )
    return out


def _alert_packets(alerts: Sequence[Alert], history: NationHistory, stop_s: float) -> list[Packet]:
    """Each alert as a label at its impact point (else the launch estimate), shown until the
    next alert of its nation."""
    ordered = sorted(alerts, key=lambda a: a.t_s)
    out: list[Packet] = []
    for n, alert in enumerate(ordered):
        later = [a.t_s for a in ordered[n + 1 :] if a.nation == alert.nation]
        until = later[0] if later else stop_s
        areas = ", ".join(alert.prefectures)
        name = f"{_SIM} {alert.nation} alert: {alert.stage.value}" + (
            f" ({areas})" if areas else ""
        )
        packet: Packet = {
            "id": f"alert/{alert.alert_id}",
            "name": name,
            "description": alert.text,
            "availability": iso_interval(alert.t_s, max(until, alert.t_s)),
        }
        where = history.alert_position(alert)
        if where is not None:
            packet["position"] = {
                "cartographicDegrees": [round(where[1], 6), round(where[0], 6), 0.0]
            }
            packet["label"] = {
                "text": name,
                "font": "14px sans-serif",
                "fillColor": {"rgba": _YELLOW},
                "pixelOffset": {"cartesian2": [0, -24]},
            }
        out.append(packet)
    return out
