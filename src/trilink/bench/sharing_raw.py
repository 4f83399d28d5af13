"""Raw nats-py publish throughput, measured beside trilink's transport. SIMULATION.

``trilink bench sharing`` prints trilink's JetStream figures next to what nats-py alone
achieves on the same cluster in the same run, so trilink's own overhead is visible:

* core NATS publish (fire and forget, no storage), timed until a final flush returns;
* JetStream ``publish_async`` into an R3 file stream with a message id per message
  (as trilink sends), timed until every acknowledgement has arrived.

The JetStream figure uses its own stream (``TRILINK_BENCH``, subjects
``trilink-bench.js.>``), created for the run and deleted after it, so the ``TRILINK``
stream and its consumers never see benchmark traffic. Give it the cluster's
administrator credentials (``NatsCluster.credentials(ADMIN)`` or ``creds/ADMIN.json``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Final

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig

from trilink.errors import TransportError
from trilink.sharing.cluster import Credentials, retry_js

__all__ = [
    "BENCH_STREAM",
    "RawRates",
    "raw_core_publish",
    "raw_jetstream_publish",
    "raw_rates",
]

BENCH_STREAM: Final = "TRILINK_BENCH"
_CORE_SUBJECT: Final = "trilink-bench.core"
_JS_SUBJECT: Final = "trilink-bench.js.x"


@dataclass(frozen=True)
class RawRates:
    """Raw nats-py throughput on one cluster."""

    count: int
    payload_bytes: int
    core_msgs_per_s: float = field(metadata={"doc": "core publish, until flushed"})
    jetstream_msgs_per_s: float = field(metadata={"doc": "R3 publish_async, until all acked"})


async def _connect(creds: Credentials) -> NatsClient:
    try:
        return await nats.connect(
            servers=list(creds.servers),
            user=creds.user,
            password=creds.password,
            inbox_prefix=creds.inbox_prefix,
            connect_timeout=2,
            max_reconnect_attempts=-1,
            pending_size=64 * 1024 * 1024,
        )
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        raise TransportError(
            f"cannot connect to {', '.join(creds.servers)} as {creds.user} for the raw "
            f"benchmark: {exc!r}. Fix: start the cluster and use its ADMIN credentials."
        ) from exc


async def raw_core_publish(
    creds: Credentials, *, count: int = 20_000, payload_bytes: int = 256
) -> float:
    """Core NATS publishes per second (no storage, no acknowledgement)."""
    nc = await _connect(creds)
    payload = b"x" * payload_bytes
    try:
        await nc.flush()
        start = time.perf_counter()
        for _ in range(count):
            await nc.publish(_CORE_SUBJECT, payload)
        await nc.flush(timeout=60)
        return count / (time.perf_counter() - start)
    finally:
        await nc.close()


async def raw_jetstream_publish(
    creds: Credentials,
    *,
    count: int = 20_000,
    payload_bytes: int = 256,
    max_pending: int = 4_000,
    ack_timeout_s: float = 30.0,
) -> float:
    """JetStream R3 ``publish_async`` per second, each with a message id, until all acked.

    nats-py's ``publish_async`` has no acknowledgement timeout of its own; this waits at
    most ``ack_timeout_s`` for the last one and raises TransportError otherwise."""
    nc = await _connect(creds)
    js = nc.jetstream(timeout=10, publish_async_max_pending=max_pending)
    payload = b"x" * payload_bytes
    config = StreamConfig(
        name=BENCH_STREAM,
        subjects=["trilink-bench.js.>"],
        storage=StorageType.FILE,
        num_replicas=3,
        duplicate_window=120.0,
    )

    async def delete_left_over() -> None:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(BENCH_STREAM)

    try:
        # a cluster just started can leave an API request unanswered while it settles
        await retry_js(delete_left_over, f"delete a left-over {BENCH_STREAM} stream")
        await retry_js(lambda: js.add_stream(config), f"create stream {BENCH_STREAM}")
        await _warm_up(js)
        futures = []
        start = time.perf_counter()
        for i in range(count):
            futures.append(
                await js.publish_async(
                    _JS_SUBJECT, payload, wait_stall=ack_timeout_s, headers={"Nats-Msg-Id": f"b{i}"}
                )
            )
        try:
            await asyncio.wait_for(asyncio.gather(*futures), ack_timeout_s)
        except TimeoutError as exc:
            missing = sum(1 for f in futures if not f.done())
            raise TransportError(
                f"{missing} of {count} raw JetStream publishes were not acknowledged within "
                f"{ack_timeout_s:.0f} s; is the cluster healthy?"
            ) from exc
        return count / (time.perf_counter() - start)
    except nats.js.errors.Error as exc:
        raise TransportError(f"raw JetStream benchmark failed: {exc!r}") from exc
    finally:
        with contextlib.suppress(nats.errors.Error, nats.js.errors.Error, TimeoutError):
            await js.delete_stream(BENCH_STREAM)
        await nc.close()


async def _warm_up(js: JetStreamContext, *, timeout_s: float = 15.0) -> None:
    """One acknowledged publish: a new R3 stream answers only once its leader is elected
    (until then a publish gets no response), so retry until the stream takes it."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await js.publish(_JS_SUBJECT, b"warm-up", headers={"Nats-Msg-Id": "warm-up"})
            return
        except (nats.js.errors.NoStreamResponseError, nats.errors.TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def raw_rates(
    creds: Credentials, *, count: int = 20_000, payload_bytes: int = 256
) -> RawRates:
    """Both raw figures, one after the other."""
    core = await raw_core_publish(creds, count=count, payload_bytes=payload_bytes)
    jetstream = await raw_jetstream_publish(creds, count=count, payload_bytes=payload_bytes)
    return RawRates(count, payload_bytes, core, jetstream)
