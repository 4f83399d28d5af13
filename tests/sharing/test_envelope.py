"""The envelope codec: round trips, and only MalformedMessage for bad input."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trilink.errors import MalformedMessage, NotReleasable, SignatureInvalid
from trilink.sharing.agreements import Decision, redact_payload
from trilink.sharing.crypto import Identity, Verifier, seal
from trilink.sharing.envelope import (
    Envelope,
    Frame,
    Kind,
    PartialTrack,
    Payload,
    decode_body,
    decode_frame,
    decode_payload,
    encode_body,
    encode_frame,
    encode_payload,
    envelope_to_json,
    open_payload,
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
        ([1.0] * 6, [float("inf")] + [0.0] * 35, "cov"),
        ([1.0] * 9, [0.0] * 36, "cov"),
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


# -- sealed envelopes, key ids and redacted payloads -------------------------------------------

JPN_ID = Identity.from_seed("JPN", bytes(range(32)))
KOR_ID = Identity.from_seed("KOR", bytes(range(1, 33)))
USA_ID = Identity.from_seed("USA", bytes(range(2, 34)))


def _sealed_envelope(payload: Payload = LAUNCH, to: Identity = JPN_ID) -> Envelope:
    kind, data = encode_payload(payload)
    return Envelope(
        v=1,
        id="KOR-7",
        originator="KOR",
        seq=7,
        kind=kind,
        event_id="e",
        valid_time_s=1.5e9,
        sent_time_s=1.5e9,
        releasability=("KOR-JPN",),
        recipients=(to.nation,),
        payload=seal(data, to.box_public_key),
        sealed_to=to.nation,
        key_id=KOR_ID.key_id,
    )


def _frame(env: Envelope) -> bytes:
    body = encode_body(env)
    return encode_frame(Frame(body=body, sig=KOR_ID.sign(body)))


def test_sealed_envelope_round_trip_opens_only_for_the_recipient() -> None:
    env = _sealed_envelope()
    frame = decode_frame(_frame(env))
    back = decode_body(frame.body)
    assert back == env and back.sealed_to == "JPN" and back.key_id == KOR_ID.key_id
    Verifier({"KOR": KOR_ID.public_key}).verify("KOR", frame.body, frame.sig, key_id=back.key_id)
    assert open_payload(back, JPN_ID) == LAUNCH
    with pytest.raises(NotReleasable, match="sealed to JPN, not to USA"):
        open_payload(back, USA_ID)
    with pytest.raises(MalformedMessage):
        decode_payload(back.kind, back.payload)  # the ciphertext is not the payload
    view = envelope_to_json(back)
    assert view["sealed_to"] == "JPN" and "payload" not in view and view["payload_sealed_bytes"]


def test_relay_cannot_alter_or_widen_a_sealed_envelope() -> None:
    env = _sealed_envelope()
    body = encode_body(env)
    sig = KOR_ID.sign(body)
    verifier = Verifier({"KOR": KOR_ID.public_key})
    widened = msgspec.structs.replace(env, recipients=("JPN", "USA"))
    resealed = msgspec.structs.replace(
        env, payload=seal(encode_payload(LAUNCH)[1], USA_ID.box_public_key), sealed_to="USA"
    )
    for forged in (widened, resealed):
        with pytest.raises(SignatureInvalid):
            verifier.verify("KOR", encode_body(forged), sig, key_id=env.key_id)


def test_unsealed_envelope_opens_as_before() -> None:
    kind, data = encode_payload(IMPACT)
    env = msgspec.structs.replace(
        _sealed_envelope(IMPACT), payload=data, sealed_to=None, key_id=None
    )
    assert open_payload(decode_body(encode_body(env)), USA_ID) == IMPACT
    assert "sealed_to" not in msgspec.msgpack.decode(encode_body(env))  # absent, not null


def test_bodies_without_the_new_fields_still_decode() -> None:
    env = _sealed_envelope()
    raw = msgspec.msgpack.decode(encode_body(env))
    del raw["sealed_to"], raw["key_id"]
    back = decode_body(msgspec.msgpack.encode(raw))
    assert back.sealed_to is None and back.key_id is None


@pytest.mark.parametrize(
    ("redact", "kind_of_track"),
    [
        (frozenset({"sensor"}), Track),
        (frozenset({"covariance"}), PartialTrack),
        (frozenset({"velocity"}), PartialTrack),
        (frozenset({"velocity", "covariance", "sensor"}), PartialTrack),
    ],
)
def test_redacted_tracks_travel(redact: frozenset[str], kind_of_track: type) -> None:
    decision = Decision(allow=True, redact=tuple(sorted(redact)), reason="allowed by test")
    out = redact_payload(TRACK, decision)
    assert type(out) is kind_of_track
    kind, data = encode_payload(out)
    back = decode_payload(kind, data)
    assert type(back) is kind_of_track
    assert isinstance(back, Track | PartialTrack) and isinstance(out, Track | PartialTrack)
    np.testing.assert_array_equal(back.state, out.state)
    if isinstance(back, PartialTrack):
        assert isinstance(out, PartialTrack) and back.withheld == out.withheld
        assert set(back.withheld) == redact & {"velocity", "covariance", "sensor"}
        assert back.position.shape == (3,)
    wire = msgspec.msgpack.decode(data)
    assert ("sensors" in wire) is ("sensor" not in redact)
    assert ("cov" in wire) is ("covariance" not in redact)
    assert len(wire["state"]) == (3 if "velocity" in redact else 9)


def test_redacted_impact_travels() -> None:
    out = redact_payload(IMPACT, Decision(allow=True, redact=("overflight",), reason="ok"))
    assert isinstance(out, ImpactPrediction)
    kind, data = encode_payload(out)
    assert "overflight" not in msgspec.msgpack.decode(data)
    assert decode_payload(kind, data) == out and out.overflight == ()


def test_redact_refuses_a_denying_decision() -> None:
    with pytest.raises(ValueError, match="denying decision"):
        redact_payload(TRACK, Decision(allow=False, reason="denied: no agreement"))


def _open_chain(data: bytes) -> None:
    """What a recipient does with bytes off the wire, up to the payload."""
    env = decode_body(decode_frame(data).body)
    try:
        open_payload(env, JPN_ID)
    except NotReleasable:
        assert env.sealed_to not in (None, "JPN")


@settings(max_examples=300, deadline=None)
@given(ciphertext=st.binary(max_size=512), payload=st.sampled_from([TRACK, LAUNCH, IMPACT]))
def test_fuzz_sealed_payload_only_raises_malformed_message(
    ciphertext: bytes, payload: Payload
) -> None:
    env = msgspec.structs.replace(_sealed_envelope(payload), payload=ciphertext)
    with pytest.raises(MalformedMessage):
        open_payload(decode_body(encode_body(env)), JPN_ID)


@settings(max_examples=500, deadline=None)
@given(
    payload=st.sampled_from([TRACK, LAUNCH, IMPACT]),
    cuts=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4),
    truncate=st.none() | st.integers(0, 10_000),
)
def test_fuzz_mutated_sealed_frames_only_raise_malformed_message(
    payload: Payload, cuts: list[tuple[int, int]], truncate: int | None
) -> None:
    data = bytearray(_frame(_sealed_envelope(payload)))
    for at, value in cuts:
        data[at % len(data)] = value
    if truncate is not None:
        data = data[: truncate % len(data)]
    try:
        _open_chain(bytes(data))
    except MalformedMessage:
        pass


@settings(max_examples=300, deadline=None)
@given(
    changes=st.dictionaries(
        st.sampled_from(["sealed_to", "key_id", "payload", "kind", "recipients"]),
        st.one_of(
            st.none(),
            st.binary(max_size=64),
            st.text(max_size=8),
            st.integers(-(2**63), 2**63 - 1),
            st.lists(st.text(max_size=3), max_size=3),
        ),
    )
)
def test_fuzz_sealed_body_fields_only_raise_malformed_message(changes: dict[str, object]) -> None:
    raw = msgspec.msgpack.decode(encode_body(_sealed_envelope()))
    raw.update(changes)
    body = msgspec.msgpack.encode(raw)
    try:
        _open_chain(encode_frame(Frame(body=body, sig=b"\0" * 64)))
    except MalformedMessage:
        pass


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([3, 6, 9]),
    st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=90, max_size=90),
)
def test_a_track_payload_decodes_to_its_numbers_with_the_covariance_symmetrised(
    n: int, numbers: list[float]
) -> None:
    kind, data = encode_payload(TRACK)
    raw = msgspec.msgpack.decode(data)
    raw["state"], raw["cov"] = numbers[:n], numbers[n : n + n * n]
    got = decode_payload(kind, msgspec.msgpack.encode(raw))
    np.testing.assert_array_equal(got.state, np.array(numbers[:n]))
    m = np.array(numbers[n : n + n * n]).reshape(n, n)
    np.testing.assert_array_equal(got.covariance, 0.5 * m + 0.5 * m.T)
