"""The CoT feed over TCP and TLS on loopback, read by pytak as a TAK client would."""

from __future__ import annotations

import asyncio
import configparser
import socket
import ssl
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from cot_schema import check_cot_event

from trilink.errors import ConfigError, TransportError
from trilink.interop.cot import track_event
from trilink.interop.cot_feed import CotFeed
from trilink.types import Track, TrackState

with warnings.catch_warnings():
    # pytak warns at import that its optional extras (cryptography, aiohttp) are absent.
    warnings.simplefilter("ignore", UserWarning)
    import pytak

T0 = 1_503_953_880.0
LOOPBACK = "127.0.0.1"
TIMEOUT_S = 10.0


def _events(n: int, *, first: int = 0, pad: int = 0) -> list[bytes]:
    """``n`` valid CoT events, uids ``trilink.TST.T<k>``; ``pad`` bytes of remark each."""
    state = np.array([-3.5e6, 4.1e6, 3.9e6, 1000.0, 2000.0, 0.0])
    out = []
    for k in range(first, first + n):
        track = Track(f"T{k}", "TST", T0 + k, state, np.eye(6), TrackState.CONFIRMED, (), T0)
        out.append(track_event(track, uid=f"trilink.TST.T{k}", t_s=T0 + k, remark="x" * pad))
    return out


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A self-signed certificate for localhost / 127.0.0.1 and its key, made by openssl."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    yield cert, key


def _pytak_config(url: str, **extra: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser()
    parser["feed"] = {"COT_URL": url, "TAK_PROTO": "0", **extra}
    return parser["feed"]


async def _wait_for_clients(feed: CotFeed, n: int) -> None:
    async def until() -> None:
        while len(feed.clients) < n:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(until(), TIMEOUT_S)


async def _receive_with_pytak(config: configparser.SectionProxy, feed: CotFeed) -> None:
    """Connect pytak to the feed, send events, and check each one pytak reads."""
    reader, writer = await pytak.protocol_factory(config)
    worker = pytak.RXWorker(asyncio.Queue(), config, reader)
    await _wait_for_clients(feed, 1)
    sent = _events(20)
    feed.send(sent)
    received = [await asyncio.wait_for(worker.readcot(), TIMEOUT_S) for _ in sent]
    assert received == sent
    for data in received:
        check_cot_event(data)
    assert feed.clients[0].sent == len(sent) and feed.dropped == 0
    writer.close()


async def test_a_pytak_client_receives_the_events_over_tcp() -> None:
    feed = CotFeed()
    port = await feed.start(LOOPBACK, 0)
    assert port > 0 and feed.port == port
    try:
        await _receive_with_pytak(_pytak_config(f"tcp://{LOOPBACK}:{port}"), feed)
    finally:
        await feed.stop()
    assert feed.clients == []


# pytak 7.6.1 sets ssl.OP_NO_TLSv1 / OP_NO_TLSv1_1, which Python 3.10+ deprecates.
@pytest.mark.filterwarnings("ignore:ssl.OP_NO_SSL:DeprecationWarning")
async def test_a_pytak_client_receives_the_events_over_tls(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    feed = CotFeed()
    port = await feed.start(LOOPBACK, 0, ssl=server_ctx)
    config = _pytak_config(
        f"tls://{LOOPBACK}:{port}",
        PYTAK_TLS_CLIENT_CERT=str(cert),  # pytak presents a client certificate, as TAK does
        PYTAK_TLS_CLIENT_KEY=str(key),
        PYTAK_TLS_CLIENT_CAFILE=str(cert),  # and verifies the feed's certificate
        PYTAK_TLS_SERVER_EXPECTED_HOSTNAME="localhost",
    )
    try:
        await _receive_with_pytak(config, feed)
    finally:
        await feed.stop()


async def test_a_stalled_client_loses_its_oldest_events_and_never_holds_up_another() -> None:
    feed = CotFeed(queue_events=64, write_buffer_bytes=16 * 1024)
    port = await feed.start(LOOPBACK, 0)
    stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # and it never reads
    stalled.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(stalled, (LOOPBACK, port))
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        await _wait_for_clients(feed, 2)
        batches, per_batch = 100, 40
        last = b""

        async def read_until_last() -> int:
            seen = bytearray()
            while last == b"" or last not in seen:
                chunk = await reader.read(1 << 16)
                assert chunk, "the feed closed the fast client"
                seen += chunk
                del seen[: max(0, len(seen) - 4 * 1024 * 1024)]
            return len(seen)

        reading = asyncio.create_task(read_until_last())
        for b in range(batches):
            batch = _events(per_batch, first=b * per_batch, pad=1500)
            feed.send(batch)
            await asyncio.sleep(0)  # the fast client's writer and reader get to run
        last = batch[-1]
        await asyncio.wait_for(reading, TIMEOUT_S)
        by_peer = {c.peer: c for c in feed.clients}
        slow = by_peer[str(stalled.getsockname())]
        fast = by_peer[str(writer.get_extra_info("sockname"))]
        assert slow.dropped > 0 and feed.dropped >= slow.dropped
        assert fast.sent > slow.sent
        writer.close()
    finally:
        stalled.close()
        await feed.stop()


async def test_start_twice_or_on_a_taken_port_says_how_to_fix_it() -> None:
    feed, other = CotFeed(), CotFeed()
    port = await feed.start(LOOPBACK, 0)
    try:
        with pytest.raises(TransportError, match="already listening"):
            await feed.start(LOOPBACK, 0)
        with pytest.raises(TransportError, match="choose a free port"):
            await other.start(LOOPBACK, port)
    finally:
        await feed.stop()
        await other.stop()
    with pytest.raises(ConfigError, match="queue_events"):
        CotFeed(queue_events=0)


def test_serve_builds_its_cot_tls_context_from_pem_files_and_names_a_bad_one(
    tls_files: tuple[Path, Path], tmp_path: Path
) -> None:
    from trilink.errors import ConfigError
    from trilink.web.server import cot_tls_context

    cert, key = tls_files
    assert isinstance(cot_tls_context(cert, key), ssl.SSLContext)
    with pytest.raises(ConfigError, match="--cot-key"):
        cot_tls_context(cert, tmp_path / "missing.pem")
    wrong = tmp_path / "not-a-key.pem"
    wrong.write_text("not a key\n")
    with pytest.raises(ConfigError, match="--cot-cert"):
        cot_tls_context(cert, wrong)
