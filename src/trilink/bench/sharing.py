"""Sharing throughput and latency, node to node, on either transport. SIMULATION.

Two nodes, ``KOR`` → ``USA`` on one link, with the shipped agreement between them. Every
message is a real national track report: released under the agreement, signed, audited,
stored by the transport, verified and judged by the recipient, audited there, and
acknowledged by a signed receipt that the sender verifies. On the embedded transport both
nodes run in this one process (its design); on JetStream, as deployed, ``USA``'s node runs
in a process of its own (:mod:`trilink.bench.sharing_peer`) and the broker is three real
``nats-server`` processes.

* **throughput** — ``count`` tracks published as fast as the node accepts them, as a
  national tracker hands them over: a scan's reports at a time (``scan`` tracks per
  :meth:`~trilink.sharing.node.Node.publish_many`, up to ``window`` scans in flight, so a
  broker round trip does not serialise them). ``msgs_per_s`` counts messages per second
  from the first publish to the last signed receipt verified by the sender (so each was
  also verified by the recipient).
* **sender** — ``signed_msgs_per_s``: what one node releases per second on its own —
  planned under the agreement, signed, audited and accepted (durably stored) by the
  transport, scans published as above — with no recipient drawing on the same CPU: the
  recipient's node is not started yet for this part (on JetStream its consumer keeps the
  backlog, which the node then takes before the other parts). The end-to-end
  ``msgs_per_s`` above adds the recipient's work and the receipts; on the embedded
  transport both share one core.
* **latency** — ``rate`` messages per second for ``seconds`` seconds, paced: for each, the
  time from calling publish to the sender verifying the recipient's signed receipt for
  it; ``p50_ms`` and ``p99_ms``. ``lost`` counts messages whose publish returned but that
  the recipient never receipted.
* **raw nats-py** — the same cluster's raw JetStream publish rate (R3, acknowledged,
  with message ids, no trilink at all), measured in the same run
  (:mod:`trilink.bench.sharing_raw`), so trilink's overhead is visible. For the embedded
  transport a cluster is started only for this figure.
"""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Final, Literal

import numpy as np
from rich.table import Table

from trilink._runtime import settle_heap
from trilink.errors import TransportError
from trilink.sharing.agreements import AgreementSet, load_default_agreements
from trilink.sharing.audit import AuditLog
from trilink.sharing.cluster import ADMIN, NatsCluster
from trilink.sharing.crypto import KeyStore, Verifier
from trilink.sharing.node import Node, Received
from trilink.sharing.topology import Topology
from trilink.sharing.transport.base import Transport
from trilink.sharing.transport.embedded import EmbeddedTransport
from trilink.sharing.transport.jetstream import JetStreamTransport
from trilink.types import Track, TrackState

__all__ = ["SharingResult", "TransportName", "run_sharing", "sharing_table"]

TransportName = Literal["embedded", "jetstream"]
_NATIONS: Final = ("KOR", "USA")
_T0: Final = 1_700_000_000.0


@dataclass(frozen=True)
class SharingResult:
    """One run of the sharing benchmark."""

    transport: str
    msgs_per_s: float = field(metadata={"doc": "verified by the recipient, per second"})
    p50_ms: float = field(metadata={"doc": "publish → verified receipt, median"})
    p99_ms: float = field(metadata={"doc": "publish → verified receipt, 99th percentile"})
    lost: int = field(metadata={"doc": "publish returned, never receipted"})
    raw_nats_msgs_per_s: float = field(metadata={"doc": "raw nats-py JetStream R3 publish"})
    p999_ms: float = field(default=math.nan, metadata={"doc": "99.9th percentile"})
    max_ms: float = field(default=math.nan, metadata={"doc": "the slowest message"})
    signed_msgs_per_s: float = field(
        default=0.0, metadata={"doc": "one node's releases accepted by the transport, per second"}
    )
    rate: float = 0.0
    seconds: float = 0.0
    count: int = 0
    achieved_rate: float = field(default=0.0, metadata={"doc": "paced publishes per second"})

    def to_json(self) -> dict[str, float | int | str]:
        return asdict(self)


_STATE: Final = np.array([-3.05e6, 4.05e6, 3.95e6, 1200.0, -300.0, 2500.0])
_COVARIANCE: Final = np.eye(6) * 250.0


def _track(i: int) -> Track:
    """A national track report as a tracker hands it over (its arrays shared: building
    them is the tracker's work, not the node's, and a track is never modified)."""
    return Track(
        track_id=f"KOR-T{i % 10_000:04d}",
        nation="KOR",
        t_s=_T0 + i * 1e-3,
        state=_STATE,
        covariance=_COVARIANCE,
        status=TrackState.CONFIRMED,
        sensors=("KOR-GREENPINE-1",),
        first_t_s=_T0,
        n_updates=12,
    )


@dataclass
class _Pair:
    transport: Transport
    kor: Node
    usa: Node | None  # None: USA's node runs in a process of its own
    received: list[int] = field(default_factory=lambda: [0])
    receipted: dict[str, float] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)

    async def settle(self, timeout_s: float) -> None:
        """Drain, and send and verify every receipt owed, until quiet."""
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            if self.usa is not None:
                await self.transport.drain()
                await self.usa.settle()
                await self.transport.drain()
            if not self.kor.sent_at:
                return
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        await self.transport.close()
        self.kor.close()
        if self.usa is not None:
            self.usa.close()


async def _pair(
    transport: Transport, directory: Path, agreements: AgreementSet, *, local_usa: bool = True
) -> _Pair:
    keys = KeyStore(directory / "keys")
    ids = {n: keys.load_or_create(n) for n in _NATIONS}
    verifier = Verifier({n: i.public_key for n, i in ids.items()})
    topology = Topology.from_links(_NATIONS, [_NATIONS])
    received = [0]
    receipted: dict[str, float] = {}

    def on_receive(msg: Received) -> None:
        received[0] += 1

    def on_receipt(message_id: str, sender: str, t: float) -> None:
        receipted[message_id] = time.perf_counter()

    nodes = {
        n: Node(
            n,
            identity=ids[n],
            verifier=verifier,
            agreements=agreements,
            topology=topology,
            transport=transport,
            audit=AuditLog(directory / "audit" / f"{n}.jsonl", ids[n]),
            now=time.time,
            on_receive=on_receive,
            on_receipt=on_receipt if n == "KOR" else None,
        )
        for n in _NATIONS
        if local_usa or n == "KOR"
    }
    for node in nodes.values():
        await node.start()
    return _Pair(transport, nodes["KOR"], nodes.get("USA"), received, receipted)


async def _publish(pair: _Pair, i: int) -> None:
    t0 = time.perf_counter()
    (env,) = await pair.kor.publish(_track(i), event_id="bench", valid_time_s=time.time())
    pair.started[env.id] = t0


async def _publish_scan(pair: _Pair, first: int, n: int) -> None:
    t0 = time.perf_counter()
    now = time.time()
    items = [(_track(i), now) for i in range(first, first + n)]
    for env in await pair.kor.publish_many(items, event_id="bench"):
        pair.started[env.id] = t0


async def _throughput(pair: _Pair, count: int, window: int, scan: int) -> float:
    """Messages per second from the first publish to the last signed receipt verified."""
    pair.started.clear()
    pair.receipted.clear()
    start = time.perf_counter()
    scans = -(-count // scan)
    await _bounded(
        scans, window, lambda k: _publish_scan(pair, k * scan, min(scan, count - k * scan))
    )
    await pair.settle(timeout_s=60.0)
    done = [pair.receipted[m] for m in pair.started if m in pair.receipted]
    if len(done) < count:
        raise TransportError(f"only {len(done)} of {count} messages were receipted in 60 s")
    return count / (max(done) - start)


async def _sender_rate(pair: _Pair, count: int, window: int, scan: int) -> float:
    """Releases per second until the transport has accepted every one."""
    start = time.perf_counter()
    scans = -(-count // scan)
    await _bounded(
        scans, window, lambda k: _publish_scan(pair, k * scan, min(scan, count - k * scan))
    )
    return count / (time.perf_counter() - start)


async def _bounded(count: int, window: int, job: Callable[[int], Awaitable[None]]) -> None:
    """Run ``job(0..count-1)`` in call order with at most ``window`` in flight."""
    slots = asyncio.Semaphore(window)
    tasks: list[asyncio.Task[None]] = []

    async def one(i: int) -> None:
        try:
            await job(i)
        finally:
            slots.release()

    for i in range(count):
        await slots.acquire()
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)


async def _latency(pair: _Pair, rate: float, seconds: float) -> tuple[list[float], float, int]:
    pair.started.clear()
    pair.receipted.clear()
    n = max(1, int(rate * seconds))
    start = time.perf_counter()
    # Only the publishes under way are held (a node does not keep its finished ones:
    # holding them all made every full garbage collection walk them, the harness's stall).
    pending: set[asyncio.Task[None]] = set()
    for i in range(n):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(_publish(pair, 1_000_000 + i))
        pending.add(task)
        task.add_done_callback(pending.discard)
    while pending:
        await asyncio.gather(*pending)
    achieved = n / (time.perf_counter() - start)
    await pair.settle(timeout_s=30.0)
    latencies = [
        1e3 * (pair.receipted[mid] - t0)
        for mid, t0 in pair.started.items()
        if mid in pair.receipted
    ]
    lost = sum(1 for mid in pair.started if mid not in pair.receipted)
    return latencies, achieved, lost


async def run_sharing(
    transport: TransportName = "embedded",
    *,
    rate: float = 5000.0,
    seconds: float = 5.0,
    count: int = 20_000,
    window: int = 8,
    scan: int = 128,
    directory: Path | None = None,
) -> SharingResult:
    """Measure one transport: throughput, paced latency, losses, and raw nats-py."""
    if rate <= 0 or seconds <= 0 or count <= 0:
        raise ValueError("rate, seconds and count must be positive")
    with tempfile.TemporaryDirectory(prefix="trilink-bench-") as tmp:
        root = directory or Path(tmp)
        agreements = AgreementSet(
            tuple(a for a in load_default_agreements() if a.id == "KOR-USA"), source="bench"
        )
        topology = Topology.from_links(_NATIONS, [_NATIONS])
        cluster = NatsCluster(root / "cluster", agreements=agreements, topology=topology)
        async with cluster:
            raw = await _raw_rate(cluster, count)
            peer: subprocess.Popen[str] | None = None
            signed: float | None = None
            if transport == "embedded":
                alone = EmbeddedTransport(root / "sender-only")
                sender = await _pair(alone, root / "sender-only", agreements, local_usa=False)
                try:
                    await _sender_rate(sender, min(count, 2_000), window, scan)  # warm-up
                    settle_heap()
                    signed = await _sender_rate(sender, count, window, scan)
                finally:
                    await sender.close()
                carrier: Transport = EmbeddedTransport(root / "transport")
                pair = await _pair(carrier, root, agreements)
            else:
                carrier = JetStreamTransport.from_cluster(cluster.info(), ["KOR"])
                pair = await _pair(carrier, root, agreements, local_usa=False)
            try:
                if signed is None:  # JetStream: before USA's node runs, as on embedded
                    await _sender_rate(pair, min(count, 2_000), window, scan)  # warm-up
                    settle_heap()
                    signed = await _sender_rate(pair, count, window, scan)
                    peer = _start_peer(root, cluster.directory)  # takes the backlog
                    await pair.settle(timeout_s=60.0)
                await _throughput(pair, min(count, 2_000), window, scan)  # warm-up
                await pair.settle(timeout_s=30.0)
                settle_heap()  # as a node process does once it is set up
                msgs_per_s = await _throughput(pair, count, window, scan)
                await pair.settle(timeout_s=30.0)
                latencies, achieved, lost = await _latency(pair, rate, seconds)
            finally:
                await pair.close()
                if peer is not None:
                    _stop_peer(peer)
    p50, p99, p999, worst = (
        tuple(float(np.percentile(latencies, q)) for q in (50, 99, 99.9, 100))
        if latencies
        else (math.nan,) * 4
    )
    return SharingResult(
        transport=transport,
        msgs_per_s=msgs_per_s,
        p50_ms=p50,
        p99_ms=p99,
        p999_ms=p999,
        max_ms=worst,
        lost=lost,
        raw_nats_msgs_per_s=raw,
        signed_msgs_per_s=signed or math.nan,
        rate=rate,
        seconds=seconds,
        count=count,
        achieved_rate=achieved,
    )


def _start_peer(root: Path, cluster_dir: Path) -> subprocess.Popen[str]:
    """USA's node in its own process (trilink.bench.sharing_peer); returns once it runs."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "trilink.bench.sharing_peer", str(root), str(cluster_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise TransportError(
            "the benchmark's receiving node did not start; run it by hand: "
            f"python -m trilink.bench.sharing_peer {root} {cluster_dir}"
        )
    return proc


def _stop_peer(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def _raw_rate(cluster: NatsCluster, count: int) -> float:
    from trilink.bench.sharing_raw import raw_jetstream_publish

    return await raw_jetstream_publish(cluster.credentials(ADMIN), count=count)


def sharing_table(results: list[SharingResult]) -> Table:
    """The results side by side, with the targets and trilink's share of raw nats-py."""
    table = Table(
        title="sharing, node to node (targets: ≥ 20,000 signed msg/s per node; p99 at "
        "5,000 msg/s < 2 ms embedded, < 20 ms JetStream R3)"
    )
    for col in (
        "transport",
        "signed msgs/s, one node",
        "end to end msgs/s (verified, receipted)",
        "raw nats-py JS R3 msgs/s",
        "trilink / raw",
        "paced rate achieved",
        "p50",
        "p99",
        "p99.9",
        "max",
        "lost",
    ):
        table.add_column(col)
    for r in results:
        table.add_row(
            r.transport,
            f"{r.signed_msgs_per_s:,.0f}",
            f"{r.msgs_per_s:,.0f}",
            f"{r.raw_nats_msgs_per_s:,.0f}",
            f"{r.msgs_per_s / r.raw_nats_msgs_per_s:.2f}×",
            f"{r.achieved_rate:,.0f}/s of {r.rate:,.0f}",
            f"{r.p50_ms:.2f} ms",
            f"{r.p99_ms:.2f} ms",
            f"{r.p999_ms:.2f} ms",
            f"{r.max_ms:.1f} ms",
            f"{r.lost}",
        )
    return table
