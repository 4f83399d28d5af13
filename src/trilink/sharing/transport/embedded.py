"""The embedded transport: every node in one process, frames on asyncio queues.

This is the default for demos and evaluation. (The durable on-disk log and crash
catch-up arrive with the governed-sharing work; today a frame lives in memory until its
recipient has handled it.)
"""

from __future__ import annotations

import asyncio

from trilink.errors import TransportError
from trilink.sharing.transport.base import Handler, Transport

__all__ = ["EmbeddedTransport"]


class EmbeddedTransport(Transport):
    """In-process delivery with one FIFO queue and one worker per receiving node."""

    def __init__(self) -> None:
        self._queues: dict[str, asyncio.Queue[tuple[bytes, str]]] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._handlers: dict[str, Handler] = {}
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._failure: BaseException | None = None
        self.delivered = 0

    def attach(self, nation: str, handler: Handler) -> None:
        if nation in self._handlers:
            raise TransportError(f"node {nation} is attached twice to the embedded transport")
        self._handlers[nation] = handler
        queue: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue()
        self._queues[nation] = queue
        self._workers.append(asyncio.get_running_loop().create_task(self._work(nation, queue)))

    async def _work(self, nation: str, queue: asyncio.Queue[tuple[bytes, str]]) -> None:
        handler = self._handlers[nation]
        while True:
            frame, src = await queue.get()
            try:
                await handler(frame, src)
                self.delivered += 1
            except Exception as exc:  # a bug in a node: surface it in drain(), loudly
                self._failure = exc
            finally:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.set()

    async def send(self, src: str, dst: str, frame: bytes) -> None:
        queue = self._queues.get(dst)
        if queue is None:
            raise TransportError(f"no node {dst} is attached; cannot send from {src}")
        self._pending += 1
        self._idle.clear()
        queue.put_nowait((frame, src))

    async def drain(self) -> None:
        # Frames sent while handling others (relays) count too: wait for none pending.
        await self._idle.wait()
        if self._failure is not None:
            raise TransportError(f"a node failed while handling a frame: {self._failure!r}") from (
                self._failure
            )

    async def close(self) -> None:
        for w in self._workers:
            w.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
