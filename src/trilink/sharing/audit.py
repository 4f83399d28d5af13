"""The audit chain: every node's decisions as a hash-chained, signed JSON-lines log.

One line per :class:`AuditEvent`, one JSON object per line, in canonical form (keys
sorted, no whitespace, UTF-8; :func:`canonical_json`)::

    {"actor":"JPN","created":"2024-05-01T09:00:00.000123Z","detail":{},
     "event_time_s":1714554000.0,"hash":"9f2c...","kind":"track","message_id":"...",
     "n":7,"name":"released","originator":"JPN","peer":"USA","prev":"41ab...",
     "reason":"allowed by JPN-USA v1","seq":12,"sig":"5e0d..."}

- ``n`` is the 1-based line number; ``created`` the wall-clock time of writing (UTC).
- ``prev`` is the ``hash`` of the line before (64 zeros on line 1), so deleting,
  inserting or moving a line breaks the chain.
- ``hash`` is the hex SHA-256 of the canonical JSON of the line without ``hash`` and
  ``sig``; ``sig`` the hex Ed25519 signature of the 32 hash bytes by the ``actor``, the
  nation whose node writes the log, or ``null``. Signing is batched: a line is signed
  when ``sign_every`` lines or ``sign_after_s`` seconds have passed since the last signed
  one, and closing the log appends a signed ``checkpoint`` line. Because each hash covers
  every line before it, one signature vouches for all of them: editing a line and
  re-hashing the chain needs the key as soon as a signed line follows. A log must end
  with a signed line; unsigned lines at its end (a node killed before its next
  signature) are reported, as they cannot be vouched for.

:func:`verify_log` checks one file and raises :class:`~trilink.errors.AuditError` at the
first bad line; :func:`verify_dir` checks every ``*.jsonl`` in a directory and reports
per file.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Final, Self

import msgspec

from trilink.errors import AuditError, SignatureInvalid
from trilink.sharing.crypto import Identity, Verifier
from trilink.sharing.envelope import Kind

__all__ = [
    "GENESIS",
    "AuditEvent",
    "AuditLog",
    "AuditName",
    "AuditRecord",
    "DetailValue",
    "LogReport",
    "canonical_json",
    "read_events",
    "verify_dir",
    "verify_log",
]

GENESIS: Final = "0" * 64
"""The ``prev`` of the first line of every log."""

DetailValue = str | int | float | bool | None

_SIG_RE: Final = re.compile(r"[0-9a-f]{128}")
_TAIL_CHUNK: Final = 4096


class AuditName(StrEnum):
    """What happened."""

    STARTED = "started"
    AGREEMENTS_LOADED = "agreements-loaded"
    RELEASED = "released"
    RELAYED = "relayed"
    RECEIVED = "received"
    REJECTED = "rejected"
    ALERT = "alert"
    GAP = "gap"
    HELD = "held"
    DROPPED = "dropped"
    WITHHELD = "withheld"
    AGREEMENT_CHANGED = "agreement-changed"
    TOPOLOGY_CHANGED = "topology-changed"
    STOPPED = "stopped"
    CHECKPOINT = "checkpoint"
    RESERVED = "reserved"
    SEND_FAILED = "send-failed"


@dataclass(frozen=True)
class AuditEvent:
    """One audited decision or occurrence, as the node reports it."""

    name: AuditName
    actor: str = field(metadata={"doc": "the nation whose node writes the log"})
    reason: str = field(metadata={"doc": "why, in words (e.g. the policy decision's reason)"})
    message_id: str | None = None
    originator: str | None = None
    kind: Kind | None = None
    peer: str | None = field(default=None, metadata={"doc": "the other node, if any"})
    seq: int | None = None
    event_time_s: float | None = field(
        default=None, metadata={"doc": "simulation/event time, POSIX seconds UTC"}
    )
    detail: dict[str, DetailValue] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name.value,
            "actor": self.actor,
            "reason": self.reason,
            "message_id": self.message_id,
            "originator": self.originator,
            "kind": None if self.kind is None else self.kind.value,
            "peer": self.peer,
            "seq": self.seq,
            "event_time_s": self.event_time_s,
            "detail": dict(self.detail),
        }


@dataclass(frozen=True)
class AuditRecord:
    """An event as written: its line number, wall-clock time and chain fields."""

    n: int
    created: str
    event: AuditEvent
    prev: str
    hash: str
    sig: str | None = field(metadata={"doc": "null on lines a later signature covers"})


@dataclass(frozen=True)
class LogReport:
    """The verification result of one log file: ``error`` is ``None`` when it verifies."""

    file: str
    records: int = field(metadata={"doc": "records verified (before the error, if any)"})
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def canonical_json(obj: Mapping[str, Any]) -> bytes:
    """The canonical JSON bytes of a line: sorted keys, no whitespace, UTF-8."""
    return msgspec.json.encode(obj, order="sorted")


@functools.lru_cache(maxsize=4)
def _utc_second(second: int) -> str:
    return datetime.fromtimestamp(second, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _utc_iso(t_s: float) -> str:
    second = math.floor(t_s)
    micro = min(round((t_s - second) * 1e6), 999_999)
    return f"{_utc_second(second)}.{micro:06d}Z"


def _check_finite(event: AuditEvent) -> None:
    values = [event.event_time_s, *event.detail.values()]
    if any(isinstance(v, float) and not math.isfinite(v) for v in values):
        raise ValueError(f"audit event {event.name.value!r} holds a non-finite number")


class AuditLog:
    """An append-only audit log file, resumed where it ends when reopened.

    Each line is flushed to the operating system when appended (a crash of the node loses
    nothing written), without an fsync per line.
    """

    def __init__(
        self,
        path: Path,
        identity: Identity,
        *,
        wall_clock: Callable[[], float] = time.time,
        sign_every: int = 32,
        sign_after_s: float = 0.1,
    ) -> None:
        self._path = path
        self._identity = identity
        self._wall_clock = wall_clock
        self._sign_every = sign_every
        self._sign_after_s = sign_after_s
        self._signed_at = time.monotonic()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._unsigned = 0
        self._file: BinaryIO = path.open("ab+")
        try:
            self._n, self._prev = self._resume()
        except BaseException:
            self._file.close()
            raise

    @property
    def path(self) -> Path:
        return self._path

    @property
    def closed(self) -> bool:
        return self._file.closed

    @property
    def records(self) -> int:
        """Number of records in the log."""
        return self._n

    def append(self, event: AuditEvent) -> AuditRecord:
        """Write ``event`` as the next line and flush it."""
        record = self._write(event)
        self._file.flush()
        return record

    def append_many(self, events: Sequence[AuditEvent]) -> list[AuditRecord]:
        """Write ``events`` as the next lines, in order, and flush them once."""
        records = [self._write(event) for event in events]
        if records:
            self._file.flush()
        return records

    def _write(self, event: AuditEvent) -> AuditRecord:
        if event.actor != self._identity.nation:
            raise ValueError(
                f"audit event actor {event.actor!r} is not this node ({self._identity.nation})"
            )
        _check_finite(event)
        n = self._n + 1
        created = _utc_iso(self._wall_clock())
        line: dict[str, Any] = {"n": n, "created": created, **event.to_json(), "prev": self._prev}
        digest = hashlib.sha256(canonical_json(line)).hexdigest()
        now = time.monotonic()
        sig: str | None = None
        if (
            self._unsigned + 1 >= self._sign_every
            or now - self._signed_at >= self._sign_after_s
            or event.name is AuditName.CHECKPOINT
        ):
            sig = self._identity.sign(bytes.fromhex(digest)).hex()
            self._unsigned, self._signed_at = 0, now
        else:
            self._unsigned += 1
        line["hash"] = digest
        line["sig"] = sig
        self._file.write(canonical_json(line) + b"\n")
        self._n, self._prev = n, digest
        return AuditRecord(
            n=n, created=created, event=event, prev=line["prev"], hash=digest, sig=sig
        )

    def close(self) -> None:
        """Seal the log with a signed checkpoint line (if any line is unsigned) and close."""
        if self._file.closed:
            return
        if self._unsigned:
            self.append(
                AuditEvent(
                    name=AuditName.CHECKPOINT,
                    actor=self._identity.nation,
                    reason=f"log closed; this signature covers the {self._unsigned} lines above",
                )
            )
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _resume(self) -> tuple[int, str]:
        """(n, hash) of the last line, or (0, GENESIS) for an empty log."""
        f = self._file
        end = f.seek(0, os.SEEK_END)
        if end == 0:
            return 0, GENESIS
        file = str(self._path)
        pos, tail = end, b""
        while pos > 0 and tail.count(b"\n") < 2:
            step = min(_TAIL_CHUNK, pos)
            pos -= step
            f.seek(pos)
            tail = f.read(step) + tail
        f.seek(0, os.SEEK_END)
        if not tail.endswith(b"\n"):
            raise AuditError(
                file,
                _count_lines(self._path),
                "last line is incomplete (a write was cut short); verify the log with "
                "`trilink audit verify` and move it aside before restarting the node",
            )
        last = tail[:-1].rsplit(b"\n", 1)[-1]
        try:
            obj = msgspec.json.decode(last)
        except msgspec.DecodeError as exc:
            raise AuditError(file, _count_lines(self._path), f"last line: {exc}") from exc
        n = obj.get("n") if isinstance(obj, dict) else None
        digest = obj.get("hash") if isinstance(obj, dict) else None
        if type(n) is not int or not isinstance(digest, str):
            raise AuditError(
                file, _count_lines(self._path), "last line lacks an integer `n` and a `hash`"
            )
        if obj.get("actor") != self._identity.nation:
            raise AuditError(
                file,
                n,
                f"log belongs to {obj.get('actor')!r}, not to this node "
                f"({self._identity.nation}); give each node its own log file",
            )
        if obj.get("sig") is None:
            self._unsigned = 1  # a killed node's tail: the next signed line seals it
        return n, digest


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 16), b"")) + 1


def verify_log(path: Path, public_keys: Mapping[str, bytes]) -> int:
    """Verify a log file; return its number of records or raise :class:`AuditError`."""
    return _verify(path, Verifier(public_keys))


def verify_dir(directory: Path, public_keys: Mapping[str, bytes]) -> tuple[LogReport, ...]:
    """Verify every ``*.jsonl`` in ``directory`` (sorted by name); one report per file."""
    if not directory.is_dir():
        raise AuditError(
            str(directory), 0, "no such directory; give the directory holding the *.jsonl logs"
        )
    verifier = Verifier(public_keys)
    reports: list[LogReport] = []
    for path in sorted(directory.glob("*.jsonl")):
        try:
            reports.append(LogReport(str(path), _verify(path, verifier)))
        except AuditError as exc:
            reports.append(LogReport(str(path), max(exc.line - 1, 0), str(exc)))
    return tuple(reports)


def _verify(path: Path, verifier: Verifier) -> int:
    file = str(path)
    try:
        f = path.open("rb")
    except OSError as exc:
        raise AuditError(file, 0, f"cannot open the log: {exc.strerror}") from exc
    prev, actor, n, last_signed = GENESIS, "", 0, 0
    with f:
        for n, raw in enumerate(f, start=1):
            prev, actor, signed = _verify_line(file, n, raw, prev, actor, verifier)
            if signed:
                last_signed = n
    if last_signed < n:
        raise AuditError(
            file,
            last_signed + 1,
            f"lines {last_signed + 1}–{n} are not covered by a signature (the node stopped "
            "without closing its log, or lines were appended by someone else); restart the "
            "node on this log to seal it, and treat those lines as unverified",
        )
    return n


def _verify_line(
    file: str, n: int, raw: bytes, prev: str, log_actor: str, verifier: Verifier
) -> tuple[str, str, bool]:
    """Check one line; return its (hash, actor, whether it is signed) for the next."""
    if not raw.endswith(b"\n"):
        raise AuditError(file, n, "line is incomplete (no newline at its end)")
    body = raw[:-1]
    if not body:
        raise AuditError(file, n, "empty line")
    try:
        obj = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise AuditError(file, n, f"not valid JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise AuditError(file, n, "not a JSON object")
    if canonical_json(obj) != body:
        raise AuditError(file, n, "not in canonical form (sorted keys, no whitespace): edited")
    if type(obj.get("n")) is not int or obj["n"] != n:
        raise AuditError(
            file, n, f"`n` is {obj.get('n')!r}, expected {n}: a line was deleted, added or moved"
        )
    if obj.get("prev") != prev:
        raise AuditError(
            file, n, "`prev` is not the hash of the line before: a line was deleted, added or moved"
        )
    if "sig" not in obj:
        raise AuditError(file, n, "`sig` is missing (it must be null or a signature)")
    digest, sig = obj.pop("hash", None), obj.pop("sig")
    if not isinstance(digest, str):
        raise AuditError(file, n, "`hash` is missing")
    if hashlib.sha256(canonical_json(obj)).hexdigest() != digest:
        raise AuditError(file, n, "`hash` does not match the line's content: edited")
    actor = obj.get("actor")
    if not isinstance(actor, str) or actor not in verifier.nations:
        known = ", ".join(sorted(verifier.nations))
        raise AuditError(file, n, f"unknown actor {actor!r} (public keys known for: {known})")
    if log_actor and actor != log_actor:
        raise AuditError(file, n, f"actor {actor} differs from the log's actor {log_actor}")
    if sig is None:
        return digest, actor, False
    if not isinstance(sig, str) or not _SIG_RE.fullmatch(sig):
        raise AuditError(file, n, "`sig` is not null or 128 lower-case hex digits")
    try:
        verifier.verify(actor, bytes.fromhex(digest), bytes.fromhex(sig))
    except SignatureInvalid as exc:
        raise AuditError(file, n, f"signature does not verify with {actor}'s public key") from exc
    return digest, actor, True


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a log as written (JSON objects), first to last; nothing if the file
    does not exist. For a node resuming its state; :func:`verify_log` checks the chain."""
    if not path.exists():
        return
    with path.open("rb") as f:
        for n, line in enumerate(f, start=1):
            try:
                obj = msgspec.json.decode(line)
            except msgspec.DecodeError as exc:
                raise AuditError(str(path), n, f"not a JSON line: {exc}") from exc
            if isinstance(obj, dict):
                yield obj
