"""trilink — an open, runnable multinational missile-warning data-sharing system.

SIMULATION ONLY: everything trilink shows is simulated. Its scope ends at warning.

The data flow, left to right (a stage imports only stages to its left)::

    world (launches, physics)  →  sensors (radars)  →  national tracking (EKF, GNN, M-of-N)
      →  governed sharing (agreements, Ed25519 signatures, audit chain, relays, transport)
      →  fusion (covariance intersection)  →  warnings (launch alert, impact, MoD summary)
      →  CLI (``trilink demo``, ``trilink events``, ``trilink audit verify``)

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
from trilink.simulation import Clock, RunResult, TimelineEvent, run_event
from trilink.world.launches import fly_event
from trilink.world.library import DEFAULT_EVENT_ID, LaunchEvent, load_library

__all__ = [
    "AuditError",
    "Clock",
    "ConfigError",
    "DEFAULT_EVENT_ID",
    "DataError",
    "LaunchEvent",
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
