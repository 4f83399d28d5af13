"""A node's warning centre: launch alert, impact predictions, and the final summary.

Stepped once per simulation tick after the picture is updated. The first confirmed
system track raises the launch alert with the best launch estimate the picture allows;
once the fused track is in free flight, an impact prediction is made every
``impact_period_s``. Both are shared with partners as messages. Received launch
estimates count toward this node's summary: the partner that saw the boost best tells
the others when and where it started.

The nation's own space-infrared lines of sight (:meth:`WarningCenter.add_infrared`) join
its tracks in the launch estimate (:func:`~trilink.alerting.launch.estimate_launch`):
the fit back to the launch point takes over from the closed form when it reports the
smaller uncertainty. As the track's boost lengthens the fit improves, so for
``launch_update_window_s`` after the alert the estimate is redone every
``launch_update_period_s`` and a new one issued (an update of the alert) when its
launch-time uncertainty falls below ``launch_update_factor`` times the last issued one's
and its 95 % radius is no larger.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from trilink.alerting.impact import predict_impact
from trilink.alerting.launch import estimate_launch
from trilink.alerting.lifecycle import AlertLifecycle
from trilink.alerting.summary import Summary, iso_utc, site_name
from trilink.fusion.picture import Picture, SystemTrack
from trilink.geo.earth import (
    GM_M3_S2,
    altitude_m,
    ecef_to_geodetic,
    enu_rotation,
    surface_distance_m,
)
from trilink.sensors.infrared import LineOfSight
from trilink.tracking.tracker import IR_KEEP_S
from trilink.types import Alert, ImpactPrediction, LaunchEstimate, Track
from trilink.world.library import Library

__all__ = ["EstimateFault", "WarningCenter"]


@dataclass(frozen=True, slots=True)
class EstimateFault:
    """An exercise inject: a bad early estimate. Until ``until_t_s`` (POSIX seconds) the
    state a nation predicts impacts from has ``dv_enu_m_s`` (east, north, up, m/s, at the
    track's position) added to its velocity — as a wrong early track would, before
    more sensors and fusion correct it (the 13 April 2023 J-Alert correction)."""

    nation: str
    until_t_s: float
    dv_enu_m_s: tuple[float, float, float]

    def apply(self, track: Track) -> Track:
        lat, lon, _ = ecef_to_geodetic(track.state[:3])
        rot = enu_rotation(math.radians(float(lat)), math.radians(float(lon)))
        state = track.state.copy()
        state[3:6] += rot.T @ np.asarray(self.dv_enu_m_s, dtype=np.float64)
        return dataclasses.replace(track, state=state)


@dataclass
class WarningCenter:
    """Warnings of one nation, from its picture."""

    nation: str
    picture: Picture
    impact_period_s: float = 10.0
    min_updates_for_impact: int = 10
    coast_s: float = 20.0
    first_alert_t_s: float | None = None
    launch_estimates: list[LaunchEstimate] = field(default_factory=list)
    impacts: list[ImpactPrediction] = field(default_factory=list)
    received_impacts: list[ImpactPrediction] = field(default_factory=list)
    infrared: list[LineOfSight] = field(default_factory=list)
    launch_update_window_s: float = 120.0
    launch_update_period_s: float = 10.0
    launch_update_factor: float = 0.8
    received_alerts: list[Alert] = field(default_factory=list)
    fault: EstimateFault | None = None
    lifecycle: AlertLifecycle = field(init=False)
    _last_impact_t_s: float = -np.inf
    _last_launch_t_s: float = -np.inf
    _own_launch: LaunchEstimate | None = None

    def __post_init__(self) -> None:
        self.lifecycle = AlertLifecycle.for_nation(self.nation)

    def add_infrared(self, lines: list[LineOfSight]) -> None:
        """Take this nation's space-infrared lines of sight (any order), for the launch
        estimate; lines older than ``IR_KEEP_S`` before the newest are dropped."""
        if not lines:
            return
        self.infrared.extend(lines)
        self.infrared.sort(key=lambda ln: ln.t_s)
        horizon = self.infrared[-1].t_s - IR_KEEP_S
        if self.infrared[0].t_s < horizon:
            self.infrared = [ln for ln in self.infrared if ln.t_s >= horizon]

    def main_track(self) -> SystemTrack | None:
        """The threat object: among the established system tracks (at least
        ``min_updates_for_impact`` updates), the one of the highest specific orbital
        energy — after staging the reentry vehicle carries the upper stages' energy and a
        spent stage falls short; a lofted RV out of radar cover near apogee stays the
        threat while a stage is still tracked. Without an established track, the one
        with the longest history."""
        tracks = [s for s in self.picture.system_tracks() if s.fused is not None]
        if not tracks:
            return None
        established = [
            s
            for s in tracks
            if s.fused is not None and s.fused.n_updates >= self.min_updates_for_impact
        ]
        if established:
            return max(established, key=lambda s: _specific_energy(s.fused))
        return max(tracks, key=lambda s: sum(len(h) for h in s.members.values()))

    def step(self, t_s: float) -> list[LaunchEstimate | ImpactPrediction | Alert]:
        """Advance to ``t_s``; return the products to share: launch estimates, impact
        predictions and the alerts of this nation's lifecycle
        (:class:`~trilink.alerting.lifecycle.AlertLifecycle`)."""
        st = self.main_track()  # once per tick: it scans every system track
        out: list[LaunchEstimate | ImpactPrediction | Alert] = list(self._products(t_s, st))
        alive = st is not None and st.fused is not None and t_s - st.fused.t_s <= self.coast_s
        out += self.lifecycle.step(
            t_s, launch=self.best_launch(), impacts=self.impacts, track_alive=alive
        )
        return out

    def _products(
        self, t_s: float, st: SystemTrack | None
    ) -> list[LaunchEstimate | ImpactPrediction]:
        out: list[LaunchEstimate | ImpactPrediction] = []
        if st is None or st.fused is None:
            return out
        if self.first_alert_t_s is None:
            est = self._own_launch_estimate(st)
            if est is not None:
                self.first_alert_t_s = t_s
                self._last_launch_t_s = t_s
                self._own_launch = est
                self.launch_estimates.append(est)
                out.append(est)
        elif (
            self._own_launch is not None
            and t_s - self.first_alert_t_s <= self.launch_update_window_s
            and t_s - self._last_launch_t_s >= self.launch_update_period_s
        ):
            self._last_launch_t_s = t_s
            est = self._own_launch_estimate(st)
            last = self._own_launch
            if (
                est is not None
                and est.t_sigma_s < self.launch_update_factor * last.t_sigma_s
                and est.radius_95_m <= last.radius_95_m
            ):
                self._own_launch = est
                self.launch_estimates.append(est)
                out.append(est)
        fused = st.fused
        if (
            self._coasting(st, fused.t_s)
            and fused.n_updates >= self.min_updates_for_impact
            and t_s - self._last_impact_t_s >= self.impact_period_s
            and t_s - fused.t_s <= 5.0
        ):
            past = np.array([h.state[:3] for h in st.fused_history])
            if self.fault is not None and t_s < self.fault.until_t_s:
                fused = self.fault.apply(fused)
            imp = predict_impact(
                fused,
                past_path_ecef=past,
                past_max_alt_m=float(np.max(altitude_m(past))),
                past_t_s=np.array([h.t_s for h in st.fused_history]),
            )
            if imp is not None:
                self._last_impact_t_s = t_s
                self.impacts.append(imp)
                out.append(imp)
        return out

    def _coasting(self, st: SystemTrack, t_s: float) -> bool:
        """In free flight for at least ``coast_s``: every fused estimate of the last
        ``coast_s`` seconds says no thrust, and the track is older than that (a young
        track's motion model has not yet told boost from coast)."""
        history = st.fused_history
        if not history or history[0].t_s > t_s - self.coast_s:
            return False
        return not any(h.thrusting for h in history if h.t_s >= t_s - self.coast_s)

    def _own_launch_estimate(self, st: SystemTrack) -> LaunchEstimate | None:
        lines = self.infrared
        ests = [e for h in st.members.values() if (e := estimate_launch(h, lines)) is not None]
        if not ests:
            return None
        return dataclasses.replace(min(ests, key=lambda e: e.t_sigma_s), nation=self.nation)

    def best_launch(self) -> LaunchEstimate | None:
        if not self.launch_estimates:
            return None
        return min(self.launch_estimates, key=lambda e: (e.t_sigma_s, e.radius_95_m))

    def summary(self, library: Library) -> Summary | None:
        """This nation's announcement after the event (None if it never saw it)."""
        launch = self.best_launch()
        if launch is None or not self.impacts:
            return None
        imp = self.impacts[-1]
        return Summary(
            launch_time_utc=iso_utc(launch.t_launch_s),
            launch_site=site_name(launch.lat_deg, launch.lon_deg, library),
            launch_lat=launch.lat_deg,
            launch_lon=launch.lon_deg,
            # The highest apogee any prediction saw: a track may be lost near apogee (out of
            # radar range) and re-acquired on the way down.
            apogee_km=max(i.apogee_m for i in self.impacts) / 1e3,
            range_km=surface_distance_m(launch.lat_deg, launch.lon_deg, imp.lat_deg, imp.lon_deg)
            / 1e3,
            flight_time_s=imp.t_impact_s - launch.t_launch_s,
            impact_lat=imp.lat_deg,
            impact_lon=imp.lon_deg,
            impact_in_japan_eez=imp.eez_verdict == "inside",
            overflight_japan=bool(imp.overflight),
            overflight_regions=imp.overflight,
        )


def _specific_energy(track: Track | None) -> float:
    """Specific orbital energy v²/2 − μ/r (J/kg) of a track's state (ECEF velocity: the
    Earth's rotation adds alike to objects on the same path)."""
    if track is None:
        return -np.inf
    r = float(np.linalg.norm(track.state[:3]))
    v = float(np.linalg.norm(track.state[3:6]))
    return 0.5 * v * v - GM_M3_S2 / r
