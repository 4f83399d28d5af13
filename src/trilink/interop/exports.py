"""The export formats by name: what ``trilink export --format`` writes (SIMULATION).

:func:`export_document` turns a truth trajectory and one nation's recorded history into
the bytes of a file: ``czml`` (Cesium, JSON), ``geojson`` (RFC 7946, JSON) or ``kml``
(KML 2.2, XML), all UTF-8.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Final

from trilink.errors import ConfigError
from trilink.interop.czml import czml_document
from trilink.interop.geojson import feature_collection
from trilink.interop.history import NationHistory
from trilink.interop.kml import kml_document
from trilink.world.trajectory import Trajectory

__all__ = ["EXPORT_FORMATS", "export_document"]

Exporter = Callable[[Trajectory, NationHistory, str], bytes]


def _json_bytes(document: object) -> bytes:
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


EXPORT_FORMATS: Final[dict[str, Exporter]] = {
    "czml": lambda traj, hist, event_id: _json_bytes(czml_document(traj, hist, event_id=event_id)),
    "geojson": lambda traj, hist, event_id: _json_bytes(
        feature_collection(traj, hist, event_id=event_id)
    ),
    "kml": lambda traj, hist, event_id: kml_document(traj, hist, event_id=event_id),
}
"""Format name → exporter ``(trajectory, history, event_id) -> bytes``."""


def export_document(
    fmt: str, trajectory: Trajectory, history: NationHistory, *, event_id: str
) -> bytes:
    """The file of format ``fmt`` (``czml``, ``geojson`` or ``kml``) for one event."""
    exporter = EXPORT_FORMATS.get(fmt.lower())
    if exporter is None:
        raise ConfigError(
            f"unknown export format {fmt!r}",
            field="format",
            fix=f"use one of {', '.join(EXPORT_FORMATS)}",
        )
    return exporter(trajectory, history, event_id)
