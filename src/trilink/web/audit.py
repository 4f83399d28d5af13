"""The last records of a node's audit log, read while the node still writes it.

The log is JSON lines (:mod:`trilink.sharing.audit`); a line being written may be
incomplete, so only whole lines are read. ``trilink audit verify DIR`` checks the chain
and signatures; this only shows the records.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import msgspec

from trilink.errors import AuditError

__all__ = ["tail_records"]

_CHUNK: Final = 1 << 16


def tail_records(path: Path, limit: int, *, name: str | None = None) -> list[dict[str, Any]]:
    """The last ``limit`` whole records of the log at ``path`` (those named ``name`` only,
    when given), oldest first; none if the file does not exist yet. Raises
    :class:`~trilink.errors.AuditError` for a whole line that is not a JSON object."""
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return []
    with f:
        pos = f.seek(0, os.SEEK_END)
        found: list[dict[str, Any]] = []  # newest first
        carry = b""  # the start of a line whose beginning is in an earlier chunk
        cut = True  # the last line may be being written: drop it unless it ends
        while pos > 0 and len(found) < limit:
            step = min(_CHUNK, pos)
            pos -= step
            f.seek(pos)
            lines = (f.read(step) + carry).split(b"\n")
            if cut:
                if len(lines) == 1:  # still inside the unfinished last line
                    continue
                lines[-1] = b""  # after the last newline: incomplete (or empty)
                cut = False
            carry = lines.pop(0) if pos > 0 else b""
            found.extend(_decode(reversed(lines), path, name))
        return found[:limit][::-1] if limit > 0 else []


def _decode(lines: Iterable[bytes], path: Path, name: str | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            obj = msgspec.json.decode(line)
        except msgspec.DecodeError as exc:
            raise AuditError(str(path), 0, f"a line is not JSON: {exc}") from exc
        if not isinstance(obj, dict):
            raise AuditError(str(path), 0, "a line is not a JSON object")
        if name is None or obj.get("name") == name:
            out.append(obj)
    return out
