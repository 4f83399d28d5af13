"""Missile classes: stages, masses and bodies the trajectory engine flies.

Figures are representative open-source estimates, rounded: stage count and propellant
type from CSIS Missile Threat (missilethreat.csis.org) and the IISS Military Balance;
masses, burn times and exhaust velocities are rounded engineering estimates consistent
with those sources (no official figures exist). They give each class a realistic boost
(duration, acceleration, staging); the solver then steers to reproduce the apogee and
range a launch record publishes, and :func:`trilink.world.validate` compares the
resulting flight times with Japan's Ministry of Defense. SIMULATION.

A missile key of the historical library (``hwasong-17``) maps to its class; a key with no
entry falls back to its type (``ICBM``, ``SRBM`` ...), and ``trilink simulate`` says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import log, pi
from typing import Final

__all__ = ["CATALOG", "MissileClass", "Stage", "missile_class"]


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage: constant mass flow for ``burn_time_s``."""

    burn_time_s: float
    propellant_kg: float
    dry_kg: float
    exhaust_velocity_mps: float = field(metadata={"doc": "effective, ≈ Isp · g0"})

    @property
    def mass_flow_kg_s(self) -> float:
        return self.propellant_kg / self.burn_time_s


@dataclass(frozen=True, slots=True)
class MissileClass:
    """A missile class: its stages, re-entry vehicle and typical flight."""

    key: str
    type: str
    stages: tuple[Stage, ...]
    payload_kg: float = field(metadata={"doc": "re-entry vehicle (and bus), kg"})
    rv_ballistic_coefficient_kg_m2: float = field(metadata={"doc": "m/(Cd A) of the RV"})
    stage_ballistic_coefficient_kg_m2: float = field(
        metadata={"doc": "m/(Cd A) of a spent, tumbling stage"}
    )
    rcs_m2: float = field(metadata={"doc": "typical radar cross-section of the RV"})
    default_apogee_km: float
    default_range_km: float
    maneuver: str | None = field(default=None, metadata={"doc": "pullup, glide or None"})
    vertical_rise_s: float = 6.0
    pitch_end_fraction: float = field(
        default=0.8, metadata={"doc": "share of the burn over which the pitch programme turns"}
    )
    source: str = "rounded open-source estimates (CSIS Missile Threat, IISS)"
    separates: bool = field(default=True, metadata={"doc": "RV separates from last stage"})
    diameter_m: float = field(default=1.0, metadata={"doc": "body diameter, for boost drag"})

    @property
    def burn_time_s(self) -> float:
        return sum(s.burn_time_s for s in self.stages)

    @property
    def liftoff_mass_kg(self) -> float:
        return self.payload_kg + sum(s.propellant_kg + s.dry_kg for s in self.stages)

    @property
    def lift_to_drag(self) -> float:
        """Lift-to-drag ratio of the descending body: the simple manoeuvre model.

        Pull-up SRBMs (KN-23 family) fly a depressed arc and use lift in the
        descent to flatten and extend it (L/D 2); glide vehicles glide (L/D 3). Ballistic RVs 0.
        """
        return {"pullup": 2.0, "glide": 3.0}.get(self.maneuver or "", 0.0)

    @property
    def boost_ballistic_coefficient_kg_m2(self) -> float:
        """m/(Cd A) of the whole stack at lift-off (Cd 0.3)."""
        return self.liftoff_mass_kg / (0.3 * pi * (0.5 * self.diameter_m) ** 2)

    @property
    def ideal_delta_v_mps(self) -> float:
        """Tsiolkovsky Δv of the whole stack (no gravity or drag losses)."""
        dv, m = 0.0, self.liftoff_mass_kg
        for s in self.stages:
            dv += s.exhaust_velocity_mps * log(m / (m - s.propellant_kg))
            m -= s.propellant_kg + s.dry_kg
        return dv


def _c(
    key: str,
    typ: str,
    stages: list[tuple[float, float, float, float]],
    payload: float,
    apogee: float,
    rng: float,
    *,
    rcs: float = 0.5,
    beta_rv: float = 8000.0,
    beta_stage: float = 1500.0,
    maneuver: str | None = None,
    rise: float = 6.0,
    separates: bool = True,
    d: float = 1.0,
    source: str = "",
) -> MissileClass:
    return MissileClass(
        key=key,
        type=typ,
        stages=tuple(Stage(*s) for s in stages),
        payload_kg=payload,
        rv_ballistic_coefficient_kg_m2=beta_rv,
        stage_ballistic_coefficient_kg_m2=beta_stage,
        rcs_m2=rcs,
        default_apogee_km=apogee,
        default_range_km=rng,
        maneuver=maneuver,
        vertical_rise_s=3.0 if typ == "SRBM" else rise,
        pitch_end_fraction=0.4 if typ == "SRBM" else 0.8,
        separates=separates,
        diameter_m=d,
        source=source or "rounded open-source estimates (CSIS Missile Threat, IISS)",
    )


_LIQ_SCUD = 2300.0
_SOLID = 2450.0
#                (burn s, propellant kg, dry kg, exhaust velocity m/s)
CATALOG: Final[dict[str, MissileClass]] = {
    c.key: c
    for c in (
        _c("scud-b", "SRBM", [(62, 3900, 950, 2350)], 1000, 85, 300, separates=False, d=0.88),
        _c(
            "scud-b-marv",
            "SRBM",
            [(62, 3900, 950, 2350)],
            1000,
            85,
            300,
            separates=False,
            d=0.88,
        ),
        _c("scud-c", "SRBM", [(70, 4300, 1000, 2400)], 700, 120, 500, separates=False, d=0.88),
        _c(
            "scud-c-marv",
            "SRBM",
            [(70, 4300, 1000, 2400)],
            700,
            120,
            400,
            separates=False,
            d=0.88,
        ),
        _c("er-scud", "MRBM", [(85, 4900, 900, 2450)], 500, 200, 1000, d=0.88),
        _c("nodong", "MRBM", [(110, 12900, 2100, 2450)], 1000, 350, 1000, rcs=0.8, d=1.36),
        _c("kn-02", "SRBM", [(25, 1400, 350, 2450)], 450, 40, 120, separates=False, d=0.65),
        _c("kn-25", "SRBM", [(30, 2200, 500, 2500)], 400, 50, 380, separates=False, d=0.6),
        _c(
            "hwasong-11a",
            "SRBM",
            [(40, 2700, 400, 2500)],
            500,
            50,
            600,
            maneuver="pullup",
            separates=False,
            d=0.95,
        ),
        _c(
            "hwasong-11b",
            "SRBM",
            [(35, 2200, 450, _SOLID)],
            450,
            48,
            400,
            maneuver="pullup",
            separates=False,
            d=0.95,
        ),
        _c(
            "hwasong-11c",
            "SRBM",
            [(45, 3300, 600, _SOLID)],
            900,
            60,
            450,
            maneuver="pullup",
            separates=False,
            d=1.1,
        ),
        _c(
            "hwasong-11d",
            "SRBM",
            [(20, 900, 300, _SOLID)],
            300,
            25,
            110,
            maneuver="pullup",
            separates=False,
            d=0.7,
        ),
        _c(
            "hwasong-11-da-45",
            "SRBM",
            [(50, 6000, 1000, 2450)],
            2500,
            50,
            400,
            maneuver="pullup",
            separates=False,
            d=1.1,
        ),
        _c(
            "rail-mobile-kn-23",
            "SRBM",
            [(40, 2700, 400, 2500)],
            500,
            50,
            800,
            maneuver="pullup",
            separates=False,
            d=0.95,
        ),
        _c(
            "silo-based-kn-23",
            "SRBM",
            [(40, 2700, 400, 2500)],
            500,
            50,
            800,
            maneuver="pullup",
            separates=False,
            d=0.95,
        ),
        _c(
            "hwasong-11s",
            "SLBM",
            [(40, 2700, 400, 2500)],
            500,
            60,
            600,
            maneuver="pullup",
            separates=False,
            d=0.95,
        ),
        _c("hwasong-11e", "MRBM", [(60, 4500, 800, _SOLID)], 500, 50, 900, maneuver="glide", d=1.1),
        _c("musudan", "IRBM", [(130, 10500, 1500, 3000)], 650, 400, 3000, d=1.5),
        _c("hwasong-12", "IRBM", [(140, 21000, 2500, 3100)], 650, 550, 2700, rcs=0.5, d=1.65),
        _c(
            "hwasong-12a",
            "MRBM",
            [(120, 14000, 2500, 3000)],
            700,
            60,
            1000,
            maneuver="glide",
            d=1.65,
        ),
        _c(
            "hwasong-12b",
            "HGV",
            [(140, 21000, 2500, 3100)],
            1500,
            100,
            1000,
            maneuver="glide",
            d=1.65,
        ),
        _c(
            "hwasong-14",
            "ICBM",
            [(120, 20000, 2800, 3050), (130, 2700, 500, 3100)],
            500,
            2800,
            930,
            rise=8.0,
            d=1.65,
        ),
        _c(
            "hwasong-15",
            "ICBM",
            [(120, 48000, 4800, 3100), (130, 8500, 1400, 3200)],
            1000,
            4500,
            950,
            rise=8.0,
            d=2.0,
        ),
        _c(
            "hwasong-17",
            "ICBM",
            [(120, 75000, 8000, 3100), (120, 14000, 2000, 3200)],
            1500,
            6100,
            1000,
            rise=10.0,
            d=2.5,
        ),
        _c(
            "hwasong-18",
            "ICBM",
            [(60, 36000, 4000, 2700), (55, 10000, 1500, 2800), (50, 3500, 500, 2900)],
            800,
            6500,
            1000,
            rise=8.0,
            d=2.0,
        ),
        _c(
            "hwasong-19",
            "ICBM",
            [(65, 46000, 4600, 2750), (60, 12500, 1700, 2850), (50, 4000, 550, 2950)],
            900,
            7700,
            1000,
            rise=8.0,
            d=2.2,
        ),
        _c(
            "hwasong-16a",
            "IRBM",
            [(60, 9000, 1500, 2600), (50, 3000, 700, 2700)],
            1500,
            50,
            1000,
            maneuver="glide",
            d=1.8,
        ),
        _c(
            "hwasong-16b",
            "IRBM",
            [(60, 9000, 1500, 2600), (50, 3000, 700, 2700)],
            1500,
            100,
            1000,
            maneuver="glide",
            d=1.8,
        ),
        _c("new-irbm-2022", "IRBM", [(140, 22000, 2300, 3200)], 650, 970, 4500, d=1.65),
        _c(
            "pukguksong-1",
            "SLBM",
            [(50, 9000, 1400, 2500), (40, 2500, 600, 2600)],
            650,
            500,
            500,
            d=1.5,
        ),
        _c(
            "pukguksong-2",
            "MRBM",
            [(50, 9000, 1400, 2500), (40, 2500, 600, 2600)],
            650,
            550,
            500,
            d=1.5,
        ),
        _c(
            "pukguksong-3",
            "SLBM",
            [(55, 11000, 1600, 2550), (45, 3000, 700, 2650)],
            700,
            910,
            450,
            d=1.6,
        ),
        _c(
            "taepodong-1",
            "SLV",
            [(110, 12900, 2100, 2450), (70, 4100, 1200, 2300)],
            300,
            400,
            1400,
            rcs=1.0,
            d=1.32,
        ),
        _c(
            "unha",
            "SLV",
            [(120, 58000, 7000, 2800), (120, 11000, 1500, 3000)],
            300,
            500,
            2500,
            rcs=2.0,
            d=2.4,
        ),
        _c(
            "unha-3",
            "SLV",
            [(120, 58000, 7000, 2800), (120, 11000, 1500, 3000)],
            300,
            500,
            2500,
            rcs=2.0,
            d=2.4,
        ),
        _c(
            "chollima-1",
            "SLV",
            [(120, 75000, 8000, 3100), (120, 14000, 2000, 3200)],
            300,
            500,
            2700,
            rcs=2.0,
            d=2.5,
        ),
    )
}

_BY_TYPE: Final[dict[str, str]] = {
    "SRBM": "kn-25",
    "MRBM": "nodong",
    "IRBM": "hwasong-12",
    "ICBM": "hwasong-15",
    "SLBM": "pukguksong-1",
    "SLV": "unha-3",
    "HGV": "hwasong-12b",
    "Unknown": "scud-c",
}


def missile_class(missile_key: str, missile_type: str) -> MissileClass:
    """The class of a library missile key; unknown keys fall back to their type's class."""
    if missile_key in CATALOG:
        return CATALOG[missile_key]
    return CATALOG[_BY_TYPE.get(missile_type, "scud-c")]
