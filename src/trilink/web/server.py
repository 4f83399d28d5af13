"""``trilink serve``: the picture's app under uvicorn, on a loopback address.

The server makes its own deployment in ``DATA_DIR/serve/`` (``deployment.toml``, the
shipped agreements, keys; the replays' audit logs under ``data/audit/``): the agreements
file there is the one the replays' nodes watch, and the links panel changes it as
``trilink link suspend`` would. One bearer token per nation is made at start and printed
with that nation's viewer address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from trilink.deployment import Deployment, init_deployment
from trilink.errors import ConfigError
from trilink.interop.cot_feed import CotFeed
from trilink.web.app import STATIC_DIR, create_app
from trilink.web.auth import NationTokens
from trilink.web.cot import CotTap
from trilink.web.feed import FeedHub
from trilink.web.replay import MAX_SPEED, ReplayRunner
from trilink.world.library import load_library

__all__ = ["Addresses", "check_loopback", "serve_picture"]


@dataclass(frozen=True)
class Addresses:
    """Where the picture is: its base URL and each nation's viewer URL (with its token)."""

    base: str
    viewers: dict[str, str]


def check_loopback(host: str) -> None:
    """Refuse a host that is not a loopback address: the picture is a local simulation
    tool whose tokens travel in the clear."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigError(
            f"host {host!r} is not a loopback address",
            field="--host",
            fix="serve on 127.0.0.1 (the default), another 127.x.y.z address, or ::1",
        )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror}",
            field="--port",
            fix="choose another port (--port 0 picks a free one)",
        ) from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _addresses(sock: socket.socket, tokens: NationTokens) -> Addresses:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}/"
    return Addresses(base, {n: f"{base}#token={tokens.token(n)}" for n in tokens.nations})


def cot_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server TLS context for the CoT feed from PEM files; a file that cannot be used
    is refused naming the option and the fix."""
    for option, path in (("--cot-cert", cert), ("--cot-key", key)):
        if not path.is_file():
            raise ConfigError(
                f"{path} is not a file", field=option, fix="give the path of a PEM file"
            )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, ValueError) as exc:
        raise ConfigError(
            f"cannot use {cert} with {key} as the CoT feed's TLS certificate: {exc}",
            field="--cot-cert",
            fix="give a PEM certificate chain and its matching PEM private key",
        ) from exc
    return context


def serve_picture(
    *,
    event_id: str,
    speed: float,
    host: str,
    port: int,
    data_dir: Path,
    seed: int,
    say: Callable[[str], None],
    cot_port: int | None = None,
    cot_nation: str = "JPN",
    cot_tls: tuple[Path, Path] | None = None,
    on_ready: Callable[[Addresses], None] | None = None,
) -> None:
    """Serve the picture until interrupted (Ctrl-C), replaying ``event_id`` at ``speed``
    from the start; ``say`` prints a line for the user. With ``cot_port`` (0: a free
    port), ``cot_nation``'s view also goes out as Cursor on Target over TCP there, over
    TLS with ``cot_tls`` (certificate chain and private key, PEM files)."""
    check_loopback(host)
    cot_ssl = None if cot_tls is None else cot_tls_context(*cot_tls)
    load_library().get(event_id)  # an unknown event fails here, before anything starts
    if not 0.0 < speed <= MAX_SPEED:
        raise ConfigError(
            f"speed {speed} is out of range",
            field="--speed",
            fix=f"give event seconds per wall second, above 0 and at most {MAX_SPEED:g}",
        )
    deployment: Deployment = init_deployment(data_dir / "serve", force=True)
    if cot_port is not None and cot_nation not in deployment.nations:
        raise ConfigError(
            f"{cot_nation} is not a nation of the network",
            field="--cot-nation",
            fix=f"use one of {', '.join(deployment.nations)}",
        )
    tokens = NationTokens(deployment.nations)
    cot = None if cot_port is None else CotTap(cot_nation, CotFeed())
    runner = ReplayRunner(deployment, FeedHub(), seed=seed, cot=cot)
    app = create_app(
        runner,
        tokens,
        network=deployment.network(),
        initial_event=event_id,
        initial_speed=speed,
    )
    sock = _bind(host, port)
    addresses = _addresses(sock, tokens)
    say(f"the picture: {addresses.base} (replaying {event_id} at {speed:g}× real time)")
    for nation, url in addresses.viewers.items():
        say(f"  {nation} view: {url}")
    say(f"  API: {addresses.base}openapi.json (send `Authorization: Bearer <token>`)")
    say(f"  agreements file the nodes watch: {deployment.agreements_path}")
    if not (STATIC_DIR / "index.html").is_file():
        say("  the front end is not built: run `make setup` (npm ci and its build in frontend/)")
    if on_ready is not None:
        on_ready(addresses)
    config = uvicorn.Config(app, access_log=False, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)

    async def main() -> None:
        if cot is not None and cot_port is not None:
            bound = await cot.feed.start(host, cot_port, ssl=cot_ssl)
            scheme = "tcp" if cot_ssl is None else "tls"
            say(f"  CoT feed of {cot.nation}'s view for TAK clients: {scheme}://{host}:{bound}")
        try:
            await server.serve(sockets=[sock])
        finally:
            if cot is not None:
                await cot.feed.stop()

    try:
        asyncio.run(main())
    finally:
        sock.close()
