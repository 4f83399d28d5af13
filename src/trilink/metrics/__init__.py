"""Metrics for scoring the simulated tracking picture against the simulated truth.

GOSPA (alpha = 2) for multi-target sets, RMSE and NEES for single-track errors, and track
continuity (identity switches, breaks) from per-scan truth-to-track assignments. All are
pure functions of numpy arrays in SI units (ECEF metres, m/s); nothing here does I/O.
"""

from trilink.metrics.continuity import (
    Continuity,
    assignments,
    label_assignments,
    track_continuity,
)
from trilink.metrics.errors import anees, nees, nees_band, rmse, rmse_over_runs
from trilink.metrics.gospa import (
    GospaResult,
    GospaSummary,
    gospa,
    gospa_assignment,
    gospa_over_time,
    mean_gospa,
)

__all__ = [
    "Continuity",
    "GospaResult",
    "GospaSummary",
    "anees",
    "assignments",
    "gospa",
    "gospa_assignment",
    "gospa_over_time",
    "label_assignments",
    "mean_gospa",
    "nees",
    "nees_band",
    "rmse",
    "rmse_over_runs",
    "track_continuity",
]
