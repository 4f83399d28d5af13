"""The transport seam: how frames move between linked nodes.

A transport moves opaque bytes from one node to a linked neighbour and hands them to that
node's receive handler. It knows nothing of envelopes, signatures or agreements.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable

__all__ = ["Handler", "Transport"]

Handler = Callable[[bytes, str], Awaitable[None]]
"""Receive handler: ``(frame bytes, the neighbour it came from)``."""


class Transport(ABC):
    """Moves frames over the links of a topology."""

    @abstractmethod
    def attach(self, nation: str, handler: Handler) -> None:
        """Register the node of ``nation`` and its receive handler."""

    @abstractmethod
    async def send(self, src: str, dst: str, frame: bytes) -> None:
        """Queue ``frame`` from ``src`` to its neighbour ``dst``."""

    @abstractmethod
    async def drain(self) -> None:
        """Return once every frame sent so far (and any frame sent while handling them) has
        been handled."""

    @abstractmethod
    async def close(self) -> None:
        """Stop delivering and release resources."""
