"""Tests of the historical launch library (CNS database via nk-missile-tests)."""

import json
from datetime import UTC, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trilink.errors import DataError, UnknownEventError
from trilink.world import library
from trilink.world.library import DEFAULT_EVENT_ID, LaunchEvent, load_library

JSON_KEYS = {
    "id",
    "date",
    "time_utc",
    "missile",
    "site",
    "site_lat",
    "site_lon",
    "apogee_km",
    "range_km",
    "bearing_deg",
    "outcome",
}


def test_library_holds_all_339_launches_in_date_order() -> None:
    events = load_library().events
    assert len(events) == 339
    dates = [e.date for e in events]
    assert dates == sorted(dates)


def test_event_ids_are_unique() -> None:
    ids = [e.id for e in load_library().events]
    assert len(set(ids)) == len(ids)


def test_default_event_is_the_2017_hokkaido_overflight() -> None:
    event = load_library().get(DEFAULT_EVENT_ID)
    assert event.missile.key == "hwasong-12"
    assert event.site.key == "pyongyang"
    assert event.site.name == "Pyongyang International Airport"
    assert event.site.lat_deg == pytest.approx(39.20, abs=0.01)
    assert event.apogee_km == 550.0
    assert event.range_km == 2700.0
    assert event.bearing_deg == 73.0
    assert event.time_utc == "20:58"
    launch_time = event.launch_time
    assert launch_time is not None
    assert launch_time.utcoffset() == timedelta(0)
    assert launch_time.tzinfo is UTC
    assert (launch_time.year, launch_time.month, launch_time.day) == (2017, 8, 28)
    assert (launch_time.hour, launch_time.minute) == (20, 58)


def test_2022_hwasong_17_lofted_shot() -> None:
    event = load_library().get("2022-11-18-hwasong-17-1")
    assert event.apogee_km == 6100.0
    assert event.range_km == 1000.0


def test_numeric_string_apogee_becomes_float() -> None:
    # The 2024-10-30 Hwasong-19 record gives apogee "7687" and distance "1001" as strings.
    event = load_library().get("2024-10-30-hwasong-19-1")
    assert isinstance(event.apogee_km, float)
    assert event.apogee_km == 7687.0
    assert event.range_km == 1001.0


def test_unknown_values_become_none() -> None:
    event = load_library().get("1984-04-09-scud-b-1")
    assert event.apogee_km is None
    assert event.range_km is None
    assert event.time_utc is None
    assert event.launch_time is None
    assert event.landing is None


def test_record_without_series_or_day_gets_an_id() -> None:
    # Early records give only a month and no series number.
    event = load_library().get("1986-05-unknown-1")
    assert event.date == "1986-05"
    assert event.launch_time is None


def test_missing_series_takes_the_next_free_number(monkeypatch: pytest.MonkeyPatch) -> None:
    records = [_record(series=None), _record(series=1), _record(series=None)]
    _ship(monkeypatch, records)
    ids = [e.id for e in load_library.__wrapped__().events]
    assert ids == ["2017-08-28-hwasong-12-2", "2017-08-28-hwasong-12-1", "2017-08-28-hwasong-12-3"]


def test_to_json_has_exactly_the_documented_keys() -> None:
    data = load_library().get(DEFAULT_EVENT_ID).to_json()
    assert set(data) == JSON_KEYS
    assert data["missile"] == "hwasong-12"
    assert data["site"] == "pyongyang"


def test_unknown_id_raises_with_suggestion() -> None:
    with pytest.raises(UnknownEventError) as info:
        load_library().get("2017-08-28-hwasong-12-2")
    assert info.value.event_id == "2017-08-28-hwasong-12-2"
    assert DEFAULT_EVENT_ID in info.value.suggestions
    assert len(info.value.suggestions) <= 3


def test_unknown_facility_raises_data_error_naming_the_key() -> None:
    with pytest.raises(DataError, match="'sunam'.*sunan.*facilities"):
        load_library().facility("sunam")
    assert load_library().facility("sunan").name


def test_malformed_record_names_index_and_field(monkeypatch: pytest.MonkeyPatch) -> None:
    _ship(monkeypatch, [_record(series=1), _record(series=2, apogee="very high")])
    with pytest.raises(DataError, match=r"record 1 .*'apogee'.*'very high'"):
        load_library.__wrapped__()


def _record(*, series: int | None, apogee: object = 550) -> dict[str, object]:
    record: dict[str, object] = {
        "date": "2017-08-28",
        "time": "20:58 (UTC)",
        "missile": "hwasong-12",
        "facility": "pyongyang",
        "landing": "pacific-ocean",
        "apogee": apogee,
        "distance": 2700,
        "bearing": 73,
        "outcome": "success",
        "description": "",
    }
    if series is not None:
        record["series"] = series
    return record


def _ship(monkeypatch: pytest.MonkeyPatch, records: list[dict[str, object]]) -> None:
    """Make the loader see these launch records instead of the shipped ones."""
    real = library._read_json

    def fake(name: str) -> object:
        if name == "test.en.json":
            return {"timeBins": [{"year": 2017, "data": records}]}
        return real(name)

    monkeypatch.setattr(library, "_read_json", fake)


@given(st.sampled_from(load_library().events))
def test_get_round_trips_and_json_serialises(event: LaunchEvent) -> None:
    lib = load_library()
    assert lib.get(event.id) is event
    data = event.to_json()
    assert set(data) == JSON_KEYS
    assert json.loads(json.dumps(data)) == data
