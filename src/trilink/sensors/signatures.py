"""Radar cross-sections of the objects a launch puts up, by kind and aspect.

A body's RCS varies with the aspect angle θ between the radar's line of sight and the
body's axis (taken along its velocity): ``σ(θ) = σ_nose cos²θ + σ_broad sin²θ``.
Representative, rounded values (SIMULATION): a boosting missile (the whole stack, plume
not counted), a conical re-entry vehicle, a spent tumbling stage.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

__all__ = ["KINDS", "kind_of", "rcs_m2"]

# kind: (nose-on m², broadside m²)
KINDS: Final[dict[str, tuple[float, float]]] = {
    "missile": (0.5, 10.0),
    "rv": (0.05, 0.5),
    "stage": (0.5, 8.0),
}


def kind_of(body_name: str, t_rel_s: float, burnout_s: float) -> str:
    """The signature kind of a trajectory body at a time after launch."""
    if body_name.startswith("stage"):
        return "stage"
    if body_name == "rv" and t_rel_s >= burnout_s:
        return "rv"
    return "missile"


def rcs_m2(
    kinds: list[str], los_unit: NDArray[np.float64], velocity: NDArray[np.float64]
) -> NDArray[np.float64]:
    """RCS (m²) of bodies of ``kinds`` seen along unit lines of sight (N, 3) while moving
    with ``velocity`` (N, 3)."""
    nose = np.array([KINDS[k][0] for k in kinds])
    broad = np.array([KINDS[k][1] for k in kinds])
    speed = np.linalg.norm(velocity, axis=1)
    cos = np.abs(np.einsum("ij,ij->i", los_unit, velocity)) / np.maximum(speed, 1e-9)
    cos = np.where(speed > 1e-6, cos, 0.0)
    return np.asarray(nose * cos**2 + broad * (1.0 - cos**2))
