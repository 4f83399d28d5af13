"""The JetStream transport against a real 3-server cluster: order, exactly-once, faults,
and the broker's own refusal of traffic the agreements do not carry.

Handlers here count *raw* calls per message id: nothing in the test de-duplicates, so any
duplicate the transport lets through fails the test.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator

import nats
import nats.errors
import pytest
from nats.aio.msg import Msg

from trilink.errors import TransportError
from trilink.sharing.cluster import STREAM, NatsCluster, consumer_name
from trilink.sharing.transport.base import Outgoing, Transport
from trilink.sharing.transport.jetstream import (
    JetStreamTransport,
    _batch_id,
    _pack_batch,
    _Receiver,
    _unpack_batch,
)

pytestmark = pytest.mark.jetstream


class Recorder:
    """A handler per nation that records every raw call: (nation, src, frame)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bytes]] = []
        self.returned: list[tuple[str, str, bytes]] = []
        self.delay_s = 0.0

    def handler(self, nation: str):  # type: ignore[no-untyped-def]
        async def handle(frame: bytes, src: str) -> None:
            self.calls.append((nation, src, frame))
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            self.returned.append((nation, src, frame))

        return handle

    def counts(self) -> Counter[bytes]:
        return Counter(frame for _, _, frame in self.calls)


@pytest.fixture()
async def transport(jetstream_cluster: NatsCluster) -> AsyncIterator[JetStreamTransport]:
    t = JetStreamTransport.from_cluster(jetstream_cluster.info(), send_timeout_s=15.0)
    try:
        yield t
    finally:
        await t.close()


async def start_all(t: Transport, rec: Recorder, nations: tuple[str, ...]) -> None:
    for n in nations:
        await t.start(n, rec.handler(n))


async def test_frames_arrive_in_order_once_per_link(transport: JetStreamTransport) -> None:
    rec = Recorder()
    await start_all(transport, rec, ("JPN", "KOR", "USA"))
    links = [("KOR", "USA"), ("JPN", "USA"), ("USA", "JPN"), ("USA", "KOR")]
    n = 150

    async def send_link(src: str, dst: str) -> None:
        for i in range(n):
            await transport.send(
                src, dst, f"order:{src}{dst}:{i}".encode(), msg_id=f"o-{src}{dst}{i}"
            )

    await asyncio.gather(*(send_link(s, d) for s, d in links))
    await transport.drain(timeout_s=30)

    by_link: dict[tuple[str, str], list[int]] = defaultdict(list)
    for nation, src, frame in rec.calls:
        tag, link, i = frame.decode().split(":")
        assert tag == "order" and link == f"{src}{nation}"
        by_link[(src, nation)].append(int(i))
    assert {link: seq for link, seq in by_link.items()} == {link: list(range(n)) for link in links}


async def test_same_msg_id_is_stored_and_delivered_once(transport: JetStreamTransport) -> None:
    rec = Recorder()
    await transport.start("USA", rec.handler("USA"))
    await transport.send("JPN", "USA", b"dedup:first", msg_id="dedup-1")
    await transport.send("JPN", "USA", b"dedup:first", msg_id="dedup-1")  # a re-send
    # concurrent copies (a relay retrying while the first is in flight)
    await asyncio.gather(
        *(transport.send("JPN", "USA", b"dedup:second", msg_id="dedup-2") for _ in range(5))
    )
    await transport.drain(timeout_s=15)
    await asyncio.sleep(0.3)  # give a wrongly stored copy time to show up
    assert rec.counts() == Counter({b"dedup:first": 1, b"dedup:second": 1})


async def test_pipelined_sends_keep_call_order(transport: JetStreamTransport) -> None:
    rec = Recorder()
    await transport.start("JPN", rec.handler("JPN"))
    n = 1000
    await asyncio.gather(
        *(transport.send("USA", "JPN", f"pipe:{i}".encode(), msg_id=f"pipe-{i}") for i in range(n))
    )
    await transport.drain(timeout_s=30)
    assert [int(f.split(b":")[1]) for _, _, f in rec.calls] == list(range(n))


async def test_stream_leader_kill_loses_no_acknowledged_frame(
    jetstream_cluster: NatsCluster, transport: JetStreamTransport
) -> None:
    rec = Recorder()
    await start_all(transport, rec, ("JPN", "USA"))
    n = 2000
    acked: list[tuple[float, str]] = []
    failed: list[str] = []

    async def one(i: int) -> None:
        mid = f"kill-{i}"
        try:
            await transport.send("KOR", "USA", f"kill:{i}".encode(), msg_id=mid)
        except TransportError:
            failed.append(mid)
        else:
            acked.append((time.monotonic(), mid))

    async def sender() -> None:
        window = 200  # sends in flight, like a busy node
        sem = asyncio.Semaphore(window)

        async def gated(i: int) -> None:
            async with sem:
                await one(i)

        await asyncio.gather(*(gated(i) for i in range(n)))

    task = asyncio.create_task(sender())
    while len(acked) < 500:
        await asyncio.sleep(0.005)
    leader = jetstream_cluster.stream_leader()
    killed_at = time.monotonic()
    await asyncio.to_thread(jetstream_cluster.kill, leader)  # kill -9
    await task
    await asyncio.to_thread(jetstream_cluster.restart, leader)
    await transport.drain(timeout_s=60)

    handled = Counter(
        f"kill-{f.split(b':')[1].decode()}" for _, _, f in rec.calls if f.startswith(b"kill:")
    )
    lost = [mid for _, mid in acked if handled[mid] == 0]
    twice = {mid: c for mid, c in handled.items() if c > 1}
    assert not lost, f"{len(lost)} acknowledged frames lost, e.g. {lost[:5]}"
    assert not twice, f"frames handed over more than once: {dict(list(twice.items())[:5])}"
    order = [int(f.split(b":")[1]) for _, _, f in rec.calls if f.startswith(b"kill:")]
    inversions = sum(1 for a, b in zip(order, order[1:], strict=False) if b < a)
    times = sorted(t for t, _ in acked)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False) if b >= killed_at]
    print(
        f"\nleader n{leader} killed: {len(acked)} acked, {len(failed)} failed, "
        f"longest ack gap {max(gaps, default=0):.2f} s, "
        f"skipped redeliveries {transport.redelivered_skipped}, order inversions {inversions}"
    )


async def test_receivers_server_killed_mid_delivery_keeps_order_exactly_once(
    jetstream_cluster: NatsCluster, transport: JetStreamTransport
) -> None:
    n = 1000
    await asyncio.gather(
        *(
            transport.send("KOR", "USA", f"rx-kill:{i}".encode(), msg_id=f"rxk-{i}")
            for i in range(n)
        )
    )
    rec = Recorder()
    rec.delay_s = 0.001
    await transport.start("USA", rec.handler("USA"))
    while len(rec.returned) < 200:
        await asyncio.sleep(0.002)
    url = transport.connected_url("USA")
    victim = next(i for i, s in enumerate(jetstream_cluster.servers) if s.client_url == url)
    await asyncio.to_thread(jetstream_cluster.kill, victim)
    await transport.drain(timeout_s=60)
    await asyncio.to_thread(jetstream_cluster.restart, victim)
    got = [int(f.split(b":")[1]) for _, _, f in rec.calls if f.startswith(b"rx-kill:")]
    assert got == list(range(n)), "in order, each exactly once, across the reconnection"


async def test_receiver_stop_and_start_resumes_from_first_unacknowledged(
    transport: JetStreamTransport,
) -> None:
    rec = Recorder()
    rec.delay_s = 0.002
    await transport.start("KOR", rec.handler("KOR"))
    n = 400
    for i in range(0, n, 50):
        await asyncio.gather(
            *(
                transport.send("USA", "KOR", f"resume:{j}".encode(), msg_id=f"resume-{j}")
                for j in range(i, i + 50)
            )
        )
    while len(rec.returned) < 100:
        await asyncio.sleep(0.002)
    await transport.stop("KOR")  # mid-stream, possibly mid-handler
    stopped_with = len(rec.returned)
    assert stopped_with < n
    await transport.start("KOR", rec.handler("KOR"))
    await transport.drain(timeout_s=30)

    returned = [int(f.split(b":")[1]) for _, _, f in rec.returned]
    assert returned == list(range(n)), "every frame handled once, in order"
    called = Counter(int(f.split(b":")[1]) for _, _, f in rec.calls)
    unfinished = {i for i, c in called.items() if c > 1}
    assert len(unfinished) <= 1, f"only an interrupted handler is repeated, got {unfinished}"


async def test_broker_refuses_reading_another_nations_consumer(
    jetstream_cluster: NatsCluster,
) -> None:
    jpn = jetstream_cluster.credentials("JPN")
    posing = JetStreamTransport({"KOR": jpn})  # JPN's user trying to read KOR's traffic
    try:
        with pytest.raises(TransportError, match="refused.*consumer rx-KOR"):
            await posing.start("KOR", Recorder().handler("KOR"))
    finally:
        await posing.close()

    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    nc = await nats.connect(
        servers=list(jpn.servers),
        user=jpn.user,
        password=jpn.password,
        inbox_prefix=jpn.inbox_prefix,
        error_cb=on_error,
        allow_reconnect=False,
    )
    try:
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox)
        await nc.publish(
            f"$JS.API.CONSUMER.MSG.NEXT.{STREAM}.{consumer_name('KOR')}", b'{"batch":1}', inbox
        )
        await nc.subscribe("trilink.>")
        await nc.subscribe("_INBOX_KOR.>")
        await nc.flush()
        with pytest.raises(nats.errors.TimeoutError):
            await sub.next_msg(timeout=0.5)
    finally:
        await nc.close()
    text = "\n".join(errors)
    assert 'publish to "$js.api.consumer.msg.next.trilink.rx-kor"' in text
    assert 'subscription to "trilink.>"' in text
    assert 'subscription to "_inbox_kor.>"' in text


async def test_broker_refuses_links_without_agreement_traffic(
    jetstream_cluster: NatsCluster,
) -> None:
    jpn = jetstream_cluster.credentials("JPN")
    t = JetStreamTransport({"JPN": jpn, "KOR": jpn}, send_timeout_s=5.0)
    try:
        started = time.monotonic()
        # KOR-JPN traffic goes through the US relay: no direct link on the hub
        with pytest.raises(
            TransportError, match=r"refused JPN publishing on trilink\.link\.JPN\.KOR"
        ):
            await t.send("JPN", "KOR", b"x", msg_id="deny-1")
        # JPN posing as KOR on KOR's link to the US
        with pytest.raises(
            TransportError, match=r"refused KOR publishing on trilink\.link\.KOR\.USA"
        ):
            await t.send("KOR", "USA", b"x", msg_id="deny-2")
        assert time.monotonic() - started < 2.0, "a refusal is reported at once, not by timeout"
        await t.send("JPN", "USA", b"allowed", msg_id="deny-3")  # its own link still works
    finally:
        await t.close()


# -- batches (send_many) ----------------------------------------------------------------


def batch_frames(tag: str, dst: str, n: int, *, first: int = 0, pad: int = 0) -> list[Outgoing]:
    return [
        (dst, f"{tag}:{i}:".encode() + b"p" * pad, f"{tag}-{i}") for i in range(first, first + n)
    ]


def indices(rec: Recorder, tag: str) -> list[int]:
    prefix = f"{tag}:".encode()
    return [int(f.split(b":")[1]) for _, _, f in rec.calls if f.startswith(prefix)]


async def test_send_many_batch_arrives_in_order_once_each(transport: JetStreamTransport) -> None:
    rec = Recorder()
    await start_all(transport, rec, ("JPN", "KOR"))
    n = 600
    # two links in one call, interleaved; and several calls at once on the same links
    to_jpn, to_kor = batch_frames("bJ", "JPN", n), batch_frames("bK", "KOR", n)
    mixed = [f for pair in zip(to_jpn, to_kor, strict=True) for f in pair]
    third = len(mixed) // 3
    results = await asyncio.gather(
        transport.send_many("USA", mixed[:third]),
        transport.send_many("USA", mixed[third : 2 * third]),
        transport.send_many("USA", mixed[2 * third :]),
    )
    assert all(r is None for result in results for r in result)
    await transport.drain(timeout_s=30)
    assert indices(rec, "bJ") == list(range(n))
    assert indices(rec, "bK") == list(range(n))
    assert all(src == "USA" for _, src, _ in rec.calls)
    assert {nation for nation, _, f in rec.calls if f.startswith(b"bJ:")} == {"JPN"}
    assert {nation for nation, _, f in rec.calls if f.startswith(b"bK:")} == {"KOR"}
    assert 0 < transport.batches_received < 2 * n / 10, "one call's frames travel in batches"


async def test_send_many_retry_of_the_same_batch_is_stored_once(
    jetstream_cluster: NatsCluster,
) -> None:
    frames = batch_frames("retry", "USA", 50)
    rec = Recorder()
    receiver = JetStreamTransport.from_cluster(jetstream_cluster.info(), ["USA"])
    senders = [JetStreamTransport.from_cluster(jetstream_cluster.info(), ["KOR"]) for _ in range(2)]
    try:
        await receiver.start("USA", rec.handler("USA"))
        assert await senders[0].send_many("KOR", frames) == [None] * len(frames)
        # the same batch again: from the same transport, and as a restarted sender would
        assert await senders[0].send_many("KOR", frames) == [None] * len(frames)
        assert await senders[1].send_many("KOR", frames) == [None] * len(frames)
        deadline = time.monotonic() + 15
        while len(rec.calls) < len(frames) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)  # give a wrongly stored copy time to show up
        assert indices(rec, "retry") == list(range(len(frames)))
        assert receiver.duplicates_skipped == 0, "the stream, not the receiver, dropped them"
        # the same frames in other batches (other ids): the receiver hands them over once
        again = batch_frames("retry", "USA", 20, first=10)
        assert await senders[1].send_many("KOR", again) == [None] * len(again)
        deadline = time.monotonic() + 15
        while receiver.duplicates_skipped < len(again) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert receiver.duplicates_skipped == len(again)
        assert indices(rec, "retry") == list(range(len(frames)))
    finally:
        for t in (receiver, *senders):
            await t.close()


async def test_single_sends_and_batches_mixed_keep_link_order(
    jetstream_cluster: NatsCluster, transport: JetStreamTransport
) -> None:
    rec = Recorder()
    await transport.start("USA", rec.handler("USA"))
    creds = jetstream_cluster.credentials("KOR")
    nc = await nats.connect(
        servers=list(creds.servers),
        user=creds.user,
        password=creds.password,
        inbox_prefix=creds.inbox_prefix,
    )
    try:
        js = nc.jetstream(timeout=10)
        i = 0
        for round_ in range(6):
            # a plain single-frame publish, as older versions stored every frame
            await js.publish(
                "trilink.link.KOR.USA", f"mix:{i}".encode(), headers={"Nats-Msg-Id": f"mix-{i}"}
            )
            i += 1
            await transport.send("KOR", "USA", f"mix:{i}".encode(), msg_id=f"mix-{i}")
            i += 1
            size = 5 + 40 * round_
            batch = batch_frames("mix", "USA", size, first=i)
            assert await transport.send_many("KOR", batch) == [None] * size
            i += size
            # pipelined single sends and a batch at once
            singles = [
                transport.send("KOR", "USA", f"mix:{j}".encode(), msg_id=f"mix-{j}")
                for j in range(i, i + 20)
            ]
            await asyncio.gather(
                *singles, transport.send_many("KOR", batch_frames("mix", "USA", 30, first=i + 20))
            )
            i += 50
    finally:
        await nc.close()
    deadline = time.monotonic() + 30
    while len(indices(rec, "mix")) < i and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert indices(rec, "mix") == list(range(i))


async def test_batch_bigger_than_the_limit_is_split_in_order(
    jetstream_cluster: NatsCluster,
) -> None:
    rec = Recorder()
    small = JetStreamTransport.from_cluster(jetstream_cluster.info(), max_batch_bytes=4096)
    # a limit above the server's max payload (1 MiB) is capped below it
    huge = JetStreamTransport.from_cluster(jetstream_cluster.info(), max_batch_bytes=1 << 30)
    try:
        await small.start("USA", rec.handler("USA"))
        n = 200
        assert await small.send_many("KOR", batch_frames("split", "USA", n, pad=300)) == [None] * n
        await small.drain(timeout_s=30)
        assert indices(rec, "split") == list(range(n))
        assert small.batches_received >= n * 300 // 4096
        # 3 MiB in one call: more than one server message can carry
        m = 300
        big = batch_frames("huge", "USA", m, pad=10_000)
        assert await huge.send_many("KOR", big) == [None] * m
        deadline = time.monotonic() + 30
        while len(indices(rec, "huge")) < m and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert indices(rec, "huge") == list(range(m))
    finally:
        await small.close()
        await huge.close()


async def test_stop_mid_batch_resumes_after_the_last_handled_frame(
    transport: JetStreamTransport,
) -> None:
    rec = Recorder()
    rec.delay_s = 0.002
    await transport.start("KOR", rec.handler("KOR"))
    n = 400
    frames = batch_frames("midb", "KOR", n)
    assert await transport.send_many("USA", frames) == [None] * n
    while len(rec.returned) < 50:
        await asyncio.sleep(0.002)
    await transport.stop("KOR")  # inside a batch, possibly inside a handler
    assert len(rec.returned) < n
    await transport.start("KOR", rec.handler("KOR"))
    await transport.drain(timeout_s=30)
    returned = [int(f.split(b":")[1]) for _, _, f in rec.returned]
    assert returned == list(range(n)), "every frame handled once, in order"
    called = Counter(int(f.split(b":")[1]) for _, _, f in rec.calls)
    unfinished = {i for i, c in called.items() if c > 1}
    assert len(unfinished) <= 1, f"only an interrupted handler is repeated, got {unfinished}"
    assert transport.duplicates_skipped == 0, "resumed inside the batch, not by msg id"


def test_batch_payload_round_trip_and_malformed() -> None:
    entries = [("a-1", b""), ("b.2", b"x" * 70_000), ("c", b"\x00\xff")]
    data = _pack_batch(entries)
    assert _unpack_batch(data, 3) == entries
    with pytest.raises(ValueError, match="header says"):
        _unpack_batch(data, 2)
    with pytest.raises(ValueError):
        _unpack_batch(data[:-1], 3)
    with pytest.raises(ValueError):
        _unpack_batch(data + b"\x00", 3)
    assert _batch_id("KOR", "USA", entries) == _batch_id("KOR", "USA", list(entries))
    assert _batch_id("KOR", "USA", entries) != _batch_id("KOR", "USA", entries[:2])
    assert _batch_id("KOR", "USA", entries) != _batch_id("KOR", "JPN", entries)


async def test_a_frame_coming_back_after_newer_ones_is_handed_over_late_not_dropped(
    transport: JetStreamTransport,
) -> None:
    """A frame lost in transit can come back after newer frames were handled (a consumer
    leader elected late redelivers it then): below the last sequence handled, it is still
    handed over, once; a redelivery of a frame handled is skipped by its id."""
    conn = await transport._connection("JPN")
    rec = Recorder()
    receiver = _Receiver("JPN", rec.handler("JPN"), conn, ack_wait_s=2.0)
    transport._handled_seq["JPN"] = 50  # frames up to stream sequence 50 handled

    def delivery(sseq: int, msg_id: str, data: bytes) -> Msg:
        reply = f"$JS.ACK.{STREAM}.{consumer_name('JPN')}.2.{sseq}.{sseq}.{time.time_ns()}.0"
        return Msg(
            conn.nc,
            subject="trilink.link.USA.JPN",
            reply=reply,
            data=data,
            headers={"Nats-Msg-Id": msg_id},
        )

    await transport._deliver(receiver, delivery(42, "late-42", b"late"))
    await transport._deliver(receiver, delivery(42, "late-42", b"late"))  # its redelivery
    assert [f for _, _, f in rec.calls] == [b"late"]
    assert transport.redelivered_skipped == 1
    assert transport._handled_seq["JPN"] == 50, "the handled mark never moves back"
