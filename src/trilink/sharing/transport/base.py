"""The transport seam: how frames move between linked nodes, durably and at least once.

A transport moves opaque frames from one node to a linked neighbour and hands them to that
neighbour's receive handler. It knows nothing of envelopes, signatures or agreements.

The contract every transport keeps (the nodes rely on it for "no acknowledged message is
lost, none is delivered twice"):

- :meth:`Transport.send` returns only once the frame is *accepted*: durably stored (on
  disk, or by a JetStream stream with its replicas). A frame that was accepted is handed
  to the receiver's handler at least once, even if the receiver, the sender or a server
  dies meanwhile. A send that cannot be accepted within its deadline (after retries)
  raises :class:`~trilink.errors.TransportError`; the frame then counts as not sent.
- Sends carry a ``msg_id``; a frame re-sent with the same id (a retry, a relay that
  crashed before acknowledging) is accepted once.
- Frames on one link (``src`` → ``dst``) reach the handler in the order they were accepted.
- The handler returning normally *acknowledges* the frame; a frame whose handler did not
  return (the node stopped or crashed) is handed over again when the node starts again,
  from its first unacknowledged frame. Duplicates are therefore possible after a crash;
  the node discards them by the originator's sequence number, which it persists.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence

from trilink.errors import TransportError

__all__ = ["Handler", "Outgoing", "Transport"]

Handler = Callable[[bytes, str], Awaitable[None]]
"""Receive handler: ``(frame bytes, the neighbour it came from)``; returning acknowledges."""

Outgoing = tuple[str, bytes, str]
"""One frame of :meth:`Transport.send_many`: ``(neighbour, frame bytes, message id)``."""


class Transport(ABC):
    """Moves frames over the links of a topology, durably and at least once."""

    name: str = "transport"

    @abstractmethod
    async def start(self, nation: str, handler: Handler) -> None:
        """Begin handing ``nation``'s frames to ``handler``, from the first frame it has not
        acknowledged (everything, on a first start)."""

    @abstractmethod
    async def stop(self, nation: str) -> None:
        """Stop handing frames to ``nation`` (as a node shutting down or crashing would);
        unacknowledged frames stay stored for its next :meth:`start`."""

    @abstractmethod
    async def send(self, src: str, dst: str, frame: bytes, *, msg_id: str) -> None:
        """Accept ``frame`` from ``src`` for its neighbour ``dst``; return once it is stored.

        Raises :class:`~trilink.errors.TransportError` if it cannot be stored in time."""

    async def send_many(self, src: str, frames: Sequence[Outgoing]) -> list[TransportError | None]:
        """Accept several frames from ``src`` at once, in order on each link; return, per
        frame, ``None`` once it is stored or the :class:`~trilink.errors.TransportError`
        that kept it from being stored (the others are unaffected).

        The default sends them concurrently with :meth:`send`; a transport that can store
        a batch more cheaply overrides it."""
        results = await asyncio.gather(
            *(self.send(src, dst, frame, msg_id=msg_id) for dst, frame, msg_id in frames),
            return_exceptions=True,
        )
        out: list[TransportError | None] = []
        for result in results:
            if isinstance(result, TransportError):
                out.append(result)
            elif isinstance(result, BaseException):
                raise result
            else:
                out.append(None)
        return out

    @abstractmethod
    async def drain(self) -> None:
        """Return once every frame accepted so far for a started local node (and any frame
        sent while handling them) has been handled."""

    @abstractmethod
    async def close(self) -> None:
        """Stop every local node's delivery and release resources."""
