"""The envelope codec: round trips, and only MalformedMessage for bad input."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trilink.errors import MalformedMessage
from trilink.sharing.envelope import (
    Envelope,
    Frame,
    Kind,
    decode_body,
    decode_frame,
    decode_payload,
    encode_body,
    encode_frame,
    encode_payload,
    envelope_to_json,
)
from trilink.types import ImpactPrediction, LaunchEstimate, Track, TrackState

TRACK = Track(
    track_id="JPN-T0001",
    nation="JPN",
    t_s=1.5e9,
    state=np.arange(9.0),
    covariance=np.eye(9) * 4.0,
    status=TrackState.CONFIRMED,
    sensors=("JPN-SADO",),
    first_t_s=1.5e9 - 10,
    n_updates=7,
    thrusting=True,
)
LAUNCH = LaunchEstimate(1.5e9, 39.2, 125.7, 5000.0, 3.0, "KOR-T0001", "KOR")
IMPACT = ImpactPrediction(
    1.5e9,
    1.5e9 + 600,
    41.1,
    157.4,
    3000.0,
    1000.0,
    73.0,
    550e3,
    "outside",
    False,
    ("Hokkaido",),
    "JPN-S001",
    "JPN",
)


def test_track_round_trip_keeps_state_and_covariance() -> None:
    kind, data = encode_payload(TRACK)
    back = decode_payload(kind, data)
    assert kind is Kind.TRACK and isinstance(back, Track)
    np.testing.assert_array_equal(back.state, TRACK.state)
    np.testing.assert_array_equal(back.covariance, TRACK.covariance)
    assert (back.track_id, back.status, back.sensors, back.thrusting) == (
        "JPN-T0001",
        TrackState.CONFIRMED,
        ("JPN-SADO",),
        True,
    )


@pytest.mark.parametrize("payload", [LAUNCH, IMPACT])
def test_alert_payloads_round_trip(payload: LaunchEstimate | ImpactPrediction) -> None:
    kind, data = encode_payload(payload)
    assert decode_payload(kind, data) == payload


def test_body_parses_open_world_and_renders_iso_times() -> None:
    kind, data = encode_payload(LAUNCH)
    env = Envelope(
        v=1,
        id="x",
        originator="KOR",
        seq=1,
        kind=kind,
        event_id="e",
        valid_time_s=1.5e9,
        sent_time_s=1.5e9,
        releasability=("KOR-JPN",),
        recipients=("JPN",),
        payload=data,
    )
    raw = msgspec.msgpack.decode(encode_body(env))
    raw["future_field"] = {"unknown": True}
    assert decode_body(msgspec.msgpack.encode(raw)) == env
    view = envelope_to_json(env)
    assert (
        view["valid_time"].startswith("2017-07-14T02:40:00") and view["payload"]["lat_deg"] == 39.2
    )


@pytest.mark.parametrize(
    ("state", "cov", "field"),
    [
        ([1.0] * 5, [0.0] * 25, "state"),
        ([1.0] * 6, [0.0] * 30, "cov"),
        ([float("nan")] * 6, [0.0] * 36, "state"),
    ],
)
def test_bad_track_payload_names_the_field(
    state: list[float], cov: list[float], field: str
) -> None:
    kind, data = encode_payload(TRACK)
    raw = msgspec.msgpack.decode(data)
    raw["state"], raw["cov"] = state, cov
    with pytest.raises(MalformedMessage, match=f"`{field}`"):
        decode_payload(kind, msgspec.msgpack.encode(raw))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_decoders_only_ever_raise_malformed_message(data: bytes) -> None:
    for decode in (decode_frame, decode_body):
        try:
            decode(data)
        except MalformedMessage:
            pass
    for kind in Kind:
        try:
            decode_payload(kind, data)
        except MalformedMessage:
            pass


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["body", "sig", "hops", "x"]),
        st.one_of(
            st.binary(max_size=64),
            st.integers(-(2**63), 2**63 - 1),
            st.lists(st.integers(0, 2**32)),
        ),
    )
)
def test_frame_decoder_refuses_wrong_shapes_with_malformed_message(raw: dict[str, object]) -> None:
    data = msgspec.msgpack.encode(raw)
    try:
        frame = decode_frame(data)
    except MalformedMessage:
        return
    assert isinstance(frame, Frame) and encode_frame(frame)
