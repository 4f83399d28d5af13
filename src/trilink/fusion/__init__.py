"""Fusion: each node's picture of system tracks from its own and its partners' tracks."""

from trilink.fusion.picture import Picture, SystemTrack

__all__ = ["Picture", "SystemTrack"]
