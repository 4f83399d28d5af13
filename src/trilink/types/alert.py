"""Public alert messages: what a nation's warning centre tells its people (SIMULATION).

An :class:`Alert` is one message of a nation's alert lifecycle
(:class:`trilink.alerting.lifecycle.AlertLifecycle`), in the stages of Japan's J-Alert
missile messages: launch, evacuate, update, passed over, where it fell, all-clear, and
corrections or cancellations when the danger moves away. Times are POSIX seconds UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

__all__ = ["REPLAY_KEYS", "TERMINAL_STAGES", "Alert", "AlertStage"]


class AlertStage(StrEnum):
    """The stage of an alert (values as in the replay JSON)."""

    LAUNCH = "launch"
    EVACUATE = "evacuate"
    UPDATE = "update"
    PASSED_OVER = "passed_over"
    FELL_IN_EEZ = "fell_in_eez"
    FELL_OUTSIDE_EEZ = "fell_outside_eez"
    FELL_ON_LAND = "fell_on_land"
    ALL_CLEAR = "all_clear"
    CORRECTION = "correction"
    CANCEL = "cancel"


TERMINAL_STAGES: Final = frozenset(
    {AlertStage.FELL_IN_EEZ, AlertStage.FELL_OUTSIDE_EEZ, AlertStage.FELL_ON_LAND}
)
"""The verdicts on where the missile fell: at most one per lifecycle."""

REPLAY_KEYS: Final = ("t_s", "stage", "prefectures", "eez_verdict", "correction_of")
"""The keys of an alert in the replay JSON, in order (:meth:`Alert.to_json` adds more)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """One alert message of a nation to its people, issued at ``t_s``."""

    alert_id: str = field(metadata={"doc": "unique per lifecycle, e.g. JPN-A002"})
    nation: str = field(metadata={"doc": "the nation that issued it (ISO alpha-3)"})
    t_s: float = field(metadata={"doc": "time of issue, POSIX seconds UTC"})
    stage: AlertStage
    text: str = field(metadata={"doc": "the message as people read it, labelled SIMULATION"})
    prefectures: tuple[str, ...] = field(
        default=(), metadata={"doc": "areas the alert names, in order of overflight"}
    )
    predicted_t_s: float | None = field(
        default=None,
        metadata={"doc": "overflight of the first named area (impact when unknown)"},
    )
    eez_verdict: str = field(
        default="", metadata={"doc": "the prediction's Japan EEZ verdict; '' when none"}
    )
    correction_of: str | None = field(
        default=None, metadata={"doc": "the evacuate/update a correction or cancel revises"}
    )
    launch_time_s: float | None = field(
        default=None, metadata={"doc": "estimated launch time, POSIX seconds UTC"}
    )
    impact_lat_deg: float | None = field(
        default=None, metadata={"doc": "predicted impact point of the prediction it rests on"}
    )
    impact_lon_deg: float | None = None

    def to_json(self) -> dict[str, object]:
        """The replay JSON of this alert: :data:`REPLAY_KEYS` first, then the rest."""
        return {
            "t_s": float(self.t_s),
            "stage": self.stage.value,
            "prefectures": list(self.prefectures),
            "eez_verdict": self.eez_verdict,
            "correction_of": self.correction_of,
            "alert_id": self.alert_id,
            "nation": self.nation,
            "predicted_t_s": self.predicted_t_s,
            "launch_time_s": self.launch_time_s,
            "impact_lat_deg": self.impact_lat_deg,
            "impact_lon_deg": self.impact_lon_deg,
            "text": self.text,
        }
