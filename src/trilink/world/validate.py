"""The simulated world held against the public record (Japan MoD announcements).

For every library launch with a published flight time (``data/published_flights.toml``)
the launch is replayed and the simulated flight time, apogee and range are set beside the
published ones, with the EEZ and overflight verdicts. SIMULATION.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import msgspec

from trilink._tomlfile import config_error, parse_toml
from trilink.world.launches import facts, fly_event
from trilink.world.library import load_library

__all__ = ["PublishedFlight", "ValidationRow", "published_flights", "validate"]

_RESOURCE = "trilink/world/data/published_flights.toml"


class PublishedFlight(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What MoD announced for one launch."""

    event: str
    flight_time_min: float
    eez: str | None = None
    overflight: list[str] = msgspec.field(default_factory=list)
    note: str = ""


class _File(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    format: int
    flight: list[PublishedFlight]


def published_flights() -> list[PublishedFlight]:
    text = files("trilink.world").joinpath("data", "published_flights.toml").read_text("utf-8")
    try:
        return msgspec.convert(parse_toml(text, source=_RESOURCE), _File).flight
    except msgspec.ValidationError as exc:
        raise config_error(
            exc,
            source=_RESOURCE,
            known_fields=lambda p: (),
            how_to_write={},
            default_fix="reinstall trilink",
        ) from exc


@dataclass(frozen=True)
class ValidationRow:
    """One launch: published against simulated."""

    published: PublishedFlight
    simulated: dict[str, Any]
    record_apogee_km: float | None
    record_range_km: float | None

    @property
    def flight_time_error(self) -> float:
        """Relative error of the simulated flight time."""
        sim = float(self.simulated["flight_time_s"]) / 60.0
        return sim / self.published.flight_time_min - 1.0

    @property
    def overflight_ok(self) -> bool:
        sim = set(self.simulated["overflight_regions"]) | set(
            self.simulated["overflight_prefectures"]
        )
        return set(self.published.overflight) <= sim and (
            bool(self.published.overflight) == bool(self.simulated["overflight_japan"])
        )

    @property
    def eez_ok(self) -> bool:
        if self.published.eez is None:
            return True
        return (self.published.eez == "inside") == bool(self.simulated["impact_in_japan_eez"])


def validate() -> list[ValidationRow]:
    """Replay every launch with a published flight time."""
    lib = load_library()
    rows = []
    for pub in published_flights():
        event = lib.get(pub.event)
        rows.append(ValidationRow(pub, facts(fly_event(event)), event.apogee_km, event.range_km))
    return rows
