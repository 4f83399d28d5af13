"""What each nation held, tick by tick: the recorded input of the exports (SIMULATION).

:class:`HistoryRecorder` is a callable for ``run_event(..., on_step=recorder)``: at the end
of every tick it copies, for each nation it records, what that nation's warning centre
holds — each system track's new fused state, and the impact predictions, alerts and
launch estimate that arrived since the last tick (the centre's own and its partners').
It keeps values, never the live centres. :meth:`HistoryRecorder.history` then gives one
nation's :class:`NationHistory`, the plain input of :mod:`trilink.interop.czml`,
:mod:`~trilink.interop.geojson` and :mod:`~trilink.interop.kml`.

The recorder reads a step through :class:`StepView` (``t_s`` and ``centers``), a protocol
of its own, so interop does not depend on :mod:`trilink.simulation` (which composes the
stages and sits to their right).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from trilink.alerting.warnings import WarningCenter
from trilink.errors import ConfigError
from trilink.types import Alert, ImpactPrediction, LaunchEstimate, Track

__all__ = ["HistoryRecorder", "NationHistory", "StepView", "TrackHistory"]


class StepView(Protocol):
    """What the recorder reads of a simulation step (``trilink.simulation.Step`` fits)."""

    @property
    def t_s(self) -> float:
        """Event time of the tick, POSIX seconds UTC."""
        ...

    @property
    def centers(self) -> Mapping[str, WarningCenter]:
        """Each local nation's warning centre (live objects: read, don't keep)."""
        ...


@dataclass
class TrackHistory:
    """The fused states of one system track, oldest first, one per update."""

    system_id: str
    states: list[Track] = field(default_factory=list)

    @property
    def t_s(self) -> list[float]:
        """The times of the states, POSIX seconds UTC."""
        return [s.t_s for s in self.states]


@dataclass
class NationHistory:
    """What one nation's warning centre held over a run, in order of arrival."""

    nation: str
    ticks_s: list[float] = field(default_factory=list)
    tracks: dict[str, TrackHistory] = field(default_factory=dict)
    impacts: list[ImpactPrediction] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    launch: LaunchEstimate | None = None

    @property
    def start_s(self) -> float | None:
        """The first recorded tick (None: nothing recorded)."""
        return self.ticks_s[0] if self.ticks_s else None

    @property
    def end_s(self) -> float | None:
        """The last recorded tick (None: nothing recorded)."""
        return self.ticks_s[-1] if self.ticks_s else None

    def alert_position(self, alert: Alert) -> tuple[float, float] | None:
        """Where to show ``alert`` (latitude, longitude in degrees): the predicted impact
        point it rests on, else the launch estimate held, else ``None``."""
        if alert.impact_lat_deg is not None and alert.impact_lon_deg is not None:
            return alert.impact_lat_deg, alert.impact_lon_deg
        if self.launch is not None:
            return self.launch.lat_deg, self.launch.lon_deg
        return None


@dataclass
class _Seen:
    """How far into each of a centre's growing lists the recorder has read."""

    impacts: int = 0
    received_impacts: int = 0
    alerts: int = 0
    received_alerts: int = 0


class HistoryRecorder:
    """Record what nations hold at each tick; ``nations=None`` records every nation."""

    def __init__(self, nations: Collection[str] | None = None) -> None:
        self._wanted = None if nations is None else frozenset(nations)
        self._histories: dict[str, NationHistory] = {}
        self._seen: dict[str, _Seen] = {}

    def __call__(self, step: StepView) -> None:
        """Record one tick (the ``on_step`` hook of ``run_event``)."""
        for nation, center in step.centers.items():
            if self._wanted is not None and nation not in self._wanted:
                continue
            hist = self._histories.setdefault(nation, NationHistory(nation))
            seen = self._seen.setdefault(nation, _Seen())
            hist.ticks_s.append(step.t_s)
            _record_tracks(hist, center)
            hist.impacts += center.impacts[seen.impacts :]
            hist.impacts += center.received_impacts[seen.received_impacts :]
            hist.alerts += center.lifecycle.alerts[seen.alerts :]
            hist.alerts += center.received_alerts[seen.received_alerts :]
            seen.impacts = len(center.impacts)
            seen.received_impacts = len(center.received_impacts)
            seen.alerts = len(center.lifecycle.alerts)
            seen.received_alerts = len(center.received_alerts)
            hist.launch = center.best_launch()

    @property
    def nations(self) -> tuple[str, ...]:
        """The nations recorded so far."""
        return tuple(self._histories)

    def history(self, nation: str) -> NationHistory:
        """What ``nation`` held over the run."""
        if nation not in self._histories:
            known = ", ".join(self._histories) or "none yet"
            raise ConfigError(
                f"no history was recorded for nation {nation!r} (recorded: {known})",
                field="nation",
                fix="record that nation (HistoryRecorder(nations=...)) and run the event with "
                "on_step=recorder first",
            )
        return self._histories[nation]


def _record_tracks(hist: NationHistory, center: WarningCenter) -> None:
    """Append each system track's fused state when it is newer than the last recorded."""
    for st in center.picture.system_tracks():
        fused = st.fused
        if fused is None:
            continue
        track = hist.tracks.setdefault(st.system_id, TrackHistory(st.system_id))
        if not track.states or fused.t_s > track.states[-1].t_s:
            track.states.append(fused)
