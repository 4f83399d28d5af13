"""How soon a nation knew and told (SIMULATION): its alerts and predictions against truth.

:func:`timeliness` measures, in seconds after the true launch, when a nation issued its
first alert, when its impact predictions first came within :data:`NEAR_M` and
:data:`CLOSE_M` of the true impact point, when its EEZ verdict settled and when it
announced where the missile fell. A prediction is timed by its ``t_valid_s`` (the time of
the track state it was made from; the warning centre makes it in the same tick).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from trilink.geo.earth import surface_distance_m
from trilink.types import ImpactPrediction
from trilink.types.alert import TERMINAL_STAGES, Alert, AlertStage

__all__ = ["CLOSE_M", "NEAR_M", "Timeliness", "timeliness"]

NEAR_M: Final = 50_000.0
"""An impact prediction this close to the true impact point (m) is near."""
CLOSE_M: Final = 10_000.0
"""An impact prediction this close to the true impact point (m) is close."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeliness:
    """Seconds after the true launch at which a nation reached each mark (``None``: never)."""

    nation: str
    first_alert_s: float | None = field(metadata={"doc": "its first alert of any stage"})
    first_warning_s: float | None = field(
        metadata={"doc": "its first evacuate (or launch naming areas at risk)"}
    )
    impact_near_s: float | None = field(metadata={"doc": "first prediction within NEAR_M"})
    impact_close_s: float | None = field(metadata={"doc": "first prediction within CLOSE_M"})
    eez_settled_s: float | None = field(
        metadata={"doc": "the prediction from which every later one gave the final verdict"}
    )
    eez_verdict_s: float | None = field(metadata={"doc": "the alert saying where it fell"})
    eez_verdict: str = field(metadata={"doc": "the final prediction's EEZ verdict; ''"})
    eez_correct: bool | None = field(metadata={"doc": "it matches the truth (None: unknown)"})

    def to_json(self) -> dict[str, object]:
        return {
            "first_alert_s": self.first_alert_s,
            "first_warning_s": self.first_warning_s,
            "impact_within_50km_s": self.impact_near_s,
            "impact_within_10km_s": self.impact_close_s,
            "eez_settled_s": self.eez_settled_s,
            "eez_verdict_s": self.eez_verdict_s,
            "eez_verdict": self.eez_verdict,
            "eez_correct": self.eez_correct,
        }


def timeliness(
    alerts: Sequence[Alert],
    *,
    t_launch_s: float,
    impacts: Sequence[ImpactPrediction],
    true_impact_lat_lon: tuple[float, float],
    true_eez_verdict: str | None = None,
    nation: str = "",
) -> Timeliness:
    """The marks of one nation: its ``alerts`` (issue order) and ``impacts`` (oldest
    first), against the true launch time and impact point (degrees) and, if given, the
    true EEZ verdict (``"inside"``, ``"outside"``, ...)."""
    preds = sorted(impacts, key=lambda p: p.t_valid_s)
    lat, lon = true_impact_lat_lon
    misses = [surface_distance_m(p.lat_deg, p.lon_deg, lat, lon) for p in preds]
    verdict = preds[-1].eez_verdict if preds else ""

    def since(t_s: float | None) -> float | None:
        return None if t_s is None else float(t_s - t_launch_s)

    def first_within(limit_m: float) -> float | None:
        return next((p.t_valid_s for p, m in zip(preds, misses, strict=True) if m <= limit_m), None)

    return Timeliness(
        nation=nation or (alerts[0].nation if alerts else ""),
        first_alert_s=since(alerts[0].t_s if alerts else None),
        first_warning_s=since(next((a.t_s for a in alerts if _warns(a)), None)),
        impact_near_s=since(first_within(NEAR_M)),
        impact_close_s=since(first_within(CLOSE_M)),
        eez_settled_s=since(_settled_t_s(preds)),
        eez_verdict_s=since(next((a.t_s for a in alerts if a.stage in TERMINAL_STAGES), None)),
        eez_verdict=verdict,
        eez_correct=None if true_eez_verdict is None or not preds else verdict == true_eez_verdict,
    )


def _warns(alert: Alert) -> bool:
    """An alert telling people their area is at risk."""
    if alert.stage is AlertStage.LAUNCH:
        return bool(alert.prefectures)
    return alert.stage is AlertStage.EVACUATE


def _settled_t_s(preds: Sequence[ImpactPrediction]) -> float | None:
    """Validity time of the first prediction from which the EEZ verdict never changed."""
    if not preds:
        return None
    final = preds[-1].eez_verdict
    start = len(preds) - 1
    while start > 0 and preds[start - 1].eez_verdict == final:
        start -= 1
    return preds[start].t_valid_s
