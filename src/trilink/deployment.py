"""A deployment: the nations' nodes as separate processes on a NATS JetStream cluster.

SIMULATION. One TOML file describes it (``trilink network init DIR`` writes one)::

    format = 1
    nations = ["JPN", "KOR", "USA"]          # the nodes
    links = [["KOR", "USA"], ["USA", "JPN"]]  # the topology (hub as deployed)
    network = "network.toml"                  # sensors (optional: the shipped network)
    agreements = "agreements.toml"            # who releases what to whom
    data-dir = "data"                         # keys/, audit/, cluster/

Relative paths are relative to the file. ``trilink cluster up`` starts the cluster with
per-nation permissions that follow the agreements; ``trilink node --nation N`` runs one
nation's node (its sensors and tracker for ``--event``, or relaying and receiving only);
``trilink link suspend|resume|terminate|onboard`` changes the agreements (and the topology,
for a new partner) on the running network: the nodes reload the agreements file within a
second, audit the change and apply it; the broker's permissions are reloaded with it.

Every node process of a run reads the same keys directory: one machine simulates all
nations. (In a real deployment each nation holds only its own private key and the
others' public keys.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Final

import msgspec

from trilink._runtime import settle_heap
from trilink._tomlfile import config_error, parse_toml, read_config_text
from trilink.config import NetworkConfig, load_default_network, load_network
from trilink.errors import ConfigError
from trilink.sharing.agreements import (
    Agreement,
    AgreementSet,
    AgreementState,
    AgreementsWatcher,
    Backlog,
    format_agreements,
    load_agreements,
)
from trilink.sharing.audit import AuditLog
from trilink.sharing.cluster import ClusterInfo, cluster_down, cluster_reload, cluster_up
from trilink.sharing.crypto import KeyStore, Verifier
from trilink.sharing.envelope import Kind
from trilink.sharing.node import Node, Received
from trilink.sharing.topology import Topology
from trilink.sharing.transport.jetstream import JetStreamTransport

__all__ = [
    "DEPLOYMENT_FORMAT",
    "Deployment",
    "init_deployment",
    "load_deployment",
    "serve",
]

DEPLOYMENT_FORMAT: Final = 1
DEPLOYMENT_FILE: Final = "deployment.toml"


class _DeploymentToml(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, rename="kebab"):
    format: int
    nations: list[str]
    links: list[tuple[str, str]]
    agreements: str
    data_dir: str = "data"
    network: str | None = None


_FIELDS: Final = tuple(f.encode_name for f in msgspec.structs.fields(_DeploymentToml))
_WRITE: Final = {
    "format": f"`format = {DEPLOYMENT_FORMAT}`",
    "nations": '`nations = ["JPN", "KOR", "USA"]`',
    "links": '`links = [["KOR", "USA"], ["USA", "JPN"]]`',
    "agreements": '`agreements = "agreements.toml"`',
}


@dataclass(frozen=True)
class Deployment:
    """A loaded deployment file, its paths resolved."""

    path: Path
    nations: tuple[str, ...]
    links: tuple[tuple[str, str], ...]
    agreements_path: Path
    data_dir: Path
    network_path: Path | None

    @property
    def topology(self) -> Topology:
        return Topology.from_links(self.nations, self.links)

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def cluster_dir(self) -> Path:
        return self.data_dir / "cluster"

    @property
    def audit_dir(self) -> Path:
        return self.data_dir / "audit"

    def agreements(self) -> AgreementSet:
        return load_agreements(self.agreements_path)

    def network(self) -> NetworkConfig:
        """The sensors' network, with this deployment's nations and links."""
        net = load_network(self.network_path) if self.network_path else load_default_network()
        return msgspec.structs.replace(
            net, nations=list(self.nations), links=[list(pair) for pair in self.links]
        )

    def cluster(self) -> ClusterInfo:
        if not (self.cluster_dir / "cluster.json").exists():
            raise ConfigError(
                f"no cluster is running for this deployment (no {self.cluster_dir}/cluster.json)",
                file=str(self.path),
                fix=f"start it with `trilink cluster up --config {self.path}`",
            )
        return ClusterInfo.load(self.cluster_dir)

    # -- changes on a running network ------------------------------------------------

    def write_agreements(self, agreements: AgreementSet, why: str) -> None:
        """Replace the agreements file atomically (the running nodes reload it)."""
        text = format_agreements(
            agreements, header=f"trilink agreements (SIMULATION), last change: {why}"
        )
        _atomic_write(self.agreements_path, text)
        self._reload_cluster(agreements)

    def set_state(self, agreement_id: str, state: AgreementState) -> Agreement:
        changed = self.agreements().with_state(agreement_id, state)
        self.write_agreements(changed, f"{agreement_id} {state.value}")
        agreement = changed.by_id(agreement_id)
        assert agreement is not None
        return agreement

    def onboard(
        self, nation: str, *, via: str, kinds: list[Kind], backlog: Backlog = Backlog.HOLD
    ) -> Deployment:
        """Add a partner linked to ``via``, with one agreement ``via`` → ``nation``."""
        if via not in self.nations:
            raise ConfigError(
                f"{via} is not a nation of the deployment",
                file=str(self.path),
                field="nations",
                fix=f"link the new partner to one of {', '.join(self.nations)}",
            )
        grown = Deployment(
            self.path,
            tuple(sorted({*self.nations, nation})),
            (*self.links, (via, nation)) if nation not in self.nations else self.links,
            self.agreements_path,
            self.data_dir,
            self.network_path,
        )
        KeyStore(self.keys_dir).load_or_create(nation)
        grown.save()
        current = self.agreements()
        agreement = Agreement(
            id=f"{via}-{nation}",
            version=1,
            originator=via,
            recipient=nation,
            kinds=frozenset(kinds),
            backlog=backlog,
            note=f"onboarded by trilink link onboard ({', '.join(k.value for k in kinds)})",
        )
        existing = current.by_id(agreement.id)
        if existing is not None:
            raise ConfigError(
                f"agreement {agreement.id} exists already",
                file=str(self.agreements_path),
                fix=f"change it with `trilink link resume {agreement.id}` or edit the file",
            )
        grown.write_agreements(
            AgreementSet((*current.agreements, agreement), source=current.source),
            f"{nation} onboarded via {via}",
        )
        return grown

    def save(self) -> None:
        rel = _relative(self.agreements_path, self.path.parent)
        lines = [
            "# trilink deployment (SIMULATION): nodes in separate processes on NATS JetStream.",
            "# See trilink.deployment; `trilink link ...` rewrites this file.",
            f"format = {DEPLOYMENT_FORMAT}",
            "nations = [" + ", ".join(f'"{n}"' for n in self.nations) + "]",
            "links = [" + ", ".join(f'["{a}", "{b}"]' for a, b in self.links) + "]",
            f'agreements = "{rel}"',
            f'data-dir = "{_relative(self.data_dir, self.path.parent)}"',
        ]
        if self.network_path is not None:
            lines.append(f'network = "{_relative(self.network_path, self.path.parent)}"')
        _atomic_write(self.path, "\n".join(lines) + "\n")

    def _reload_cluster(self, agreements: AgreementSet) -> None:
        if (self.cluster_dir / "cluster.json").exists():
            cluster_reload(self.cluster_dir, agreements=agreements, topology=self.topology)

    def cluster_up(self) -> ClusterInfo:
        keys = KeyStore(self.keys_dir)
        for n in self.nations:  # every node process finds its key and the others' there
            keys.load_or_create(n)
        return cluster_up(self.cluster_dir, agreements=self.agreements(), topology=self.topology)

    def cluster_down(self) -> ClusterInfo:
        self.cluster()
        return cluster_down(self.cluster_dir)


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path.resolve())


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def load_deployment(path: Path) -> Deployment:
    """Read and check a deployment file."""
    text = read_config_text(
        path,
        what="deployment file",
        fix_missing="give the deployment.toml that `trilink network init DIR` wrote",
    )
    source = str(path)
    try:
        raw = msgspec.convert(parse_toml(text, source=source), _DeploymentToml)
    except msgspec.ValidationError as exc:
        raise config_error(
            exc,
            source=source,
            known_fields=lambda _: _FIELDS,
            how_to_write=_WRITE,
            default_fix="see `trilink network init` for a complete file",
        ) from exc
    if raw.format != DEPLOYMENT_FORMAT:
        raise ConfigError(
            f"format {raw.format} is not supported",
            file=source,
            field="format",
            fix=f"write {_WRITE['format']}",
        )
    base = path.parent
    deployment = Deployment(
        path=path,
        nations=tuple(raw.nations),
        links=tuple((a, b) for a, b in raw.links),
        agreements_path=base / raw.agreements,
        data_dir=base / raw.data_dir,
        network_path=None if raw.network is None else base / raw.network,
    )
    deployment.topology  # checks the links name nations  # noqa: B018
    return deployment


def init_deployment(directory: Path, *, mesh: bool = False, force: bool = False) -> Deployment:
    """Write a deployment of the shipped network and agreements into ``directory``."""
    path = directory / DEPLOYMENT_FILE
    if path.exists() and not force:
        raise ConfigError(
            "a deployment exists already",
            file=str(path),
            fix="use another directory, or --force to overwrite it",
        )
    directory.mkdir(parents=True, exist_ok=True)
    net = load_default_network()
    nations = tuple(net.nations)
    links = (
        tuple(tuple(sorted(p)) for p in Topology.mesh(nations).links)
        if mesh
        else tuple((a, b) for a, b in net.links)
    )
    shipped = files("trilink").joinpath("sharing", "data", "agreements.toml").read_text("utf-8")
    (directory / "agreements.toml").write_text(shipped, encoding="utf-8")
    deployment = Deployment(
        path,
        nations,
        tuple(sorted((a, b) for a, b in links)),
        directory / "agreements.toml",
        directory / "data",
        None,
    )
    deployment.save()
    keys = KeyStore(deployment.keys_dir)
    for n in nations:
        keys.load_or_create(n)
    return deployment


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGINT raise KeyboardInterrupt, so a node closes its audit log."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield None
    finally:
        for s, h in old.items():
            signal.signal(s, h)


async def serve(
    deployment: Deployment,
    nation: str,
    *,
    on_line: Callable[[str], None],
    stop: asyncio.Event | None = None,
) -> None:
    """Run ``nation``'s node without sensors: receive, relay and receipt until ``stop``
    is set (or the task is cancelled); reload the agreements file when it changes."""
    if nation not in deployment.nations:
        raise ConfigError(
            f"{nation} is not a nation of the deployment",
            file=str(deployment.path),
            field="nations",
            fix=f"use one of {', '.join(deployment.nations)}, or onboard it with "
            "`trilink link onboard`",
        )
    keys = KeyStore(deployment.keys_dir)
    identity = keys.load_or_create(nation)
    verifier = Verifier(keys.public_keys())
    transport = JetStreamTransport.from_cluster(deployment.cluster(), [nation])

    def received(msg: Received) -> None:
        path = " → ".join([msg.envelope.originator, *(h.nation for h in msg.hops), nation])
        on_line(f"{nation} received {msg.envelope.kind.value} from {path}")

    node = Node(
        nation,
        identity=identity,
        verifier=verifier,
        agreements=deployment.agreements(),
        topology=deployment.topology,
        transport=transport,
        audit=AuditLog(deployment.audit_dir / f"{nation}.jsonl", identity),
        now=time.time,
        on_receive=received,
    )

    async def reload(new: AgreementSet) -> None:
        on_line(f"{nation} reloaded the agreements from {deployment.agreements_path}")
        node.set_topology(load_deployment(deployment.path).topology)
        await node.set_agreements(new)

    def refused(exc: ConfigError) -> None:
        on_line(f"{nation} refused the agreements file (the agreements in force stay): {exc}")

    watcher = asyncio.get_running_loop().create_task(
        AgreementsWatcher(deployment.agreements_path, reload, refused).run()
    )
    await node.start()
    settle_heap()
    on_line(f"{nation} node up: relaying and receiving (Ctrl-C to stop)")
    try:
        await (stop or asyncio.Event()).wait()
    finally:
        watcher.cancel()
        await node.stop()
        await transport.close()
        node.close()
