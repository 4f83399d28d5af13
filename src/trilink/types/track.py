"""Tracks as shared between stages: immutable snapshots with provenance."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from trilink.types.state import Covariance, StateVector

__all__ = ["Track", "TrackState"]


class TrackState(StrEnum):
    """Lifecycle of a track."""

    TENTATIVE = "tentative"
    CONFIRMED = "confirmed"
    COASTING = "coasting"
    DROPPED = "dropped"


@dataclass(frozen=True, slots=True)
class Track:
    """A snapshot of one track: ECEF state (m, m/s[, m/s²]) and covariance at ``t_s``."""

    track_id: str = field(metadata={"doc": "owned by the tracker instance, e.g. JPN-T0001"})
    nation: str = field(metadata={"doc": "originating nation (ISO alpha-3)"})
    t_s: float = field(metadata={"doc": "time of validity, POSIX seconds UTC"})
    state: StateVector
    covariance: Covariance
    status: TrackState
    sensors: tuple[str, ...] = field(metadata={"doc": "sensors whose data this track holds"})
    first_t_s: float = field(metadata={"doc": "time of the first detection in this track"})
    n_updates: int = 0
    thrusting: bool = field(
        default=False, metadata={"doc": "may be under thrust (not yet confirmed ballistic)"}
    )
