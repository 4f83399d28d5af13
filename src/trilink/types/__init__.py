"""Value types shared by every stage: no I/O, SI units, ECEF frame.

Times are POSIX seconds (UTC) as floats, named ``t_s`` or ``*_time_s``.
"""

from trilink.types.alert import Alert, AlertStage
from trilink.types.alerts import ImpactPrediction, LaunchEstimate
from trilink.types.detection import Detection, DetectionBatch
from trilink.types.state import Covariance, StateVector, as_covariance, as_state, symmetrised
from trilink.types.track import Track, TrackState

__all__ = [
    "Alert",
    "AlertStage",
    "Covariance",
    "Detection",
    "DetectionBatch",
    "ImpactPrediction",
    "LaunchEstimate",
    "StateVector",
    "Track",
    "TrackState",
    "as_covariance",
    "as_state",
    "symmetrised",
]
