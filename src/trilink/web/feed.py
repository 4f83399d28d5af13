"""The WebSocket hub: the latest picture per nation, handed to that nation's viewers.

The replay publishes a new picture of each nation a few times a second
(:meth:`FeedHub.publish_picture`) and the replay's status when it changes
(:meth:`FeedHub.publish_status`). Each viewer waits in :meth:`FeedHub.updates` for what
is newer than what it was last sent: pictures are conflated (a slow viewer skips to the
latest; every picture is complete, so nothing is lost by skipping), and a viewer only
ever gets the pictures of the nation it is authenticated as.

WebSocket messages (JSON text, server to viewer; the viewer sends nothing)::

    {"type": "hello", "v": 1, "simulation": true, "nation": "JPN", "replay": {...}}
    {"type": "status", "v": 1, "simulation": true, "replay": {...}}
    {"type": "picture", "v": 1, "simulation": true, "nation": "JPN", ...}

``replay`` is the status of ``GET /api/replay``; a ``picture`` is the document of
``GET /api/picture`` (:mod:`trilink.web.views`). All methods run on the server's event
loop; the simulation's thread hands its documents over with
``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec

__all__ = ["FeedHub"]


class FeedHub:
    """The latest picture per nation and the latest replay status, with versions."""

    def __init__(self) -> None:
        self._pictures: dict[str, tuple[int, dict[str, Any], bytes]] = {}
        self._status: tuple[int, dict[str, Any], bytes] = (0, {}, b"")
        self._version = 0
        self._changed: asyncio.Event | None = None  # set (and replaced) on each change

    def _event(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def _bump(self) -> int:
        self._version += 1
        return self._version

    def _notify(self) -> None:
        woken, self._changed = self._event(), asyncio.Event()
        woken.set()

    def publish_picture(self, nation: str, doc: dict[str, Any]) -> None:
        """Make ``doc`` the latest picture of ``nation`` and wake its viewers."""
        self._pictures[nation] = (self._bump(), doc, msgspec.json.encode(doc))
        self._notify()

    def publish_status(self, status: dict[str, Any]) -> None:
        """Make ``status`` the replay's latest status and wake every viewer."""
        doc = {"type": "status", "v": 1, "simulation": True, "replay": status}
        self._status = (self._bump(), status, msgspec.json.encode(doc))
        self._notify()

    def clear_pictures(self) -> None:
        """Forget every picture (a new replay starts from nothing)."""
        self._pictures.clear()

    def picture(self, nation: str) -> dict[str, Any] | None:
        """The latest picture of ``nation`` (``None`` before the first)."""
        held = self._pictures.get(nation)
        return None if held is None else held[1]

    def status(self) -> dict[str, Any]:
        return self._status[1]

    async def updates(self, nation: str) -> AsyncIterator[bytes]:
        """The encoded messages a viewer of ``nation`` is to be sent, as they come: the
        current status and picture first, then whatever is newer (conflated)."""
        sent_status = sent_picture = 0
        seen = -1
        while True:
            if self._version == seen:
                await self._event().wait()
            seen = self._version
            status_version, _, status_bytes = self._status
            if status_version > sent_status:
                sent_status = status_version
                yield status_bytes
            held = self._pictures.get(nation)
            if held is not None and held[0] > sent_picture:
                sent_picture = held[0]
                yield held[2]
