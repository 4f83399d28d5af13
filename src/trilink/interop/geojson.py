"""A GeoJSON FeatureCollection of one event as one nation saw it (SIMULATION).

RFC 7946: WGS-84 longitude, latitude (and height in metres), in that order; polygon rings
closed and their exterior counter-clockwise (§3.1.6). The features, each with
``properties.kind`` and ``properties.simulation = true``:

* ``truth-trajectory`` — LineString of the simulated missile, launch to impact;
* ``track`` — LineString of each system track the nation held (a Point when it has a
  single update), with its times;
* ``launch-truth``, ``launch-estimate``, ``impact-truth`` — Points;
* ``impact-prediction`` — Point of each predicted impact point and ``impact-ellipse``,
  the Polygon of its 95 % ellipse (``latest`` marks the last of each track);
* ``alert`` — each alert: its fields as properties (its replay JSON), at its impact point
  or the launch estimate (geometry ``null`` when neither is known).
"""

from __future__ import annotations

from typing import Final

from trilink.interop.ellipse import ellipse_ring
from trilink.interop.history import NationHistory
from trilink.interop.paths import DEFAULT_TRUTH_STEP_S, track_path, truth_path
from trilink.interop.timestamps import iso_z
from trilink.types import ImpactPrediction
from trilink.world.trajectory import Trajectory

__all__ = ["feature_collection"]

_DIGITS: Final = 6  # decimal degrees ≈ 0.1 m, as RFC 7946 §11.2 suggests
Json = dict[str, object]


def feature_collection(
    trajectory: Trajectory,
    history: NationHistory,
    *,
    event_id: str,
    truth_step_s: float = DEFAULT_TRUTH_STEP_S,
) -> Json:
    """The GeoJSON FeatureCollection of ``event_id`` as ``history.nation`` held it."""
    nation = history.nation
    truth = truth_path(trajectory, step_s=truth_step_s)
    features: list[Json] = [
        _feature(
            {"type": "LineString", "coordinates": truth.lon_lat_alt()},
            kind="truth-trajectory",
            name=f"SIMULATION truth: {event_id}",
            start_time=iso_z(float(truth.t_s[0])),
            end_time=iso_z(float(truth.t_s[-1])),
        )
    ]
    for track in history.tracks.values():
        if not track.states:
            continue
        path = track_path(track)
        coords = path.lon_lat_alt()
        geometry: Json = (
            {"type": "LineString", "coordinates": coords}
            if len(coords) >= 2
            else {"type": "Point", "coordinates": coords[0]}
        )
        features.append(
            _feature(
                geometry,
                kind="track",
                name=f"SIMULATION {nation} system track {track.system_id}",
                system_track=track.system_id,
                times=[iso_z(float(t)) for t in path.t_s],
            )
        )
    spec = trajectory.spec
    features.append(_point(spec.lat_deg, spec.lon_deg, kind="launch-truth", name=event_id))
    if history.launch is not None:
        est = history.launch
        features.append(
            _point(
                est.lat_deg,
                est.lon_deg,
                kind="launch-estimate",
                name=f"launch estimate of {est.nation}",
                launch_time=iso_z(est.t_launch_s),
                radius_95_m=round(est.radius_95_m, 1),
                time_sigma_s=round(est.t_sigma_s, 2),
            )
        )
    features.append(
        _point(
            trajectory.impact_lat_deg,
            trajectory.impact_lon_deg,
            kind="impact-truth",
            name=event_id,
            impact_time=iso_z(trajectory.t_launch_s + trajectory.impact_s),
        )
    )
    features += _impact_features(history.impacts)
    for alert in sorted(history.alerts, key=lambda a: a.t_s):
        where = history.alert_position(alert)
        features.append(
            _feature(
                None if where is None else _point_geometry(*where),
                kind="alert",
                name=f"SIMULATION {alert.nation} alert: {alert.stage.value}",
                time=iso_z(alert.t_s),
                **alert.to_json(),
            )
        )
    return {
        "type": "FeatureCollection",
        "name": f"trilink SIMULATION — {event_id} — {nation}'s picture",
        "simulation": True,
        "features": features,
    }


def _impact_features(impacts: list[ImpactPrediction]) -> list[Json]:
    last = {(p.nation, p.track_id): p for p in sorted(impacts, key=lambda p: p.t_valid_s)}
    out: list[Json] = []
    for pred in impacts:
        facts: Json = {
            "nation": pred.nation,
            "track": pred.track_id,
            "made_at": iso_z(pred.t_valid_s),
            "impact_time": iso_z(pred.t_impact_s),
            "impact_time_sigma_s": round(pred.t_impact_sigma_s, 2),
            "semi_major_m": round(pred.semi_major_m, 1),
            "semi_minor_m": round(pred.semi_minor_m, 1),
            "orientation_deg": round(pred.orientation_deg, 2),
            "probability": 0.95,
            "eez_verdict": pred.eez_verdict,
            "latest": last[(pred.nation, pred.track_id)] is pred,
        }
        out.append(_point(pred.lat_deg, pred.lon_deg, kind="impact-prediction", name="", **facts))
        ring = ellipse_ring(
            pred.lat_deg, pred.lon_deg, pred.semi_major_m, pred.semi_minor_m, pred.orientation_deg
        )
        coords = [[round(lon, _DIGITS), round(lat, _DIGITS)] for lon, lat in ring]
        out.append(
            _feature(
                {"type": "Polygon", "coordinates": [coords]},
                kind="impact-ellipse",
                name="SIMULATION 95 % impact ellipse",
                **facts,
            )
        )
    return out


def _point_geometry(lat_deg: float, lon_deg: float) -> Json:
    return {"type": "Point", "coordinates": [round(lon_deg, _DIGITS), round(lat_deg, _DIGITS)]}


def _point(lat_deg: float, lon_deg: float, *, kind: str, name: str, **props: object) -> Json:
    label = f"SIMULATION {kind}" + (f": {name}" if name else "")
    return _feature(_point_geometry(lat_deg, lon_deg), kind=kind, name=label, **props)


def _feature(geometry: Json | None, *, kind: str, name: str, **props: object) -> Json:
    return {
        "type": "Feature",
        "geometry": geometry,
        "properties": {"kind": kind, "name": name, "simulation": True, **props},
    }
