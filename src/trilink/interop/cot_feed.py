"""A CoT feed: an asyncio TCP (or TLS) server that TAK clients connect to (SIMULATION).

TAK clients and servers take a stream of CoT XML events over TCP, one ``<event>`` after
another. :class:`CotFeed` listens, and :meth:`CotFeed.send` broadcasts events to every
connected client without waiting for any of them: each client has its own bounded queue
and its own writer task, so a slow or stalled client cannot hold up the others or the
caller. When a client's queue is full its oldest queued event is dropped (a newer update
of the same uid supersedes it anyway) and counted (:attr:`ClientStats.dropped`). What
clients send (their own position reports, pings) is read and discarded, so their
sending never stalls on us.

Call :meth:`~CotFeed.send` from the event loop that started the feed. TLS: pass a server
:class:`ssl.SSLContext` to :meth:`~CotFeed.start` (TAK's streaming port 8089 speaks
TLS; 8087 plain TCP).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl as ssl_module
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from trilink.errors import ConfigError, TransportError

__all__ = ["DEFAULT_QUEUE_EVENTS", "DEFAULT_WRITE_BUFFER_BYTES", "ClientStats", "CotFeed"]

DEFAULT_QUEUE_EVENTS: Final = 1024
"""Events queued per client before its oldest are dropped."""
DEFAULT_WRITE_BUFFER_BYTES: Final = 256 * 1024
"""Bytes a client's connection may buffer before its writer waits (asyncio high-water mark)."""
_READ_CHUNK: Final = 64 * 1024


@dataclass
class ClientStats:
    """One connected client: who, and how many events it was sent or lost."""

    peer: str
    sent: int = 0
    dropped: int = 0


@dataclass
class _Client:
    stats: ClientStats
    writer: asyncio.StreamWriter
    queue: deque[bytes] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class CotFeed:
    """Serve CoT events to every TAK client that connects.

    ``queue_events`` bounds each client's queue (events); ``write_buffer_bytes`` is the
    transport buffer above which a client's writer waits for it to drain.
    """

    def __init__(
        self,
        *,
        queue_events: int = DEFAULT_QUEUE_EVENTS,
        write_buffer_bytes: int = DEFAULT_WRITE_BUFFER_BYTES,
    ) -> None:
        for name, value in (
            ("queue_events", queue_events),
            ("write_buffer_bytes", write_buffer_bytes),
        ):
            if value < 1:
                raise ConfigError(f"{name} is {value}", field=name, fix="give 1 or more")
        self._queue_events = queue_events
        self._write_buffer_bytes = write_buffer_bytes
        self._server: asyncio.Server | None = None
        self._clients: dict[int, _Client] = {}
        self._handlers: set[asyncio.Task[None]] = set()
        self._next_id = 0
        self.dropped = 0
        """Events dropped over all clients (slow clients), since the start."""
        self.port: int | None = None
        """The port bound by :meth:`start` (``None`` before)."""

    @property
    def clients(self) -> list[ClientStats]:
        """The clients connected now."""
        return [c.stats for c in self._clients.values()]

    async def start(self, host: str, port: int, *, ssl: ssl_module.SSLContext | None = None) -> int:
        """Listen on ``host``:``port`` (0: a free port), with TLS when ``ssl`` is given;
        return the port bound."""
        if self._server is not None:
            raise TransportError(
                f"the CoT feed is already listening on port {self.port}; stop() it first"
            )
        try:
            self._server = await asyncio.start_server(self._serve, host, port, ssl=ssl)
        except OSError as exc:
            raise TransportError(
                f"the CoT feed cannot listen on {host}:{port}: {exc}. Fix: choose a free "
                "port (0 picks one) or an address of this machine"
            ) from exc
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    def send(self, events: Sequence[bytes]) -> None:
        """Queue ``events`` for every connected client and return at once."""
        if not events:
            return
        for client in self._clients.values():
            queue = client.queue
            for event in events:
                if len(queue) >= self._queue_events:
                    queue.popleft()
                    client.stats.dropped += 1
                    self.dropped += 1
                queue.append(event)
            client.ready.set()

    async def stop(self) -> None:
        """Stop listening and disconnect every client (queued events are discarded)."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for client in list(self._clients.values()):
            client.writer.close()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        if server is not None:
            await server.wait_closed()
        self._clients.clear()

    # -- one client ---------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one connection: write its queue, read and discard what it sends."""
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
        writer.transport.set_write_buffer_limits(high=self._write_buffer_bytes)
        peer = writer.get_extra_info("peername")
        client_id = self._next_id
        self._next_id += 1
        client = _Client(ClientStats(peer=str(peer)), writer)
        self._clients[client_id] = client
        client.task = asyncio.create_task(self._write(client))
        try:
            while await reader.read(_READ_CHUNK):
                pass
        except (ConnectionError, ssl_module.SSLError, asyncio.IncompleteReadError):
            pass  # the client went away: same as end of stream
        finally:
            self._clients.pop(client_id, None)
            client.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, ssl_module.SSLError):
                await client.task
            writer.close()
            with contextlib.suppress(ConnectionError, ssl_module.SSLError):
                await writer.wait_closed()
            if handler is not None:
                self._handlers.discard(handler)

    async def _write(self, client: _Client) -> None:
        """Write the client's queue as it fills; wait for its connection to drain."""
        while True:
            await client.ready.wait()
            client.ready.clear()
            while client.queue:
                event = client.queue.popleft()
                client.writer.write(event)
                client.stats.sent += 1
                await client.writer.drain()
