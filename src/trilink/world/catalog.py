"""Missile classes: the propulsion and body figures the trajectory engine flies.

The figures are representative public-domain estimates, rounded, and serve to give each
class a realistic burn time and energy; the solver then steers to reproduce the apogee
and range a launch record publishes. Sources: CSIS Missile Threat pages for the classes
(burn times and stage counts), Japan MoD flight times (used to check the results).
The per-class table grows with the full catalog of issue 3.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

__all__ = ["MissileClass", "missile_class"]


@dataclass(frozen=True, slots=True)
class MissileClass:
    """Propulsion and body of one missile class, as one equivalent stage."""

    key: str
    burn_time_s: float = field(metadata={"doc": "total boost duration at full burn"})
    exhaust_velocity_mps: float = field(metadata={"doc": "effective exhaust velocity"})
    mass_ratio: float = field(metadata={"doc": "lift-off mass / burnout mass (> 1)"})
    vertical_rise_s: float = field(metadata={"doc": "vertical flight before pitch-over"})
    ballistic_coefficient_kg_m2: float = field(metadata={"doc": "m / (Cd A) of the body"})
    rcs_m2: float = field(metadata={"doc": "typical radar cross-section, broadside"})
    default_apogee_km: float = field(metadata={"doc": "used where a record is silent"})
    default_range_km: float = field(metadata={"doc": "used where a record is silent"})
    source: str = ""

    @property
    def max_delta_v_mps(self) -> float:
        from math import log

        return self.exhaust_velocity_mps * log(self.mass_ratio)


_BY_TYPE: Final[dict[str, MissileClass]] = {
    "SRBM": MissileClass(
        "SRBM",
        70.0,
        2400.0,
        3.6,
        4.0,
        4000.0,
        0.5,
        80.0,
        400.0,
        "generic short-range class (Scud/KN-23 family), rounded",
    ),
    "MRBM": MissileClass(
        "MRBM",
        110.0,
        2500.0,
        5.0,
        6.0,
        5000.0,
        0.8,
        350.0,
        1000.0,
        "generic medium-range class (Nodong family), rounded",
    ),
    "IRBM": MissileClass(
        "IRBM",
        180.0,
        3000.0,
        8.0,
        8.0,
        6000.0,
        1.0,
        550.0,
        2700.0,
        "generic intermediate-range class (Hwasong-12), rounded",
    ),
    "ICBM": MissileClass(
        "ICBM",
        240.0,
        3300.0,
        20.0,
        10.0,
        8000.0,
        1.0,
        6000.0,
        1000.0,
        "generic two-stage ICBM flown as one equivalent stage, rounded",
    ),
    "SLBM": MissileClass(
        "SLBM",
        110.0,
        2500.0,
        5.0,
        6.0,
        5000.0,
        0.8,
        450.0,
        450.0,
        "generic submarine-launched class (Pukguksong), rounded",
    ),
    "SLV": MissileClass(
        "SLV",
        240.0,
        3300.0,
        20.0,
        10.0,
        8000.0,
        2.0,
        500.0,
        2500.0,
        "satellite launcher first stages, rounded",
    ),
    "HGV": MissileClass(
        "HGV",
        110.0,
        2600.0,
        5.5,
        6.0,
        5000.0,
        0.5,
        100.0,
        1000.0,
        "boost of the glide-vehicle classes (glide modelled later)",
    ),
}

_BY_MISSILE: Final[dict[str, MissileClass]] = {
    # Single-stage liquid IRBM; lofted 2017 shots flew 14-19 min (Japan MoD).
    "hwasong-12": MissileClass(
        "hwasong-12",
        140.0,
        3000.0,
        8.0,
        8.0,
        6000.0,
        1.0,
        550.0,
        2700.0,
        "CSIS Missile Threat (Hwasong-12); rounded",
    ),
    # Two-stage liquid ICBM; 2022-11-18 lofted shot flew ~69 min (Japan MoD).
    "hwasong-17": MissileClass(
        "hwasong-17",
        240.0,
        3300.0,
        20.0,
        10.0,
        8000.0,
        1.0,
        6100.0,
        1000.0,
        "CSIS Missile Threat (Hwasong-17); rounded",
    ),
}


def missile_class(missile_key: str, missile_type: str) -> MissileClass:
    """The class figures for a library missile key, falling back to its type's defaults."""
    if missile_key in _BY_MISSILE:
        return _BY_MISSILE[missile_key]
    return _BY_TYPE.get(missile_type, _BY_TYPE["MRBM"])
