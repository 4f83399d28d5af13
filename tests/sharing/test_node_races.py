"""Races the fault tests on real processes ran into (and one corner of resumption),
reproduced deterministically on the embedded transport.

In a deployment every node process reloads the agreements file on its own (polling, so
up to a second apart), and a node sends from several tasks at once (the event loop's
releases, the receipt flusher, the drain of a resumed backlog). These tests pin down what
must hold however those interleave.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from _net import T0, Net, _audit, _close, _network, _track

from trilink.sharing.agreements import AgreementSet, AgreementState, load_default_agreements
from trilink.sharing.audit import AuditLog
from trilink.sharing.crypto import KeyStore, Verifier
from trilink.sharing.envelope import Kind, decode_body, decode_frame
from trilink.sharing.node import Node
from trilink.sharing.topology import Topology
from trilink.sharing.transport.base import Transport
from trilink.sharing.transport.embedded import EmbeddedTransport
from trilink.types import LaunchEstimate


async def _hub_on(tmp: Path, transport: EmbeddedTransport) -> Net:
    """The hub of :func:`_net._network`, on ``transport``."""
    keys = KeyStore(tmp / "keys")
    nations = ("JPN", "KOR", "USA")
    ids = {n: keys.load_or_create(n) for n in nations}
    verifier = Verifier({n: i.public_key for n, i in ids.items()})
    net = Net(transport, {}, {n: [] for n in nations}, tmp / "audit", keys)
    for n in nations:
        net.nodes[n] = Node(
            n,
            identity=ids[n],
            verifier=verifier,
            agreements=load_default_agreements(),
            topology=Topology.from_links(nations, [("KOR", "USA"), ("USA", "JPN")]),
            transport=transport,
            audit=AuditLog(tmp / "audit" / f"{n}.jsonl", ids[n]),
            now=lambda: T0 + 61.0,
            on_receive=net.inbox[n].append,
        )
        await net.nodes[n].start()
    return net


def _kor_jpn(net: Net, nation: str, state: AgreementState) -> AgreementSet:
    return net.nodes[nation].agreements.with_state("KOR-JPN", state)


def _ids(net: Net, nation: str) -> list[str]:
    return [m.payload.track_id for m in net.inbox[nation]]  # type: ignore[union-attr]


async def test_a_backlog_released_before_the_recipient_hears_of_the_resumption_is_not_lost(
    tmp_path: Path,
) -> None:
    """Korea's node reloads the resumed agreement before Japan's does (in a deployment the
    nodes poll the file independently): the backlog Korea releases at once was allowed by
    the agreements in force, was acknowledged by the transport, and must reach Japan."""
    now = [T0 + 100.0]
    net = await _network(tmp_path, now=lambda: now[0])
    try:
        for n in ("KOR", "USA", "JPN"):
            await net.nodes[n].set_agreements(_kor_jpn(net, n, AgreementState.SUSPENDED))
        for i in range(1, 4):
            await net.nodes["KOR"].publish(_track("KOR", i), event_id="e", valid_time_s=T0 + i)
        await net.transport.drain()
        assert net.nodes["KOR"].held == 3 and net.inbox["JPN"] == []
        now[0] = T0 + 110.0
        await net.nodes["KOR"].set_agreements(_kor_jpn(net, "KOR", AgreementState.ACTIVE))
        await net.transport.drain()  # the backlog reaches Japan before Japan's reload
        now[0] = T0 + 110.5
        for n in ("USA", "JPN"):
            await net.nodes[n].set_agreements(_kor_jpn(net, n, AgreementState.ACTIVE))
        await net.transport.drain()
        released = [r for r in _audit(net, "KOR") if r["name"] == "released" and r["peer"] == "JPN"]
        assert len(released) == 3  # Korea's log says: released, accepted by the transport
        refused = [str(r["reason"]) for r in _audit(net, "JPN") if r["name"] == "rejected"]
        assert _ids(net, "JPN") == ["KOR-T0001", "KOR-T0002", "KOR-T0003"], refused
    finally:
        await _close(net)


class _RetryingTransport(EmbeddedTransport):
    """The embedded transport, except that a receipt Korea sends is accepted a moment
    late, as when its first publish attempt was lost to a server failure and retried
    (the JetStream transport then stores a retried frame after a later call's frame)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.retrying = asyncio.Event()

    send_many = Transport.send_many  # every frame through send() below

    async def send(self, src: str, dst: str, frame: bytes, *, msg_id: str) -> None:
        if src == "KOR" and decode_body(decode_frame(frame).body).kind is Kind.RECEIPT:
            self.retrying.set()
            await asyncio.sleep(0.05)
        await super().send(src, dst, frame, msg_id=msg_id)


async def test_an_overtaken_frame_is_delivered_at_once_and_its_late_peer_is_no_gap(
    tmp_path: Path,
) -> None:
    """Korea's receipt to Japan (sent by the receipt flusher) and Korea's next track to
    Japan (sent by the event loop) are numbers N and N+1 of one stream. The transport may
    accept N+1 first (a retried send, as across a JetStream failover). trilink delivers
    each at once — a warning must not wait behind a late receipt — so the stream arrives
    out of order; the number N+1 skipped is audited as a gap only if N is still missing
    after GAP_GRACE_S, so a late N leaves no gap in the audit log."""
    transport = _RetryingTransport(tmp_path / "transport")
    net = await _hub_on(tmp_path, transport)
    try:
        await net.nodes["JPN"].publish(_track("JPN", 1), event_id="e", valid_time_s=T0 + 1)
        await asyncio.wait_for(transport.retrying.wait(), 5)  # Korea's receipt is under way
        await net.nodes["KOR"].publish(_track("KOR", 1), event_id="e", valid_time_s=T0 + 2)
        await asyncio.sleep(0.1)
        await transport.drain()
    finally:
        await _close(net)  # closing audits what is still missing: nothing here
    from_kor = [
        (r["seq"], r["kind"])
        for r in _audit(net, "JPN")
        if r["name"] == "received" and r["originator"] == "KOR"
    ]
    assert from_kor == [(2, "track"), (1, "receipt")]  # overtaken, both delivered once
    assert [r["reason"] for r in _audit(net, "JPN") if r["name"] == "gap"] == []


async def test_a_backlog_released_on_resumption_still_waits_for_the_agreed_delay(
    tmp_path: Path,
) -> None:
    """A delayed agreement (release not before valid time + delay) that is suspended and
    resumed: what it held goes out on resumption only once its delay has passed."""
    now = [T0 + 100.0]
    delayed = AgreementSet(
        tuple(
            dataclasses.replace(a, delay_s=30.0) if a.id == "KOR-JPN" else a
            for a in load_default_agreements()
        )
    )
    net = await _network(tmp_path, delayed, now=lambda: now[0])
    try:
        for n in ("KOR", "USA", "JPN"):
            await net.nodes[n].set_agreements(_kor_jpn(net, n, AgreementState.SUSPENDED))
        await net.nodes["KOR"].publish(_track("KOR", 1), event_id="e", valid_time_s=T0 + 100.0)
        await net.transport.drain()
        now[0] = T0 + 101.0  # resumed long before the release is due (T0 + 130)
        for n in ("JPN", "USA", "KOR"):
            await net.nodes[n].set_agreements(_kor_jpn(net, n, AgreementState.ACTIVE))
        await net.transport.drain()
        assert net.inbox["JPN"] == [], "released 29 s before its agreed delay"
        now[0] = T0 + 131.0
        await net.nodes["KOR"].release_due()
        await net.transport.drain()
        assert _ids(net, "JPN") == ["KOR-T0001"]
    finally:
        await _close(net)


async def test_a_links_backlog_under_two_agreements_is_delivered_in_publication_order(
    tmp_path: Path,
) -> None:
    """Korea releases tracks to Japan under one agreement and launch alerts under another;
    both are suspended (Seoul suspends the partner) and resumed together. Japan must get
    the held traffic in the order Korea published it, not one agreement's queue first."""
    now = [T0 + 100.0]
    split = []
    for a in load_default_agreements():
        if a.id == "KOR-JPN":
            split.append(
                dataclasses.replace(a, id="KOR-JPN-alerts", kinds=frozenset({Kind.LAUNCH}))
            )
            split.append(dataclasses.replace(a, id="KOR-JPN-tracks", kinds=frozenset({Kind.TRACK})))
        else:
            split.append(a)
    net = await _network(tmp_path, AgreementSet(tuple(split)), now=lambda: now[0])
    try:
        for n in ("KOR", "USA", "JPN"):
            agreements = net.nodes[n].agreements
            for agreement_id in ("KOR-JPN-alerts", "KOR-JPN-tracks"):
                agreements = agreements.with_state(agreement_id, AgreementState.SUSPENDED)
            await net.nodes[n].set_agreements(agreements)
        track = _track("KOR", 1)
        alert = LaunchEstimate(T0 + 40.0, 39.0, 125.7, 5e3, 2.0, "KOR-T0001", "KOR")
        await net.nodes["KOR"].publish(track, event_id="e", valid_time_s=T0 + 100.0)
        await net.nodes["KOR"].publish(alert, event_id="e", valid_time_s=T0 + 101.0)
        await net.transport.drain()
        assert net.nodes["KOR"].held == 2
        now[0] = T0 + 110.0
        for n in ("JPN", "USA", "KOR"):
            await net.nodes[n].set_agreements(
                net.nodes[n]
                .agreements.with_state("KOR-JPN-alerts", AgreementState.ACTIVE)
                .with_state("KOR-JPN-tracks", AgreementState.ACTIVE)
            )
        await net.transport.drain()
        got = [type(m.payload).__name__ for m in net.inbox["JPN"]]
        assert got == ["Track", "LaunchEstimate"], f"published Track then LaunchEstimate, got {got}"
    finally:
        await _close(net)


async def test_a_suspension_waits_for_releases_already_decided_and_holds_the_next(
    tmp_path: Path,
) -> None:
    """A publish decides its releases, then awaits (its batch signature, the transport).
    A suspension applied meanwhile first lets those releases finish — they were decided
    under the version in force, and are audited before the change — and every release
    decided after it is held: nothing is released under a version audited as superseded."""
    net = await _network(tmp_path)
    try:
        kor = net.nodes["KOR"]
        publish = asyncio.create_task(
            kor.publish(_track("KOR", 1), event_id="e", valid_time_s=T0 + 60.0)
        )
        await asyncio.sleep(0)  # the publish has decided and awaits its signature
        await kor.set_agreements(_kor_jpn(net, "KOR", AgreementState.SUSPENDED))
        await publish
        await kor.publish(_track("KOR", 2), event_id="e", valid_time_s=T0 + 61.0)
        await net.transport.drain()
        log = _audit(net, "KOR")
        changed = next(i for i, r in enumerate(log) if r["name"] == "agreement-changed")
        late = [
            r["reason"]
            for r in log[changed:]
            if r["name"] == "released" and r["peer"] == "JPN" and r["kind"] != "receipt"
        ]
        assert late == [], f"released to JPN after the suspension was applied: {late}"
        assert [m.payload.track_id for m in net.inbox["JPN"]] == ["KOR-T0001"]  # type: ignore[union-attr]
        assert kor.held == 1  # KOR-T0002, decided after the change
        assert len(net.inbox["USA"]) == 2  # KOR→USA is untouched
    finally:
        await _close(net)
