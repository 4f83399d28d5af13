"""Interop: the formats other systems speak (SIMULATION).

::

    WarningCenter ──center_events──▶ CoT 2.0 XML ──CotFeed (TCP/TLS)──▶ TAK clients
    run_event(on_step=HistoryRecorder) ──NationHistory──▶ CZML · GeoJSON · KML

* :mod:`~trilink.interop.cot` — Cursor on Target events: fused system tracks, impact
  predictions (95 % ellipses), alerts; marked ``opex="s-trilink"`` (simulation).
* :mod:`~trilink.interop.cot_feed` — :class:`CotFeed`, the server TAK clients connect to.
* :mod:`~trilink.interop.history` — :class:`HistoryRecorder`, what a nation held per tick.
* :mod:`~trilink.interop.czml`, :mod:`~trilink.interop.geojson`, :mod:`~trilink.interop.kml`
  — files of one event, by name through :func:`export_document`.
"""

from trilink.interop.cot import center_events
from trilink.interop.cot_feed import CotFeed
from trilink.interop.exports import EXPORT_FORMATS, export_document
from trilink.interop.history import HistoryRecorder, NationHistory

__all__ = [
    "EXPORT_FORMATS",
    "CotFeed",
    "HistoryRecorder",
    "NationHistory",
    "center_events",
    "export_document",
]
