"""Reading the audit logs of a run as the fault tests judge it: who released, received,
relayed and rejected which message, by message id.

Each audit line is one JSON object (see :mod:`trilink.sharing.audit`); the fields used
here are ``name``, ``actor`` (the node writing the log), ``originator``, ``seq``,
``message_id``, ``kind``, ``reason`` and ``detail.recipient``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Record = dict[str, Any]


class AuditTail:
    """The complete lines of one growing audit log, read incrementally (for polling a
    running node without re-reading the whole file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[Record] = []
        self._offset = 0
        self._partial = b""

    def poll(self) -> list[Record]:
        """Read the lines appended since the last poll; return them."""
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        *lines, self._partial = data.split(b"\n")
        new = [json.loads(line) for line in lines if line]
        self.records.extend(new)
        return new

    def count(self, name: str, **match: object) -> int:
        self.poll()
        return sum(1 for r in self.records if r["name"] == name and _matches(r, match))


def _matches(rec: Record, match: dict[str, object]) -> bool:
    for key, want in match.items():
        got = (rec.get("detail") or {}).get("recipient") if key == "recipient" else rec.get(key)
        if got != want:
            return False
    return True


def read_log(path: Path) -> list[Record]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]


@dataclass
class Trail:
    """Every node's audit log of one run, indexed by message id."""

    logs: dict[str, list[Record]]
    released: dict[str, Record] = field(default_factory=dict)
    received: dict[str, list[Record]] = field(default_factory=lambda: defaultdict(list))
    relayed: dict[str, list[Record]] = field(default_factory=lambda: defaultdict(list))
    rejected: list[Record] = field(default_factory=list)
    twice_released: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, audit_dir: Path, nations: Iterable[str]) -> Trail:
        trail = cls({n: read_log(audit_dir / f"{n}.jsonl") for n in nations})
        for nation, records in trail.logs.items():
            for rec in records:
                name, mid = rec["name"], rec.get("message_id")
                if name == "released":
                    assert rec["originator"] == nation, rec
                    if mid in trail.released:
                        trail.twice_released.append(mid)
                    trail.released[mid] = rec
                elif name == "received":
                    trail.received[mid].append(rec)
                elif name == "relayed":
                    trail.relayed[mid].append(rec)
                elif name == "rejected":
                    trail.rejected.append(rec)
        return trail

    def named(self, nation: str, name: str) -> list[Record]:
        return [r for r in self.logs[nation] if r["name"] == name]


def recipient(rec: Record) -> str | None:
    detail = rec.get("detail") or {}
    value = detail.get("recipient")
    return value if isinstance(value, str) else None
