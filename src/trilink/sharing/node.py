"""A nation's sharing node: releases under agreements, verifies, relays, audits.

Outgoing: the node asks the agreements which partners may receive a payload of this kind
(:func:`~trilink.sharing.agreements.recipients_for`), stamps that releasability into the
envelope, signs it, writes the release to its audit chain and sends the frame toward each
recipient along the topology. Incoming: the frame is decoded, the originator's signature
verified, the sequence number checked against replay, and the recipient's own copy of the
agreements consulted; a frame addressed to others is relayed untouched (the originator's
bytes, with this hop appended). Every refusal is audited with its reason, counted, and
changes nothing else: the node keeps running.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from trilink.errors import MessageError, NotReleasable, ReplayDetected
from trilink.sharing.agreements import AgreementSet, decide, recipients_for
from trilink.sharing.audit import AuditEvent, AuditLog, AuditName
from trilink.sharing.crypto import Identity, Verifier
from trilink.sharing.envelope import (
    ENVELOPE_VERSION,
    Envelope,
    Frame,
    Hop,
    Payload,
    decode_body,
    decode_frame,
    decode_payload,
    encode_body,
    encode_frame,
    encode_payload,
)
from trilink.sharing.topology import Topology
from trilink.sharing.transport.base import Transport

__all__ = ["Node", "Received", "ReplayWindow"]


@dataclass(frozen=True, slots=True)
class Received:
    """A verified, releasable payload handed to the node's picture."""

    envelope: Envelope
    payload: Payload
    hops: tuple[Hop, ...]
    received_time_s: float


class ReplayWindow:
    """Per-originator anti-replay: each sequence number is accepted once, and numbers more
    than ``size`` below the highest seen are refused."""

    def __init__(self, size: int = 65536) -> None:
        self.size = size
        self._highest: dict[str, int] = {}
        self._seen: dict[str, set[int]] = {}

    def check_and_mark(self, originator: str, seq: int) -> None:
        highest = self._highest.get(originator, 0)
        seen = self._seen.setdefault(originator, set())
        if seq in seen or seq <= highest - self.size or seq < 1:
            raise ReplayDetected(
                f"sequence {seq} of {originator} was already received (highest {highest})",
                originator=originator,
            )
        seen.add(seq)
        if seq > highest:
            self._highest[originator] = seq
            floor = seq - self.size
            if len(seen) > 2 * self.size:
                self._seen[originator] = {s for s in seen if s > floor}


class Node:
    """One nation's node on a transport."""

    def __init__(
        self,
        nation: str,
        *,
        identity: Identity,
        verifier: Verifier,
        agreements: AgreementSet,
        topology: Topology,
        transport: Transport,
        audit: AuditLog,
        now: Callable[[], float],
        on_receive: Callable[[Received], None],
    ) -> None:
        self.nation = nation
        self._identity = identity
        self._verifier = verifier
        self.agreements = agreements
        self._topology = topology
        self._transport = transport
        self._audit = audit
        self._now = now
        self._on_receive = on_receive
        self._seq = 0
        self._replay = ReplayWindow()
        self.rejected: Counter[str] = Counter()
        self.received = 0

    def start(self) -> None:
        self._transport.attach(self.nation, self._on_frame)
        self._audit.append(
            AuditEvent(
                name=AuditName.AGREEMENTS_LOADED,
                actor=self.nation,
                reason=f"{len(self.agreements)} agreements from {self.agreements.source}",
                event_time_s=self._now(),
            )
        )

    def close(self) -> None:
        """Close the node's audit log (the transport is closed by its owner)."""
        self._audit.close()

    # -- outgoing -------------------------------------------------------------------

    async def publish(
        self, payload: Payload, *, event_id: str, valid_time_s: float
    ) -> Envelope | None:
        """Release ``payload`` to every partner an agreement allows; None if nobody may
        receive it."""
        kind, data = encode_payload(payload)
        grants = recipients_for(self.nation, kind, valid_time_s, self.agreements)
        if not grants:
            return None
        self._seq += 1
        env = Envelope(
            v=ENVELOPE_VERSION,
            id=uuid.uuid4().hex,
            originator=self.nation,
            seq=self._seq,
            kind=kind,
            event_id=event_id,
            valid_time_s=valid_time_s,
            sent_time_s=self._now(),
            releasability=tuple(sorted({a for _, a in grants})),
            recipients=tuple(r for r, _ in grants),
            payload=data,
        )
        body = encode_body(env)
        frame = Frame(body=body, sig=self._identity.sign(body))
        self._audit.append(
            AuditEvent(
                name=AuditName.RELEASED,
                actor=self.nation,
                reason="released under " + ", ".join(env.releasability),
                message_id=env.id,
                originator=self.nation,
                kind=kind,
                seq=env.seq,
                event_time_s=env.sent_time_s,
                detail={"recipients": ",".join(env.recipients)},
            )
        )
        await self._forward(frame, env, came_from=None)
        return env

    async def _forward(self, frame: Frame, env: Envelope, *, came_from: str | None) -> list[str]:
        visited = {env.originator, self.nation, *(h.nation for h in frame.hops)}
        hops: set[str] = set()
        for r in env.recipients:
            if r in visited:
                continue
            nxt = self._topology.next_hop(self.nation, r)
            if nxt is not None and nxt != came_from:
                hops.add(nxt)
        data = encode_frame(frame)
        for nxt in sorted(hops):
            await self._transport.send(self.nation, nxt, data)
        return sorted(hops)

    # -- incoming -------------------------------------------------------------------

    async def _on_frame(self, data: bytes, peer: str) -> None:
        now = self._now()
        env: Envelope | None = None
        try:
            frame = decode_frame(data)
            env = decode_body(frame.body)
            self._verifier.verify(env.originator, frame.body, frame.sig)
            self._replay.check_and_mark(env.originator, env.seq)
            for_me = self.nation in env.recipients
            if for_me:
                decision = decide(env, self.nation, self.agreements)
                if not decision.allow or decision.agreement_id not in env.releasability:
                    raise NotReleasable(
                        f"{env.originator}'s {env.kind.value} is not releasable to "
                        f"{self.nation}: {decision.reason}"
                    )
                payload = decode_payload(env.kind, env.payload)
        except MessageError as exc:
            self._reject(exc, env, peer, now)
            return
        relay = Frame(body=frame.body, sig=frame.sig, hops=(*frame.hops, Hop(self.nation, now)))
        relayed = await self._forward(relay, env, came_from=peer)
        if relayed:
            self._log(AuditName.RELAYED, "relayed toward " + ",".join(relayed), env, peer, now)
        if not for_me:
            if not relayed:
                self._reject(
                    NotReleasable(f"addressed to {','.join(env.recipients)}, not {self.nation}"),
                    env,
                    peer,
                    now,
                )
            return
        self.received += 1
        self._log(AuditName.RECEIVED, decision.reason, env, peer, now)
        self._on_receive(Received(env, payload, relay.hops[:-1], now))

    def _log(self, name: AuditName, reason: str, env: Envelope, peer: str, now: float) -> None:
        self._audit.append(
            AuditEvent(
                name=name,
                actor=self.nation,
                reason=reason,
                message_id=env.id,
                originator=env.originator,
                kind=env.kind,
                peer=peer,
                seq=env.seq,
                event_time_s=now,
            )
        )

    def _reject(self, exc: MessageError, env: Envelope | None, peer: str, now: float) -> None:
        self.rejected[exc.reason] += 1
        self._audit.append(
            AuditEvent(
                name=AuditName.REJECTED,
                actor=self.nation,
                reason=f"{exc.reason}: {exc.detail}"[:500],
                message_id=env.id if env else exc.message_id,
                originator=env.originator if env else exc.originator,
                kind=env.kind if env else None,
                peer=peer,
                seq=env.seq if env else None,
                event_time_s=now,
            )
        )
