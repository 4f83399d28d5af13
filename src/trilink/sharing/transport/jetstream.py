"""The JetStream transport: frames stored by a 3-server NATS JetStream cluster (R3).

Each local nation has one NATS connection with *its own* credentials (see
:mod:`trilink.sharing.cluster`), so the broker enforces what it may write and read:

- Sending: each link (``src`` → ``dst``) has a queue; :meth:`JetStreamTransport.send`
  and :meth:`~JetStreamTransport.send_many` put frames on it and return once they are
  stored. A link publishes on ``trilink.link.<src>.<dst>``, one stream message at a time
  (``max_link_in_flight``): whatever queued up while the previous one was being stored
  goes next as one *batch* message, at most ``max_batch_bytes`` (capped below the
  server's maximum payload; more is split in order). So an idle link sends each frame at
  once, and a busy one a few large messages instead of thousands of small ones. A lone
  frame is published as it is, with its ``Nats-Msg-Id``; a batch carries the header
  ``Trilink-Batch: <count>`` and its entries (each frame with its msg id, see
  :func:`_pack_batch`), with a ``Nats-Msg-Id`` derived from the ids it contains (the
  stream keeps one copy per id for two minutes, so a retried batch is stored once).
  The publish waits for the stream's acknowledgement: the message is then on a quorum of
  replicas. A missing acknowledgement (a server died, a leader is being elected) is
  retried with the same id and growing pauses until ``send_timeout_s``; then every frame
  of the message fails with :class:`~trilink.errors.TransportError`. With one message in
  flight per link, frames are stored in the order they were queued, retries included.
- :meth:`JetStreamTransport.start` reads the nation's durable pull consumer
  ``rx-<nation>`` in batches and hands frames to the handler one at a time, in stream
  order (a batch message's frames in their order); a stream message is acknowledged
  after the handlers of all its frames returned. A handler that raises stops that
  nation's delivery, as a crashed node would; :meth:`~JetStreamTransport.drain` reports
  it. If delivery stops inside a batch, it resumes after the last frame handled. A frame
  whose msg id this process handled lately (one of the last 100,000 per nation) is not
  handed over again, whatever message carries it.

Order and exactly-once while running. The consumer redelivers a frame whose
acknowledgement was lost (a server died before it was replicated); the receiver
remembers the ids of the frames it handled and re-acknowledges such frames without
handing them over again. A frame delivered to a connection that then broke never
arrives; it is redelivered once its acknowledgement wait has passed *on the consumer's
leader*, before newer frames. So after a disconnection, a lost pull request or a
(re)start with frames still unacknowledged, the receiver asks the consumer (waiting out
a leader election: a consumer led from the killed server gets a new leader only then)
and, if it holds frames delivered and not acknowledged, pauses one ack wait from that
answer, then reads on, in order. A frame that still comes back after newer ones is
handed over late, never dropped: a redelivery is skipped only by the ids handled.
Duplicates can therefore only follow a new process (the handled ids live in memory):
the node discards them by the originator's sequence number.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import struct
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import nats
import nats.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from trilink.errors import TransportError
from trilink.sharing.cluster import (
    STREAM,
    ClusterInfo,
    Credentials,
    consumer_name,
    link_subject,
)
from trilink.sharing.transport.base import Handler, Outgoing, Transport

__all__ = ["JetStreamTransport"]

log = logging.getLogger(__name__)

_MSG_ID: Final = "Nats-Msg-Id"
_BATCH: Final = "Trilink-Batch"
_ENTRY_HEAD: Final = struct.Struct(">HI")  # a batch entry: msg id length, frame length
_MAX_MSG_ID: Final = 1024
_PAYLOAD_HEADROOM: Final = 4096  # for the headers, below the server's max payload
_PULL_BYTES: Final = 64 * 1024 * 1024  # at most this much asked for by one pull request
_STATUS: Final = "Status"
_DESCRIPTION: Final = "Description"
_NATION_RE: Final = re.compile(r"[A-Z]{3}")
_VALID_NATIONS: Final[set[str]] = set()  # codes _NATION_RE matched (a cache)
_VIOLATION_RE: Final = re.compile(
    r"Permissions Violation for (Publish|Subscription) to \"?([^\"\s']+)", re.IGNORECASE
)


class _Denied(Exception):
    """The broker refused a publish or subscription (a permissions violation)."""


@dataclass(frozen=True, slots=True)
class _Reply:
    """A reply on the connection's inbox: a JetStream acknowledgement or API answer."""

    data: bytes
    status: str | None


class _Window:
    """At most ``size`` sends in flight; waiters go on strictly first come, first served
    (so sends keep their call order on the wire)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.used = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.used < self.size and not self._waiters:
            self.used += 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut  # the releaser hands its slot over
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()
            raise

    def release(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return
        self.used -= 1


class _RecentIds:
    """The last ``size`` message ids handled by one nation (a bounded set)."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._ids: set[str] = set()
        self._order: deque[str] = deque()

    def __contains__(self, msg_id: object) -> bool:
        return msg_id in self._ids

    def add(self, msg_id: str) -> None:
        if msg_id in self._ids:
            return
        self._ids.add(msg_id)
        self._order.append(msg_id)
        if len(self._order) > self.size:
            self._ids.discard(self._order.popleft())


# -- one nation's connection ------------------------------------------------------------


class _Connection:
    """One NATS connection with one nation's credentials, and its reply inbox."""

    def __init__(self, creds: Credentials, *, max_in_flight: int) -> None:
        self.creds = creds
        self.window = _Window(max_in_flight)
        self.nc = NatsClient()
        self.generation = 0
        self._replies: dict[str, tuple[str, asyncio.Future[_Reply]]] = {}
        self._violations: list[tuple[str, str]] = []
        self._reply_prefix = ""
        self._next = 0

    async def open(self, *, connect_timeout_s: float) -> None:
        creds = self.creds
        try:
            await self.nc.connect(
                servers=list(creds.servers),
                user=creds.user,
                password=creds.password,
                name=f"trilink-{creds.name}",
                inbox_prefix=creds.inbox_prefix,
                connect_timeout=max(1, round(connect_timeout_s)),
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.2,  # type: ignore[arg-type]  # float is fine
                ping_interval=5,
                max_outstanding_pings=2,
                error_cb=self._on_error,
                disconnected_cb=self._on_disconnect,
                reconnected_cb=self._on_reconnect,
            )
        except nats.errors.NoServersError as exc:
            raise TransportError(
                f"cannot connect {creds.name} to any of {', '.join(creds.servers)}: {exc}. "
                "Fix: start the cluster (`trilink cluster up DIR`) or use the servers its "
                "cluster.json lists."
            ) from exc
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            detail = "authorization violation" if "uthorization" in str(exc) else repr(exc)
            raise TransportError(
                f"cannot connect {creds.name} (user {creds.user}) to "
                f"{', '.join(creds.servers)}: {detail}. Fix: use the credentials file the "
                "cluster wrote (creds/<NATION>.json in its directory) and check it runs."
            ) from exc
        self._reply_prefix = f"{creds.inbox_prefix}.{self.nc._nuid.next().decode()}."
        await self.nc.subscribe(self._reply_prefix + "*", cb=self._on_reply)

    async def close(self) -> None:
        with contextlib.suppress(nats.errors.Error, OSError, asyncio.TimeoutError):
            await self.nc.close()
        for _, fut in self._replies.values():
            if not fut.done():
                fut.cancel()
        self._replies.clear()

    # -- callbacks ----------------------------------------------------------------------

    async def _on_error(self, exc: Exception) -> None:
        text = str(exc)
        match = _VIOLATION_RE.search(text)
        if match is None:
            log.debug("nats connection of %s: %r", self.creds.name, exc)
            return
        subject = match.group(2).lower()  # nats-py lower-cases the server's error
        self._violations.append((subject, text))
        del self._violations[:-100]
        for token, (subj, fut) in list(self._replies.items()):
            if subj.lower() == subject and not fut.done():
                fut.set_exception(_Denied(text))
                self._replies.pop(token, None)

    async def _on_disconnect(self) -> None:
        self.generation += 1

    async def _on_reconnect(self) -> None:
        self.generation += 1

    async def _on_reply(self, msg: Msg) -> None:
        token = msg.subject[len(self._reply_prefix) :]
        entry = self._replies.pop(token, None)
        if entry is None or entry[1].done():
            return
        status = msg.headers.get(_STATUS) if msg.headers else None
        entry[1].set_result(_Reply(msg.data, status))

    # -- requests -----------------------------------------------------------------------

    def violation_mark(self) -> int:
        return len(self._violations)

    def violation_since(self, mark: int, subject: str) -> str | None:
        for subj, text in self._violations[mark:]:
            if subj == subject.lower():
                return text
        return None

    async def publish(
        self, subject: str, payload: bytes, headers: dict[str, str] | None
    ) -> tuple[str, asyncio.Future[_Reply]]:
        """Put a publish on the wire (in call order); return its reply's token and future."""
        self._next += 1
        token = f"{self._next:x}"
        fut: asyncio.Future[_Reply] = asyncio.get_running_loop().create_future()
        self._replies[token] = (subject, fut)
        try:
            await self.nc.publish(
                subject, payload, reply=self._reply_prefix + token, headers=headers
            )
        except BaseException:
            self._replies.pop(token, None)
            raise
        return token, fut

    def forget(self, token: str) -> None:
        """No longer wait for the reply of ``token`` (a late one is dropped)."""
        self._replies.pop(token, None)

    async def request(self, subject: str, payload: bytes, *, timeout_s: float) -> _Reply:
        """A request whose permission violation fails at once instead of timing out."""
        mark = self.violation_mark()
        token, fut = await self.publish(subject, payload, None)
        try:
            await self.nc.flush(timeout=max(1, round(timeout_s)))
            denied = self.violation_since(mark, subject)
            if denied is not None:
                raise _Denied(denied)
            return await asyncio.wait_for(asyncio.shield(fut), timeout_s)
        finally:
            self.forget(token)


# -- one started nation -----------------------------------------------------------------


@dataclass
class _Receiver:
    nation: str
    handler: Handler
    conn: _Connection
    ack_wait_s: float
    task: asyncio.Task[None] | None = None
    resume_at: float = 0.0
    recheck: bool = False  # a pull was cut short: check the consumer before pulling again
    sub: Subscription | None = field(default=None, repr=False)


@dataclass(slots=True, eq=False)
class _Call:
    """One call of :meth:`JetStreamTransport.send_many`: its results, filled in as its
    frames are stored or fail, and a future done once none remains."""

    results: list[TransportError | None]
    remaining: int
    done: asyncio.Future[None]
    cancelled: bool = False


@dataclass(slots=True, eq=False)
class _Entry:
    """A frame queued on a link: its id, bytes, and where its outcome goes."""

    msg_id: str
    frame: bytes
    call: _Call
    index: int

    @property
    def cost(self) -> int:
        return len(self.frame) + len(self.msg_id) + _ENTRY_HEAD.size


@dataclass(slots=True, eq=False)
class _Link:
    """One outgoing link's queue and the number of its stream messages in flight."""

    queue: deque[_Entry] = field(default_factory=deque)
    busy: int = 0


class JetStreamTransport(Transport):
    """Frames over NATS JetStream, one connection per local nation with its credentials.

    ``credentials`` names the nations this process hosts (one for ``trilink node``, all
    for the demo). Build it from a running cluster with :meth:`from_cluster`.

    Sending options: ``max_batch_bytes`` and ``max_batch_frames`` bound one batch message
    (the bytes are capped below the server's maximum payload); ``max_link_in_flight`` is
    how many stream messages a link has in flight (1 keeps the queue's order across
    retries and makes a busy link's batches large; more lowers the wait behind a slow
    acknowledgement at the cost of more, smaller messages and possible reordering on a
    failover); ``max_in_flight`` bounds a nation's publishes across its links.
    """

    name = "jetstream"

    def __init__(
        self,
        credentials: Mapping[str, Credentials],
        *,
        send_timeout_s: float = 15.0,
        ack_timeout_s: float = 2.0,
        batch: int = 256,
        pull_expires_s: float = 1.0,
        connect_timeout_s: float = 5.0,
        drain_timeout_s: float = 60.0,
        max_in_flight: int = 1024,
        max_batch_bytes: int = 256 * 1024,
        max_batch_frames: int = 1024,
        max_link_in_flight: int = 1,
    ) -> None:
        if not credentials:
            raise TransportError(
                "the JetStream transport got no credentials; give at least the nation this "
                "process hosts (creds/<NATION>.json of the cluster directory)"
            )
        self._credentials = dict(credentials)
        self.send_timeout_s = send_timeout_s
        self.ack_timeout_s = ack_timeout_s
        self.batch = batch
        self.pull_expires_s = pull_expires_s
        self.connect_timeout_s = connect_timeout_s
        self.drain_timeout_s = drain_timeout_s
        self.max_in_flight = max_in_flight
        self.max_batch_bytes = max_batch_bytes
        self.max_batch_frames = max(1, max_batch_frames)
        self.max_link_in_flight = max(1, max_link_in_flight)
        self._links: dict[tuple[str, str], _Link] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._conns: dict[str, _Connection] = {}
        self._connecting: dict[str, asyncio.Future[_Connection]] = {}
        self._receivers: dict[str, _Receiver] = {}
        self._handled_seq: dict[str, int] = {}
        # (stream sequence, frames of it handled) of a batch whose handling was cut short
        self._partial: dict[str, tuple[int, int]] = {}
        self._stopped_at: dict[str, float] = {}
        # drain accounting per local nation: ids accepted and not handled yet, ids being
        # sent, and the ids handled lately (a send can return after its frame is handled)
        self._outstanding: dict[str, set[str]] = {}
        self._inflight: dict[str, dict[str, int]] = {}
        self._recent: dict[str, _RecentIds] = {}
        self._changed = asyncio.Event()
        self._failure: BaseException | None = None
        self.delivered = 0
        self.redelivered_skipped = 0
        self.duplicates_skipped = 0
        self.batches_received = 0
        self.malformed = 0

    @classmethod
    def from_cluster(
        cls,
        cluster: ClusterInfo | Path,
        nations: Iterable[str] | None = None,
        **options: Any,
    ) -> JetStreamTransport:
        """A transport for ``nations`` (default: all) of a cluster (its info or directory)."""
        info = cluster if isinstance(cluster, ClusterInfo) else ClusterInfo.load(Path(cluster))
        chosen = tuple(info.nations if nations is None else nations)
        return cls({n: info.load_credentials(n) for n in chosen}, **options)

    @property
    def nations(self) -> tuple[str, ...]:
        """The nations this transport can send and receive for."""
        return tuple(sorted(self._credentials))

    def connected_url(self, nation: str) -> str | None:
        """The server ``nation``'s connection is on now (None if not connected)."""
        conn = self._conns.get(nation)
        url = conn.nc.connected_url if conn is not None and conn.nc.is_connected else None
        return None if url is None else f"{url.scheme}://{url.hostname}:{url.port}"

    # -- connections --------------------------------------------------------------------

    async def _connection(self, nation: str) -> _Connection:
        conn = self._conns.get(nation)
        if conn is not None:
            return conn
        pending = self._connecting.get(nation)
        if pending is not None:
            return await asyncio.shield(pending)
        creds = self._credentials.get(nation)
        if creds is None:
            raise TransportError(
                f"this JetStream transport has no credentials for {nation} (it hosts "
                f"{', '.join(self.nations)}). Fix: give it {nation}'s credentials file, or "
                f"run {nation}'s node in its own process."
            )
        fut: asyncio.Future[_Connection] = asyncio.get_running_loop().create_future()
        self._connecting[nation] = fut
        try:
            conn = _Connection(creds, max_in_flight=self.max_in_flight)
            await conn.open(connect_timeout_s=self.connect_timeout_s)
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: the waiters get it through shield
            raise
        finally:
            del self._connecting[nation]
        self._conns[nation] = conn
        fut.set_result(conn)
        return conn

    # -- sending ------------------------------------------------------------------------

    async def send(self, src: str, dst: str, frame: bytes, *, msg_id: str) -> None:
        _check_nation("src", src)
        (error,) = await self.send_many(src, [(dst, frame, msg_id)])
        if error is not None:
            raise error

    async def send_many(self, src: str, frames: Sequence[Outgoing]) -> list[TransportError | None]:
        """Queue ``frames`` on their links and return once each is stored (or failed).

        Each link (``src`` → ``dst``) publishes its queue in order, at most
        :attr:`max_link_in_flight` stream messages at a time: what queued up meanwhile
        goes as one batch (one JetStream message of at most :attr:`max_batch_bytes`), so
        under load a link sends few large messages, and an idle one sends each frame at
        once. A batch that cannot be stored fails each of its frames."""
        if not frames:
            return []
        results: list[TransportError | None] = [None] * len(frames)
        try:
            _check_nation("src", src)
        except TransportError as exc:
            return [exc] * len(frames)
        valid: list[int] = []
        for i, (dst, _, msg_id) in enumerate(frames):
            try:
                _check_nation("dst", dst)
                _check_msg_id(msg_id)
            except TransportError as exc:
                results[i] = exc
            else:
                valid.append(i)
        if not valid:
            return results
        try:
            conn = self._conns.get(src) or await self._connection(src)
        except TransportError as exc:
            return [exc if r is None else r for r in results]
        call = _Call(results, len(valid), asyncio.get_running_loop().create_future())
        touched: dict[str, _Link] = {}
        for i in valid:
            dst, frame, msg_id = frames[i]
            link = touched.get(dst) or self._link(src, dst)
            touched[dst] = link
            link.queue.append(_Entry(msg_id, frame, call, i))
            if dst in self._credentials:
                inflight = self._inflight.setdefault(dst, {})
                inflight[msg_id] = inflight.get(msg_id, 0) + 1
        for dst, link in touched.items():
            self._pump(conn, src, dst, link)
        try:
            await call.done
        except asyncio.CancelledError:
            call.cancelled = True  # its frames not yet taken from their queues: never sent
            raise
        return results

    def _link(self, src: str, dst: str) -> _Link:
        link = self._links.get((src, dst))
        if link is None:
            link = self._links[(src, dst)] = _Link()
        return link

    def _pump(self, conn: _Connection, src: str, dst: str, link: _Link) -> None:
        """Start publishing the link's queue, batch by batch, while it has room."""
        while link.queue and link.busy < self.max_link_in_flight:
            limit = self._batch_limit(conn)
            chunk: list[_Entry] = []
            size = 0
            while link.queue and len(chunk) < self.max_batch_frames:
                entry = link.queue[0]
                if entry.call.cancelled:
                    link.queue.popleft()
                    self._settle(dst, entry, None)
                    continue
                if chunk and size + entry.cost > limit:
                    break
                link.queue.popleft()
                chunk.append(entry)
                size += entry.cost
            if not chunk:
                return
            link.busy += 1
            task = asyncio.get_running_loop().create_task(
                self._publish_chunk(conn, src, dst, link, chunk),
                name=f"trilink-jetstream-tx-{src}-{dst}",
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _publish_chunk(
        self, conn: _Connection, src: str, dst: str, link: _Link, chunk: list[_Entry]
    ) -> None:
        error: TransportError | None = None
        try:
            unique: dict[str, bytes] = {}
            for e in chunk:
                unique.setdefault(e.msg_id, e.frame)  # copies of one id go once
            await self._store(conn, src, dst, list(unique.items()))
        except TransportError as exc:
            error = exc
        except asyncio.CancelledError:
            error = TransportError(f"cannot send from {src}: the transport was closed")
            raise
        except BaseException as exc:
            error = TransportError(f"sending from {src} to {dst} failed: {exc!r}")
            raise
        finally:
            link.busy -= 1
            for entry in chunk:
                self._settle(dst, entry, error)
            if not self._closing:
                self._pump(conn, src, dst, link)

    def _settle(self, dst: str, entry: _Entry, error: TransportError | None) -> None:
        call = entry.call
        call.results[entry.index] = error
        call.remaining -= 1
        if call.remaining == 0 and not call.done.done():
            call.done.set_result(None)
        if dst in self._credentials:
            inflight = self._inflight[dst]
            inflight[entry.msg_id] -= 1
            if inflight[entry.msg_id] == 0:
                del inflight[entry.msg_id]
            self._changed.set()

    def _batch_limit(self, conn: _Connection) -> int:
        """The most bytes of entries one batch carries: below the server's max payload."""
        server_max = conn.nc.max_payload or 1_048_576
        return max(1024, min(self.max_batch_bytes, server_max - _PAYLOAD_HEADROOM))

    async def _store(
        self, conn: _Connection, src: str, dst: str, entries: list[tuple[str, bytes]]
    ) -> None:
        """Publish ``entries`` (``(msg id, frame)``) from ``src`` to ``dst`` as one stream
        message (a single frame as it is; several as a batch) and wait for the stream to
        store it, retrying with the same ``Nats-Msg-Id`` until ``send_timeout_s``."""
        subject = link_subject(src, dst)
        if len(entries) == 1:
            msg_id, payload = entries[0]
            headers = {_MSG_ID: msg_id}
            what = f"frame {msg_id}"
        else:
            payload = _pack_batch(entries)
            headers = {_MSG_ID: _batch_id(src, dst, entries), _BATCH: str(len(entries))}
            what = f"batch of {len(entries)} frames ({entries[0][0]} … {entries[-1][0]})"
        local = dst in self._credentials
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.send_timeout_s
        pause = 0.05
        attempt = 0
        last_problem = "no attempt"
        await conn.window.acquire()
        try:
            while True:
                attempt += 1
                token: str | None = None
                try:
                    token, fut = await conn.publish(subject, payload, headers)
                    remaining = deadline - loop.time()
                    timer = loop.call_later(
                        max(0.01, min(self.ack_timeout_s, remaining)), _time_out, fut
                    )
                    try:
                        reply = await fut
                    finally:
                        timer.cancel()
                except _Denied as exc:
                    raise TransportError(
                        f"the broker refused {src} publishing on {subject} (permissions "
                        f"violation). The "
                        f"cluster's permissions follow the agreements and topology: {src} may "
                        f"send only to neighbours its agreements' traffic flows to. Fix: "
                        f"send along the topology, or add the agreement and reload the cluster."
                    ) from exc
                except nats.errors.MaxPayloadError as exc:
                    raise TransportError(
                        f"{what} of {len(payload)} bytes from {src} to {dst} exceeds the "
                        f"server's maximum payload ({conn.nc.max_payload} bytes)"
                    ) from exc
                except nats.errors.ConnectionClosedError as exc:
                    raise TransportError(
                        f"cannot send from {src}: the transport's connection is closed"
                    ) from exc
                except (TimeoutError, nats.errors.Error) as exc:
                    last_problem = f"no acknowledgement ({type(exc).__name__})"
                else:
                    problem, permanent, duplicate = _ack_problem(reply)
                    if problem is None:
                        if local:
                            for msg_id, _ in entries:
                                self._accepted(dst, msg_id, duplicate and attempt == 1)
                        return
                    if permanent:
                        raise TransportError(
                            f"stream {STREAM} refused the {what} from {src} to {dst}: {problem}"
                        )
                    last_problem = problem
                finally:
                    if token is not None:
                        conn.forget(token)
                if loop.time() + pause >= deadline:
                    raise TransportError(
                        f"{what} from {src} to {dst} was not stored within "
                        f"{self.send_timeout_s:.1f} s ({attempt} attempts; last: "
                        f"{last_problem}); the cluster may have lost its quorum. It counts "
                        "as not sent."
                    )
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.5)
        finally:
            conn.window.release()

    def _accepted(self, dst: str, msg_id: str, stored_before: bool) -> None:
        outstanding = self._outstanding.setdefault(dst, set())
        recent = self._recent.get(dst)
        if msg_id in outstanding or (recent is not None and msg_id in recent):
            return  # counted already, or handled before this acknowledgement came back
        if not stored_before:  # (else an earlier send of this id was counted)
            outstanding.add(msg_id)

    # -- receiving ----------------------------------------------------------------------

    async def start(self, nation: str, handler: Handler) -> None:
        if nation in self._receivers:
            raise TransportError(f"{nation} is already started on this JetStream transport")
        conn = await self._connection(nation)
        reply = await self._consumer_info(conn, nation)
        ack_wait_s, ack_floor, pending = _consumer_state(reply, nation)
        handled = max(self._handled_seq.get(nation, 0), ack_floor)
        self._handled_seq[nation] = handled
        receiver = _Receiver(nation, handler, conn, ack_wait_s)
        if pending > 0:
            # delivered earlier and not acknowledged: wait until they are due again
            since = self._stopped_at.get(nation, time.monotonic())
            receiver.resume_at = since + ack_wait_s + self.pull_expires_s + 0.5
        self._receivers[nation] = receiver
        receiver.task = asyncio.get_running_loop().create_task(
            self._receive(receiver), name=f"trilink-jetstream-rx-{nation}"
        )
        self._changed.set()

    async def _consumer_info(self, conn: _Connection, nation: str) -> _Reply:
        """The consumer's info, once it has a leader (waits out an election, up to
        ``send_timeout_s``)."""
        consumer = consumer_name(nation)
        info_subject = f"$JS.API.CONSUMER.INFO.{STREAM}.{consumer}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.send_timeout_s
        while True:
            try:
                reply = await conn.request(info_subject, b"", timeout_s=2.0)
            except _Denied as exc:
                raise TransportError(
                    f"the broker refused {conn.creds.user}'s credentials reading consumer "
                    f"{consumer}: {exc}. A nation may read only its own consumer. Fix: start "
                    f"{nation} with {nation}'s credentials (creds/{nation}.json)."
                ) from exc
            except (TimeoutError, nats.errors.Error) as exc:
                problem = f"no answer ({type(exc).__name__})"
            else:
                unavailable = _unavailable(reply)
                if unavailable is None:
                    return reply
                problem = unavailable
            if loop.time() > deadline:
                raise TransportError(
                    f"no answer about consumer {consumer} within {self.send_timeout_s:.0f} s "
                    f"(last: {problem}); is the cluster running and has it a JetStream "
                    f"leader? ({', '.join(conn.creds.servers)})"
                )
            await asyncio.sleep(0.25)

    async def stop(self, nation: str) -> None:
        receiver = self._receivers.pop(nation, None)
        if receiver is None:
            return
        if receiver.task is not None:
            receiver.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver.task
        await self._unsubscribe(receiver)
        self._stopped_at[nation] = time.monotonic()
        self._changed.set()

    async def _unsubscribe(self, receiver: _Receiver) -> None:
        sub, receiver.sub = receiver.sub, None
        if sub is not None:
            with contextlib.suppress(nats.errors.Error, OSError, asyncio.TimeoutError):
                await sub.unsubscribe()

    async def _receive(self, r: _Receiver) -> None:
        try:
            await self._receive_loop(r)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # as a crashed node: surfaced by drain()
            self._failure = exc
            self._changed.set()
            log.error("delivery to %s stopped: %r", r.nation, exc)
            await self._unsubscribe(r)

    async def _receive_loop(self, r: _Receiver) -> None:
        conn = r.conn
        nc = conn.nc
        next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{STREAM}.{consumer_name(r.nation)}"
        # a pull's deliveries must fit the subscription's pending limits (a message dropped
        # there as a slow consumer would be overtaken by newer ones): with batch messages
        # of up to the server's max payload, fewer messages per pull
        message_max = (nc.max_payload or 1_048_576) + _PAYLOAD_HEADROOM
        pull = max(1, min(self.batch, _PULL_BYTES // message_max))
        request = json.dumps({"batch": pull, "expires": int(self.pull_expires_s * 1e9)}).encode()
        while True:
            # (re)subscribe a fresh inbox: nothing of an abandoned pull can arrive on it
            await self._unsubscribe(r)
            delay = r.resume_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if r.recheck and nc.is_connected:
                await self._await_redeliveries(r)
            if nc.is_closed:
                raise TransportError(
                    f"{r.nation}'s connection to the cluster is closed; delivery stopped"
                )
            if not nc.is_connected:
                await asyncio.sleep(0.1)
                continue
            generation = conn.generation
            try:
                inbox = nc.new_inbox()
                r.sub = await nc.subscribe(
                    inbox,
                    pending_msgs_limit=4 * pull + 64,
                    pending_bytes_limit=(pull + 4) * message_max,
                )
            except (nats.errors.Error, OSError):
                await asyncio.sleep(0.1)
                continue
            resync = False
            while not resync:
                mark = conn.violation_mark()
                try:
                    await nc.publish(next_subject, request, reply=inbox)
                except (nats.errors.Error, OSError):
                    resync = True
                    break
                received = 0
                while received < pull:
                    try:
                        msg = await r.sub.next_msg(timeout=self.pull_expires_s + 1.0)
                    except (TimeoutError, nats.errors.TimeoutError):
                        denied = conn.violation_since(mark, next_subject)
                        if denied is not None:
                            raise TransportError(
                                f"the broker refused {r.nation} pulling its consumer "
                                f"{consumer_name(r.nation)}: {denied}. Fix: reload the "
                                f"cluster with {r.nation} in the topology and agreements."
                            ) from None
                        resync = True  # the pull request was lost with a server
                        break
                    except nats.errors.Error:
                        resync = True
                        break
                    if conn.generation != generation:
                        resync = True  # the connection broke: a delivery may be missing
                        break
                    status = msg.headers.get(_STATUS) if msg.headers else None
                    if status is None:
                        received += 1
                        await self._deliver(r, msg)
                    elif status == "100":
                        continue
                    elif status in ("404", "408"):
                        break  # expired or nothing: pull again
                    elif status == "503":
                        await asyncio.sleep(0.2)  # no consumer leader yet: nothing sent
                        break
                    else:  # 409 leadership change and the like: pendings may be lost
                        resync = True
                        break
            if resync:  # frames lost in transit are due again after their ack wait
                r.recheck = True

    async def _await_redeliveries(self, r: _Receiver) -> None:
        """After a pull was cut short (a server died, the connection broke, a consumer
        leader changed), frames delivered to us may have been lost in transit. They are
        redelivered, before newer frames, once their ack wait has passed *on the
        consumer's current leader*, which may have been elected only now. So ask the
        consumer (waiting out its election), and if it holds frames delivered and not
        acknowledged, wait one ack wait from its answer before pulling again."""
        reply = await self._consumer_info(r.conn, r.nation)
        r.recheck = False
        _, _, pending = _consumer_state(reply, r.nation)
        if pending > 0:
            await asyncio.sleep(r.ack_wait_s + 0.5)

    async def _deliver(self, r: _Receiver, msg: Msg) -> None:
        sseq = _stream_seq(msg)
        nation = r.nation
        handled_seq = self._handled_seq.get(nation, 0)
        # Below the last sequence handled: a redelivery whose acknowledgement was lost
        # (its frames handled: skipped by their ids below), or, rarely, a frame lost in
        # transit that comes back after newer ones (a consumer leader elected late): it
        # is handed over late rather than lost.
        late = sseq <= handled_seq
        parts = msg.subject.split(".")
        src = parts[2] if len(parts) == 4 else "?"
        headers = msg.headers
        count = headers.get(_BATCH) if headers else None
        if count is None:
            msg_id = headers.get(_MSG_ID) if headers else None
            if msg_id is None and late:
                self.redelivered_skipped += 1  # no id to tell: the sequence says handled
            elif msg_id is None or msg_id not in self._recent.get(nation, ()):
                await r.handler(msg.data, src)
                self.delivered += 1
            elif late:
                self.redelivered_skipped += 1
            else:
                self.duplicates_skipped += 1  # the same id handled before, in another message
            self._handled_seq[nation] = max(handled_seq, sseq)
            await _ack(msg)
            if msg_id is not None:
                self._handled(nation, msg_id)
            return
        try:
            entries = _unpack_batch(msg.data, int(count))
        except ValueError as exc:
            self.malformed += 1
            log.error(
                "dropped an unreadable batch from %s to %s (stream sequence %d): %s",
                src,
                nation,
                sseq,
                exc,
            )
            self._handled_seq[nation] = max(handled_seq, sseq)
            await _ack(msg)
            return
        self.batches_received += 1
        partial_seq, done = self._partial.pop(nation, (0, 0))
        k = done if partial_seq == sseq else 0
        recent = self._recent.get(nation)
        if recent is None:
            recent = self._recent[nation] = _RecentIds()
        outstanding = self._outstanding.setdefault(nation, set())
        handler = r.handler
        try:
            while k < len(entries):
                msg_id, frame = entries[k]
                if msg_id in recent:
                    self.duplicates_skipped += 1
                else:
                    await handler(frame, src)
                    self.delivered += 1
                    recent.add(msg_id)
                    if msg_id in outstanding:
                        outstanding.discard(msg_id)
                        self._changed.set()
                k += 1
        finally:
            if k < len(entries):  # cut short (stopped, or the handler failed): resume at k
                self._partial[nation] = (sseq, k)
        self._handled_seq[nation] = max(handled_seq, sseq)
        await _ack(msg)

    def _handled(self, dst: str, msg_id: str) -> None:
        recent = self._recent.get(dst)
        if recent is None:
            recent = self._recent[dst] = _RecentIds()
        recent.add(msg_id)
        outstanding = self._outstanding.get(dst)
        if outstanding is not None and msg_id in outstanding:
            outstanding.discard(msg_id)
            self._changed.set()

    # -- drain and close ----------------------------------------------------------------

    def _waiting_count(self) -> int:
        return sum(
            len(self._outstanding.get(n, ())) + len(self._inflight.get(n, ()))
            for n in self._receivers
        )

    def _waiting_for(self) -> dict[str, tuple[int, list[str]]]:
        waiting: dict[str, tuple[int, list[str]]] = {}
        for nation in self._receivers:
            ids = set(self._outstanding.get(nation, ())) | set(self._inflight.get(nation, {}))
            if ids:
                waiting[nation] = (len(ids), sorted(ids)[:3])
        return waiting

    async def drain(self, *, timeout_s: float | None = None) -> None:
        limit = self.drain_timeout_s if timeout_s is None else timeout_s
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while True:
            self._raise_failure()
            if self._waiting_count() == 0:
                return
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                detail = "; ".join(
                    f"{n}: {count} accepted frame(s) not handled yet (e.g. {', '.join(ids)})"
                    for n, (count, ids) in sorted(self._waiting_for().items())
                )
                raise TransportError(
                    f"drain timed out after {limit:.1f} s: {detail}. Is every receiving node "
                    "started and the cluster up?"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure = self._failure
            if isinstance(failure, TransportError):
                raise failure
            raise TransportError(f"a node failed while handling a frame: {failure!r}") from (
                failure
            )

    async def close(self) -> None:
        self._closing = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        closed = TransportError("cannot send: the transport was closed")
        for (_, dst), link in self._links.items():
            while link.queue:
                self._settle(dst, link.queue.popleft(), closed)
        self._links.clear()
        self._closing = False
        for nation in list(self._receivers):
            await self.stop(nation)
        conns, self._conns = list(self._conns.values()), {}
        await asyncio.gather(*(c.close() for c in conns))


def _time_out(fut: asyncio.Future[_Reply]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError())


def _ack_problem(reply: _Reply) -> tuple[str | None, bool, bool]:
    """(what went wrong or None if stored, whether retrying is pointless, duplicate)."""
    if reply.status == "503":
        return "no responders (no stream leader yet)", False, False
    if reply.status is not None:
        return f"status {reply.status}", False, False
    try:
        body = json.loads(reply.data)
    except ValueError:
        return f"unreadable acknowledgement {reply.data[:80]!r}", False, False
    if not isinstance(body, dict):
        return f"unreadable acknowledgement {reply.data[:80]!r}", False, False
    error = body.get("error")
    if error is None:
        return None, False, bool(body.get("duplicate"))
    code = int(error.get("code", 0))
    err_code = error.get("err_code")
    text = f"{error.get('description', 'error')} (code {code}, {err_code})"
    # 10158: the same id is being stored right now (a concurrent copy): ask again
    return text, 400 <= code < 500 and err_code != 10158, False


def _unavailable(reply: _Reply) -> str | None:
    """Why a JetStream API answer says "not now" (no leader yet), or None."""
    if reply.status is not None:
        return f"status {reply.status}"
    try:
        error = json.loads(reply.data).get("error")
    except (ValueError, AttributeError):
        return None
    if isinstance(error, dict) and int(error.get("code", 0)) >= 500:
        return f"{error.get('description')} (code {error.get('code')})"
    return None


def _consumer_state(reply: _Reply, nation: str) -> tuple[float, int, int]:
    """(ack wait s, acknowledged-floor stream sequence, delivered-not-acknowledged count)."""
    consumer = consumer_name(nation)
    if reply.status is not None:
        raise TransportError(
            f"no answer about consumer {consumer} (status {reply.status}); the stream "
            f"{STREAM} has no leader or does not exist. Fix: start the cluster with "
            "`trilink cluster up`."
        )
    try:
        body = json.loads(reply.data)
    except ValueError as exc:
        raise TransportError(f"unreadable consumer info for {consumer}: {exc}") from exc
    error = body.get("error")
    if error is not None:
        raise TransportError(
            f"cannot read consumer {consumer} of stream {STREAM}: "
            f"{error.get('description')} (code {error.get('code')}). Fix: add {nation} to "
            "the topology and agreements and reload the cluster (onboarding creates its "
            "consumer)."
        )
    ack_wait_s = float(body.get("config", {}).get("ack_wait", 4_000_000_000)) / 1e9
    floor = int((body.get("ack_floor") or {}).get("stream_seq", 0))
    pending = int(body.get("num_ack_pending", 0))
    return ack_wait_s, floor, pending


def _stream_seq(msg: Msg) -> int:
    """The stream sequence from a JetStream delivery's reply subject."""
    tokens = msg.reply.split(".")
    # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending> (v1), or v2
    # with <domain>.<account hash> after ACK and a random token at the end.
    if len(tokens) == 9:
        return int(tokens[5])
    if len(tokens) >= 12:
        return int(tokens[7])
    raise TransportError(f"not a JetStream delivery (reply subject {msg.reply!r})")


async def _ack(msg: Msg) -> None:
    # fire and forget: a lost acknowledgement means one redelivery, which is skipped
    with contextlib.suppress(nats.errors.Error, OSError):
        await msg.ack()


def _check_nation(role: str, nation: str) -> None:
    if nation in _VALID_NATIONS:
        return
    if not _NATION_RE.fullmatch(nation):
        raise TransportError(
            f"{role} {nation!r} is not an ISO 3166 alpha-3 nation code (subject "
            "tokens must be three upper-case letters)"
        )
    if len(_VALID_NATIONS) < 1024:
        _VALID_NATIONS.add(nation)


def _check_msg_id(msg_id: str) -> None:
    if not msg_id or "\n" in msg_id or "\r" in msg_id:
        raise TransportError(f"msg_id {msg_id!r} must be a non-empty single-line string")
    if len(msg_id) > _MAX_MSG_ID:
        raise TransportError(f"msg_id {msg_id[:40]!r}… is longer than {_MAX_MSG_ID} characters")


def _pack_batch(entries: Sequence[tuple[str, bytes]]) -> bytes:
    """Several frames in one payload: per entry, its msg id length (2 bytes, big-endian),
    frame length (4 bytes), msg id (UTF-8) and frame."""
    parts: list[bytes] = []
    for msg_id, frame in entries:
        mid = msg_id.encode()
        parts += (_ENTRY_HEAD.pack(len(mid), len(frame)), mid, frame)
    return b"".join(parts)


def _unpack_batch(data: bytes, count: int) -> list[tuple[str, bytes]]:
    """The ``count`` entries of a :func:`_pack_batch` payload; ValueError if malformed."""
    entries: list[tuple[str, bytes]] = []
    view = memoryview(data)
    pos = 0
    head = _ENTRY_HEAD.size
    try:
        while pos < len(data):
            id_len, frame_len = _ENTRY_HEAD.unpack_from(data, pos)
            pos += head
            end = pos + id_len + frame_len
            if end > len(data):
                raise ValueError(f"entry {len(entries)} runs past the end of the payload")
            msg_id = bytes(view[pos : pos + id_len]).decode()
            entries.append((msg_id, bytes(view[pos + id_len : end])))
            pos = end
    except struct.error as exc:
        raise ValueError(f"truncated entry {len(entries)}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"entry {len(entries)} has an unreadable msg id: {exc}") from exc
    if len(entries) != count:
        raise ValueError(f"{len(entries)} entries, its header says {count}")
    return entries


def _batch_id(src: str, dst: str, entries: Sequence[tuple[str, bytes]]) -> str:
    """The ``Nats-Msg-Id`` of a batch: from its frames' ids, so a retry of the same batch
    is stored once."""
    digest = hashlib.sha256(f"{src}>{dst}".encode())
    for msg_id, _ in entries:
        digest.update(b"\n" + msg_id.encode())
    return f"batch-{len(entries)}-{digest.hexdigest()[:40]}"
