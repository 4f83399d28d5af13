"""Links at run time and nodes that stop: suspend, resume, terminate, restart — nothing
accepted is lost, nothing is delivered twice, other links are undisturbed."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import msgspec
import pytest
from _net import T0, Net, _audit, _close, _network, _track

from trilink.errors import ReplayDetected
from trilink.sharing.agreements import AgreementSet, AgreementState, Backlog
from trilink.sharing.envelope import Frame, decode_body, decode_frame, encode_body, encode_frame
from trilink.sharing.node import SEQ_BLOCK, SequenceBook
from trilink.sharing.topology import Topology


def _with(net: Net, nation: str, agreement_id: str, **changes: object) -> AgreementSet:
    """The agreements of ``nation``'s node with one agreement changed (version bumped)."""
    current = net.nodes[nation].agreements
    out = []
    for a in current:
        if a.id == agreement_id:
            a = dataclasses.replace(a, version=a.version + 1, **changes)  # type: ignore[arg-type]
        out.append(a)
    return AgreementSet(tuple(out), source="runtime change")


def _ids(net: Net, nation: str) -> list[str]:
    return [m.payload.track_id for m in net.inbox[nation]]  # type: ignore[union-attr]


async def _publish(net: Net, n: int, first: int = 1) -> None:
    for i in range(first, first + n):
        await net.nodes["KOR"].publish(_track("KOR", i), event_id="e", valid_time_s=T0 + i)
    await net.transport.drain()


async def test_suspend_hold_then_resume_delivers_in_order_and_other_links_unaffected(
    tmp_path: Path,
) -> None:
    net = await _network(tmp_path)
    await _publish(net, 2)
    await net.nodes["KOR"].set_agreements(
        _with(net, "KOR", "KOR-JPN", state=AgreementState.SUSPENDED)
    )
    await _publish(net, 5, first=3)
    assert _ids(net, "JPN") == ["KOR-T0001", "KOR-T0002"]
    assert len(net.inbox["USA"]) == 7  # KOR→USA is another agreement: untouched
    assert net.nodes["KOR"].held == 5
    await net.nodes["KOR"].set_agreements(_with(net, "KOR", "KOR-JPN", state=AgreementState.ACTIVE))
    await _publish(net, 1, first=8)
    assert _ids(net, "JPN") == [f"KOR-T{i:04d}" for i in range(1, 9)]  # in order, none lost
    assert [m.envelope.seq for m in net.inbox["JPN"]] == list(range(1, 9))  # no gap
    assert net.nodes["KOR"].held == 0
    names = [r["name"] for r in _audit(net, "KOR")]
    assert names.count("agreement-changed") == 2 and names.count("held") == 5
    assert not any(r["name"] == "gap" for r in _audit(net, "JPN"))
    await _close(net)


@pytest.mark.parametrize(
    ("backlog", "delivered_after_resume"),
    [(Backlog.LATEST_ONLY, ["KOR-T0001", "KOR-T0002"]), (Backlog.DROP, [])],
)
async def test_latest_only_keeps_the_newest_report_per_track_and_drop_keeps_none(
    tmp_path: Path, backlog: Backlog, delivered_after_resume: list[str]
) -> None:
    net = await _network(tmp_path)
    await net.nodes["KOR"].set_agreements(
        _with(net, "KOR", "KOR-JPN", state=AgreementState.SUSPENDED, backlog=backlog)
    )
    for t in range(3):  # three reports each of two tracks
        for i in (1, 2):
            track = dataclasses.replace(_track("KOR", i), t_s=T0 + t)
            await net.nodes["KOR"].publish(track, event_id="e", valid_time_s=T0 + t)
    await net.transport.drain()
    assert net.inbox["JPN"] == []
    await net.nodes["KOR"].set_agreements(
        _with(net, "KOR", "KOR-JPN", state=AgreementState.ACTIVE, backlog=backlog)
    )
    await net.transport.drain()
    assert _ids(net, "JPN") == delivered_after_resume
    assert all(m.payload.t_s == T0 + 2 for m in net.inbox["JPN"])  # type: ignore[union-attr]
    await _close(net)


async def test_terminating_a_suspended_link_drops_its_backlog_and_says_so(tmp_path: Path) -> None:
    net = await _network(tmp_path)
    await net.nodes["KOR"].set_agreements(
        _with(net, "KOR", "KOR-JPN", state=AgreementState.SUSPENDED)
    )
    await _publish(net, 3)
    await net.nodes["KOR"].set_agreements(
        _with(net, "KOR", "KOR-JPN", state=AgreementState.TERMINATED)
    )
    await _publish(net, 1, first=4)
    assert net.inbox["JPN"] == [] and net.nodes["KOR"].held == 0
    assert len(net.inbox["USA"]) == 4
    dropped = [r for r in _audit(net, "KOR") if r["name"] == "dropped"]
    assert any("3 held messages dropped" in str(r["reason"]) for r in dropped)
    await _close(net)


async def test_a_stopped_node_gets_everything_accepted_meanwhile_once(tmp_path: Path) -> None:
    net = await _network(tmp_path)
    await _publish(net, 3)
    await net.nodes["JPN"].stop()
    await _publish(net, 4, first=4)  # JPN down: USA relays into JPN's stored backlog
    assert len(net.inbox["JPN"]) == 3
    await net.nodes["JPN"].start()
    await net.transport.drain()
    assert _ids(net, "JPN") == [f"KOR-T{i:04d}" for i in range(1, 8)]
    await _close(net)


async def test_a_restarted_node_recognises_what_it_had_accepted(tmp_path: Path) -> None:
    """Its audit chain is its memory: after a restart (a new Node object on the same log) a
    frame handed over again is a replay, and its own sequence numbers carry on."""
    net = await _network(tmp_path)
    await _publish(net, 2)
    await _close(net)
    again = await _network(tmp_path)
    usa_frames = [
        json.loads(line)
        for line in (tmp_path / "audit" / "USA.jsonl").read_text().splitlines()
        if '"received"' in line
    ]
    assert len(usa_frames) == 2
    await _publish(again, 1, first=3)
    # Its numbers carry on past the block reserved before the restart (never reused):
    # the recipients see the unused rest of the block as a gap, audited.
    assert [m.envelope.seq for m in again.inbox["USA"]] == [SEQ_BLOCK + 1]
    assert [m.envelope.seq for m in again.inbox["JPN"]] == [SEQ_BLOCK + 1]
    # A frame handed over again is recognised as already accepted.
    usa_log = [r for r in _audit(again, "KOR") if r["name"] == "released"]
    assert len(usa_log) == 6
    await _close(again)  # the skipped numbers never come: audited as a gap (at the latest) now
    gaps = [r for r in _audit(again, "USA") if r["name"] == "gap"]
    assert len(gaps) == 1 and f"numbers 3–{SEQ_BLOCK} of KOR's stream" in str(gaps[0]["reason"])


async def test_the_same_message_id_is_accepted_once(tmp_path: Path) -> None:
    net = await _network(tmp_path)
    await net.nodes["JPN"].stop()
    frame = Frame(body=b"x", sig=b"y")
    for _ in range(3):
        await net.transport.send("USA", "JPN", encode_frame(frame), msg_id="same")
    await net.nodes["JPN"].start()
    await net.transport.drain()
    assert net.nodes["JPN"].rejected["malformed"] + net.nodes["JPN"].rejected["bad-signature"] == 1
    await _close(net)


async def test_a_sequence_jump_is_audited_as_a_gap_and_a_late_arrival_still_accepted(
    tmp_path: Path,
) -> None:
    net = await _network(tmp_path)
    identity = net.keys.load_or_create("KOR")  # type: ignore[union-attr]
    await _publish(net, 1)
    # Forge KOR's own stream to USA with seq 4, then 2 (KOR's key: a genuine but
    # out-of-order stream, as after a retry across a server failure).
    base = next(m.envelope for m in net.inbox["USA"])
    for seq in (4, 2):
        env = msgspec.structs.replace(base, seq=seq, id=f"m{seq}")
        body = encode_body(env)
        frame = encode_frame(Frame.signed(identity, body))
        await net.transport.send("KOR", "USA", frame, msg_id=f"m{seq}")
    await net.transport.drain()
    assert [m.envelope.seq for m in net.inbox["USA"]] == [1, 4, 2]
    await _close(net)  # what is still missing is audited (at the latest) on closing
    gaps = [r for r in _audit(net, "USA") if r["name"] == "gap"]
    assert len(gaps) == 1 and "numbers 3 of KOR's stream to USA missing" in str(gaps[0]["reason"])
    assert decode_body(decode_frame(frame).body).seq == 2


def test_sequence_book_accepts_each_number_once_and_reports_new_holes() -> None:
    book = SequenceBook(window=4)
    assert list(book.accept("KOR", "JPN", 1)) == []
    assert list(book.accept("KOR", "JPN", 3)) == [2]
    assert list(book.accept("KOR", "JPN", 5)) == [4]
    assert book.missing("KOR", "JPN") == [2, 4]
    assert list(book.accept("KOR", "JPN", 2)) == []
    with pytest.raises(ReplayDetected):
        book.accept("KOR", "JPN", 3)
    assert list(book.accept("KOR", "USA", 3)) == [1, 2]  # another stream
    for seq in range(6, 12):  # the hole at 4 is given up once 4 numbers wait above it
        book.accept("KOR", "JPN", seq)
    assert book.missing("KOR", "JPN") == []


async def test_in_a_mesh_korea_reaches_japan_while_the_us_node_is_down(tmp_path: Path) -> None:
    net = await _network(tmp_path, topology=Topology.mesh(["JPN", "KOR", "USA"]))
    await net.nodes["USA"].stop()
    await _publish(net, 3)
    assert _ids(net, "JPN") == ["KOR-T0001", "KOR-T0002", "KOR-T0003"]
    assert all(m.hops == () for m in net.inbox["JPN"])  # direct, no relay
    assert net.inbox["USA"] == []
    await net.nodes["USA"].start()  # and the US gets its copies when back: none lost
    await net.transport.drain()
    assert len(net.inbox["USA"]) == 3
    await _close(net)


async def test_in_the_hub_japan_waits_for_the_us_relay_and_loses_nothing(tmp_path: Path) -> None:
    net = await _network(tmp_path)
    await net.nodes["USA"].stop()
    await _publish(net, 3)
    assert net.inbox["JPN"] == []  # the single point of failure of the hub
    await net.nodes["USA"].start()
    await net.transport.drain()
    assert _ids(net, "JPN") == ["KOR-T0001", "KOR-T0002", "KOR-T0003"]
    await _close(net)


async def test_messages_in_flight_when_the_recipient_learns_of_a_termination_still_count(
    tmp_path: Path,
) -> None:
    now = [T0 + 100.0]
    net = await _network(tmp_path, now=lambda: now[0])
    await net.nodes["JPN"].stop()
    await _publish(net, 3)  # released at T0+100, waiting in JPN's inbox
    now[0] = T0 + 110.0
    await net.nodes["JPN"].set_agreements(
        _with(net, "JPN", "KOR-JPN", state=AgreementState.TERMINATED)
    )
    await net.nodes["JPN"].start()
    await net.transport.drain()
    assert _ids(net, "JPN") == ["KOR-T0001", "KOR-T0002", "KOR-T0003"]  # released before
    now[0] = T0 + 120.0  # Korea has not heard of it: what it sends now, Japan refuses
    await _publish(net, 1, first=4)
    assert len(net.inbox["JPN"]) == 3 and net.nodes["JPN"].rejected["not-releasable"] == 1
    await _close(net)


async def test_a_recipient_does_not_refuse_on_a_suspension_the_originator_applies(
    tmp_path: Path,
) -> None:
    """Suspension is the originator's to apply (it holds its own traffic); a recipient
    that heard of it first, or of the resumption last, still accepts what was released."""
    net = await _network(tmp_path)
    await net.nodes["JPN"].set_agreements(
        _with(net, "JPN", "KOR-JPN", state=AgreementState.SUSPENDED)
    )
    await _publish(net, 2)
    assert _ids(net, "JPN") == ["KOR-T0001", "KOR-T0002"]
    await _close(net)


async def test_releases_during_a_resumption_queue_behind_the_backlog(tmp_path: Path) -> None:
    import asyncio

    net = await _network(tmp_path)
    await net.nodes["KOR"].set_agreements(
        _with(net, "KOR", "KOR-JPN", state=AgreementState.SUSPENDED)
    )
    await _publish(net, 20)
    resume = asyncio.create_task(
        net.nodes["KOR"].set_agreements(_with(net, "KOR", "KOR-JPN", state=AgreementState.ACTIVE))
    )
    await asyncio.sleep(0)  # the drain has started and awaits its first send
    for i in range(21, 26):  # new traffic while the backlog drains
        await net.nodes["KOR"].publish(_track("KOR", i), event_id="e", valid_time_s=T0 + i)
    await resume
    await net.transport.drain()
    assert _ids(net, "JPN") == [f"KOR-T{i:04d}" for i in range(1, 26)]
    assert [m.envelope.seq for m in net.inbox["JPN"]] == list(range(1, 26))
    await _close(net)
