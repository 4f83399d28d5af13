"""No message is delivered outside its releasability, and nothing allowed is lost.

Random agreements (states, kinds, regions, object classes, redactions, precision,
delays, sealing), a random topology (the hub through the US, or a mesh) and random
traffic (tracks, launch estimates, impact predictions at random places) published by
random nodes on the embedded transport. Then, from what each node handed to its picture
(``on_receive``) and from the audit logs:

- every received message was allowed to that nation by :func:`decide` on the original
  payload, under the agreement its envelope names and no other; the nation is the
  envelope's only recipient; withheld fields are absent and positions lie on the agreed
  grid (the payload is exactly the originator's redaction of the original);
- every release the originator's plan allows (agreement active, content admitted at
  the agreed precision) is received exactly once, delayed ones once their time comes;
  what a suspended agreement covers is held or dropped, never delivered;
- once every suspended agreement is resumed, what was held (hold, latest-only) is
  delivered exactly once — each agreement's backlog in publication order — and what was
  dropped never is;
- the audit logs say the same (no refusal anywhere), and their chains verify.

Hypothesis: 25 examples, no deadline; the derandomized "ci" profile of tests/conftest.py
applies when CI is set. (Run with a larger ``max_examples`` to search harder: 800 pass.)
"""

from __future__ import annotations

import json
import math
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from trilink.geo.earth import geodetic_to_ecef
from trilink.sharing.agreements import (
    REDACTABLE,
    Agreement,
    AgreementSet,
    AgreementState,
    Backlog,
    ObjectClass,
    Region,
    decide,
    plan_releases,
    quantise_lat_lon,
    redact_payload,
    release_facts,
)
from trilink.sharing.audit import AuditLog, verify_dir
from trilink.sharing.crypto import KeyStore, Verifier
from trilink.sharing.envelope import Kind, PartialTrack, Payload, encode_payload
from trilink.sharing.node import Node, Received
from trilink.sharing.topology import Topology
from trilink.sharing.transport.embedded import EmbeddedTransport
from trilink.types import ImpactPrediction, LaunchEstimate, Track, TrackState

NATIONS = ("JPN", "KOR", "PHL", "USA")
T0 = 1_700_000_000.0
_lat = st.floats(25.0, 48.0)  # North-east Asia and the seas around Japan
_lon = st.floats(118.0, 150.0)


@st.composite
def regions(draw: st.DrawFn) -> Region | None:
    choice = draw(st.sampled_from(["none", "none", "none", "named", "box", "box"]))
    if choice == "none":
        return None
    if choice == "named":
        return Region.named("japan-eez")
    lat0, lat1 = sorted(draw(st.tuples(_lat, _lat)))
    lon0, lon1 = sorted(draw(st.tuples(_lon, _lon)))
    lat1, lon1 = max(lat1, lat0 + 1.0), max(lon1, lon0 + 1.0)
    return Region.polygon([(lat0, lon0), (lat0, lon1), (lat1, lon1), (lat1, lon0)])


@st.composite
def agreement_sets(draw: st.DrawFn) -> AgreementSet:
    agreements = []
    for i in range(draw(st.integers(2, 12))):
        originator, recipient = draw(st.permutations(NATIONS))[:2]
        start = draw(st.sampled_from([None, None, None, T0 + draw(st.floats(0.0, 15.0))]))
        end = draw(st.sampled_from([None, None, None, T0 + draw(st.floats(5.0, 30.0))]))
        if start is not None and end is not None and end <= start:
            start, end = end, start + 1.0
        agreements.append(
            Agreement(
                id=f"{originator}-{recipient}-{i}",
                version=draw(st.integers(1, 3)),
                originator=originator,
                recipient=recipient,
                kinds=draw(
                    st.frozensets(
                        st.sampled_from([Kind.TRACK, Kind.LAUNCH, Kind.IMPACT]), min_size=1
                    )
                    | st.just(frozenset(Kind))
                ),
                state=draw(
                    st.sampled_from(
                        [AgreementState.ACTIVE] * 3
                        + [AgreementState.SUSPENDED, AgreementState.TERMINATED]
                    )
                ),
                backlog=draw(st.sampled_from(Backlog)),
                valid_from_s=start,
                valid_until_s=end,
                region=draw(regions()),
                object_classes=draw(
                    st.sampled_from([None, None, draw(st.frozensets(st.sampled_from(ObjectClass)))])
                ),
                precision_m=draw(st.none() | st.floats(100.0, 50_000.0)),
                redact=draw(st.frozensets(st.sampled_from(sorted(REDACTABLE)))),
                delay_s=draw(st.sampled_from([0.0, 0.0, 30.0])),
                seal=draw(st.booleans()),
            )
        )
    # One plain, open agreement somewhere in file order, so that traffic flows (or is
    # held, to flow on resumption).
    originator, recipient = draw(st.permutations(NATIONS))[:2]
    plain = Agreement(
        id=f"{originator}-{recipient}-open",
        version=1,
        originator=originator,
        recipient=recipient,
        kinds=frozenset(Kind),
        state=draw(st.sampled_from([AgreementState.ACTIVE, AgreementState.SUSPENDED])),
        backlog=draw(st.sampled_from(Backlog)),
    )
    agreements.insert(draw(st.integers(0, len(agreements))), plain)
    return AgreementSet(tuple(agreements), source="<hypothesis>")


@st.composite
def payloads(draw: st.DrawFn, nation: str, i: int) -> Payload:
    """A payload about a random place, its track id unique to message ``i``."""
    lat, lon = draw(_lat), draw(_lon)
    track_id = f"{nation}-T{i:04d}"
    what = draw(st.sampled_from(["track", "track", "launch", "impact"]))
    if what == "track":
        n = draw(st.sampled_from((6, 9)))
        pos = geodetic_to_ecef(lat, lon, draw(st.floats(0.0, 1.5e6)))
        rest = draw(st.lists(st.floats(-7e3, 7e3), min_size=n - 3, max_size=n - 3))
        return Track(
            track_id=track_id,
            nation=nation,
            t_s=T0 + i,
            state=np.concatenate([pos, rest]),
            covariance=np.diag(draw(st.lists(st.floats(1.0, 1e6), min_size=n, max_size=n))),
            status=TrackState.CONFIRMED,
            sensors=tuple(draw(st.lists(st.sampled_from([f"{nation}-R1", f"{nation}-R2"])))),
            first_t_s=T0,
            n_updates=3,
            thrusting=draw(st.booleans()),
        )
    if what == "launch":
        return LaunchEstimate(
            T0 + i - 60.0, lat, lon, draw(st.floats(0.0, 1e4)), 2.0, track_id, nation
        )
    minor = draw(st.floats(0.0, 5e4))
    return ImpactPrediction(
        T0 + i,
        T0 + i + 600.0,
        lat,
        lon,
        minor + draw(st.floats(0.0, 5e4)),
        minor,
        draw(st.floats(0.0, 180.0)),
        5e5,
        "outside",
        False,
        tuple(draw(st.lists(st.sampled_from(["Hokkaido", "Honshu"]), max_size=2))),
        track_id,
        nation,
    )


@dataclass(frozen=True)
class Message:
    originator: str
    payload: Payload
    valid_time_s: float


@st.composite
def traffic(draw: st.DrawFn, agreements: AgreementSet) -> list[Message]:
    """Messages by random nations, mostly ones that some agreement releases from."""
    senders = [a.originator for a in agreements] + list(NATIONS)
    out = []
    for i in range(1, draw(st.integers(3, 14)) + 1):
        nation = draw(st.sampled_from(senders))
        out.append(Message(nation, draw(payloads(nation, i)), T0 + i))
    return out


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[AgreementSet, list[Message]]:
    agreements = draw(agreement_sets())
    return agreements, draw(traffic(agreements))


def resumed(agreements: AgreementSet) -> AgreementSet:
    """Every suspended agreement resumed (its version bumped)."""
    out = agreements
    for a in agreements:
        if a.state is AgreementState.SUSPENDED:
            out = out.with_state(a.id, AgreementState.ACTIVE)
    return out


async def run_network(
    tmp: Path, agreements: AgreementSet, topology: Topology, messages: list[Message]
) -> tuple[dict[str, list[Received]], dict[str, int]]:
    """Publish ``messages``, let every delay pass, then resume every suspended agreement.
    Returns what each node received, and how much of it before the resumption."""
    clock = [T0]
    keys = KeyStore(tmp / "keys")
    ids = {n: keys.load_or_create(n) for n in NATIONS}
    verifier = Verifier({n: i.public_key for n, i in ids.items()})
    transport = EmbeddedTransport(tmp / "transport")
    inbox: dict[str, list[Received]] = {n: [] for n in NATIONS}
    nodes = {
        n: Node(
            n,
            identity=ids[n],
            verifier=verifier,
            agreements=agreements,
            topology=topology,
            transport=transport,
            audit=AuditLog(tmp / "audit" / f"{n}.jsonl", ids[n]),
            now=lambda: clock[0],
            on_receive=inbox[n].append,
        )
        for n in NATIONS
    }

    async def settle() -> None:
        for _ in range(2):
            await transport.drain()
            for node in nodes.values():
                await node.settle()
        await transport.drain()

    for node in nodes.values():
        await node.start()
    for m in messages:
        clock[0] = m.valid_time_s
        await nodes[m.originator].publish(m.payload, event_id="prop", valid_time_s=m.valid_time_s)
        await transport.drain()
    clock[0] = T0 + 1000.0  # every delay has passed
    for node in nodes.values():
        await node.release_due()
    await settle()
    before = {n: len(inbox[n]) for n in NATIONS}
    # Resume: every node learns of it before any backlog reaches it (one process; the
    # nodes of a deployment learn at different moments: see tests/sharing/test_node_races).
    for node in nodes.values():
        await node.stop()
    for node in nodes.values():
        await node.set_agreements(resumed(agreements))
    for node in nodes.values():
        await node.start()
    await settle()
    assert all(not node.rejected for node in nodes.values()), {
        n: dict(node.rejected) for n, node in nodes.items()
    }
    assert all(node.held == 0 for node in nodes.values())
    await transport.close()
    for node in nodes.values():
        node.close()
    return inbox, before


def _on_lat_lon_grid(lat: float, lon: float, step_m: float) -> bool:
    q_lat, q_lon = quantise_lat_lon(lat, lon, step_m)
    return math.isclose(q_lat, lat, abs_tol=1e-9) and math.isclose(q_lon, lon, abs_tol=1e-9)


def check_received(msg: Received, nation: str, original: Message, agreements: AgreementSet) -> None:
    env, got = msg.envelope, msg.payload
    assert env.recipients == (nation,), env.recipients
    assert env.originator == original.originator and env.valid_time_s == original.valid_time_s
    facts = release_facts(
        original.payload, originator=original.originator, valid_time_s=original.valid_time_s
    )
    decision = decide(facts, nation, agreements)
    assert decision.allow, f"{nation} received what it may not: {decision.reason}"
    assert env.releasability == (decision.agreement_id,), (env.releasability, decision)
    agreement = agreements.by_id(decision.agreement_id or "")
    assert agreement is not None and agreement.recipient == nation
    assert agreement.state is AgreementState.ACTIVE
    assert (env.sealed_to == nation) is agreement.seal
    # Exactly the originator's redaction of the original, bit for bit on the wire...
    assert encode_payload(got) == encode_payload(redact_payload(original.payload, decision))
    # ...and, judged independently: nothing withheld is present, nothing finer than agreed.
    withheld, p = agreement.redact, agreement.precision_m
    if isinstance(got, Track | PartialTrack):
        assert isinstance(original.payload, Track)
        if "sensor" in withheld:
            assert got.sensors == ()
        if "covariance" in withheld:
            assert got.covariance is None and isinstance(got, PartialTrack)
        if "velocity" in withheld:
            assert got.state.shape == (3,) and isinstance(got, PartialTrack)
        if p is not None:
            steps = np.asarray(got.state[:3]) / p
            assert np.allclose(steps, np.round(steps), rtol=0.0, atol=1e-6)
        else:
            np.testing.assert_array_equal(got.state[:3], original.payload.state[:3])
    else:
        assert isinstance(got, LaunchEstimate | ImpactPrediction)
        if isinstance(got, ImpactPrediction) and "overflight" in withheld:
            assert got.overflight == ()
        if p is not None:
            assert _on_lat_lon_grid(got.lat_deg, got.lon_deg, p)
        else:
            assert isinstance(original.payload, LaunchEstimate | ImpactPrediction)
            assert (got.lat_deg, got.lon_deg) == (
                original.payload.lat_deg,
                original.payload.lon_deg,
            )


def _audit(tmp: Path, nation: str) -> list[dict[str, object]]:
    path = tmp / "audit" / f"{nation}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenario=scenarios(), mesh=st.booleans())
async def test_no_message_is_delivered_outside_its_releasability_and_none_allowed_is_lost(
    scenario: tuple[AgreementSet, list[Message]], mesh: bool
) -> None:
    agreements, messages = scenario
    topology = (
        Topology.mesh(NATIONS)
        if mesh
        else Topology.from_links(NATIONS, [("KOR", "USA"), ("USA", "JPN"), ("USA", "PHL")])
    )
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        inbox, before = await run_network(tmp, agreements, topology, messages)
        after = resumed(agreements)
        by_id = {_id(m.payload): m for m in messages}

        # Nothing delivered outside its releasability (before and after the resumption).
        got: Counter[tuple[str, str]] = Counter()
        got_later: Counter[tuple[str, str]] = Counter()
        for nation, received in inbox.items():
            for i, msg in enumerate(received):
                early = i < before[nation]
                original = by_id[_id(msg.payload)]
                check_received(msg, nation, original, agreements if early else after)
                (got if early else got_later)[(_id(msg.payload), nation)] += 1

        # Nothing allowed lost; nothing suspended delivered while suspended; on
        # resumption what was held is delivered (judged again by the agreements then).
        expected: Counter[tuple[str, str]] = Counter()
        expected_later: Counter[tuple[str, str]] = Counter()
        held: Counter[str] = Counter()
        for m in messages:
            key = _id(m.payload)
            later = {
                r.recipient: r
                for r in plan_releases(
                    m.payload, after, originator=m.originator, valid_time_s=m.valid_time_s
                )
            }
            for release in plan_releases(
                m.payload, agreements, originator=m.originator, valid_time_s=m.valid_time_s
            ):
                decision = release.decision
                if release.payload is not None:
                    expected[(key, release.recipient)] += 1
                elif decision.backlog is not None:
                    held[m.originator] += 1
                    again = later[release.recipient]
                    if (
                        decision.backlog is not Backlog.DROP
                        and again.payload is not None
                        and again.decision.agreement_id == decision.agreement_id
                    ):
                        expected_later[(key, release.recipient)] += 1
                else:
                    facts = release_facts(
                        m.payload, originator=m.originator, valid_time_s=m.valid_time_s
                    )
                    first = decide(facts, release.recipient, agreements)
                    # denied, or allowed only at a precision that moves it out of bounds
                    assert not first.allow or "agreed precision" in decision.reason
        assert got == expected
        assert got_later == expected_later
        # Each agreement's backlog arrives in the order it was published. (Across two
        # agreements of one pair it does not: see tests/sharing/test_node_races.py.)
        for nation, received in inbox.items():
            late = received[before[nation] :]
            for agreement in after:
                times = [
                    msg.envelope.valid_time_s
                    for msg in late
                    if msg.envelope.releasability == (agreement.id,)
                ]
                assert times == sorted(times), f"{agreement.id} backlog out of order"
        event(f"messages delivered: {min(sum(got.values()), 5)}{'+' * (sum(got.values()) >= 5)}")
        event(f"backlog delivered on resumption: {bool(got_later)}")
        kinds = {type(msg.payload).__name__ for received in inbox.values() for msg in received}
        for kind in sorted(kinds):
            event(f"delivered a {kind}")
        for flag, terms in (
            ("sealed", lambda a: a.seal),
            ("redacted", lambda a: bool(a.redact)),
            ("coarsened", lambda a: a.precision_m is not None),
            ("region", lambda a: a.region is not None),
            ("delayed", lambda a: a.delay_s > 0),
        ):
            if any(
                terms(after.by_id(msg.envelope.releasability[0]))
                for received in inbox.values()
                for msg in received
            ):
                event(f"delivered under a {flag} agreement")

        # The audit logs say the same: received lines match the pictures, releases name
        # their one recipient, held/dropped lines account for the suspended agreements.
        for nation in NATIONS:
            log = _audit(tmp, nation)
            data = [r for r in log if r["name"] == "received" and r["kind"] != "receipt"]
            assert len(data) == len(inbox[nation])
            assert all((r["detail"] or {}).get("recipient") == nation for r in data)  # type: ignore[union-attr]
            assert not [r for r in log if r["name"] == "rejected"]
            suspended = [r for r in log if r["name"] in ("held", "dropped")]
            assert len(suspended) == held[nation]
        reports = verify_dir(tmp / "audit", KeyStore(tmp / "keys").public_keys())
        assert all(r.ok for r in reports), [r.error for r in reports]


def _id(payload: Payload) -> str:
    track_id = getattr(payload, "track_id", "")
    assert isinstance(track_id, str) and track_id
    return track_id
