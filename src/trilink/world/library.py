"""The historical launch library: North Korean missile flight tests, 1984 onwards.

The records are the CNS North Korea Missile Test Database as shipped by nagix/nk-missile-tests
(see ``data/nk_missile_tests/ATTRIBUTION.md``). They are read once, lazily, from the package
data with :mod:`importlib.resources`, and parsed into frozen dataclasses.

Units are those of the public record and are named on every field: apogee and range in km,
bearing in degrees clockwise from true north, site latitude/longitude in degrees (WGS-84),
times in UTC. Where the record is silent (``"unknown"``, ``"na"``), the field is ``None``.

Each launch has a stable id ``{date}-{missile key}-{series}``, for example
``2017-08-28-hwasong-12-1`` (the Hwasong-12 that overflew Hokkaido on 2017-08-29 JST,
20:58 UTC on 2017-08-28). Records without a series number are numbered 1, 2, ... in file
order within the same date and missile, skipping numbers already taken.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files

from trilink.errors import DataError, UnknownEventError

__all__ = [
    "DEFAULT_EVENT_ID",
    "Facility",
    "LaunchEvent",
    "Library",
    "MissileInfo",
    "load_library",
]

DEFAULT_EVENT_ID = "2017-08-28-hwasong-12-1"
"""The 2017-08-29 JST Hwasong-12 from Sunan over Hokkaido (apogee ~550 km, range ~2,700 km)."""

_DATA_DIR = ("data", "nk_missile_tests")
_SILENT = frozenset({"unknown", "na", ""})
_OUTCOMES = frozenset({"success", "failure", "unknown"})
_DATE_RE = re.compile(r"\d{4}-\d{2}(?:-\d{2})?")
_TIME_RE = re.compile(r"([01]\d|2[0-3]):([0-5]\d) \(UTC\)")


@dataclass(frozen=True)
class Facility:
    """A launch facility: a key into ``facility.en.json``, its name and position (degrees)."""

    key: str
    name: str
    lat_deg: float
    lon_deg: float


@dataclass(frozen=True)
class MissileInfo:
    """A missile class: key into ``missile.en.json``, display name, type and maneuver.

    ``type`` is the class as recorded (``SRBM``, ``IRBM``, ``ICBM``, ``SLBM``, ``SLV``, ...);
    ``maneuver`` is ``"pullup"``, ``"glide"`` or ``None`` for a plain ballistic flight.
    """

    key: str
    name: str
    type: str
    maneuver: str | None


@dataclass(frozen=True)
class LaunchEvent:
    """One flight test as published.

    ``date`` is ``YYYY-MM-DD`` (a few records before 1993 give only ``YYYY-MM``), and
    ``time_utc`` is ``HH:MM`` in UTC or ``None`` when unknown. ``apogee_km``, ``range_km``
    and ``bearing_deg`` (clockwise from true north) are ``None`` where the record is silent.
    """

    id: str
    date: str
    time_utc: str | None
    missile: MissileInfo
    site: Facility
    apogee_km: float | None
    range_km: float | None
    bearing_deg: float | None
    outcome: str
    landing: str | None
    description: str

    @property
    def launch_time(self) -> datetime | None:
        """The launch instant as a timezone-aware UTC datetime, or ``None`` if unknown."""
        if self.time_utc is None or len(self.date) != len("YYYY-MM-DD"):
            return None
        naive = datetime.strptime(f"{self.date} {self.time_utc}", "%Y-%m-%d %H:%M")
        return naive.replace(tzinfo=UTC)

    def to_json(self) -> dict[str, object]:
        """A flat JSON-ready summary; missile and site are given by key, ``None`` if silent."""
        return {
            "id": self.id,
            "date": self.date,
            "time_utc": self.time_utc,
            "missile": self.missile.key,
            "site": self.site.key,
            "site_lat": self.site.lat_deg,
            "site_lon": self.site.lon_deg,
            "apogee_km": self.apogee_km,
            "range_km": self.range_km,
            "bearing_deg": self.bearing_deg,
            "outcome": self.outcome,
        }


@dataclass(frozen=True)
class Library:
    """All launches in chronological (file) order, with the facilities and missiles they use."""

    events: tuple[LaunchEvent, ...]
    facilities: dict[str, Facility]
    missiles: dict[str, MissileInfo]
    _by_id: dict[str, LaunchEvent] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id: dict[str, LaunchEvent] = {}
        for event in self.events:
            if event.id in by_id:
                raise DataError(f"two launches share the id {event.id!r}; ids must be unique")
            by_id[event.id] = event
        object.__setattr__(self, "_by_id", by_id)

    def get(self, event_id: str) -> LaunchEvent:
        """The launch with this id; raises :class:`UnknownEventError` with close ids."""
        try:
            return self._by_id[event_id]
        except KeyError:
            close = difflib.get_close_matches(event_id, self._by_id, n=3)
            raise UnknownEventError(event_id, close) from None

    def facility(self, key: str) -> Facility:
        """The launch facility with this key; raises :class:`DataError` naming valid keys."""
        try:
            return self.facilities[key]
        except KeyError:
            close = difflib.get_close_matches(key, self.facilities, n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise DataError(
                f"no launch facility has key {key!r}.{hint} Valid keys are those of "
                "`load_library().facilities` (the keys of facility.en.json `facilities`)."
            ) from None


@functools.cache
def load_library() -> Library:
    """Read and parse the shipped launch library (once per process)."""
    facilities = _parse_facilities(_read_json("facility.en.json"))
    missiles = _parse_missiles(_read_json("missile.en.json"))
    records = _records(_read_json("test.en.json"))
    ids = _assign_ids(records)
    events = tuple(
        _parse_event(index, record, event_id, facilities, missiles)
        for index, (record, event_id) in enumerate(zip(records, ids, strict=True))
    )
    return Library(events=events, facilities=facilities, missiles=missiles)


def _read_json(name: str) -> object:
    resource = files("trilink.world").joinpath(*_DATA_DIR, name)
    try:
        return json.loads(resource.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(
            f"cannot read the shipped launch data {name}: {exc}. Reinstall trilink."
        ) from exc


def _parse_facilities(doc: object) -> dict[str, Facility]:
    table = _mapping(_mapping(doc, "facility.en.json").get("facilities"), "facilities")
    out: dict[str, Facility] = {}
    for key, raw in table.items():
        where = f"facility.en.json facility {key!r}"
        entry = _mapping(raw, where)
        out[key] = Facility(
            key=key,
            name=_text(entry.get("name"), f"{where} field 'name'"),
            lat_deg=_number(entry.get("lat"), f"{where} field 'lat'"),
            lon_deg=_number(entry.get("lon"), f"{where} field 'lon'"),
        )
    return out


def _parse_missiles(doc: object) -> dict[str, MissileInfo]:
    out: dict[str, MissileInfo] = {}
    for key, raw in _mapping(doc, "missile.en.json").items():
        where = f"missile.en.json missile {key!r}"
        entry = _mapping(raw, where)
        maneuver = entry.get("maneuver")
        out[key] = MissileInfo(
            key=key,
            name=_text(entry.get("name"), f"{where} field 'name'"),
            type=_text(entry.get("type"), f"{where} field 'type'"),
            maneuver=None if maneuver is None else _text(maneuver, f"{where} field 'maneuver'"),
        )
    return out


def _records(doc: object) -> list[dict[str, object]]:
    bins = _mapping(doc, "test.en.json").get("timeBins")
    if not isinstance(bins, list):
        raise DataError("test.en.json: field 'timeBins' is not a list")
    records: list[dict[str, object]] = []
    for b, raw_bin in enumerate(bins):
        data = _mapping(raw_bin, f"test.en.json timeBins[{b}]").get("data")
        if not isinstance(data, list):
            raise DataError(f"test.en.json timeBins[{b}]: field 'data' is not a list")
        start = len(records)
        records.extend(_mapping(r, f"test.en.json record {start + i}") for i, r in enumerate(data))
    return records


def _assign_ids(records: list[dict[str, object]]) -> list[str]:
    """``{date}-{missile}-{series}``; missing series numbered per date+missile, no reuse."""
    used: dict[tuple[str, str], set[int]] = {}
    keys: list[tuple[str, str]] = []
    for index, record in enumerate(records):
        where = f"test.en.json record {index}"
        key = (
            _text(record.get("date"), f"{where} field 'date'"),
            _text(record.get("missile"), f"{where} field 'missile'"),
        )
        keys.append(key)
        series = record.get("series")
        if series is not None:
            used.setdefault(key, set()).add(_series(series, f"{where} field 'series'"))
    ids: list[str] = []
    for index, (record, key) in enumerate(zip(records, keys, strict=True)):
        series = record.get("series")
        if series is None:
            taken = used.setdefault(key, set())
            number = next(n for n in range(1, len(taken) + 2) if n not in taken)
            taken.add(number)
        else:
            number = _series(series, f"test.en.json record {index} field 'series'")
        ids.append(f"{key[0]}-{key[1]}-{number}")
    return ids


def _parse_event(
    index: int,
    record: dict[str, object],
    event_id: str,
    facilities: dict[str, Facility],
    missiles: dict[str, MissileInfo],
) -> LaunchEvent:
    where = f"test.en.json record {index} ({event_id})"

    def at(name: str) -> str:
        return f"{where} field {name!r}"

    date = _text(record.get("date"), at("date"))
    if not _DATE_RE.fullmatch(date):
        raise DataError(f"{at('date')}: {date!r} is not YYYY-MM-DD or YYYY-MM")
    missile_key = _text(record.get("missile"), at("missile"))
    facility_key = _text(record.get("facility"), at("facility"))
    if missile_key not in missiles:
        raise DataError(f"{at('missile')}: {missile_key!r} is not a key of missile.en.json")
    if facility_key not in facilities:
        raise DataError(f"{at('facility')}: {facility_key!r} is not a key of facility.en.json")
    outcome = _text(record.get("outcome"), at("outcome"))
    if outcome not in _OUTCOMES:
        raise DataError(f"{at('outcome')}: {outcome!r} is not one of {sorted(_OUTCOMES)}")
    bearing_deg = _optional_number(record.get("bearing"), at("bearing"))
    if bearing_deg is not None and not 0.0 <= bearing_deg <= 360.0:
        raise DataError(f"{at('bearing')}: {bearing_deg} is not in 0..360 degrees")
    landing = _text(record.get("landing"), at("landing"))
    return LaunchEvent(
        id=event_id,
        date=date,
        time_utc=_time(record.get("time"), at("time")),
        missile=missiles[missile_key],
        site=facilities[facility_key],
        apogee_km=_optional_number(record.get("apogee"), at("apogee")),
        range_km=_optional_number(record.get("distance"), at("distance")),
        bearing_deg=bearing_deg,
        outcome=outcome,
        landing=None if landing in _SILENT else landing,
        description=_text(record.get("description", ""), at("description")),
    )


def _mapping(value: object, where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise DataError(f"{where}: expected a string, got {value!r}")
    return value


def _number(value: object, where: str) -> float:
    number = _optional_number(value, where)
    if number is None:
        raise DataError(f"{where}: expected a number, got {value!r}")
    return number


def _optional_number(value: object, where: str) -> float | None:
    """A float from an int, a float or a numeric string; ``None`` for unknown/na/absent."""
    if value is None or (isinstance(value, str) and value.strip().lower() in _SILENT):
        return None
    if isinstance(value, bool):
        raise DataError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise DataError(f"{where}: expected a number, 'unknown' or 'na', got {value!r}")


def _series(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise DataError(f"{where}: expected a positive integer, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise DataError(f"{where}: expected a positive integer, got {value!r}")
    return number


def _time(value: object, where: str) -> str | None:
    """``"21:13 (UTC)"`` -> ``"21:13"``; ``"unknown"`` -> ``None``."""
    text = _text(value, where)
    if text.strip().lower() in _SILENT:
        return None
    match = _TIME_RE.fullmatch(text.strip())
    if match is None:
        raise DataError(f"{where}: {text!r} is not 'HH:MM (UTC)' or 'unknown'")
    return f"{match.group(1)}:{match.group(2)}"
