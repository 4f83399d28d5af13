"""trilink — an open, runnable multinational missile-warning data-sharing system.

SIMULATION ONLY: everything trilink shows is simulated. Its scope ends at warning.

The data flow, left to right (a stage imports only stages to its left)::

    world (launches, physics)  →  sensors (radars, space infrared)
      →  national tracking (IMM EKF, GNN or JPDA, M-of-N, closely spaced objects)
      →  governed sharing (agreements, Ed25519 batch signatures, sealing, audit chain,
         relays, embedded or NATS JetStream transport)
      →  fusion (registration bias, inverse covariance intersection)
      →  warnings (launch alert, impact, J-Alert-stage alerts, MoD summary)
      →  live picture (``trilink serve``: web map per nation view) and the formats other
         systems speak (Cursor on Target for TAK, CZML, GeoJSON, KML: ``trilink export``)
      →  CLI (``trilink demo``, ``replay``, ``node``, ``cluster``, ``link``, ``events``,
         ``audit``, ``serve``, ``export``)

The curated public API is below; everything else is reachable from its stage package.
"""

from trilink.errors import (
    AuditError,
    ConfigError,
    DataError,
    MalformedMessage,
    MessageError,
    NotReleasable,
    PhysicsError,
    ReplayDetected,
    SignatureInvalid,
    SolveError,
    TransportError,
    TrilinkError,
    UnknownEventError,
)
from trilink.simulation import Clock, LinkEvent, RunResult, TimelineEvent, run_event
from trilink.world.launches import fly_event
from trilink.world.library import DEFAULT_EVENT_ID, LaunchEvent, load_library

__all__ = [
    "AuditError",
    "Clock",
    "ConfigError",
    "DEFAULT_EVENT_ID",
    "DataError",
    "LaunchEvent",
    "LinkEvent",
    "MalformedMessage",
    "MessageError",
    "NotReleasable",
    "PhysicsError",
    "ReplayDetected",
    "RunResult",
    "SignatureInvalid",
    "SolveError",
    "TimelineEvent",
    "TransportError",
    "TrilinkError",
    "UnknownEventError",
    "fly_event",
    "load_library",
    "run_event",
]
