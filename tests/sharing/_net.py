"""A three-nation hub network of nodes on the embedded transport, for node tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trilink.sharing.agreements import AgreementSet, load_default_agreements
from trilink.sharing.audit import AuditLog
from trilink.sharing.crypto import KeyStore, Verifier
from trilink.sharing.node import Node, Received
from trilink.sharing.topology import Topology
from trilink.sharing.transport.embedded import EmbeddedTransport
from trilink.types import Track, TrackState

T0 = 1_503_953_880.0


def _track(nation: str, n: int = 1) -> Track:
    return Track(
        track_id=f"{nation}-T{n:04d}",
        nation=nation,
        t_s=T0 + 60.0,
        state=np.array([-3.0e6, 4.0e6, 4.0e6, 100.0, 200.0, 300.0]),
        covariance=np.eye(6) * 100.0,
        status=TrackState.CONFIRMED,
        sensors=(f"{nation}-RADAR",),
        first_t_s=T0 + 50.0,
        n_updates=5,
    )


@dataclass
class Net:
    transport: EmbeddedTransport
    nodes: dict[str, Node]
    inbox: dict[str, list[Received]] = field(default_factory=dict)
    audit_dir: Path = Path()
    keys: KeyStore | None = None


async def _network(
    tmp: Path,
    agreements: AgreementSet | None = None,
    *,
    topology: Topology | None = None,
    now: Callable[[], float] = lambda: T0 + 61.0,
    on_receipt: Callable[[str, str, float], None] | None = None,
) -> Net:
    keys = KeyStore(tmp / "keys")
    nations = ("JPN", "KOR", "USA")
    ids = {n: keys.load_or_create(n) for n in nations}
    verifier = Verifier({n: i.public_key for n, i in ids.items()})
    topo = topology or Topology.from_links(nations, [("KOR", "USA"), ("USA", "JPN")])
    transport = EmbeddedTransport(tmp / "transport")
    net = Net(transport, {}, {n: [] for n in nations}, tmp / "audit", keys)

    def sink(n: str) -> Callable[[Received], None]:
        return lambda msg: net.inbox[n].append(msg)

    for n in nations:
        net.nodes[n] = Node(
            n,
            identity=ids[n],
            verifier=verifier,
            agreements=agreements or load_default_agreements(),
            topology=topo,
            transport=transport,
            audit=AuditLog(tmp / "audit" / f"{n}.jsonl", ids[n]),
            now=now,
            on_receive=sink(n),
            on_receipt=on_receipt if n == "KOR" else None,
        )
        await net.nodes[n].start()
    return net


async def _close(net: Net) -> None:
    await net.transport.close()
    for node in net.nodes.values():
        node.close()


def _audit(net: Net, nation: str) -> list[dict[str, object]]:
    path = net.audit_dir / f"{nation}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]
