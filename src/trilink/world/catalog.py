"""Missile classes: stages, masses and bodies the trajectory engine flies.

The figures live in ``data/missiles.toml`` (one row per class, with its source):
representative open-source estimates, rounded: stage count and propellant
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

import functools
from dataclasses import dataclass, field
from importlib.resources import files
from math import log, pi
from typing import Final

import msgspec

from trilink._tomlfile import parse_toml
from trilink.errors import DataError

__all__ = ["MissileClass", "Stage", "catalog", "missile_class"]


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


class _MissileToml(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    key: str
    type: str
    stages: list[tuple[float, float, float, float]]
    payload_kg: float
    diameter_m: float
    default_apogee_km: float
    default_range_km: float
    rcs_m2: float = 0.5
    maneuver: str | None = None
    separates: bool = True
    vertical_rise_s: float | None = None
    rv_ballistic_coefficient_kg_m2: float = 8000.0
    stage_ballistic_coefficient_kg_m2: float = 1500.0
    source: str | None = None


class _CatalogToml(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    format: int
    missile: list[_MissileToml]


_RESOURCE: Final = "trilink/world/data/missiles.toml"
_DEFAULT_SOURCE: Final = "rounded open-source estimates (CSIS Missile Threat, IISS)"
_MANEUVERS: Final = ("pullup", "glide")


def _missile(raw: _MissileToml, index: int) -> MissileClass:
    if raw.maneuver is not None and raw.maneuver not in _MANEUVERS:
        raise DataError(
            f"{_RESOURCE}: missile[{index}] ({raw.key}) has maneuver {raw.maneuver!r}; "
            f"expected one of {_MANEUVERS}"
        )
    if not raw.stages or any(min(st) <= 0.0 for st in raw.stages):
        raise DataError(f"{_RESOURCE}: missile[{index}] ({raw.key}) needs positive stage figures")
    srbm = raw.type == "SRBM"
    return MissileClass(
        key=raw.key,
        type=raw.type,
        stages=tuple(Stage(*st) for st in raw.stages),
        payload_kg=raw.payload_kg,
        rv_ballistic_coefficient_kg_m2=raw.rv_ballistic_coefficient_kg_m2,
        stage_ballistic_coefficient_kg_m2=raw.stage_ballistic_coefficient_kg_m2,
        rcs_m2=raw.rcs_m2,
        default_apogee_km=raw.default_apogee_km,
        default_range_km=raw.default_range_km,
        maneuver=raw.maneuver,
        # Short-range missiles rise briefly and pitch over fast; longer ones take longer.
        vertical_rise_s=raw.vertical_rise_s or (3.0 if srbm else 6.0),
        pitch_end_fraction=0.4 if srbm else 0.8,
        source=raw.source or _DEFAULT_SOURCE,
        separates=raw.separates,
        diameter_m=raw.diameter_m,
    )


@functools.cache
def catalog() -> dict[str, MissileClass]:
    """Every missile class, by library missile key (read once from the shipped TOML)."""
    text = files("trilink.world").joinpath("data", "missiles.toml").read_text("utf-8")
    try:
        raw = msgspec.convert(parse_toml(text, source=_RESOURCE), _CatalogToml)
    except msgspec.ValidationError as exc:
        raise DataError(f"{_RESOURCE} is damaged: {exc}. Reinstall trilink.") from exc
    return {m.key: _missile(m, i) for i, m in enumerate(raw.missile)}


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
    classes = catalog()
    if missile_key in classes:
        return classes[missile_key]
    return classes[_BY_TYPE.get(missile_type, "scud-c")]
