"""The receiving node of the sharing benchmark, in a process of its own. SIMULATION.

``python -m trilink.bench.sharing_peer ROOT CLUSTER_DIR``: runs ``USA``'s node on the
cluster in ``CLUSTER_DIR`` (keys in ``ROOT/keys``, audit in ``ROOT/audit``): it verifies
what ``KOR`` releases and returns signed receipts. Prints ``ready`` once it receives, and
stops when its standard input closes. On JetStream each nation is its own process; the
benchmark measures it so, each node on its own core.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from trilink._runtime import settle_heap
from trilink.sharing.agreements import AgreementSet, load_default_agreements
from trilink.sharing.audit import AuditLog
from trilink.sharing.cluster import ClusterInfo
from trilink.sharing.crypto import KeyStore, Verifier
from trilink.sharing.node import Node, Received
from trilink.sharing.topology import Topology
from trilink.sharing.transport.jetstream import JetStreamTransport

__all__ = ["main"]


async def _serve(root: Path, cluster_dir: Path) -> None:
    keys = KeyStore(root / "keys")
    identity = keys.load_or_create("USA")
    agreements = AgreementSet(
        tuple(a for a in load_default_agreements() if a.id == "KOR-USA"), source="bench"
    )
    transport = JetStreamTransport.from_cluster(ClusterInfo.load(cluster_dir), ["USA"])

    def ignore(msg: Received) -> None:
        return None

    node = Node(
        "USA",
        identity=identity,
        verifier=Verifier(keys.public_keys()),
        agreements=agreements,
        topology=Topology.from_links(("KOR", "USA"), [("KOR", "USA")]),
        transport=transport,
        audit=AuditLog(root / "audit" / "USA.jsonl", identity),
        now=time.time,
        on_receive=ignore,
    )
    await node.start()
    settle_heap()
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes it
    await node.settle()
    await node.stop()
    await transport.close()
    node.close()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    asyncio.run(_serve(Path(args[0]), Path(args[1])))


if __name__ == "__main__":
    main()
