"""Warning products: launch estimates and impact predictions."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ImpactPrediction", "LaunchEstimate"]


@dataclass(frozen=True, slots=True)
class LaunchEstimate:
    """Where and when a missile was launched, estimated from a track."""

    t_launch_s: float = field(metadata={"doc": "estimated launch time, POSIX seconds UTC"})
    lat_deg: float
    lon_deg: float
    radius_95_m: float = field(metadata={"doc": "radius of the 95 % launch-area circle"})
    t_sigma_s: float = field(metadata={"doc": "1-sigma uncertainty of the launch time"})
    track_id: str = field(metadata={"doc": "the national track it was estimated from"})
    nation: str = field(metadata={"doc": "the nation that issued it"})


@dataclass(frozen=True, slots=True)
class ImpactPrediction:
    """Predicted impact point with its 95 % ellipse, as known at ``t_valid_s``."""

    t_valid_s: float = field(metadata={"doc": "time of the track state it was made from"})
    t_impact_s: float = field(metadata={"doc": "predicted impact time, POSIX seconds UTC"})
    lat_deg: float
    lon_deg: float
    semi_major_m: float = field(metadata={"doc": "95 % ellipse semi-major axis"})
    semi_minor_m: float = field(metadata={"doc": "95 % ellipse semi-minor axis"})
    orientation_deg: float = field(metadata={"doc": "semi-major axis, clockwise from north"})
    apogee_m: float = field(metadata={"doc": "highest altitude on the track + prediction"})
    eez_verdict: str = field(metadata={"doc": "inside / outside / joint-or-disputed"})
    eez_near_boundary: bool
    overflight: tuple[str, ...] = field(metadata={"doc": "land regions overflown, in order"})
    track_id: str = ""
    nation: str = ""
    t_impact_sigma_s: float = field(
        default=0.0, metadata={"doc": "1-sigma uncertainty of t_impact_s, seconds"}
    )
    overflight_times_s: tuple[float, ...] = field(
        default=(),
        metadata={
            "doc": "time of first entering each region of overflight (parallel to it), POSIX "
            "seconds UTC; nan where the entry lies in a past path given without times"
        },
    )
    overflight_prefectures: tuple[str, ...] = field(
        default=(), metadata={"doc": "Japanese prefectures overflown, in order of entry"}
    )
    overflight_prefecture_times_s: tuple[float, ...] = field(
        default=(),
        metadata={"doc": "time of first entering each of overflight_prefectures, POSIX s UTC"},
    )
    korea_overflight: tuple[str, ...] = field(
        default=(), metadata={"doc": "South Korea / North Korea land overflown, in order"}
    )
    korea_overflight_times_s: tuple[float, ...] = field(
        default=(), metadata={"doc": "time of first entering each of korea_overflight, POSIX s"}
    )
    impact_land: str | None = field(
        default=None,
        metadata={
            "doc": "land under the predicted impact point: a Japanese island, South Korea, "
            "North Korea, or None (sea or land not covered)"
        },
    )
    drag_modelled: bool = field(
        default=False, metadata={"doc": "re-entry drag (uncertain ballistic coefficient) modelled"}
    )
