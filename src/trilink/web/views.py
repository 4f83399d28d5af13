"""Per-nation picture snapshots as JSON: what one nation holds, and nothing else.

:func:`nation_picture` reads one nation's warning centre and node at the end of a tick
(:class:`~trilink.simulation.Step`) and returns the document its viewers receive (the
WebSocket's ``picture`` message and ``GET /api/picture``):

- ``tracks``: the national tracks in the nation's picture — its own tracker's and those
  partners released to it — each at its latest update, with a trail of its history and
  its horizontal 95 % covariance ellipse; ``originator`` is the nation whose tracker
  made it;
- ``system_tracks``: the nation's fused tracks (``JPN-S001``) with the national tracks
  they hold;
- ``launch`` (the best launch estimate it holds) and ``launch_estimates``, ``impact``
  (its own latest impact prediction with the 95 % ellipse), ``impact_history``,
  ``received_impacts`` (partners' latest, one per partner);
- ``alerts`` (its own lifecycle, J-Alert stages) and ``received_alerts``;
- ``links``: the agreements into and out of the nation as its node holds them, with
  what went over them (:mod:`trilink.web.links`); ``node``: its node's counters;
- ``summary``: its announcement so far (MoD-style fields), once it has one.

Nothing of another nation's private view is read: only ``step.centers[nation]``,
``step.nodes[nation]`` and the link rows naming the nation. Positions are geodetic
(degrees, metres) at this edge; times are POSIX seconds with ``t_rel_s`` (seconds after
the launch of the replayed event) beside them. Non-finite numbers become ``null``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import numpy as np

from trilink.alerting.warnings import WarningCenter
from trilink.fusion.picture import SystemTrack
from trilink.geo.earth import ecef_to_geodetic, enu_rotation
from trilink.geo.ellipse import ellipse_95
from trilink.sharing.agreements import Agreement
from trilink.sharing.node import Node
from trilink.simulation import Step
from trilink.types import Alert, ImpactPrediction, LaunchEstimate, Track
from trilink.web.auth import may_change
from trilink.web.links import LinkBook
from trilink.world.library import load_library

__all__ = [
    "PICTURE_VERSION",
    "RunInfo",
    "SummaryCache",
    "empty_picture",
    "horizontal_ellipse",
    "link_row",
    "nation_picture",
]

PICTURE_VERSION: Final = 1
"""Version of the picture document (``v``); bumped when a field changes meaning."""

TRAIL_POINTS: Final = 120
"""At most this many points of a track's history are sent (evenly spaced, latest last)."""

IMPACT_HISTORY: Final = 40
"""At most this many past impact points are sent."""


@dataclass(frozen=True, slots=True)
class RunInfo:
    """The replay a picture belongs to."""

    run: int
    event_id: str
    t_launch_s: float
    flight_time_s: float


def _num(x: float | None) -> float | None:
    """A JSON-safe float: ``None`` for ``None`` and non-finite values."""
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def horizontal_ellipse(
    lat_deg: float, lon_deg: float, cov_ecef: np.ndarray
) -> dict[str, float] | None:
    """The 95 % ellipse of a position covariance (ECEF, m²) in the local horizontal
    plane: semi-axes (m) and the major axis' orientation (degrees clockwise from north).
    ``None`` when the covariance is absent or not finite."""
    p = np.asarray(cov_ecef, dtype=np.float64)
    if p.shape[0] < 3 or not np.all(np.isfinite(p[:3, :3])):
        return None
    rot = enu_rotation(math.radians(lat_deg), math.radians(lon_deg))
    major, minor, orientation = ellipse_95((rot @ p[:3, :3] @ rot.T)[:2, :2])
    return {"semi_major_m": major, "semi_minor_m": minor, "orientation_deg": orientation}


def _trail(history: Sequence[Track], t_launch_s: float) -> list[list[float | None]]:
    if not history:
        return []
    n = len(history)
    idx = range(n) if n <= TRAIL_POINTS else np.linspace(0, n - 1, TRAIL_POINTS).astype(int)
    picked = [history[i] for i in idx]
    pos = np.array([t.state[:3] for t in picked])
    lat, lon, alt = ecef_to_geodetic(pos)
    return [
        [_num(lo), _num(la), _num(al), _num(t.t_s - t_launch_s)]
        for lo, la, al, t in zip(lon, lat, alt, picked, strict=True)
    ]


def _track(
    track: Track,
    history: Sequence[Track],
    *,
    now_s: float,
    t_launch_s: float,
    originator: str,
    system_id: str | None,
) -> dict[str, Any]:
    lat_a, lon_a, alt_a = ecef_to_geodetic(track.state[:3])
    lat, lon, alt = float(lat_a), float(lon_a), float(alt_a)
    rot = enu_rotation(math.radians(lat), math.radians(lon))
    v_enu = rot @ track.state[3:6] if track.state.shape[0] >= 6 else np.zeros(3)
    return {
        "track_id": track.track_id,
        "originator": originator,
        "system_id": system_id,
        "t_s": _num(track.t_s),
        "t_rel_s": _num(track.t_s - t_launch_s),
        "age_s": _num(now_s - track.t_s),
        "status": track.status.value,
        "lat_deg": _num(lat),
        "lon_deg": _num(lon),
        "alt_m": _num(alt),
        "speed_m_s": _num(float(np.linalg.norm(track.state[3:6]))),
        "heading_deg": _num(math.degrees(math.atan2(v_enu[0], v_enu[1])) % 360.0),
        "climb_m_s": _num(float(v_enu[2])),
        "ellipse": horizontal_ellipse(lat, lon, track.covariance),
        "sensors": list(track.sensors),
        "thrusting": bool(track.thrusting),
        "n_updates": int(track.n_updates),
        "trail": _trail(history, t_launch_s),
    }


def _system_track(st: SystemTrack, now_s: float, t_launch_s: float) -> dict[str, Any] | None:
    if st.fused is None:
        return None
    out = _track(
        st.fused,
        st.fused_history,
        now_s=now_s,
        t_launch_s=t_launch_s,
        originator=st.fused.nation,
        system_id=st.system_id,
    )
    out["members"] = [{"nation": n, "track_id": t} for n, t in st.track_numbers]
    out["reporting_nation"] = st.reporting_nation
    return out


def _launch(est: LaunchEstimate, t_launch_s: float) -> dict[str, Any]:
    return {
        "originator": est.nation,
        "track_id": est.track_id,
        "t_launch_s": _num(est.t_launch_s),
        "t_rel_s": _num(est.t_launch_s - t_launch_s),
        "lat_deg": _num(est.lat_deg),
        "lon_deg": _num(est.lon_deg),
        "radius_95_m": _num(est.radius_95_m),
        "t_sigma_s": _num(est.t_sigma_s),
    }


def _impact(imp: ImpactPrediction, t_launch_s: float, originator: str) -> dict[str, Any]:
    return {
        "originator": originator,
        "track_id": imp.track_id,
        "t_valid_s": _num(imp.t_valid_s),
        "t_rel_s": _num(imp.t_valid_s - t_launch_s),
        "t_impact_s": _num(imp.t_impact_s),
        "t_impact_rel_s": _num(imp.t_impact_s - t_launch_s),
        "t_impact_sigma_s": _num(imp.t_impact_sigma_s),
        "lat_deg": _num(imp.lat_deg),
        "lon_deg": _num(imp.lon_deg),
        "semi_major_m": _num(imp.semi_major_m),
        "semi_minor_m": _num(imp.semi_minor_m),
        "orientation_deg": _num(imp.orientation_deg),
        "apogee_m": _num(imp.apogee_m),
        "eez_verdict": imp.eez_verdict,
        "eez_near_boundary": bool(imp.eez_near_boundary),
        "overflight": list(imp.overflight),
        "overflight_prefectures": list(imp.overflight_prefectures),
        "impact_land": imp.impact_land,
    }


def _alert(alert: Alert, t_launch_s: float) -> dict[str, Any]:
    return {
        "alert_id": alert.alert_id,
        "originator": alert.nation,
        "t_s": _num(alert.t_s),
        "t_rel_s": _num(alert.t_s - t_launch_s),
        "stage": alert.stage.value,
        "text": alert.text,
        "prefectures": list(alert.prefectures),
        "predicted_t_s": _num(alert.predicted_t_s),
        "eez_verdict": alert.eez_verdict,
        "correction_of": alert.correction_of,
        "launch_time_s": _num(alert.launch_time_s),
        "impact_lat_deg": _num(alert.impact_lat_deg),
        "impact_lon_deg": _num(alert.impact_lon_deg),
    }


def link_row(
    agreement: Agreement, nation: str, links: LinkBook, now_s: float, t_launch_s: float
) -> dict[str, Any]:
    """One row of ``nation``'s links panel: the agreement as ``nation`` holds it, and the
    traffic ``links`` saw on it (times relative to ``t_launch_s``)."""
    stat = links.get(agreement.originator, agreement.recipient)
    row: dict[str, Any] = {
        "agreement_id": agreement.id,
        "version": agreement.version,
        "originator": agreement.originator,
        "recipient": agreement.recipient,
        "direction": "outgoing" if agreement.originator == nation else "incoming",
        "state": agreement.state.value,
        "backlog": agreement.backlog.value,
        "kinds": sorted(k.value for k in agreement.kinds),
        "may_change": may_change(nation, agreement),
        "messages": 0,
        "last_kind": None,
        "last_valid_rel_s": None,
        "last_received_rel_s": None,
        "lag_s": None,
        "quiet_s": None,
        "path": [],
    }
    if stat is not None:
        row.update(
            messages=stat.messages,
            last_kind=stat.last_kind,
            last_valid_rel_s=_num(stat.last_valid_s - t_launch_s),
            last_received_rel_s=_num(stat.last_received_s - t_launch_s),
            lag_s=_num(stat.lag_s),
            quiet_s=_num(now_s - stat.last_received_s),
            path=list(stat.last_path),
        )
    return row


def _node(node: Node) -> dict[str, int]:
    return {
        "released": node.released,
        "received": node.received,
        "held": node.held,
        "rejected": sum(node.rejected.values()),
        "receipts": node.receipts,
    }


def _latest_per_originator(impacts: Sequence[ImpactPrediction]) -> list[ImpactPrediction]:
    latest: dict[str, ImpactPrediction] = {}
    for imp in impacts:
        if imp.nation not in latest or imp.t_valid_s >= latest[imp.nation].t_valid_s:
            latest[imp.nation] = imp
    return [latest[n] for n in sorted(latest)]


class SummaryCache:
    """Each nation's announcement, made again only when what it rests on changed (its best
    launch estimate or its impact predictions): naming the launch site searches the
    library, too slow to repeat a few times a second."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[tuple[object, int], dict[str, Any] | None]] = {}

    def get(self, center: WarningCenter) -> dict[str, Any] | None:
        best = center.best_launch()
        key = (best, len(center.impacts))
        held = self._held.get(center.nation)
        if held is not None and held[0] == key:
            return held[1]
        summary = center.summary(load_library()) if best is not None and center.impacts else None
        doc = None if summary is None else msgspec.to_builtins(summary)
        self._held[center.nation] = (key, doc)
        return doc


def nation_picture(
    step: Step,
    nation: str,
    *,
    info: RunInfo,
    links: LinkBook,
    seq: int,
    summaries: SummaryCache | None = None,
) -> dict[str, Any]:
    """What ``nation`` holds at the end of ``step``, as the JSON document its viewers get
    (see the module docstring). ``summaries`` keeps announcements between calls."""
    center: WarningCenter = step.centers[nation]
    node = step.nodes[nation]
    now, t0 = step.t_s, info.t_launch_s
    tracks: list[dict[str, Any]] = []
    systems: list[dict[str, Any]] = []
    for st in center.picture.system_tracks():
        for (originator, _), history in st.members.items():
            tracks.append(
                _track(
                    history[-1],
                    history,
                    now_s=now,
                    t_launch_s=t0,
                    originator=originator,
                    system_id=st.system_id,
                )
            )
        fused = _system_track(st, now, t0)
        if fused is not None:
            systems.append(fused)
    best = center.best_launch()
    impact = center.impacts[-1] if center.impacts else None
    summary = (summaries or SummaryCache()).get(center)
    agreements = [a for a in node.agreements if nation in (a.originator, a.recipient)]
    return {
        "type": "picture",
        "v": PICTURE_VERSION,
        "simulation": True,
        "nation": nation,
        "seq": seq,
        "run": info.run,
        "event_id": info.event_id,
        "t_s": _num(now),
        "t_rel_s": _num(step.t_rel_s),
        "t_launch_s": _num(t0),
        "flight_time_s": _num(info.flight_time_s),
        "tracks": tracks,
        "system_tracks": systems,
        "launch": None if best is None else _launch(best, t0),
        "launch_estimates": [_launch(e, t0) for e in center.launch_estimates],
        "impact": None if impact is None else _impact(impact, t0, nation),
        "impact_history": [
            [_num(i.lon_deg), _num(i.lat_deg)] for i in center.impacts[-IMPACT_HISTORY:]
        ],
        "received_impacts": [
            _impact(i, t0, i.nation) for i in _latest_per_originator(center.received_impacts)
        ],
        "alerts": [_alert(a, t0) for a in center.lifecycle.alerts],
        "received_alerts": [_alert(a, t0) for a in center.received_alerts],
        "links": [link_row(a, nation, links, now, t0) for a in agreements],
        "node": _node(node),
        "summary": summary,
    }


def empty_picture(nation: str, *, run: int = 0, event_id: str = "") -> dict[str, Any]:
    """The picture before the first tick of a replay: nothing held yet."""
    return {
        "type": "picture",
        "v": PICTURE_VERSION,
        "simulation": True,
        "nation": nation,
        "seq": 0,
        "run": run,
        "event_id": event_id,
        "t_s": None,
        "t_rel_s": None,
        "t_launch_s": None,
        "flight_time_s": None,
        "tracks": [],
        "system_tracks": [],
        "launch": None,
        "launch_estimates": [],
        "impact": None,
        "impact_history": [],
        "received_impacts": [],
        "alerts": [],
        "received_alerts": [],
        "links": [],
        "node": {"released": 0, "received": 0, "held": 0, "rejected": 0, "receipts": 0},
        "summary": None,
    }
