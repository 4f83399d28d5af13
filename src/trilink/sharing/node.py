"""A nation's sharing node: releases under agreements, verifies, relays, audits.

Outgoing: for each partner an agreement names, the node asks the pure policy
(:func:`~trilink.sharing.agreements.decide`) whether the payload may go; each released
copy is its own envelope (its own recipient, releasability and per-recipient sequence
number), signed, written to the audit chain and sent toward the recipient along the
topology. While an agreement is suspended its backlog rule applies: *hold* keeps every
message, *latest-only* the newest per track (or per kind), *drop* none; on resumption the
held messages go out in order, before anything newer.

Incoming: the frame is decoded, the originator's signature verified, the sequence number
checked (no replay; a jump is audited as a gap) and the recipient's own copy of the
agreements consulted; a frame addressed to another nation is relayed untouched (the
originator's bytes, with this hop appended) and cannot be widened. Every refusal is
audited with its reason, counted, and changes nothing else: the node keeps running.

A release is audited as *released* once the transport has accepted it (stored durably:
the sender's acknowledgement); a send the transport cannot accept is audited as
*send-failed* and raises :class:`~trilink.errors.TransportError` to the caller.

Restart: the node's audit chain is its memory. On :meth:`Node.start` it reads its own log
back to resume its sequence numbers and the sequence numbers it has already accepted, so
a frame handed over again after a crash is recognised and not delivered twice. Sequence
numbers are reserved in blocks (one audit line per ``SEQ_BLOCK`` releases per recipient):
a node killed between a send and its audit line never reuses a number, and its
recipients see the unused rest of the block as a gap, audited.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

import msgspec

from trilink.errors import MessageError, NotReleasable, ReplayDetected, TransportError
from trilink.sharing.agreements import (
    Agreement,
    AgreementSet,
    AgreementState,
    Backlog,
    Release,
    decide,
    plan_releases,
    release_facts,
)
from trilink.sharing.audit import AuditEvent, AuditLog, AuditName, read_events
from trilink.sharing.crypto import MAX_BATCH, Identity, Verifier, seal, sign_batch
from trilink.sharing.envelope import (
    ENVELOPE_VERSION,
    Content,
    Envelope,
    Frame,
    Hop,
    Kind,
    Payload,
    Receipt,
    decode_body,
    decode_frame,
    encode_body,
    encode_frame,
    encode_payload,
    kind_of,
    open_payload,
)
from trilink.sharing.topology import Topology
from trilink.sharing.transport.base import Outgoing, Transport

__all__ = ["GAP_GRACE_S", "RECEIPT_MAX_IDS", "SEQ_BLOCK", "Node", "Received", "SequenceBook"]

SEQ_BLOCK: Final = 1024
"""Sequence numbers reserved per audit line, per recipient."""

GAP_GRACE_S: Final = 30.0
"""Wall seconds a skipped sequence number may arrive late before it is audited as a gap
(a retried send can be overtaken for as long as a JetStream leader election takes)."""

RECEIPT_MAX_IDS: Final = 512
"""Message ids per receipt (a receipt stays far below the frame size limit)."""


@dataclass(frozen=True, slots=True)
class Received:
    """A verified, releasable payload handed to the node's picture."""

    envelope: Envelope
    payload: Payload
    hops: tuple[Hop, ...]
    received_time_s: float


@dataclass(slots=True)
class _Stream:
    """Accepted sequence numbers of one (originator, recipient) stream."""

    next: int = 1  # every number below it was accepted (or declared lost)
    above: set[int] = field(default_factory=set)  # accepted numbers above ``next``
    highest: int = 0


class SequenceBook:
    """Per (originator, recipient) stream: each sequence number is accepted once (a second
    time is a replay) and a jump past the next expected number reports the numbers
    missing (a gap). Numbers missing for more than ``window`` later ones are given up."""

    def __init__(self, window: int = 65536) -> None:
        self.window = window
        self._streams: dict[tuple[str, str], _Stream] = {}

    def accept(self, originator: str, recipient: str, seq: int) -> range:
        """Mark ``seq`` accepted; return the numbers newly found missing (empty if none).

        Raises :class:`~trilink.errors.ReplayDetected` if it was accepted before."""
        s = self._streams.setdefault((originator, recipient), _Stream())
        if seq < s.next or seq in s.above:
            raise ReplayDetected(
                f"sequence {seq} of {originator}'s stream to {recipient} was already "
                f"accepted (highest {s.highest})",
                originator=originator,
            )
        missing = range(max(s.highest + 1, s.next), seq)
        s.highest = max(s.highest, seq)
        if seq == s.next:
            s.next += 1
            while s.next in s.above:
                s.above.remove(s.next)
                s.next += 1
        else:
            s.above.add(seq)
            if len(s.above) > self.window:  # give up on the oldest hole
                s.next = min(s.above)
                while s.next in s.above:
                    s.above.remove(s.next)
                    s.next += 1
        return missing

    def missing(self, originator: str, recipient: str) -> list[int]:
        """Numbers not (yet) accepted below the highest accepted one."""
        s = self._streams.get((originator, recipient))
        if s is None:
            return []
        return [n for n in range(s.next, s.highest) if n not in s.above]


@dataclass(slots=True)
class _Outgoing:
    """A release waiting in the outbox: its envelope, its audit reason and who waits."""

    env: Envelope
    reason: str
    done: asyncio.Future[None]


@dataclass(frozen=True, slots=True)
class _Pending:
    """A payload waiting for a suspended agreement to resume."""

    payload: Payload
    event_id: str
    valid_time_s: float
    order: int = 0  # publication order at this node


@dataclass(order=True, slots=True)
class _Delayed:
    """A release an agreement delays, ordered by when it is due."""

    due_s: float
    order: int
    pending: _Pending = field(compare=False)
    release: Release = field(compare=False)


def _latest_key(payload: Payload) -> str:
    """What *latest-only* keeps one of: a track's newest report, else the newest per kind."""
    track_id = getattr(payload, "track_id", "")
    return f"{kind_of(payload).value}:{track_id}"


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
        on_receipt: Callable[[str, str, float], None] | None = None,
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
        self._on_receipt = on_receipt  # (message id, from whom, event time)
        self._outbox: list[_Outgoing] = []
        self._outbox_due = False  # a task will take the outbox on its first step
        self._shipping: set[asyncio.Task[None]] = set()
        self._delayed: list[_Delayed] = []
        self._order = itertools.count()
        self._owed: dict[str, list[tuple[str, int]]] = {}
        self._flush: asyncio.Task[None] | None = None
        self.sent_at: dict[str, float] = {}  # released, not yet receipted: id -> sent time
        self.receipts = 0
        self._seq: Counter[str] = Counter()  # per recipient: the last number used
        self._reserved: Counter[str] = Counter()  # per recipient: numbers reserved up to
        self._book = SequenceBook()
        self._held: dict[str, deque[_Pending]] = {}  # per agreement id
        self._draining: set[str] = set()
        self._suspected: list[tuple[float, Envelope, str, range]] = []  # possible gaps
        self._gate = asyncio.Event()  # cleared while an agreement change is applied
        self._gate.set()
        self._inflight = 0  # sends under way
        self._quiet = asyncio.Event()  # set when none is
        self._quiet.set()
        # per agreement id: (when it changed here, what it was before), oldest first
        self._history: dict[str, list[tuple[float, Agreement]]] = {}
        self._latest: dict[str, dict[str, _Pending]] = {}  # per agreement id, per key
        self.rejected: Counter[str] = Counter()
        self.received = 0
        self.released = 0
        self.running = False

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Resume from the audit chain, then receive."""
        self._resume()
        self._audit.append(
            AuditEvent(
                name=AuditName.AGREEMENTS_LOADED,
                actor=self.nation,
                reason=f"{len(self.agreements)} agreements from {self.agreements.source}",
                event_time_s=self._now(),
            )
        )
        await self._transport.start(self.nation, self._on_frame)
        self.running = True

    async def stop(self) -> None:
        """Stop receiving (frames not yet handled stay with the transport)."""
        await self._transport.stop(self.nation)
        self.running = False

    def close(self) -> None:
        """Close the node's audit log (the transport is closed by its owner); numbers
        still missing are audited as gaps first."""
        if self._flush is not None:
            self._flush.cancel()
        if self._audit.closed:
            return
        self._report_gaps(grace_s=0.0)
        self._audit.close()

    def _report_gaps(self, grace_s: float = GAP_GRACE_S) -> None:
        """Audit the gaps suspected longer than ``grace_s`` ago whose numbers are still
        missing (a late frame fills its gap and nothing is audited)."""
        due = time.monotonic() - grace_s
        while self._suspected and self._suspected[0][0] <= due:
            _, env, peer, skipped = self._suspected.pop(0)
            still = set(self._book.missing(env.originator, env.recipients[0])) & set(skipped)
            if still:
                self._log(
                    AuditName.GAP,
                    f"sequence numbers {_ranges(sorted(still))} of {env.originator}'s stream "
                    f"to {env.recipients[0]} missing (sequence {env.seq} arrived before them)",
                    env,
                    peer,
                    self._now(),
                )

    def _resume(self) -> None:
        """Sequence numbers released and accepted so far, from this node's own log."""
        for rec in read_events(self._audit.path):
            seq, originator = rec.get("seq"), rec.get("originator")
            recipient = (rec.get("detail") or {}).get("recipient")
            if not isinstance(seq, int) or not isinstance(recipient, str):
                continue
            name = rec.get("name")
            if name in (AuditName.RELEASED, AuditName.RESERVED) and originator == self.nation:
                self._seq[recipient] = max(self._seq[recipient], seq)  # never reuse one
            elif name in (AuditName.RECEIVED, AuditName.RELAYED) and isinstance(originator, str):
                try:
                    self._book.accept(originator, recipient, seq)
                except ReplayDetected:
                    pass  # received, then relayed: both lines name it

    # -- outgoing -------------------------------------------------------------------

    async def publish(
        self, payload: Payload, *, event_id: str, valid_time_s: float
    ) -> list[Envelope]:
        """Release ``payload`` to every partner an agreement allows, as the agreement says
        (redacted, coarsened, sealed, delayed); return the envelopes sent now (one per
        recipient). Payloads for suspended agreements follow their backlog rule; delayed
        ones go out from :meth:`release_due`."""
        return await self.publish_many([(payload, valid_time_s)], event_id=event_id)

    async def publish_many(
        self, items: Sequence[tuple[Payload, float]], *, event_id: str
    ) -> list[Envelope]:
        """:meth:`publish` for several ``(payload, valid time)`` at once, in order (a
        tracker's reports of one scan): they share one signature, one call to the
        transport and one audit write. Returns the envelopes sent now; if the transport
        refused some, the first refusal is raised once every other send has settled."""
        await self._gate.wait()  # an agreement change being applied: decide after it
        sent = await self.release_due()
        now: list[Envelope | tuple[Envelope, asyncio.Future[None]]] = []
        for payload, valid_time_s in items:
            pending = _Pending(payload, event_id, valid_time_s, next(self._order))
            for release in self._plan(pending):
                if self._goes_now(pending, release):
                    now.append(self._enqueue_release(pending, release))
                else:
                    env = await self._dispose(pending, release)
                    if env is not None:
                        now.append(env)
        failure: TransportError | None = None
        for item in now:
            if isinstance(item, Envelope):
                sent.append(item)
                continue
            env, done = item
            try:
                await done
            except TransportError as exc:
                failure = failure or exc
            else:
                sent.append(env)
        if failure is not None:
            raise failure
        return sent

    def _goes_now(self, p: _Pending, release: Release) -> bool:
        """Allowed, not behind a backlog and not delayed: sent in this pass."""
        decision = release.decision
        if not decision.allow or decision.agreement_id is None:
            return False
        if decision.agreement_id in self._held:
            return False
        due = decision.release_at_s
        return not (due is not None and due > p.valid_time_s and due > self._now())

    def _plan(self, p: _Pending) -> tuple[Release, ...]:
        return plan_releases(
            p.payload, self.agreements, originator=self.nation, valid_time_s=p.valid_time_s
        )

    async def _dispose(self, p: _Pending, release: Release) -> Envelope | None:
        """Send, delay, hold or withhold one recipient's share of a payload."""
        decision, recipient = release.decision, release.recipient
        kind = kind_of(p.payload)
        if decision.allow and decision.agreement_id is not None:
            if decision.agreement_id in self._held:  # older traffic first, in order
                self._held[decision.agreement_id].append(p)
                await self._drain([decision.agreement_id])
                return None
            return await self._release_or_delay(p, release)
        agreement_id = decision.agreement_id
        if decision.backlog is None or agreement_id is None:
            self._note(AuditName.WITHHELD, decision.reason, kind, recipient)
            return None
        label = f"{agreement_id} v{decision.agreement_version} is suspended"
        if decision.backlog is Backlog.HOLD:
            self._held.setdefault(agreement_id, deque()).append(p)
            self._note(AuditName.HELD, f"{label}: held", kind, recipient)
        elif decision.backlog is Backlog.LATEST_ONLY:
            self._latest.setdefault(agreement_id, {})[_latest_key(p.payload)] = p
            self._note(AuditName.HELD, f"{label}: latest only", kind, recipient)
        else:
            self._note(AuditName.DROPPED, f"{label}: dropped", kind, recipient)
        return None

    async def _release_or_delay(self, p: _Pending, release: Release) -> Envelope | None:
        """Send an allowed release now, or keep it until its agreement's delay is over."""
        due = release.decision.release_at_s
        if due is not None and due > p.valid_time_s and due > self._now():  # a delay
            heapq.heappush(self._delayed, _Delayed(due, next(self._order), p, release))
            return None
        return await self._release(p, release)

    async def release_due(self) -> list[Envelope]:
        """Send the delayed releases whose time has come (call once per tick)."""
        sent: list[Envelope] = []
        while self._delayed and self._delayed[0].due_s <= self._now():
            item = heapq.heappop(self._delayed)
            sent.append(await self._release(item.pending, item.release))
        return sent

    async def _release(self, p: _Pending, release: Release) -> Envelope:
        """Sign and send one recipient's share (sealed to it if the agreement says so)."""
        env, done = self._enqueue_release(p, release)
        await done
        return env

    def _enqueue_release(
        self, p: _Pending, release: Release
    ) -> tuple[Envelope, asyncio.Future[None]]:
        """Put one recipient's share in the outbox (sealed to it if the agreement says so)."""
        decision, recipient = release.decision, release.recipient
        assert release.payload is not None and decision.agreement_id is not None
        kind, data = encode_payload(release.payload)
        sealed_to = None
        if decision.seal:
            data = seal(data, self._verifier.box_public_key(recipient, at_s=self._now()))
            sealed_to = recipient
        return self._enqueue(
            kind,
            data,
            recipient,
            event_id=p.event_id,
            valid_time_s=p.valid_time_s,
            releasability=(decision.agreement_id,),
            reason=decision.reason,
            sealed_to=sealed_to,
        )

    def _enqueue(
        self,
        kind: Kind,
        data: bytes,
        recipient: str,
        *,
        event_id: str,
        valid_time_s: float,
        releasability: tuple[str, ...],
        reason: str,
        sealed_to: str | None = None,
    ) -> tuple[Envelope, asyncio.Future[None]]:
        """Number an envelope for ``recipient`` and put it in the outbox; the future is
        done once the transport has accepted it (audited *released*) or fails with the
        :class:`~trilink.errors.TransportError` that kept it from being sent (audited
        *send-failed*). The outbox goes out once per pass of the event loop: one
        signature (:func:`~trilink.sharing.crypto.sign_batch`), one call to the
        transport and one audit write for everything released in that pass."""
        env = Envelope(
            v=ENVELOPE_VERSION,
            id=uuid.uuid4().hex,
            originator=self.nation,
            seq=self._next_seq(recipient),
            kind=kind,
            event_id=event_id,
            valid_time_s=valid_time_s,
            sent_time_s=self._now(),
            releasability=releasability,
            recipients=(recipient,),
            payload=data,
            sealed_to=sealed_to,
            key_id=self._identity.key_id,
        )
        self._inflight += 1
        self._quiet.clear()
        if kind is not Kind.RECEIPT:
            # Before the send: the recipient's receipt can come back before the
            # transport's acknowledgement of the send does.
            self.sent_at[env.id] = env.sent_time_s
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._outbox.append(_Outgoing(env, reason, done))
        if len(self._outbox) >= MAX_BATCH:
            batch, self._outbox = self._outbox, []
            self._start(self._ship(batch))
        elif not self._outbox_due:
            self._outbox_due = True
            self._start(self._ship_outbox())
        return env, done

    def _start(self, job: Coroutine[None, None, None]) -> None:
        task = asyncio.get_running_loop().create_task(job)
        self._shipping.add(task)
        task.add_done_callback(self._shipping.discard)

    async def _ship_outbox(self) -> None:
        """Ship what the outbox holds when this task first runs: in the next pass of the
        event loop, so everything released in this pass goes together."""
        batch, self._outbox, self._outbox_due = self._outbox, [], False
        if batch:
            await self._ship(batch)

    async def _ship(self, batch: list[_Outgoing]) -> None:
        """Sign, send and audit one outbox batch (see :meth:`_enqueue`)."""
        try:
            bodies = [encode_body(o.env) for o in batch]
            sig, proofs = sign_batch(self._identity, bodies)
            frames: list[Outgoing] = []
            spans: list[range] = []
            for o, body, proof in zip(batch, bodies, proofs, strict=True):
                frame = Frame(
                    body=body,
                    sig=sig,
                    index=proof.index,
                    count=proof.count,
                    path=proof.path,
                )
                first = len(frames)
                data = encode_frame(frame)
                for nxt in self._next_hops(frame, o.env, came_from=None):
                    frames.append((nxt, data, f"{self.nation}.{o.env.id}.{nxt}"))
                spans.append(range(first, len(frames)))
            errors = await self._transport.send_many(self.nation, frames) if frames else []
        except BaseException as exc:  # noqa: BLE001 - every waiter must hear of it
            for o in batch:
                self._settle_one(o, exc)
            raise
        released: list[AuditEvent] = []
        for o, span in zip(batch, spans, strict=True):
            error = next((e for e in (errors[i] for i in span) if e is not None), None)
            if error is None:
                released.append(
                    self._event(
                        AuditName.RELEASED, o.reason, o.env, o.env.recipients[0], o.env.sent_time_s
                    )
                )
                if o.env.kind is not Kind.RECEIPT:
                    self.released += 1
            self._settle_one(o, error)
        self._audit.append_many(released)

    def _settle_one(self, o: _Outgoing, error: BaseException | None) -> None:
        env = o.env
        if error is not None:
            self.sent_at.pop(env.id, None)
            if isinstance(error, TransportError):
                self._log(
                    AuditName.SEND_FAILED, str(error)[:500], env, env.recipients[0], self._now()
                )
        self._inflight -= 1
        if self._inflight == 0:
            self._quiet.set()
        if o.done.done():
            return
        if error is None:
            o.done.set_result(None)
        else:
            o.done.set_exception(error)

    def _next_seq(self, recipient: str) -> int:
        seq = self._seq[recipient] + 1
        if seq > self._reserved[recipient]:
            up_to = seq + SEQ_BLOCK - 1
            self._audit.append(
                AuditEvent(
                    name=AuditName.RESERVED,
                    actor=self.nation,
                    reason=f"sequence numbers {seq}–{up_to} to {recipient} reserved",
                    originator=self.nation,
                    seq=up_to,
                    event_time_s=self._now(),
                    detail={"recipient": recipient},
                )
            )
            self._reserved[recipient] = up_to
        self._seq[recipient] = seq
        return seq

    async def _drain(self, agreement_ids: list[str]) -> list[Envelope]:
        """Send what resumed agreements held, in publication order across them (oldest
        first), each judged again by the agreements in force. Releases under the same
        agreements that come meanwhile join the queues' ends, so nothing overtakes the
        backlog; an agreement suspended again meanwhile keeps the rest of its queue."""
        ids = [a for a in agreement_ids if a not in self._draining]
        self._draining.update(ids)
        sent: list[Envelope] = []
        try:
            while True:
                heads = []
                for agreement_id in ids:
                    agreement = self.agreements.by_id(agreement_id)
                    queue = self._held.get(agreement_id)
                    if queue and agreement is not None and agreement.state is AgreementState.ACTIVE:
                        heads.append((queue[0].order, agreement_id))
                if not heads:
                    break
                _, agreement_id = min(heads)
                queue = self._held[agreement_id]
                p = queue[0]
                recipient = self.agreements.by_id(agreement_id).recipient  # type: ignore[union-attr]
                for release in self._plan(p):
                    if release.recipient != recipient:
                        continue
                    if release.decision.allow and release.decision.agreement_id == agreement_id:
                        env = await self._release_or_delay(p, release)
                        if env is not None:
                            sent.append(env)
                    else:
                        self._note(
                            AuditName.WITHHELD,
                            f"held, now {release.decision.reason}",
                            kind_of(p.payload),
                            release.recipient,
                        )
                queue.popleft()
            for agreement_id in ids:
                if agreement_id in self._held and not self._held[agreement_id]:
                    del self._held[agreement_id]
        finally:
            self._draining.difference_update(ids)
        return sent

    def set_topology(self, topology: Topology) -> None:
        """Route by a new topology from now on (a partner onboarded or a link added)."""
        if topology != self._topology:
            self._audit.append(
                AuditEvent(
                    name=AuditName.TOPOLOGY_CHANGED,
                    actor=self.nation,
                    reason="topology now "
                    + ", ".join(
                        "-".join(sorted(link)) for link in sorted(topology.links, key=sorted)
                    ),
                    event_time_s=self._now(),
                )
            )
            self._topology = topology

    async def set_agreements(self, agreements: AgreementSet) -> list[Envelope]:
        """Apply a new set of agreements at run time: audit every change; a resumed
        agreement releases what it held (in order), a terminated one drops it. Other
        links are untouched. Returns the envelopes released from backlog."""
        # Releases decided under the old agreements finish first (and are audited before
        # the change); new ones wait until the change is applied.
        self._gate.clear()
        try:
            await self._quiet.wait()
        finally:
            self._gate.set()
        old = self.agreements
        self.agreements = agreements
        now = self._now()
        for before in old:
            if agreements.by_id(before.id) != before:
                self._history.setdefault(before.id, []).append((now, before))
        for change in _changes(old, agreements):
            self._audit.append(
                AuditEvent(
                    name=AuditName.AGREEMENT_CHANGED,
                    actor=self.nation,
                    reason=change,
                    event_time_s=self._now(),
                )
            )
        sent: list[Envelope] = []
        resumed: list[str] = []
        for agreement_id in sorted({*self._held, *self._latest}):
            agreement = agreements.by_id(agreement_id)
            if agreement is None or agreement.state is AgreementState.TERMINATED:
                dropped = len(self._held.pop(agreement_id, ())) + len(
                    self._latest.pop(agreement_id, {})
                )
                self._audit.append(
                    AuditEvent(
                        name=AuditName.DROPPED,
                        actor=self.nation,
                        reason=f"{agreement_id} ended: {dropped} held messages dropped",
                        event_time_s=self._now(),
                    )
                )
            elif agreement.state is AgreementState.ACTIVE:
                latest = self._latest.pop(agreement_id, {})
                queue = self._held.setdefault(agreement_id, deque())
                queue.extend(sorted(latest.values(), key=lambda q: q.order))
                resumed.append(agreement_id)
        sent.extend(await self._drain(resumed))
        return sent

    @property
    def held(self) -> int:
        """Messages waiting for suspended agreements."""
        return sum(len(q) for q in self._held.values()) + sum(len(d) for d in self._latest.values())

    def _next_hops(self, frame: Frame, env: Envelope, *, came_from: str | None) -> list[str]:
        """The neighbours ``frame`` goes to next: toward each recipient not yet visited,
        never back where it came from."""
        visited = {env.originator, self.nation, *(h.nation for h in frame.hops)}
        hops: set[str] = set()
        for r in env.recipients:
            if r in visited:
                continue
            nxt = self._topology.next_hop(self.nation, r)
            if nxt is not None and nxt != came_from:
                hops.add(nxt)
        return sorted(hops)

    async def _forward(self, frame: Frame, env: Envelope, *, came_from: str | None) -> list[str]:
        hops = self._next_hops(frame, env, came_from=came_from)
        data = encode_frame(frame)
        for nxt in hops:
            await self._transport.send(
                self.nation, nxt, data, msg_id=f"{env.originator}.{env.id}.{nxt}"
            )
        return hops

    def _note(self, name: AuditName, reason: str, kind: Kind, recipient: str) -> None:
        self._audit.append(
            AuditEvent(
                name=name,
                actor=self.nation,
                reason=reason,
                originator=self.nation,
                kind=kind,
                peer=recipient,
                event_time_s=self._now(),
                detail={"recipient": recipient},
            )
        )

    # -- receipts -------------------------------------------------------------------

    def _acknowledge(self, env: Envelope) -> None:
        """Owe ``env``'s originator a receipt; receipts go out in batches, one per
        originator per pass of the event loop (:meth:`flush_receipts`)."""
        self._owed.setdefault(env.originator, []).append((env.id, env.seq))
        if self._flush is None or self._flush.done():
            self._flush = asyncio.get_running_loop().create_task(self.flush_receipts())

    async def flush_receipts(self) -> None:
        """Send every receipt owed now (at most RECEIPT_MAX_IDS ids per receipt). A receipt
        the transport cannot take stays owed (its failure is audited as send-failed) and
        goes with the next flush."""
        while self._owed:
            owed, self._owed = self._owed, {}
            chunks = [
                (originator, items[i : i + RECEIPT_MAX_IDS])
                for originator, items in sorted(owed.items())
                for i in range(0, len(items), RECEIPT_MAX_IDS)
            ]
            for n, (originator, items) in enumerate(chunks):
                receipt = Receipt(
                    originator=originator,
                    message_ids=tuple(i for i, _ in items),
                    seqs=tuple(q for _, q in items),
                    received_time_s=self._now(),
                )
                kind, data = encode_payload(receipt)
                _, done = self._enqueue(
                    kind,
                    data,
                    originator,
                    event_id="receipt",
                    valid_time_s=receipt.received_time_s,
                    releasability=(),
                    reason=f"receipt for {len(items)} messages",
                )
                await self._ship_outbox()  # now, not a pass later: receipts are latency
                try:
                    await done
                except TransportError:
                    for later, rest in chunks[n:]:
                        self._owed.setdefault(later, [])[:0] = rest
                    return

    async def settle(self) -> None:
        """Wait until every receipt owed has been sent."""
        while self._flush is not None and not self._flush.done():
            await self._flush

    def _take_receipt(self, env: Envelope, receipt: Receipt, now: float) -> None:
        if receipt.originator != self.nation:
            raise NotReleasable(
                f"a receipt from {env.originator} for {receipt.originator}'s messages "
                f"reached {self.nation}"
            )
        for message_id in receipt.message_ids:
            sent = self.sent_at.pop(message_id, None)
            if sent is not None:
                self.receipts += 1
                if self._on_receipt is not None:
                    self._on_receipt(message_id, env.originator, now)

    # -- incoming -------------------------------------------------------------------

    async def _on_frame(self, data: bytes, peer: str) -> None:
        now = self._now()
        env: Envelope | None = None
        missing = range(0)
        content: Content | None = None
        reason = ""
        try:
            frame = decode_frame(data)
            env = decode_body(frame.body)
            self._verifier.verify_batch(
                env.originator, frame.body, frame.sig, frame.proof, key_id=env.key_id, at_s=now
            )
            if len(env.recipients) != 1:
                raise NotReleasable(
                    f"an envelope names {len(env.recipients)} recipients; each release "
                    "must name exactly one"
                )
            recipient = env.recipients[0]
            for_me = recipient == self.nation
            missing = self._book.accept(env.originator, recipient, env.seq)
            if for_me:
                content = open_payload(env, self._identity)
                if isinstance(content, Receipt):
                    self._take_receipt(env, content, now)
                    reason = f"receipt for {len(content.message_ids)} messages"
                else:
                    reason = self._check_releasable(env, content)
        except MessageError as exc:
            self._reject(exc, env, peer, now)
            return
        if missing and for_me:
            # A frame can overtake another (a send retried across a server failover): the
            # numbers skipped are audited as a gap only if still missing after a grace.
            self._suspected.append((time.monotonic(), env, peer, missing))
        self._report_gaps()
        relay = msgspec.structs.replace(frame, hops=(*frame.hops, Hop(self.nation, now)))
        if not for_me:
            relayed = await self._forward(relay, env, came_from=peer)
            if relayed:
                self._log(AuditName.RELAYED, "relayed toward " + ",".join(relayed), env, peer, now)
            else:
                self._reject(
                    NotReleasable(f"addressed to {recipient}, not {self.nation}, and no route"),
                    env,
                    peer,
                    now,
                )
            return
        self._log(AuditName.RECEIVED, reason, env, peer, now)
        if isinstance(content, Receipt) or content is None:
            return
        self.received += 1
        self._acknowledge(env)
        self._on_receive(Received(env, content, relay.hops[:-1], now))

    def _check_releasable(self, env: Envelope, payload: Payload) -> str:
        """The recipient's own judgement, with its own copy of the agreements."""
        facts = release_facts(
            payload, originator=env.originator, valid_time_s=env.valid_time_s, kind=env.kind
        )
        decision = decide(facts, self.nation, self._agreements_at(env))
        if not decision.allow or decision.agreement_id not in env.releasability:
            raise NotReleasable(
                f"{env.originator}'s {env.kind.value} is not releasable to "
                f"{self.nation}: {decision.reason}",
                message_id=env.id,
                originator=env.originator,
            )
        return decision.reason

    def _agreements_at(self, env: Envelope) -> AgreementSet:
        """The agreements a recipient judges ``env`` by.

        - As this node held them when ``env`` was sent: a message released before a
          suspension or termination reached this node was in flight, not released in
          defiance, and is judged by the agreement it was released under.
        - A suspension is the originator's to apply (it holds, keeps the latest or drops
          its own traffic): a recipient does not refuse on it, so a backlog released by
          an originator that heard of a resumption first is not lost while this node
          still has the agreement suspended. (Kinds, region, object classes, validity and
          termination are judged as this node holds them.)
        """
        agreements = self.agreements
        for agreement_id in env.releasability:
            for changed_s, before in self._history.get(agreement_id, ()):
                if changed_s > env.sent_time_s:
                    agreements = agreements.replacing(before)
                    break
            current = agreements.by_id(agreement_id)
            if current is not None and current.state is AgreementState.SUSPENDED:
                agreements = agreements.replacing(replace(current, state=AgreementState.ACTIVE))
        return agreements

    def _log(self, name: AuditName, reason: str, env: Envelope, peer: str, now: float) -> None:
        self._audit.append(self._event(name, reason, env, peer, now))

    def _event(
        self, name: AuditName, reason: str, env: Envelope, peer: str, now: float
    ) -> AuditEvent:
        return AuditEvent(
            name=name,
            actor=self.nation,
            reason=reason,
            message_id=env.id,
            originator=env.originator,
            kind=env.kind,
            peer=peer,
            seq=env.seq,
            event_time_s=now,
            detail={"recipient": env.recipients[0]},
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


def _changes(old: AgreementSet, new: AgreementSet) -> Iterable[str]:
    for a in new:
        before = old.by_id(a.id)
        if before is None:
            yield f"{a.label} added: {a.originator}→{a.recipient} {a.state.value}"
        elif before != a:
            yield (
                f"{before.label} → {a.label}: {a.originator}→{a.recipient} "
                f"{before.state.value} → {a.state.value}"
            )
    for a in old:
        if new.by_id(a.id) is None:
            yield f"{a.label} removed: {a.originator}→{a.recipient}"


def _ranges(numbers: list[int]) -> str:
    """``[3, 4, 5, 9]`` → ``3–5, 9``."""
    parts: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}–{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(parts)
