"""One nation's view as Cursor on Target for TAK clients, from the picture's replay.

``trilink serve --cot-port Q --cot-nation JPN`` starts a
:class:`~trilink.interop.cot_feed.CotFeed` on the server's loopback address; each time
the replay publishes the pictures (a few times a second), the events of what that
nation's warning centre holds (:func:`~trilink.interop.cot.center_events`: its fused
tracks, the latest impact predictions it holds and the standing alerts) are built on
the replay's thread and sent to every connected client from the server's loop. Only
that nation's view goes out, as for its web viewers.
"""

from __future__ import annotations

from dataclasses import dataclass

from trilink.interop.cot import center_events
from trilink.interop.cot_feed import CotFeed
from trilink.simulation import Step

__all__ = ["CotTap"]


@dataclass(frozen=True)
class CotTap:
    """Sends ``nation``'s view of each published step to ``feed``'s clients."""

    nation: str
    feed: CotFeed

    def events(self, step: Step) -> list[bytes]:
        """The CoT events of what ``nation`` holds at the end of ``step`` (call on the
        replay's thread: it reads the live warning centre)."""
        return center_events(step.centers[self.nation], step.t_s)
