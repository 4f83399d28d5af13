"""Feed a node hostile and disordered frames interleaved with genuine traffic, on the
embedded transport (the three nations of the hub in one process).

Japan's node is the target: everything reaches it over its one link, from the US relay.
Into that link go malformed, oversized, forged, replayed, widened and misaddressed frames,
and a run of genuine frames of Korea's stream held back and then handed over in reverse
order. Each bad frame must be refused with the right reason and audited; every genuine
message must be received exactly once (the reversed ones too, with a `gap` audit line
for the first of them); and the node must keep running throughout.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from trilink.sharing.agreements import load_default_agreements
from trilink.sharing.audit import AuditLog, verify_dir
from trilink.sharing.crypto import Identity, KeyStore, Verifier
from trilink.sharing.envelope import (
    ENVELOPE_VERSION,
    MAX_FRAME_BYTES,
    Envelope,
    Frame,
    decode_body,
    decode_frame,
    encode_body,
    encode_frame,
    encode_payload,
)
from trilink.sharing.node import Node, Received
from trilink.sharing.topology import Topology
from trilink.sharing.transport.base import Transport
from trilink.sharing.transport.embedded import EmbeddedTransport
from trilink.types import Track, TrackState

T0 = 1_503_953_880.0
NATIONS = ("JPN", "KOR", "USA")


def track(nation: str, n: int) -> Track:
    return Track(
        track_id=f"{nation}-T{n:04d}",
        nation=nation,
        t_s=T0 + n,
        state=np.array([-3.0e6, 4.0e6, 4.0e6, 100.0, 200.0, 300.0]),
        covariance=np.eye(6) * 100.0,
        status=TrackState.CONFIRMED,
        sensors=(f"{nation}-RADAR",),
        first_t_s=T0,
        n_updates=5,
    )


class Link(EmbeddedTransport):
    """The embedded transport with a tap on USA → JPN: it records every frame sent there
    and, while ``holding``, keeps frames back (accepted, as a reordering link would)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.to_jpn: list[bytes] = []
        self.holding = False
        self.held: list[tuple[bytes, str]] = []

    send_many = Transport.send_many  # every frame through send() below

    async def send(self, src: str, dst: str, frame: bytes, *, msg_id: str) -> None:
        if (src, dst) == ("USA", "JPN"):
            self.to_jpn.append(frame)
            if self.holding:
                self.held.append((frame, msg_id))
                return
        await super().send(src, dst, frame, msg_id=msg_id)

    async def inject(self, frame: bytes) -> None:
        """Put ``frame`` on the USA → JPN link under a fresh transport message id."""
        await super().send("USA", "JPN", frame, msg_id=f"inject-{uuid.uuid4().hex}")


@dataclass
class Net:
    transport: Link
    nodes: dict[str, Node]
    ids: dict[str, Identity]
    audit_dir: Path
    keys: KeyStore
    inbox: dict[str, list[Received]] = field(default_factory=dict)
    t: float = T0 + 10.0

    async def publish(self, nation: str, n: int) -> None:
        self.t += 1.0
        await self.nodes[nation].publish(track(nation, n), event_id="feed", valid_time_s=self.t)
        await self.settle()

    async def settle(self) -> None:
        """Every frame handled and every receipt owed sent (and handled)."""
        for _ in range(3):
            await self.transport.drain()
            for node in self.nodes.values():
                await node.settle()
        await self.transport.drain()

    def audit(self, nation: str) -> list[dict[str, object]]:
        path = self.audit_dir / f"{nation}.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture()
async def net(tmp_path: Path) -> AsyncIterator[Net]:
    keys = KeyStore(tmp_path / "keys")
    ids = {n: keys.load_or_create(n) for n in NATIONS}
    verifier = Verifier({n: i.public_key for n, i in ids.items()})
    topology = Topology.from_links(NATIONS, [("KOR", "USA"), ("USA", "JPN")])
    transport = Link(tmp_path / "transport")
    result = Net(transport, {}, ids, tmp_path / "audit", keys, {n: [] for n in NATIONS})
    for n in NATIONS:
        result.nodes[n] = Node(
            n,
            identity=ids[n],
            verifier=verifier,
            agreements=load_default_agreements(),
            topology=topology,
            transport=transport,
            audit=AuditLog(result.audit_dir / f"{n}.jsonl", ids[n]),
            now=lambda: result.t,
            on_receive=result.inbox[n].append,
        )
        await result.nodes[n].start()
    yield result
    await transport.close()
    for node in result.nodes.values():
        node.close()


def signed(identity: Identity, **fields: object) -> bytes:
    """A frame signed by ``identity`` around an envelope with ``fields`` (a track for JPN
    released under ``<NATION>-JPN`` by default)."""
    kind, data = encode_payload(track(identity.nation, 999))
    env = Envelope(
        **{
            "v": ENVELOPE_VERSION,
            "id": uuid.uuid4().hex,
            "originator": identity.nation,
            "seq": 1,
            "kind": kind,
            "event_id": "feed",
            "valid_time_s": T0 + 1.0,
            "sent_time_s": T0 + 1.0,
            "releasability": (f"{identity.nation}-JPN",),
            "recipients": ("JPN",),
            "payload": data,
            "key_id": identity.key_id,
            **fields,
        }
    )
    return encode_frame(Frame.signed(identity, encode_body(env)))


async def test_bad_frames_are_refused_with_their_reason_and_genuine_traffic_flows_once(
    net: Net,
) -> None:
    link, jpn = net.transport, net.nodes["JPN"]
    kor, usa = net.ids["KOR"], net.ids["USA"]
    expected: Counter[str] = Counter()  # refusals by reason
    n = 0

    async def genuine(k: int = 2) -> None:
        nonlocal n
        for _ in range(k):
            n += 1
            await net.publish("KOR", n)
            await net.publish("USA", n)

    async def bad(reason: str, frame: bytes) -> None:
        await link.inject(frame)
        await link.drain()
        expected[reason] += 1
        assert jpn.rejected == expected, f"after a {reason} frame"
        assert jpn.running
        await genuine(1)  # interleaved: the next genuine message goes through at once

    await genuine()
    good = link.to_jpn[-1]  # a genuine frame JPN has just accepted (USA's own track)

    # Malformed: not msgpack, the wrong shape, a frame cut short, a body that is no envelope.
    for garbage in (
        b"",
        b"\xc1\xc1\xc1",
        b"\x93\x01\x02\x03",
        good[: len(good) // 2],
        encode_frame(Frame(body=b"\x81\xa1v\x01", sig=b"\x00" * 64)),
    ):
        await bad("malformed", garbage)
    # Oversized: a genuinely signed envelope whose frame is over the limit.
    huge = signed(kor, payload=b"\x00" * MAX_FRAME_BYTES)
    assert len(huge) > MAX_FRAME_BYTES
    await bad("malformed", huge)
    # Forged: a genuine body altered after signing; a body signed with another's key.
    frame = decode_frame(good)
    tampered = frame.body.replace(b"USA-T", b"USA-X")
    assert tampered != frame.body
    await bad("bad-signature", encode_frame(Frame(body=tampered, sig=frame.sig)))
    impostor = _fields(decode_body(decode_frame(signed(usa)).body))  # USA posing as KOR,
    for key_id in (usa.key_id, kor.key_id):  # under its own key id, and under Korea's
        body = encode_body(Envelope(**{**impostor, "originator": "KOR", "key_id": key_id}))
        await bad("bad-signature", encode_frame(Frame.signed(usa, body)))
    # ...and a genuine body and signature with a batch proof that leads elsewhere.
    proof = {"index": 1, "count": 2, "path": (b"\x00" * 32,)}
    await bad("bad-signature", encode_frame(Frame(body=frame.body, sig=frame.sig, **proof)))
    # Replayed: the same genuine bytes again under a new transport message id.
    await bad("replay", good)
    await bad("replay", link.to_jpn[0])
    # Widened and misaddressed: signed by the originator's own key, yet not releasable
    # here. (Made with USA's key, far ahead in its stream: a signed frame's number counts
    # as seen even when the frame is refused, so it must not fall in Korea's stream, whose
    # gap detection is exercised below.)
    await bad("not-releasable", signed(usa, seq=50_000, recipients=("JPN", "KOR")))
    await bad("not-releasable", signed(usa, seq=50_001, releasability=("USA-KOR",)))
    await bad("not-releasable", signed(usa, seq=50_002, recipients=("KOR",)))
    await bad("not-releasable", signed(usa, seq=50_003, releasability=()))

    # Out of order: genuine KOR→JPN frames held back on the link, then handed over in
    # reverse order (as a link that reorders would).
    link.holding = True
    for i in range(5):
        await net.publish("KOR", 100 + i)
    link.holding = False
    reversed_frames = list(reversed(link.held))
    kor_seqs = [decode_body(decode_frame(f).body).seq for f, _ in reversed_frames]
    assert len(reversed_frames) == 5 and kor_seqs == sorted(kor_seqs, reverse=True)
    before_gap = sum(1 for r in net.audit("JPN") if r["name"] == "gap")
    for frame_bytes, msg_id in reversed_frames:
        await EmbeddedTransport.send(link, "USA", "JPN", frame_bytes, msg_id=msg_id)
        await link.drain()
    # Each is delivered at once; the numbers the first one skipped all arrived late, within
    # the grace (GAP_GRACE_S), so no gap is audited (one still missing would be, after it).
    gaps = [r for r in net.audit("JPN") if r["name"] == "gap"][before_gap:]
    assert gaps == [], gaps
    # ...and once more, all of them: each is now a replay.
    for frame_bytes, _ in reversed_frames:
        await bad("replay", frame_bytes)

    # The node keeps running: its own traffic and fresh traffic to it both flow.
    await genuine()
    await net.publish("JPN", 1)
    assert jpn.running and jpn.rejected == expected

    # Every refusal is audited, with the reason it was counted under.
    audit = net.audit("JPN")
    refusals = Counter(str(r["reason"]).split(":")[0] for r in audit if r["name"] == "rejected")
    assert refusals == expected
    oversized = [r for r in audit if "exceeds the limit" in str(r["reason"])]
    assert len(oversized) == 1 and f"limit of {MAX_FRAME_BYTES} bytes" in str(
        oversized[0]["reason"]
    )
    # Nothing bad reached the picture; every genuine message reached it exactly once.
    assert not any(
        m.payload.track_id.endswith("T0999")  # type: ignore[union-attr]
        or "X" in m.payload.track_id  # type: ignore[union-attr]
        for m in net.inbox["JPN"]
    )
    for originator in ("KOR", "USA"):
        released = [
            r["message_id"]
            for r in net.audit(originator)
            if r["name"] == "released" and (r["detail"] or {}).get("recipient") == "JPN"  # type: ignore[union-attr]
        ]
        received = Counter(
            r["message_id"]
            for r in audit
            if r["name"] == "received" and r["originator"] == originator
        )
        assert received == Counter(released), f"{originator}→JPN not exactly once"
        picture = Counter(
            m.envelope.id for m in net.inbox["JPN"] if m.envelope.originator == originator
        )
        data = [m for m in released if m in picture]
        assert picture == Counter(data), f"{originator}→JPN picture not exactly once"
    assert len(net.inbox["JPN"]) == 2 * n + 5
    # The other nodes never saw the bad frames (nothing was relayed onward).
    assert net.nodes["USA"].rejected.total() == 0 and net.nodes["KOR"].rejected.total() == 0

    # The chains verify after a clean close.
    for node in net.nodes.values():
        node.close()
    reports = verify_dir(net.audit_dir, net.keys.public_keys())
    assert all(r.ok for r in reports), [r.error for r in reports]


def _fields(env: Envelope) -> dict[str, object]:
    return {f: getattr(env, f) for f in env.__struct_fields__}
