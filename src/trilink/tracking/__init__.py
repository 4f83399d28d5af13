"""National tracking: filters, association and track management."""

from trilink.tracking.tracker import Tracker, TrackerConfig

__all__ = ["Tracker", "TrackerConfig"]
