"""The versioned message envelope and its codec: the only place wire formats live.

On the wire a message is a msgpack :class:`Frame`: the originator's signed ``body`` (a
msgpack :class:`Envelope`), the originator's Ed25519 signature over exactly those bytes,
and the ``hops`` that relays append (outside the signature, so a relay forwards the
originator's bytes untouched and cannot widen their releasability). Parsing is
open-world: unknown fields are ignored. Times are POSIX seconds UTC as floats inside
trilink and on the wire; :func:`envelope_to_json` renders them as ISO 8601 UTC for people.

Sealing: when an agreement says ``seal = true`` the envelope's ``payload`` is the payload
sealed to the recipient (:func:`trilink.sharing.crypto.seal`) and ``sealed_to`` names the
recipient. The originator signs the envelope with the ciphertext in it, so a relay can
forward it but can neither read, alter nor widen it; only the recipient opens it
(:func:`open_payload`). ``key_id`` names which of the originator's signing keys signed.

Redaction: an agreement may withhold parts of a payload
(:func:`trilink.sharing.agreements.redact_payload`). On the wire withheld fields are
absent; a track that lost its velocity or covariance decodes as a :class:`PartialTrack`
(a :class:`~trilink.types.Track` must have both), other payloads keep their type with
empty values (``sensors=()``, ``overflight=()``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import msgspec
import numpy as np

from trilink.errors import MalformedMessage, NotReleasable
from trilink.sharing.crypto import BatchProof, Identity, open_sealed, sign_batch
from trilink.types import (
    Alert,
    AlertStage,
    Covariance,
    ImpactPrediction,
    LaunchEstimate,
    StateVector,
    Track,
    TrackState,
    as_covariance,
    as_state,
    symmetrised,
)

__all__ = [
    "ENVELOPE_VERSION",
    "MAX_FRAME_BYTES",
    "Envelope",
    "Frame",
    "Content",
    "Hop",
    "Kind",
    "PartialTrack",
    "Payload",
    "Receipt",
    "alert_kind",
    "decode_body",
    "decode_frame",
    "decode_payload",
    "encode_body",
    "encode_frame",
    "encode_payload",
    "envelope_to_json",
    "kind_of",
    "open_payload",
]

ENVELOPE_VERSION: Final = 1
MAX_FRAME_BYTES: Final = 64 * 1024


class Kind(StrEnum):
    """What a message carries."""

    DETECTION = "detection"
    TRACK = "track"
    LAUNCH = "launch"
    IMPACT = "impact"
    CORRECTION = "correction"
    ALL_CLEAR = "all-clear"
    ALERT = "alert"
    STATUS = "status"
    AGREEMENT_CHANGE = "agreement-change"
    RECEIPT = "receipt"


class Envelope(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What the originator signs.

    ``sealed_to`` (optional): the recipient the ``payload`` bytes are sealed to; absent
    when the payload is in clear. ``key_id`` (optional): the id of the originator's
    signing key, so verifiers pick the right key across a rotation.
    """

    v: int
    id: str
    originator: str
    seq: int
    kind: Kind
    event_id: str
    valid_time_s: float
    sent_time_s: float
    releasability: tuple[str, ...]
    recipients: tuple[str, ...]
    payload: bytes
    sealed_to: str | None = None
    key_id: str | None = None


class Hop(msgspec.Struct, frozen=True, array_like=True):
    """One relay the message passed through, with its receipt time."""

    nation: str
    received_time_s: float


class Frame(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What travels: the signed body, the signature, and the relays' path.

    The originator signs batches (:func:`trilink.sharing.crypto.sign_batch`): ``sig`` is
    over the root of a Merkle tree of the batch's bodies, and ``index``, ``count`` and
    ``path`` lead from this body to that root (a batch of one: 0, 1, no path).
    """

    body: bytes
    sig: bytes
    hops: tuple[Hop, ...] = ()
    index: int = 0
    count: int = 1
    path: tuple[bytes, ...] = ()

    @property
    def proof(self) -> BatchProof:
        return BatchProof(self.index, self.count, self.path)

    @classmethod
    def signed(cls, identity: Identity, body: bytes) -> Frame:
        """``body`` signed alone (a batch of one)."""
        sig, (proof,) = sign_batch(identity, [body])
        return cls(body=body, sig=sig, index=proof.index, count=proof.count, path=proof.path)


# -- payloads ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartialTrack:
    """A track released with its velocity or its covariance withheld by an agreement.

    ``state`` holds what was released, ECEF: position ``[x, y, z]`` (3) when the velocity
    was withheld, else position and velocity (6) or also acceleration (9).
    ``covariance`` matches ``state``, or is ``None`` when withheld. ``withheld`` names
    the redactions applied (``"velocity"``, ``"covariance"``, ``"sensor"``).
    """

    track_id: str
    nation: str
    t_s: float = field(metadata={"doc": "time of validity, POSIX seconds UTC"})
    state: StateVector
    covariance: Covariance | None
    status: TrackState
    sensors: tuple[str, ...]
    first_t_s: float
    n_updates: int = 0
    thrusting: bool = False
    withheld: tuple[str, ...] = ()

    @property
    def position(self) -> StateVector:
        """ECEF position (m), shape (3,)."""
        return self.state[:3]


class _TrackWire(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    track_id: str
    nation: str
    t_s: float
    state: list[float]
    cov: list[float] | None = None
    status: str
    sensors: list[str] | None = None
    first_t_s: float
    n_updates: int = 0
    thrusting: bool = False
    withheld: list[str] | None = None


class _LaunchWire(msgspec.Struct, frozen=True, kw_only=True):
    t_launch_s: float
    lat_deg: float
    lon_deg: float
    radius_95_m: float
    t_sigma_s: float
    track_id: str
    nation: str


class _ImpactWire(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    t_valid_s: float
    t_impact_s: float
    lat_deg: float
    lon_deg: float
    semi_major_m: float
    semi_minor_m: float
    orientation_deg: float
    apogee_m: float
    eez_verdict: str
    eez_near_boundary: bool
    overflight: list[str] | None = None
    track_id: str = ""
    nation: str = ""
    t_impact_sigma_s: float = 0.0
    overflight_times_s: list[float] | None = None
    overflight_prefectures: list[str] | None = None
    overflight_prefecture_times_s: list[float] | None = None
    korea_overflight: list[str] | None = None
    korea_overflight_times_s: list[float] | None = None
    impact_land: str | None = None
    drag_modelled: bool = False


class _AlertWire(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    alert_id: str
    nation: str
    t_s: float
    stage: str
    text: str
    prefectures: list[str] | None = None
    predicted_t_s: float | None = None
    eez_verdict: str = ""
    correction_of: str | None = None
    launch_time_s: float | None = None
    impact_lat_deg: float | None = None
    impact_lon_deg: float | None = None


_ALERT_KINDS: Final = {
    AlertStage.CORRECTION: Kind.CORRECTION,
    AlertStage.CANCEL: Kind.CORRECTION,
    AlertStage.ALL_CLEAR: Kind.ALL_CLEAR,
}


def alert_kind(alert: Alert) -> Kind:
    """The kind of message that carries ``alert``: corrections and cancellations travel
    as ``correction``, the all-clear as ``all-clear``, every other stage as ``alert``."""
    return _ALERT_KINDS.get(alert.stage, Kind.ALERT)


_IMPACT_SEQUENCES = (
    "overflight",
    "overflight_times_s",
    "overflight_prefectures",
    "overflight_prefecture_times_s",
    "korea_overflight",
    "korea_overflight_times_s",
)
"""ImpactPrediction tuples, sent as msgpack arrays (omitted when empty)."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """A recipient's signed acknowledgement of messages it received from one originator:
    their ids and sequence numbers (of the originator's stream to the recipient), and when
    the recipient had verified them (event time)."""

    originator: str
    message_ids: tuple[str, ...]
    seqs: tuple[int, ...]
    received_time_s: float


class _ReceiptWire(msgspec.Struct, frozen=True, kw_only=True):
    originator: str
    message_ids: list[str]
    seqs: list[int]
    received_time_s: float


Payload = Track | PartialTrack | LaunchEstimate | ImpactPrediction | Alert
"""What agreements govern: data about a missile, and the alerts issued on it."""

Content = Payload | Receipt
"""Whatever an envelope can carry: data, or the protocol's receipts."""

_ENCODER: Final = msgspec.msgpack.Encoder()
_BODY_DECODER: Final = msgspec.msgpack.Decoder(Envelope)
_FRAME_DECODER: Final = msgspec.msgpack.Decoder(Frame)
_PAYLOAD_DECODERS: Final[dict[Kind, msgspec.msgpack.Decoder[Any]]] = {
    Kind.TRACK: msgspec.msgpack.Decoder(_TrackWire),
    Kind.LAUNCH: msgspec.msgpack.Decoder(_LaunchWire),
    Kind.IMPACT: msgspec.msgpack.Decoder(_ImpactWire),
    Kind.RECEIPT: msgspec.msgpack.Decoder(_ReceiptWire),
    Kind.ALERT: msgspec.msgpack.Decoder(_AlertWire),
    Kind.CORRECTION: msgspec.msgpack.Decoder(_AlertWire),
    Kind.ALL_CLEAR: msgspec.msgpack.Decoder(_AlertWire),
}


def kind_of(payload: Content) -> Kind:
    """The kind of message that carries ``payload`` (without encoding it)."""
    if isinstance(payload, Track | PartialTrack):
        return Kind.TRACK
    if isinstance(payload, LaunchEstimate):
        return Kind.LAUNCH
    if isinstance(payload, Receipt):
        return Kind.RECEIPT
    if isinstance(payload, Alert):
        return alert_kind(payload)
    return Kind.IMPACT


def encode_payload(payload: Content) -> tuple[Kind, bytes]:
    """Encode a value type as (kind, msgpack bytes)."""
    if isinstance(payload, Track | PartialTrack):
        cov = payload.covariance
        wire: msgspec.Struct = _TrackWire(
            track_id=payload.track_id,
            nation=payload.nation,
            t_s=payload.t_s,
            state=payload.state.tolist(),
            cov=None if cov is None else cov.reshape(-1).tolist(),
            status=payload.status.value,
            sensors=list(payload.sensors) or None,
            first_t_s=payload.first_t_s,
            n_updates=payload.n_updates,
            thrusting=payload.thrusting,
            withheld=(list(payload.withheld) or None)
            if isinstance(payload, PartialTrack)
            else None,
        )
        return Kind.TRACK, _ENCODER.encode(wire)
    if isinstance(payload, LaunchEstimate):
        return Kind.LAUNCH, _ENCODER.encode(_LaunchWire(**dataclasses.asdict(payload)))
    if isinstance(payload, Receipt):
        receipt = _ReceiptWire(
            originator=payload.originator,
            message_ids=list(payload.message_ids),
            seqs=list(payload.seqs),
            received_time_s=payload.received_time_s,
        )
        return Kind.RECEIPT, _ENCODER.encode(receipt)
    if isinstance(payload, Alert):
        alert_fields = dataclasses.asdict(payload)
        alert_fields["stage"] = payload.stage.value
        alert_fields["prefectures"] = list(payload.prefectures) or None
        return alert_kind(payload), _ENCODER.encode(_AlertWire(**alert_fields))
    fields = dataclasses.asdict(payload)
    for name in _IMPACT_SEQUENCES:
        fields[name] = list(fields[name]) or None
    return Kind.IMPACT, _ENCODER.encode(_ImpactWire(**fields))


def decode_payload(kind: Kind, data: bytes) -> Content:
    """Decode a payload of ``kind``; raise :class:`MalformedMessage` naming the field."""
    decoder = _PAYLOAD_DECODERS.get(kind)
    if decoder is None:
        raise MalformedMessage(f"kind {kind.value!r} carries no payload trilink can read")
    try:
        wire = decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise MalformedMessage(f"{kind.value} payload: {exc}") from exc
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise MalformedMessage(f"{kind.value} payload is not msgpack: {exc}") from exc
    if isinstance(wire, _TrackWire):
        return _track_from_wire(wire)
    if isinstance(wire, _LaunchWire):
        return LaunchEstimate(**msgspec.structs.asdict(wire))
    if isinstance(wire, _ReceiptWire):
        if len(wire.message_ids) != len(wire.seqs):
            raise MalformedMessage(
                f"receipt payload: {len(wire.message_ids)} message ids but {len(wire.seqs)} "
                "sequence numbers; they must pair up"
            )
        return Receipt(
            wire.originator, tuple(wire.message_ids), tuple(wire.seqs), wire.received_time_s
        )
    if isinstance(wire, _AlertWire):
        return _alert_from_wire(kind, wire)
    fields = msgspec.structs.asdict(wire)
    for name in _IMPACT_SEQUENCES:
        fields[name] = tuple(fields[name] or ())
    return ImpactPrediction(**fields)


def _alert_from_wire(kind: Kind, wire: _AlertWire) -> Alert:
    try:
        stage = AlertStage(wire.stage)
    except ValueError as exc:
        raise MalformedMessage(
            f"{kind.value} payload: field `stage` is {wire.stage!r}, expected one of "
            f"{[s.value for s in AlertStage]}"
        ) from exc
    fields = msgspec.structs.asdict(wire)
    fields["stage"] = stage
    fields["prefectures"] = tuple(wire.prefectures or ())
    alert = Alert(**fields)
    if alert_kind(alert) is not kind:
        raise MalformedMessage(
            f"{kind.value} payload carries a {stage.value} alert, which travels as kind "
            f"{alert_kind(alert).value}"
        )
    return alert


_TRACK_DIMS: Final = (3, 6, 9)  # position; + velocity; + acceleration


def _track_arrays(wire: _TrackWire) -> tuple[StateVector, Covariance | None]:
    """The state and covariance, checked; raises MalformedMessage naming the field."""
    n, values = len(wire.state), wire.cov
    if n in _TRACK_DIMS and (values is None or len(values) == n * n):
        # the common case in one conversion and one finiteness check
        flat = np.array(wire.state if values is None else wire.state + values, dtype=np.float64)
        if np.isfinite(flat).all():
            if values is None:
                return flat, None
            return flat[:n].copy(), symmetrised(flat[n:].reshape(n, n))
    # otherwise the checks below name what is wrong
    try:
        state = as_state(wire.state, dims=_TRACK_DIMS, name="track payload field `state`")
        n = state.shape[0]
        cov: Covariance | None = None
        if wire.cov is not None:
            if len(wire.cov) != n * n:
                raise ValueError(
                    f"track payload field `cov` has {len(wire.cov)} values, not {n * n}"
                )
            cov = as_covariance(np.reshape(wire.cov, (n, n)), n, name="track payload field `cov`")
    except ValueError as exc:
        raise MalformedMessage(str(exc)) from exc
    return state, cov


def _track_from_wire(wire: _TrackWire) -> Track | PartialTrack:
    state, cov = _track_arrays(wire)
    n = state.shape[0]
    try:
        status = TrackState(wire.status)
    except ValueError as exc:
        raise MalformedMessage(
            f"track payload: field `status` is {wire.status!r}, expected one of "
            f"{[s.value for s in TrackState]}"
        ) from exc
    sensors = tuple(wire.sensors or ())
    if cov is None or n == 3:
        return PartialTrack(
            track_id=wire.track_id,
            nation=wire.nation,
            t_s=wire.t_s,
            state=state,
            covariance=cov,
            status=status,
            sensors=sensors,
            first_t_s=wire.first_t_s,
            n_updates=wire.n_updates,
            thrusting=wire.thrusting,
            withheld=tuple(wire.withheld or ()),
        )
    return Track(
        track_id=wire.track_id,
        nation=wire.nation,
        t_s=wire.t_s,
        state=state,
        covariance=cov,
        status=status,
        sensors=sensors,
        first_t_s=wire.first_t_s,
        n_updates=wire.n_updates,
        thrusting=wire.thrusting,
    )


def open_payload(envelope: Envelope, identity: Identity, *older: Identity) -> Content:
    """The payload of ``envelope`` for its recipient: opened first if it is sealed.

    ``identity`` is the recipient's current identity; ``older`` its previous ones (a
    sender may have sealed to a key rotated out meanwhile). Raises
    :class:`~trilink.errors.NotReleasable` if the payload is sealed to another nation
    (a relay never opens what it forwards) and :class:`~trilink.errors.MalformedMessage`
    if the ciphertext does not open or the opened bytes do not decode.
    """
    data = envelope.payload
    if envelope.sealed_to is not None:
        if envelope.sealed_to != identity.nation:
            raise NotReleasable(
                f"payload is sealed to {envelope.sealed_to}, not to {identity.nation}",
                message_id=envelope.id,
                originator=envelope.originator,
            )
        try:
            data = open_sealed(data, identity, *older)
        except MalformedMessage as exc:
            raise MalformedMessage(
                exc.detail, message_id=envelope.id, originator=envelope.originator
            ) from exc
    return decode_payload(envelope.kind, data)


def encode_body(envelope: Envelope) -> bytes:
    return _ENCODER.encode(envelope)


def decode_body(data: bytes) -> Envelope:
    """Decode a signed body; raise :class:`MalformedMessage` naming the bad field."""
    try:
        env = _BODY_DECODER.decode(data)
    except msgspec.ValidationError as exc:
        raise MalformedMessage(f"envelope: {exc}") from exc
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise MalformedMessage(f"envelope is not msgpack: {exc}") from exc
    if env.v != ENVELOPE_VERSION:
        raise MalformedMessage(
            f"envelope field `v` is {env.v}; this node reads version {ENVELOPE_VERSION}. "
            "Fix: upgrade the older side",
            message_id=env.id,
            originator=env.originator,
        )
    return env


def encode_frame(frame: Frame) -> bytes:
    return _ENCODER.encode(frame)


def decode_frame(data: bytes) -> Frame:
    """Decode a frame off the wire; refuse oversized or undecodable input."""
    if len(data) > MAX_FRAME_BYTES:
        raise MalformedMessage(
            f"frame of {len(data)} bytes exceeds the limit of {MAX_FRAME_BYTES} bytes"
        )
    try:
        return _FRAME_DECODER.decode(data)
    except msgspec.ValidationError as exc:
        raise MalformedMessage(f"frame: {exc}") from exc
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise MalformedMessage(f"frame is not msgpack: {exc}") from exc


def _iso(t_s: float) -> str:
    return dt.datetime.fromtimestamp(t_s, tz=dt.UTC).isoformat(timespec="milliseconds")


def envelope_to_json(envelope: Envelope) -> dict[str, Any]:
    """A JSON-ready view of an envelope for people and the API (ISO 8601 UTC times)."""
    out: dict[str, Any] = msgspec.structs.asdict(envelope)
    out["kind"] = envelope.kind.value
    out["valid_time"] = _iso(out.pop("valid_time_s"))
    out["sent_time"] = _iso(out.pop("sent_time_s"))
    payload_bytes: bytes = out.pop("payload")
    if envelope.sealed_to is not None:
        out["payload_sealed_bytes"] = len(payload_bytes)
        return out
    try:
        payload = decode_payload(envelope.kind, payload_bytes)
        out["payload"] = msgspec.msgpack.decode(encode_payload(payload)[1])
    except MalformedMessage as exc:
        out["payload_error"] = str(exc)
    return out
