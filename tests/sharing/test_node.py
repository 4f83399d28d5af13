"""Nodes on the embedded transport: release, relay through the hub, verify, refuse."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from trilink.sharing.agreements import AgreementSet, load_default_agreements, parse_agreements
from trilink.sharing.audit import AuditLog, verify_log
from trilink.sharing.crypto import KeyStore, Verifier
from trilink.sharing.envelope import Frame, decode_frame, encode_frame
from trilink.sharing.node import Node, Received
from trilink.sharing.topology import Topology
from trilink.sharing.transport.embedded import EmbeddedTransport
from trilink.types import Track, TrackState

T0 = 1_503_953_880.0


def _track(nation: str, n: int = 1) -> Track:
    return Track(
        track_id=f"{nation}-T{n:04d}",
        nation=nation,
        t_s=T0 + 60.0,
        state=np.array([-3.0e6, 4.0e6, 4.0e6, 100.0, 200.0, 300.0]),
        covariance=np.eye(6) * 100.0,
        status=TrackState.CONFIRMED,
        sensors=(f"{nation}-RADAR",),
        first_t_s=T0 + 50.0,
        n_updates=5,
    )


@dataclass
class Net:
    transport: EmbeddedTransport
    nodes: dict[str, Node]
    inbox: dict[str, list[Received]] = field(default_factory=dict)
    audit_dir: Path = Path()
    keys: KeyStore | None = None


async def _network(tmp: Path, agreements: AgreementSet | None = None) -> Net:
    keys = KeyStore(tmp / "keys")
    nations = ("JPN", "KOR", "USA")
    ids = {n: keys.load_or_create(n) for n in nations}
    verifier = Verifier({n: i.public_key for n, i in ids.items()})
    topo = Topology.from_links(nations, [("KOR", "USA"), ("USA", "JPN")])
    transport = EmbeddedTransport()
    net = Net(transport, {}, {n: [] for n in nations}, tmp / "audit", keys)

    def sink(n: str) -> Callable[[Received], None]:
        return lambda msg: net.inbox[n].append(msg)

    for n in nations:
        net.nodes[n] = Node(
            n,
            identity=ids[n],
            verifier=verifier,
            agreements=agreements or load_default_agreements(),
            topology=topo,
            transport=transport,
            audit=AuditLog(tmp / "audit" / f"{n}.jsonl", ids[n]),
            now=lambda: T0 + 61.0,
            on_receive=sink(n),
        )
        net.nodes[n].start()
    return net


async def _close(net: Net) -> None:
    await net.transport.close()
    for node in net.nodes.values():
        node.close()


def _audit(net: Net, nation: str) -> list[dict[str, object]]:
    path = net.audit_dir / f"{nation}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_korean_track_reaches_japan_only_by_relay_through_usa(tmp_path: Path) -> None:
    net = await _network(tmp_path)
    env = await net.nodes["KOR"].publish(_track("KOR"), event_id="e", valid_time_s=T0 + 60.0)
    await net.transport.drain()
    assert env is not None and set(env.recipients) == {"JPN", "USA"}
    (jpn,) = net.inbox["JPN"]
    assert [h.nation for h in jpn.hops] == ["USA"]
    assert jpn.envelope.originator == "KOR"
    assert isinstance(jpn.payload, Track) and jpn.payload.track_id == "KOR-T0001"
    (usa,) = net.inbox["USA"]
    assert usa.hops == ()
    assert any(r["name"] == "relayed" for r in _audit(net, "USA"))
    await _close(net)


async def test_without_a_kor_to_jpn_agreement_japan_gets_nothing(tmp_path: Path) -> None:
    text = """
format = 1
[[agreement]]
id = "KOR-USA"
version = 1
from = "KOR"
to = "USA"
kinds = ["track"]
state = "active"
backlog = "hold"
"""
    net = await _network(tmp_path, parse_agreements(text, source="test.toml"))
    await net.nodes["KOR"].publish(_track("KOR"), event_id="e", valid_time_s=T0 + 60.0)
    await net.transport.drain()
    assert len(net.inbox["USA"]) == 1
    assert net.inbox["JPN"] == []
    assert not any(r["name"] == "relayed" for r in _audit(net, "USA"))
    await _close(net)


async def _captured_frame(net: Net) -> bytes:
    """Publish one KOR track and capture the bytes KOR sent to USA."""
    sent: list[bytes] = []
    original = net.transport.send

    async def spy(src: str, dst: str, frame: bytes) -> None:
        if src == "KOR":
            sent.append(frame)
        await original(src, dst, frame)

    net.transport.send = spy  # type: ignore[method-assign]
    await net.nodes["KOR"].publish(_track("KOR"), event_id="e", valid_time_s=T0 + 60.0)
    await net.transport.drain()
    net.transport.send = original  # type: ignore[method-assign]
    return sent[0]


async def test_forged_signature_is_rejected_audited_and_changes_nothing(tmp_path: Path) -> None:
    net = await _network(tmp_path)
    good = await _captured_frame(net)
    before = {n: len(v) for n, v in net.inbox.items()}
    frame = decode_frame(good)
    forged_body = frame.body.replace(b"KOR-T0001", b"KOR-T0666")
    forged = encode_frame(Frame(body=forged_body, sig=frame.sig))
    await net.transport.send("KOR", "USA", forged)
    await net.transport.drain()
    assert {n: len(v) for n, v in net.inbox.items()} == before
    assert net.nodes["USA"].rejected["bad-signature"] == 1
    rejected = [r for r in _audit(net, "USA") if r["name"] == "rejected"]
    assert len(rejected) == 1 and "bad-signature" in str(rejected[0]["reason"])
    # The node keeps working: a fresh, genuine message still goes through.
    await net.nodes["KOR"].publish(_track("KOR", 2), event_id="e", valid_time_s=T0 + 61.0)
    await net.transport.drain()
    assert len(net.inbox["USA"]) == before["USA"] + 1
    await _close(net)


async def test_replayed_message_is_rejected_and_audited(tmp_path: Path) -> None:
    net = await _network(tmp_path)
    good = await _captured_frame(net)
    before = {n: len(v) for n, v in net.inbox.items()}
    await net.transport.send("KOR", "USA", good)
    await net.transport.drain()
    assert {n: len(v) for n, v in net.inbox.items()} == before
    assert net.nodes["USA"].rejected["replay"] == 1
    assert net.nodes["JPN"].rejected["replay"] == 0  # the replay was not relayed onward
    assert [r["name"] for r in _audit(net, "USA")].count("rejected") == 1
    for n in ("JPN", "KOR", "USA"):
        assert verify_log(net.audit_dir / f"{n}.jsonl", net.keys.public_keys()) > 0  # type: ignore[union-attr]
    await _close(net)


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\x00\x01\x02",
        b"\x81\xa4body\xc0",
        b"x" * 70_000,
        encode_frame(Frame(body=b"zz", sig=b"")),
    ],
)
async def test_malformed_frames_are_rejected_and_the_node_keeps_running(
    tmp_path: Path, garbage: bytes
) -> None:
    net = await _network(tmp_path)
    await net.transport.send("KOR", "USA", garbage)
    await net.transport.drain()
    assert net.nodes["USA"].rejected["malformed"] == 1
    await net.nodes["KOR"].publish(_track("KOR"), event_id="e", valid_time_s=T0 + 60.0)
    await net.transport.drain()
    assert len(net.inbox["USA"]) == 1 and len(net.inbox["JPN"]) == 1
    await _close(net)
