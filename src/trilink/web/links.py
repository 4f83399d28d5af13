"""What went over each link of the run: the last message per (originator, recipient).

The replay feeds every message a nation accepts into a :class:`LinkBook`
(``run_event(on_message=...)``); the links panel reads, per agreement, how many messages
the recipient accepted from the originator, the last one's kind, valid and received times
(event time), its delivery lag and the path it took (the relays). A recipient's own rows
come from what it accepted itself; an originator's from what its partners' signed
receipts tell it (the same facts: which of its messages arrived, and when).
"""

from __future__ import annotations

from dataclasses import dataclass

from trilink.sharing.node import Received

__all__ = ["LinkBook", "LinkStat"]


@dataclass(slots=True)
class LinkStat:
    """Messages accepted on one (originator, recipient) stream."""

    messages: int = 0
    last_kind: str = ""
    last_valid_s: float = 0.0
    last_received_s: float = 0.0
    last_path: tuple[str, ...] = ()

    @property
    def lag_s(self) -> float:
        """How late the last message arrived after the time it was valid (event s)."""
        return self.last_received_s - self.last_valid_s


class LinkBook:
    """Per (originator, recipient): the messages the recipient accepted.

    Written by the simulation's thread only (:meth:`record`); read by the same thread
    when it builds a picture, so it needs no lock."""

    def __init__(self) -> None:
        self._stats: dict[tuple[str, str], LinkStat] = {}

    def record(self, recipient: str, msg: Received) -> None:
        """Note a message ``recipient`` accepted."""
        env = msg.envelope
        stat = self._stats.setdefault((env.originator, recipient), LinkStat())
        stat.messages += 1
        stat.last_kind = env.kind.value
        stat.last_valid_s = env.valid_time_s
        stat.last_received_s = msg.received_time_s
        stat.last_path = (env.originator, *(h.nation for h in msg.hops), recipient)

    def get(self, originator: str, recipient: str) -> LinkStat | None:
        return self._stats.get((originator, recipient))
