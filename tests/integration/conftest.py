"""Fixtures for tests against a real 3-server NATS JetStream cluster on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from trilink.sharing.agreements import AgreementSet, parse_agreements
from trilink.sharing.cluster import NatsCluster
from trilink.sharing.topology import Topology

HUB = Topology.from_links(["JPN", "KOR", "USA"], [("KOR", "USA"), ("USA", "JPN")])
"""The deployed hub: Seoul and Tokyo are linked only through the United States."""

_KINDS = '["track", "launch", "impact", "alert", "correction", "all-clear"]'


def agreements_toml(*pairs: tuple[str, str], kinds: str = _KINDS) -> str:
    """One active agreement per (from, to) pair, as an agreements file."""
    tables = "".join(
        f'\n[[agreement]]\nid = "{a}-{b}"\nversion = 1\nfrom = "{a}"\nto = "{b}"\n'
        f'kinds = {kinds}\nstate = "active"\nbacklog = "hold"\n'
        for a, b in pairs
    )
    return "format = 1\n" + tables


def hub_agreements() -> AgreementSet:
    """Every nation releases to both others (the 2023 trilateral set)."""
    pairs = [(a, b) for a in ("JPN", "KOR", "USA") for b in ("JPN", "KOR", "USA") if a != b]
    return parse_agreements(agreements_toml(*pairs), source="<hub>")


@pytest.fixture(scope="module")
def jetstream_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    """One 3-server cluster per test module (short ack wait to keep recoveries quick)."""
    cluster = NatsCluster(
        tmp_path_factory.mktemp("nats"),
        agreements=hub_agreements(),
        topology=HUB,
        ack_wait_s=2.0,
    )
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
