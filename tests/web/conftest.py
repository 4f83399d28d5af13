"""Fixtures for the web picture: the app in-process (httpx over ASGI) or under a real
uvicorn on a free loopback port (for WebSockets)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from _web import Live, Web, make_app


@pytest.fixture()
async def web(tmp_path: Path) -> AsyncIterator[Web]:
    """No replay running; unexpected errors come back as 500s (as a server sends them)."""
    app, runner, deployment = make_app(tmp_path / "serve", static_dir=tmp_path / "static")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield Web(client, app, runner, deployment)
    await runner.stop()


@pytest.fixture()
async def live_server(tmp_path: Path) -> AsyncIterator[Live]:
    """uvicorn serving the app in this test's event loop (the replay runs on its own
    thread); stopped, replay and all, after the test."""
    app, runner, deployment = make_app(tmp_path / "serve", static_dir=tmp_path / "static")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield Live(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws", app, runner, deployment)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 60)
        sock.close()
