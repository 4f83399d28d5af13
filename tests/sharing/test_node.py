"""Nodes on the embedded transport: release, relay through the hub, verify, refuse."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from _net import T0, Net, _audit, _close, _network, _track

from trilink.errors import TransportError
from trilink.sharing.agreements import parse_agreements
from trilink.sharing.audit import verify_log
from trilink.sharing.envelope import Frame, decode_body, decode_frame, encode_frame
from trilink.sharing.transport.base import Outgoing
from trilink.types import Track


async def test_korean_track_reaches_japan_only_by_relay_through_usa(tmp_path: Path) -> None:
    net = await _network(tmp_path)
    envs = await net.nodes["KOR"].publish(_track("KOR"), event_id="e", valid_time_s=T0 + 60.0)
    await net.transport.drain()
    # One envelope per recipient, each with its own releasability and sequence number.
    assert sorted(e.recipients for e in envs) == [("JPN",), ("USA",)]
    assert {e.releasability for e in envs} == {("KOR-JPN",), ("KOR-USA",)}
    assert [e.seq for e in envs] == [1, 1]
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
    original = net.transport.send_many

    async def spy(src: str, frames: Sequence[Outgoing]) -> list[TransportError | None]:
        for _, frame, _ in frames:
            if src == "KOR" and decode_body(decode_frame(frame).body).recipients == ("USA",):
                sent.append(frame)
        return await original(src, frames)

    net.transport.send_many = spy  # type: ignore[method-assign]
    await net.nodes["KOR"].publish(_track("KOR"), event_id="e", valid_time_s=T0 + 60.0)
    await net.transport.drain()
    net.transport.send_many = original  # type: ignore[method-assign]
    return sent[0]


async def test_forged_signature_is_rejected_audited_and_changes_nothing(tmp_path: Path) -> None:
    net = await _network(tmp_path)
    good = await _captured_frame(net)
    before = {n: len(v) for n, v in net.inbox.items()}
    frame = decode_frame(good)
    forged_body = frame.body.replace(b"KOR-T0001", b"KOR-T0666")
    forged = encode_frame(Frame(body=forged_body, sig=frame.sig))
    await net.transport.send("KOR", "USA", forged, msg_id="forged")
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
    await net.transport.send("KOR", "USA", good, msg_id="again")
    await net.transport.drain()
    assert {n: len(v) for n, v in net.inbox.items()} == before
    assert net.nodes["USA"].rejected["replay"] == 1
    assert net.nodes["JPN"].rejected["replay"] == 0  # the replay was not relayed onward
    assert [r["name"] for r in _audit(net, "USA")].count("rejected") == 1
    await _close(net)  # closing seals each log with a signed checkpoint
    for n in ("JPN", "KOR", "USA"):
        assert verify_log(net.audit_dir / f"{n}.jsonl", net.keys.public_keys()) > 0  # type: ignore[union-attr]


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
    await net.transport.send("KOR", "USA", garbage, msg_id="garbage")
    await net.transport.drain()
    assert net.nodes["USA"].rejected["malformed"] == 1
    await net.nodes["KOR"].publish(_track("KOR"), event_id="e", valid_time_s=T0 + 60.0)
    await net.transport.drain()
    assert len(net.inbox["USA"]) == 1 and len(net.inbox["JPN"]) == 1
    await _close(net)
