"""One run of the whole chain, composed: world → sensors → national tracking → governed
sharing → fusion → warnings. SIMULATION ONLY.

Event time drives everything: a :class:`Clock` paces the run as fast as possible
(evaluation) or in real time times a speed factor (demo, UI); the same code runs in both.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from trilink.alerting.lifecycle import LifecyclePhase
from trilink.alerting.summary import Summary, truth_summary
from trilink.alerting.timeliness import Timeliness, timeliness
from trilink.alerting.warnings import EstimateFault, WarningCenter
from trilink.config import NetworkConfig, load_default_network
from trilink.errors import ConfigError
from trilink.fusion.picture import Picture, PictureConfig
from trilink.fusion.provenance import ProvenanceRefused
from trilink.geo.areas import japan_eez_check
from trilink.sensors.suite import SensorSuite, Sighting
from trilink.sharing.agreements import (
    AgreementSet,
    AgreementState,
    AgreementsWatcher,
    load_default_agreements,
)
from trilink.sharing.audit import AuditLog
from trilink.sharing.cluster import NatsCluster
from trilink.sharing.crypto import KeyStore, Verifier
from trilink.sharing.node import Node, Received
from trilink.sharing.topology import Topology
from trilink.sharing.transport.base import Transport
from trilink.sharing.transport.embedded import EmbeddedTransport
from trilink.sharing.transport.jetstream import JetStreamTransport
from trilink.tracking.tracker import Tracker
from trilink.types import Alert, ImpactPrediction, LaunchEstimate, Track
from trilink.world.launches import fly_event
from trilink.world.library import LaunchEvent, load_library
from trilink.world.trajectory import Trajectory

__all__ = [
    "Clock",
    "LinkEvent",
    "RunResult",
    "Step",
    "TimelineEvent",
    "run_event",
    "run_event_on_jetstream",
]


class Clock:
    """Event time of a run. ``speed=None`` runs as fast as possible; otherwise one second of
    event time takes ``1/speed`` seconds of wall time, counted from ``start_wall_s`` (POSIX
    wall-clock time, so separate processes can share one clock) or from now."""

    def __init__(
        self, start_s: float, *, speed: float | None = None, start_wall_s: float | None = None
    ) -> None:
        self.now_s = start_s
        self.speed = speed
        self._wall0 = time.time() if start_wall_s is None else start_wall_s
        self._start_s = start_s

    def now(self) -> float:
        return self.now_s

    async def advance_to(self, t_s: float) -> None:
        if self.speed is not None:
            due = self._wall0 + (t_s - self._start_s) / self.speed
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
        self.now_s = t_s


@dataclass(frozen=True, slots=True)
class LinkEvent:
    """A change of one agreement at a time of the run (an exercise inject): ``suspend``,
    ``resume`` or ``terminate`` it, ``t_rel_s`` seconds after launch, at every node."""

    t_rel_s: float
    action: AgreementState
    agreement_id: str

    @classmethod
    def parse(cls, text: str) -> LinkEvent:
        """``T:ACTION:AGREEMENT`` (e.g. ``120:suspend:KOR-JPN``)."""
        actions = {"suspend": AgreementState.SUSPENDED, "resume": AgreementState.ACTIVE}
        actions["terminate"] = AgreementState.TERMINATED
        try:
            t, action, agreement_id = text.split(":")
            return cls(float(t), actions[action], agreement_id)
        except (ValueError, KeyError) as exc:
            raise ConfigError(
                f"link event {text!r} is not T:ACTION:AGREEMENT",
                field="link",
                fix="write seconds after launch, suspend|resume|terminate and an agreement "
                "id, e.g. 120:suspend:KOR-JPN",
            ) from exc

    def describe(self) -> str:
        verb = {"active": "resumed", "suspended": "suspended", "terminated": "terminated"}
        return f"agreement {self.agreement_id} {verb[self.action.value]}"

    def apply(self, agreements: AgreementSet) -> AgreementSet:
        return agreements.with_state(self.agreement_id, self.action)


ALERT_TAIL_S = 300.0
"""Event seconds a run goes on after the last impact while an alert lifecycle is open
(the verdict comes after the impact time's uncertainty, the all-clear after it)."""


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """Something worth showing on the live timeline."""

    t_rel_s: float
    nation: str
    text: str


@dataclass(frozen=True)
class Step:
    """What the chain holds at the end of one tick (1 s of event time), for observers (the
    live picture, exports). The centres and nodes are live objects: read, don't keep."""

    t_s: float
    t_rel_s: float
    centers: Mapping[str, WarningCenter]
    nodes: Mapping[str, Node]


@dataclass
class RunResult:
    """What a run produced."""

    event: LaunchEvent
    trajectory: Trajectory
    truth: Summary
    summaries: dict[str, Summary | None]
    first_alert_s: dict[str, float | None]
    first_detection_s: dict[str, float | None]
    rejected: int
    audit_dir: Path
    keys_dir: Path
    centers: dict[str, WarningCenter] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    sightings: list[Sighting] = field(default_factory=list)
    wall_s: float = 0.0
    alerts: dict[str, list[Alert]] = field(default_factory=dict)
    timeliness: dict[str, Timeliness] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """The document ``trilink demo --json FILE`` writes."""
        doc = self._document(
            lambda n: {
                "first_alert_s": self.first_alert_s[n],
                "first_detection_s": self.first_detection_s[n],
            }
        )
        return {**doc, "rejected": self.rejected, "audit_dir": str(self.audit_dir)}

    def replay_json(self) -> dict[str, object]:
        """Truth, and per nation its summary, its alerts (J-Alert stages) and their
        timeliness: the document ``trilink replay ID --json FILE`` writes."""
        return self._document(
            lambda n: {
                "alerts": [a.to_json() for a in self.alerts.get(n, [])],
                "timeliness": self.timeliness[n].to_json(),
            }
        )

    def _document(self, per_nation: Callable[[str], dict[str, object]]) -> dict[str, object]:
        """Truth and each nation's summary, with ``per_nation(n)``'s fields beside it."""
        return {
            "simulation": True,
            "event": self.event.id,
            "truth": msgspec.to_builtins(self.truth),
            "nations": {
                n: {"summary": None if s is None else msgspec.to_builtins(s), **per_nation(n)}
                for n, s in self.summaries.items()
            },
        }


async def run_event(
    event: LaunchEvent,
    *,
    data_dir: Path,
    seed: int = 2017,
    network: NetworkConfig | None = None,
    agreements: AgreementSet | None = None,
    speed: float | None = None,
    on_timeline: Callable[[TimelineEvent], None] | None = None,
    transport: Transport | None = None,
    topology: Topology | None = None,
    nations: Sequence[str] | None = None,
    audit_dir: Path | None = None,
    start_wall_s: float | None = None,
    link_events: Sequence[LinkEvent] = (),
    agreements_file: Path | None = None,
    topology_source: Callable[[], Topology] | None = None,
    linger_s: float = 0.0,
    estimate_faults: Sequence[EstimateFault] = (),
    on_step: Callable[[Step], None] | None = None,
    on_message: Callable[[str, Received], None] | None = None,
) -> RunResult:
    """Run one launch through the whole chain and return the results.

    By default every nation of the network runs here, on an embedded transport of its
    own. ``nations`` runs only those (their sensors, trackers, nodes and warnings) on the
    given ``transport`` — one nation's process of a distributed network; every process
    of a run must use the same event, seed and network, and the same ``start_wall_s``
    (when event time starts, on the wall clock; with ``speed``) to share one clock.
    ``link_events`` change agreements at given times after launch (suspend, resume, ...);
    ``agreements_file`` is watched and reloaded into every local node when it changes
    (``trilink link`` on a running network), with the topology from ``topology_source``
    (a partner onboarded). ``linger_s`` keeps the nodes receiving and
    relaying that many wall-clock seconds after the event. ``estimate_faults`` are
    exercise injects (:class:`~trilink.alerting.warnings.EstimateFault`, their
    ``until_t_s`` in seconds after launch here): a bad early estimate at a nation.
    ``on_step`` is called at the end of every tick with what the local nations hold;
    ``on_message`` with every message a local nation accepts (that nation, the message),
    before its picture takes it.
    """
    wall0 = time.perf_counter()
    net = network or load_default_network()
    agr = agreements or load_default_agreements()
    local = tuple(nations or net.nations)
    for n in local:
        if n not in net.nations:
            raise ConfigError(
                f"nation {n} is not in the network",
                field="nations",
                fix=f"use one of {', '.join(net.nations)}",
            )
    traj = fly_event(event).trajectory
    rng = np.random.default_rng(seed)
    t_launch = traj.t_launch_s
    clock = Clock(t_launch, speed=speed, start_wall_s=start_wall_s)
    keys = KeyStore(data_dir / "keys")
    identities = {n: keys.load_or_create(n) for n in net.nations}
    verifier = Verifier({n: i.public_key for n, i in identities.items()})
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    audit_dir = audit_dir or data_dir / "audit" / f"{stamp}-{event.id}"
    topology = topology or Topology.from_links(net.nations, net.links)
    own_transport = transport is None
    if transport is None:
        transport = EmbeddedTransport(data_dir / "transport" / f"{stamp}-{event.id}")
    pending_links = sorted(link_events, key=lambda e: e.t_rel_s)
    watcher: asyncio.Task[None] | None = None

    def emit(nation: str, text: str) -> None:
        if on_timeline is not None:
            on_timeline(TimelineEvent(clock.now() - t_launch, nation, text))

    sites = {r.id: r.ecef_m for r in net.radar}
    frame = PictureConfig(reference=net.registration_reference)
    pictures = {n: Picture(n, frame, sites=sites) for n in local}
    faults = {f.nation: replace(f, until_t_s=t_launch + f.until_t_s) for f in estimate_faults}
    centers = {n: WarningCenter(n, pictures[n], fault=faults.get(n)) for n in local}
    trackers = {n: Tracker(n) for n in local}
    nodes: dict[str, Node] = {}

    def receiver(nation: str) -> Callable[[Received], None]:
        def on_receive(msg: Received) -> None:
            if on_message is not None:
                on_message(nation, msg)
            p = msg.payload
            if isinstance(p, Track):
                via = msg.hops[-1].nation if msg.hops else msg.envelope.originator
                try:
                    pictures[nation].ingest(p, received_from=via)
                except ProvenanceRefused as exc:
                    emit(nation, f"track refused: {exc}")
            elif isinstance(p, Alert):
                centers[nation].received_alerts.append(p)
                emit(nation, f"received {p.nation} alert '{p.stage.value}' from {_path(msg)}")
            elif isinstance(p, LaunchEstimate):
                centers[nation].launch_estimates.append(p)
                emit(nation, f"received launch alert from {_path(msg)}")
            elif isinstance(p, ImpactPrediction):
                centers[nation].received_impacts.append(p)

        return on_receive

    for n in local:
        nodes[n] = Node(
            n,
            identity=identities[n],
            verifier=verifier,
            agreements=agr,
            topology=topology,
            transport=transport,
            audit=AuditLog(audit_dir / f"{n}.jsonl", identities[n]),
            now=clock.now,
            on_receive=receiver(n),
        )
        await nodes[n].start()

    if agreements_file is not None:

        async def reload(new: AgreementSet) -> None:
            for n, node in nodes.items():
                emit(n, f"agreements reloaded from {agreements_file}")
                if topology_source is not None:
                    node.set_topology(topology_source())
                await node.set_agreements(new)

        def refused(exc: ConfigError) -> None:
            for n in nodes:
                emit(n, f"agreements file refused, the agreements in force stay: {exc}")

        watcher = asyncio.get_running_loop().create_task(
            AgreementsWatcher(agreements_file, reload, refused).run()
        )
    first_det: dict[str, float | None] = dict.fromkeys(local)
    alerted: set[str] = set()
    confirmed: set[str] = set()
    end = max(b.impact_s for b in traj.bodies) + 5.0
    alerts_end = end + ALERT_TAIL_S
    suite = SensorSuite(
        traj,
        [r for r in net.radar if r.nation in local],
        [s for s in net.infrared if s.nation in local],
        rng,
    )
    ir_seen: set[str] = set()
    # A node restarted during a run (same start_wall_s) re-derives its picture from its own
    # sensors as fast as it can, and shares again from the event time it rejoins at.
    catch_up_until = -math.inf
    if start_wall_s is not None and speed is not None:
        catch_up_until = t_launch + (time.time() - start_wall_s) * speed
    t_rel = 0.0
    try:
        while t_rel <= end or (t_rel <= alerts_end and _alerts_open(centers)):
            t = t_launch + t_rel
            await clock.advance_to(t)
            tick = suite.tick(t_rel)
            for sat, reports in tick.infrared:
                if sat.nation in trackers:  # the nation's tracker: cues, launch-point fit
                    trackers[sat.nation].process_infrared(t, reports)
                    centers[sat.nation].add_infrared(reports)  # its launch estimate
                if reports and sat.nation not in ir_seen:
                    ir_seen.add(sat.nation)
                    emit(sat.nation, f"space infrared: boosting missile seen by {sat.id}")
            # Each nation reports each of its tracks once per tick (1 Hz), at its latest
            # state, however many of its radars updated it in the tick.
            latest: dict[str, dict[str, Track]] = {n: {} for n in local}
            for radar, dets in tick.radar:
                n = radar.nation
                if first_det[n] is None and any(not d.false_alarm for d in dets):
                    first_det[n] = t_rel
                    emit(n, f"first detection by {radar.id}")
                for trk in trackers[n].process(t, dets, covers=radar.in_coverage):
                    latest[n][trk.track_id] = trk
            for n, updated in latest.items():
                for trk in updated.values():
                    if trk.track_id not in confirmed:
                        confirmed.add(trk.track_id)
                        emit(n, f"track {trk.track_id} confirmed")
                    pictures[n].ingest(trk)
                if t >= catch_up_until and updated:
                    shared = [(trk, trk.t_s) for trk in updated.values()]
                    await nodes[n].publish_many(shared, event_id=event.id)
            for node in nodes.values():
                await node.release_due()  # releases an agreement delays
            await transport.drain()
            while pending_links and pending_links[0].t_rel_s <= t_rel:
                change = pending_links.pop(0)
                for n, node in nodes.items():
                    emit(n, change.describe())
                    await node.set_agreements(change.apply(node.agreements))
            for n in local:
                for product in centers[n].step(t):
                    if isinstance(product, LaunchEstimate):
                        what = "launch estimate updated" if n in alerted else "LAUNCH ALERT"
                        alerted.add(n)
                        emit(n, f"{what} (launch est. T{product.t_launch_s - t_launch:+.0f} s)")
                    elif isinstance(product, Alert):
                        emit(n, _describe_alert(product))
                    elif _worth_showing(centers[n]):
                        emit(n, _describe_impact(product))
                    if t >= catch_up_until:
                        await nodes[n].publish(product, event_id=event.id, valid_time_s=t)
            await transport.drain()
            if on_step is not None:
                on_step(Step(t, t_rel, centers, nodes))
            t_rel += 1.0
        await asyncio.sleep(linger_s)
        await transport.drain()
    finally:
        if watcher is not None:
            watcher.cancel()
        if own_transport:
            await transport.close()
        else:
            for n in local:
                await nodes[n].stop()
        for node in nodes.values():
            node.close()
    library = load_library()
    site = f"{event.site.name}"
    rv = traj.rv
    true_eez = japan_eez_check(rv.impact_lat_deg, rv.impact_lon_deg).verdict.value
    result = RunResult(
        event=event,
        trajectory=traj,
        truth=truth_summary(traj, site),
        summaries={n: centers[n].summary(library) for n in local},
        first_alert_s={
            n: None if c.first_alert_t_s is None else c.first_alert_t_s - t_launch
            for n, c in centers.items()
        },
        first_detection_s=first_det,
        rejected=sum(sum(node.rejected.values()) for node in nodes.values()),
        audit_dir=audit_dir,
        keys_dir=data_dir / "keys",
        centers=centers,
        nodes=nodes,
        sightings=sorted(suite.sightings.values(), key=lambda x: (x.sensor_id, x.object)),
        wall_s=time.perf_counter() - wall0,
        alerts={n: list(c.lifecycle.alerts) for n, c in centers.items()},
        timeliness={
            n: timeliness(
                c.lifecycle.alerts,
                t_launch_s=t_launch,
                impacts=c.impacts,
                true_impact_lat_lon=(rv.impact_lat_deg, rv.impact_lon_deg),
                true_eez_verdict=true_eez,
                nation=n,
            )
            for n, c in centers.items()
        },
    )
    return result


async def run_event_on_jetstream(
    event: LaunchEvent,
    *,
    data_dir: Path,
    network: NetworkConfig | None = None,
    agreements: AgreementSet | None = None,
    topology: Topology | None = None,
    **options: Any,
) -> RunResult:
    """:func:`run_event` with every node on NATS JetStream: a 3-server R3 cluster is
    started on loopback for the run (in ``data_dir/cluster/``) and stopped after it."""
    net = network or load_default_network()
    agr = agreements or load_default_agreements()
    topo = topology or Topology.from_links(net.nations, net.links)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    cluster = NatsCluster(
        data_dir / "cluster" / f"{stamp}-{event.id}", agreements=agr, topology=topo
    )
    async with cluster:
        transport = JetStreamTransport.from_cluster(cluster.info())
        try:
            return await run_event(
                event,
                data_dir=data_dir,
                network=net,
                agreements=agr,
                topology=topo,
                transport=transport,
                **options,
            )
        finally:
            await transport.close()


def _describe_impact(p: ImpactPrediction) -> str:
    text = (
        f"impact prediction {p.lat_deg:.2f}N {p.lon_deg:.2f}E ±{p.semi_major_m / 1e3:.1f} km, "
        f"EEZ {p.eez_verdict}"
    )
    return text + (f", overflies {'/'.join(p.overflight)}" if p.overflight else "")


def _describe_alert(a: Alert) -> str:
    where = f": {', '.join(a.prefectures)}" if a.prefectures else ""
    fix = f" (corrects {a.correction_of})" if a.correction_of else ""
    return f"ALERT {a.stage.value}{where}{fix}"


def _alerts_open(centers: dict[str, WarningCenter]) -> bool:
    """Some nation has alerted and its lifecycle has not closed with an all-clear."""
    return any(
        c.lifecycle.alerts and c.lifecycle.phase is not LifecyclePhase.CLOSED
        for c in centers.values()
    )


def _worth_showing(center: WarningCenter) -> bool:
    """Show the first impact prediction and then one a minute on the timeline."""
    return len(center.impacts) == 1 or len(center.impacts) % 6 == 0


def _path(msg: Received) -> str:
    return " → ".join([msg.envelope.originator, *(h.nation for h in msg.hops)])
