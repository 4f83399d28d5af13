"""The API's documents as pydantic models: they write the OpenAPI document, and FastAPI
checks every answer against them.

The picture is built as plain JSON by :mod:`trilink.web.views` (a few times a second per
nation, for the WebSocket); these models describe the same fields, so ``GET
/api/picture`` validates what the feed sends.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trilink.web.replay import MAX_SPEED

__all__ = [
    "AgreementsView",
    "AlertView",
    "AlertsView",
    "AuditView",
    "Ellipse",
    "ErrorBody",
    "ErrorItem",
    "EventsView",
    "Health",
    "ImpactView",
    "LaunchView",
    "LinkChange",
    "LinkView",
    "Member",
    "NetworkView",
    "NodeStats",
    "PictureView",
    "ReplayRequest",
    "ReplayView",
    "SessionView",
    "SummaryView",
    "SystemTrackView",
    "TrackView",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorItem(_Model):
    field: str | None = Field(description="the request field at fault; null: the request")
    message: str


class ErrorBody(_Model):
    """The one error shape of every endpoint."""

    ok: Literal[False]
    error: str = Field(description="what went wrong and how to fix it")
    errors: list[ErrorItem]
    status: int = Field(description="the HTTP status, repeated")


class Health(_Model):
    ok: Literal[True]
    simulation: Literal[True]
    nations: list[str]


class SessionView(_Model):
    ok: Literal[True]
    simulation: Literal[True]
    nation: str = Field(description="the nation this token views as")
    nations: list[str]
    may_change: list[str] = Field(description="agreements this nation's operator may change")


class Ellipse(_Model):
    semi_major_m: float
    semi_minor_m: float
    orientation_deg: float = Field(description="major axis, degrees clockwise from north")


class TrackView(_Model):
    """A national track as the viewing nation holds it."""

    track_id: str
    originator: str = Field(description="the nation whose tracker made it")
    system_id: str | None
    t_s: float | None
    t_rel_s: float | None
    age_s: float | None
    status: str
    lat_deg: float | None
    lon_deg: float | None
    alt_m: float | None
    speed_m_s: float | None
    heading_deg: float | None
    climb_m_s: float | None
    ellipse: Ellipse | None = Field(description="horizontal 95 % covariance ellipse")
    sensors: list[str]
    thrusting: bool
    n_updates: int
    trail: list[list[float | None]] = Field(
        description="history: [lon_deg, lat_deg, alt_m, t_rel_s] points, latest last"
    )


class Member(_Model):
    nation: str
    track_id: str


class SystemTrackView(TrackView):
    """One of the viewing nation's fused tracks."""

    members: list[Member]
    reporting_nation: str | None


class LaunchView(_Model):
    originator: str
    track_id: str
    t_launch_s: float | None
    t_rel_s: float | None
    lat_deg: float | None
    lon_deg: float | None
    radius_95_m: float | None
    t_sigma_s: float | None


class ImpactView(_Model):
    originator: str
    track_id: str
    t_valid_s: float | None
    t_rel_s: float | None
    t_impact_s: float | None
    t_impact_rel_s: float | None
    t_impact_sigma_s: float | None
    lat_deg: float | None
    lon_deg: float | None
    semi_major_m: float | None
    semi_minor_m: float | None
    orientation_deg: float | None
    apogee_m: float | None
    eez_verdict: str
    eez_near_boundary: bool
    overflight: list[str]
    overflight_prefectures: list[str]
    impact_land: str | None


class AlertView(_Model):
    alert_id: str
    originator: str = Field(description="the nation that issued it")
    t_s: float | None
    t_rel_s: float | None
    stage: str = Field(description="J-Alert stage: launch, evacuate, update, ...")
    text: str
    prefectures: list[str]
    predicted_t_s: float | None
    eez_verdict: str
    correction_of: str | None
    launch_time_s: float | None
    impact_lat_deg: float | None
    impact_lon_deg: float | None


class LinkView(_Model):
    """An agreement into or out of the viewing nation, and what went over it."""

    agreement_id: str
    version: int
    originator: str = Field(description="`from`: the releasing nation")
    recipient: str = Field(description="`to`: the receiving nation")
    direction: Literal["outgoing", "incoming"]
    state: str
    backlog: str
    kinds: list[str]
    may_change: bool = Field(description="the viewing nation's operator may suspend/resume it")
    messages: int
    last_kind: str | None
    last_valid_rel_s: float | None
    last_received_rel_s: float | None
    lag_s: float | None = Field(description="the last message's delivery lag (event s)")
    quiet_s: float | None = Field(description="event seconds since the last message")
    path: list[str] = Field(description="the nations the last message passed through")


class NodeStats(_Model):
    released: int
    received: int
    held: int
    rejected: int
    receipts: int


class PictureView(_Model):
    """What one nation holds: the WebSocket's ``picture`` message."""

    type: Literal["picture"]
    v: int
    simulation: Literal[True]
    nation: str
    seq: int
    run: int
    event_id: str
    t_s: float | None
    t_rel_s: float | None
    t_launch_s: float | None
    flight_time_s: float | None
    tracks: list[TrackView]
    system_tracks: list[SystemTrackView]
    launch: LaunchView | None
    launch_estimates: list[LaunchView]
    impact: ImpactView | None
    impact_history: list[list[float | None]]
    received_impacts: list[ImpactView]
    alerts: list[AlertView]
    received_alerts: list[AlertView]
    links: list[LinkView]
    node: NodeStats
    summary: dict[str, Any] | None


class AlertsView(_Model):
    ok: Literal[True]
    nation: str
    run: int
    alerts: list[AlertView]
    received_alerts: list[AlertView]


class SummaryView(_Model):
    ok: Literal[True]
    nation: str
    run: int
    event_id: str
    summary: dict[str, Any] | None = Field(description="MoD-style announcement; null until held")


class AgreementsView(_Model):
    ok: Literal[True]
    nation: str
    agreements: list[LinkView]


class LinkChange(_Model):
    ok: Literal[True]
    agreement_id: str
    version: int
    state: str
    note: str


class AuditView(_Model):
    ok: Literal[True]
    nation: str
    run: int
    records: list[dict[str, Any]] = Field(description="the last audit lines, oldest first")


class ReplayView(_Model):
    ok: Literal[True]
    run: int
    state: str
    event_id: str | None
    missile: str | None
    site: str | None
    date: str | None
    speed: float | None
    seed: int
    t_rel_s: float | None
    flight_time_s: float | None
    error: str | None


class ReplayRequest(_Model):
    event_id: str = Field(
        min_length=1, max_length=100, description="library event id (GET /api/events)"
    )
    speed: float = Field(gt=0.0, le=MAX_SPEED, description="event seconds per wall second")
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1, description="default: server's")


class EventsView(_Model):
    ok: Literal[True]
    total: int
    events: list[dict[str, Any]]


class NetworkView(_Model):
    ok: Literal[True]
    nations: list[str]
    links: list[list[str]]
    radars: list[dict[str, Any]]
    infrared: list[dict[str, Any]]
