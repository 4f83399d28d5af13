"""The embedded transport's cursors: written in batches, later (SIMULATION). A crash between
two writes is tests/integration/test_embedded_crash.py's: a real process killed."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from trilink.sharing.transport.embedded import EmbeddedTransport


def _cursor(directory: Path, src: str, dst: str) -> int | None:
    """The cursor of ``dst`` in ``src``'s log, as a reader of the file sees it."""
    with sqlite3.connect(directory / f"{src}.log.sqlite") as db:
        row = db.execute("SELECT pos FROM cursors WHERE dst = ?", (dst,)).fetchone()
    return None if row is None else int(row[0])


async def test_a_trickle_of_frames_writes_the_cursor_later_not_per_frame(tmp_path: Path) -> None:
    # One frame at a time, each handled before the next is sent, so the receiver runs out
    # of frames after every one: its cursor is written once, cursor_s later, not per frame.
    got: list[bytes] = []

    async def handler(frame: bytes, src: str) -> None:
        got.append(frame)

    transport = EmbeddedTransport(tmp_path, cursor_s=1.0)
    await transport.start("USA", handler)
    for i in range(20):
        await transport.send("KOR", "USA", f"frame {i}".encode(), msg_id=f"m{i}")
        await transport.drain()
    assert len(got) == 20
    assert _cursor(tmp_path, "KOR", "USA") is None  # not yet: no write per frame
    await asyncio.sleep(1.3)
    assert _cursor(tmp_path, "KOR", "USA") == 20  # written, past every frame handled
    await transport.close()

    # Nothing is handed over again to a node that starts once more.
    again: list[bytes] = []

    async def handler_again(frame: bytes, src: str) -> None:
        again.append(frame)

    reopened = EmbeddedTransport(tmp_path)
    await reopened.start("USA", handler_again)
    await reopened.drain()
    assert again == []
    await reopened.close()
