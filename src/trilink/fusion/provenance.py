"""Provenance rules of a node's picture: no information is counted twice (data incest).

A member of a system track is keyed by its provenance, ``(originator nation, national
track number)``, so the same national track received directly and through a relay is one
member, and a repeated update (same time of validity or older) is discarded. Two kinds of
track are never admitted:

* a fused track (a system track number such as ``JPN-S001``): it already holds its
  members' information, which would be counted again;
* a track whose originator is this node itself but which came back from a partner: the
  node already holds that information from its own tracker.

:func:`refusal` is the pure rule; :class:`~trilink.fusion.Picture` raises
:class:`ProvenanceRefused` when it says no.
"""

from __future__ import annotations

import re
from typing import Final

from trilink.errors import MessageError
from trilink.types import Track

__all__ = ["ProvenanceRefused", "is_system_track_id", "refusal"]

_SYSTEM_ID: Final = re.compile(r"[A-Z]{3}-S\d+")


class ProvenanceRefused(MessageError):
    """A track was refused by a node's picture because fusing it would count information
    twice. ``rule`` names the provenance rule (``fused-track`` or ``own-echo``)."""

    reason = "provenance"

    def __init__(self, track_id: str, originator: str, rule: str, detail: str) -> None:
        self.track_id = track_id
        self.rule = rule
        super().__init__(
            f"track {track_id} from {originator} refused ({rule}): {detail}",
            originator=originator,
        )


def is_system_track_id(track_id: str) -> bool:
    """Whether ``track_id`` is a picture's system track number (``JPN-S001``), not a
    national tracker's (``JPN-T0001``)."""
    return _SYSTEM_ID.fullmatch(track_id) is not None


def refusal(track: Track, node: str, received_from: str | None) -> tuple[str, str] | None:
    """Why ``node``'s picture must not take ``track``, as ``(rule, detail)``, or None.

    ``received_from`` is the partner the track came from (None: the node's own tracker).
    """
    if is_system_track_id(track.track_id):
        return (
            "fused-track",
            "a fused system track already holds its members' tracks; fuse the members",
        )
    if received_from is not None and track.nation == node:
        return (
            "own-echo",
            f"{node}'s own track came back through {received_from}; {node} holds it already",
        )
    return None
