"""One life of a three-nation network on the embedded transport, for the crash test.

``python _embedded_crash_run.py DIR N``: start the nodes on DIR (resuming whatever is
there), let KOR publish tracks N..(up to 1000), appending each id to DIR/acked.txt once
publish returned, with a slow JPN; then drain and print "drained". The test kills the
first life with SIGKILL midway and runs a second life with N past the end.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import numpy as np

from trilink.sharing.agreements import load_default_agreements
from trilink.sharing.audit import AuditLog
from trilink.sharing.crypto import KeyStore, Verifier
from trilink.sharing.node import Node
from trilink.sharing.topology import Topology
from trilink.sharing.transport.embedded import EmbeddedTransport
from trilink.types import Track, TrackState

T0 = 1_503_953_880.0
TOTAL = 1000


async def main(directory: Path, first: int) -> None:
    keys = KeyStore(directory / "keys")
    nations = ("JPN", "KOR", "USA")
    ids = {n: keys.load_or_create(n) for n in nations}
    verifier = Verifier({n: i.public_key for n, i in ids.items()})
    topo = Topology.from_links(nations, [("KOR", "USA"), ("USA", "JPN")])
    transport = EmbeddedTransport(directory / "transport")
    nodes = {}
    for n in nations:
        nodes[n] = Node(
            n,
            identity=ids[n],
            verifier=verifier,
            agreements=load_default_agreements(),
            topology=topo,
            transport=transport,
            audit=AuditLog(directory / "audit" / f"{n}.jsonl", ids[n]),
            now=lambda: T0,
            on_receive=lambda msg: None,
        )
        await nodes[n].start()
    acked = (directory / "acked.txt").open("a")
    for i in range(first, TOTAL + 1):
        track = Track(
            track_id=f"KOR-T{i:04d}",
            nation="KOR",
            t_s=T0 + i,
            state=np.array([-3.0e6, 4.0e6, 4.0e6, 100.0, 200.0, 300.0]),
            covariance=np.eye(6) * 100.0,
            status=TrackState.CONFIRMED,
            sensors=("KOR-RADAR",),
            first_t_s=T0,
            n_updates=5,
        )
        await nodes["KOR"].publish(track, event_id="crash", valid_time_s=T0 + i)
        acked.write(f"{track.track_id}\n")
        acked.flush()
        await asyncio.sleep(0.001)  # let the receivers run: some frames are in flight
    await transport.drain()
    await transport.close()
    for node in nodes.values():
        node.close()
    print("drained", flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
