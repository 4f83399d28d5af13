"""A nation's public alert lifecycle, in the stages of Japan's J-Alert (SIMULATION).

:class:`AlertLifecycle` is a deterministic state machine over the warning products a
nation's warning centre holds: its launch estimate and its stream of impact predictions
(:class:`~trilink.types.LaunchEstimate`, :class:`~trilink.types.ImpactPrediction`). Each
:meth:`AlertLifecycle.step` takes the time and what is held, and returns the
:class:`~trilink.types.alert.Alert` messages issued at that step. It does no I/O and
reads no clock: the same inputs give the same alerts.

The source is the public practice of J-Alert missile messages (Cabinet Secretariat,
Civil Protection Portal; Fire and Disaster Management Agency, the J-Alert message
texts):

- *launch*: "Missile launched. A missile appears to have been launched from North Korea.
  Take shelter in a building or underground." J-Alert sends it only to the areas the
  missile may reach; other nations warn their own people of every launch.
- *evacuate*: "Evacuate immediately ... a missile may fall" (or fly over), naming the
  prefectures, when the missile may fly over or fall on the nation's land or waters.
- *passed over*: "The missile appears to have passed over this area (toward the
  Pacific)."
- *fell*: where it came down: within Japan's EEZ, outside it, or on land.
- *correction*: on 13 April 2023 J-Alert told Hokkaido to shelter from a predicted fall
  around Hokkaido; 21 minutes later it announced the missile was no longer expected to
  fall on or near Hokkaido — a correction of the earlier message, after the track showed
  the danger had moved away.

The rules (all thresholds are fields of :class:`AlertLifecycle`):

1. **launch** — once, at the first launch estimate (:attr:`LaunchRule.ALWAYS`), or, for
   :attr:`LaunchRule.AT_RISK` (Japan's practice), at the first prediction that puts the
   nation's territory at risk before the predicted time; the launch then names the
   areas at risk and the evacuate follows in the same step. Nothing precedes it.
2. **evacuate** — when a prediction puts areas at risk (its :class:`Threat`, from the
   nation's ``assess`` function: overflown prefectures, an impact on land, in the EEZ or
   near its boundary) while no warning stands, and only *before* the predicted time the
   alert names: the entry over the first named area still ahead of the missile when the
   prediction carries entry times, else the predicted impact time.
3. **update** — while a warning stands: at once when a prediction adds areas (danger is
   never held back), or when the predicted time moves by more than ``update_time_s``;
   again only before the predicted time.
4. **correction** / **cancel** — when named areas have been absent from the latest
   ``confirm_predictions`` predictions or more in a row, the run spanning at least
   ``confirm_s``, so one outlier does not flap the warning. A correction names the areas
   still at risk; a cancel is issued when none remain, and ends the warning (a later
   threat raises a new evacuate). Both name the standing evacuate/update in
   ``correction_of``.
5. **passed over** — when the warning named overflown areas and the last of them is
   behind the missile: its predicted overflight time plus ``pass_margin_s`` has passed
   (without overflight times: when the impact time has passed). Ends the warning. Not
   for a missile predicted to come down on the nation's land.
6. **fell on land / in EEZ / outside EEZ** — once the last prediction's impact time,
   plus ``impact_margin_sigma`` times its ``t_impact_sigma_s`` when it has one, has
   passed; from the :class:`Threat`'s land and the prediction's EEZ verdict. At most one.
7. **all clear** — after the verdict, once ``all_clear_delay_s`` has passed since the
   predicted impact, or at once when the track has ended. Nothing follows it.

Territories: :func:`japan_assessor` (overflown Japanese prefectures, or land regions;
impact on Japanese land, in or near Japan's EEZ), :func:`korea_assessor` (overflight of
or impact on South Korea; a predicate for Korean waters can be plugged in) and
:func:`no_homeland` (the United States: no homeland at risk in these events, so only
launch and verdicts). :meth:`AlertLifecycle.for_nation` picks them by nation. They read
the prediction's optional fields (``overflight_prefectures`` and entry times,
``korea_overflight``, ``impact_land``, ``t_impact_sigma_s``) when it has them, and do
without otherwise; an entry time of NaN (an entry on the track's past) counts as behind.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from trilink.errors import ConfigError
from trilink.types import ImpactPrediction, LaunchEstimate
from trilink.types.alert import Alert, AlertStage

__all__ = [
    "JAPAN_WATERS",
    "SOUTH_KOREA",
    "AlertLifecycle",
    "Assess",
    "LaunchRule",
    "LifecyclePhase",
    "Threat",
    "japan_assessor",
    "korea_assessor",
    "no_homeland",
]

SOUTH_KOREA = "South Korea"
"""The name of South Korea's land, as the shipped land data and predictions give it."""
_KOREAS = (SOUTH_KOREA, "North Korea")

JAPAN_WATERS = "waters around Japan"
"""The area named when an impact threatens Japan's EEZ and no land is named."""

_AT_RISK_EEZ = frozenset({"inside", "joint-or-disputed"})
_LABEL = "SIMULATION — "


@dataclass(frozen=True, slots=True)
class Threat:
    """What one impact prediction means for a nation's territory.

    ``areas``: the areas at risk, in order (overflown first, then near the impact);
    empty when nothing is at risk. ``overflown``: those the missile flies over before
    coming down; ``overflown_t_s``: when it enters each (POSIX seconds; ``-inf`` when
    already behind it; empty when not known). ``land``: the nation's land the impact is
    predicted on, else ``None``.
    """

    areas: tuple[str, ...] = ()
    overflown: tuple[str, ...] = ()
    overflown_t_s: tuple[float, ...] = ()
    land: str | None = None

    def entry_t_s(self, area: str) -> float | None:
        """When the missile enters ``area`` (``None``: not overflown or not known)."""
        if area not in self.overflown or len(self.overflown_t_s) != len(self.overflown):
            return None
        return self.overflown_t_s[self.overflown.index(area)]

    @property
    def at_risk(self) -> bool:
        return bool(self.areas)


Assess = Callable[[ImpactPrediction], Threat]
"""A nation's judgement of an impact prediction: which of its areas are at risk."""


def no_homeland(pred: ImpactPrediction) -> Threat:
    """Nothing of the nation is at risk (the United States in these events)."""
    return Threat()


def japan_assessor(
    *,
    land_at_impact: Callable[[ImpactPrediction], str | None] | None = None,
    areas_near_impact: Callable[[ImpactPrediction], tuple[str, ...]] | None = None,
    warn_eez: bool = True,
) -> Assess:
    """Japan's territory: the overflown prefectures of a prediction (its land regions when
    it names no prefectures), and its impact when in Japan's EEZ, a joint/disputed area,
    near the EEZ boundary, or on Japanese land.

    ``land_at_impact`` names the Japanese land the impact is on (``None`` at sea); by
    default the prediction's ``impact_land`` when it is Japanese. ``areas_near_impact``
    names the areas to warn of an impact in the EEZ; by default the last overflown area,
    or :data:`JAPAN_WATERS` when none. ``warn_eez`` false warns of overflight and of
    falls on land only: J-Alert's own practice, which issued no alert for the falls in
    the EEZ of 28 July 2017 and 18 November 2022; true (the default) follows issue 7.
    """

    def assess(pred: ImpactPrediction) -> Threat:
        land = (land_at_impact or _japanese_impact_land)(pred)
        names, times = _japan_overflight(pred)
        in_eez = pred.eez_verdict in _AT_RISK_EEZ or pred.eez_near_boundary
        impact_at_risk = land is not None or (warn_eez and in_eez)
        near: tuple[str, ...] = ()
        if land is not None:
            near = (land,)
        elif impact_at_risk and areas_near_impact is not None:
            near = areas_near_impact(pred)
        elif impact_at_risk:
            near = names[-1:] or (JAPAN_WATERS,)
        return Threat(areas=_union(names, near), overflown=names, overflown_t_s=times, land=land)

    return assess


def _japanese_impact_land(pred: ImpactPrediction) -> str | None:
    land = getattr(pred, "impact_land", None)
    return None if land in (None, *_KOREAS) else str(land)


def _japan_overflight(pred: ImpactPrediction) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """Overflown Japanese prefectures and their entry times, or else the land regions."""
    prefectures = tuple(getattr(pred, "overflight_prefectures", ()) or ())
    if prefectures:
        times = getattr(pred, "overflight_prefecture_times_s", ())
        return prefectures, _entry_times(times, len(prefectures))
    return pred.overflight, _entry_times(
        getattr(pred, "overflight_times_s", ()), len(pred.overflight)
    )


def _entry_times(times: Sequence[float] | None, n: int) -> tuple[float, ...]:
    """Entry times parallel to ``n`` areas (NaN, an entry in the past, as ``-inf``), or
    empty when they do not pair up."""
    out = tuple(-math.inf if math.isnan(t) else float(t) for t in times or ())
    return out if len(out) == n else ()


def korea_assessor(
    at_risk: Callable[[ImpactPrediction], bool] | None = None,
    *,
    on_land: Callable[[ImpactPrediction], bool] | None = None,
    area: str = SOUTH_KOREA,
) -> Assess:
    """South Korea's territory: at risk when ``at_risk`` says so (the impact may fall on
    Korean land or in Korean waters) or the prediction overflies it, on land when
    ``on_land`` says so. By default both read the prediction (``korea_overflight``,
    ``impact_land``): overflight of or impact on South Korea."""

    def assess(pred: ImpactPrediction) -> Threat:
        names = tuple(getattr(pred, "korea_overflight", ()) or ())
        times = _entry_times(getattr(pred, "korea_overflight_times_s", ()), len(names))
        over = (area,) if SOUTH_KOREA in names else ()
        over_t = (times[names.index(SOUTH_KOREA)],) if over and times else ()
        landed = on_land(pred) if on_land is not None else _impact_land(pred) == SOUTH_KOREA
        land = area if landed else None
        risk = land is not None or (at_risk(pred) if at_risk is not None else False)
        areas = _union(over, (area,) if risk else ())
        return Threat(areas=areas, overflown=over, overflown_t_s=over_t, land=land)

    return assess


def _impact_land(pred: ImpactPrediction) -> str | None:
    land = getattr(pred, "impact_land", None)
    return None if land is None else str(land)


class LaunchRule(StrEnum):
    """When a nation issues its launch alert."""

    ALWAYS = "always"
    """At the first launch estimate: every nation warns its people of every launch."""
    AT_RISK = "at-risk"
    """Only once a prediction puts the nation's territory at risk (J-Alert)."""


class LifecyclePhase(StrEnum):
    """Where a nation's alert lifecycle stands."""

    WAITING = "waiting"
    """Nothing issued yet."""
    LAUNCHED = "launched"
    """Launch issued; no warning stands (none yet, or cancelled)."""
    WARNING = "warning"
    """An evacuate (and its updates and corrections) stands."""
    PASSED = "passed"
    """The missile passed over the named areas."""
    FELL = "fell"
    """Where it fell was announced."""
    CLOSED = "closed"
    """All clear: nothing more is issued."""


@dataclass(frozen=True, slots=True)
class _Seen:
    pred: ImpactPrediction
    threat: Threat


@dataclass
class AlertLifecycle:
    """The alert lifecycle of one nation (see the module docstring for the rules).

    ``alerts`` holds every alert issued so far, in order.
    """

    nation: str = field(metadata={"doc": "the nation issuing the alerts (ISO alpha-3)"})
    assess: Assess = field(
        default=no_homeland, metadata={"doc": "which of the nation's areas a prediction risks"}
    )
    launch_rule: LaunchRule = field(
        default=LaunchRule.ALWAYS, metadata={"doc": "when the launch alert goes out"}
    )
    confirm_predictions: int = field(
        default=2, metadata={"doc": "predictions an area must be absent from to correct"}
    )
    confirm_s: float = field(
        default=0.0, metadata={"doc": "and the seconds those predictions must span"}
    )
    update_time_s: float = field(
        default=30.0, metadata={"doc": "shift of the predicted time that makes an update"}
    )
    pass_margin_s: float = field(
        default=60.0, metadata={"doc": "after entering the last named area, it is behind"}
    )
    impact_margin_sigma: float = field(
        default=2.0, metadata={"doc": "impact-time sigmas to wait before the verdict"}
    )
    all_clear_delay_s: float = field(
        default=60.0, metadata={"doc": "after the predicted impact, the all-clear"}
    )
    alerts: list[Alert] = field(default_factory=list, init=False)
    _phase: LifecyclePhase = field(default=LifecyclePhase.WAITING, init=False, repr=False)
    _launch: LaunchEstimate | None = field(default=None, init=False, repr=False)
    _seen: list[_Seen] = field(default_factory=list, init=False, repr=False)
    _named: tuple[str, ...] = field(default=(), init=False, repr=False)
    _warning_id: str | None = field(default=None, init=False, repr=False)
    _warning_t_s: float = field(default=0.0, init=False, repr=False)
    _warning_ref: str | None = field(default=None, init=False, repr=False)
    _last_t_s: float = field(default=-math.inf, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.confirm_predictions < 1:
            raise ConfigError(
                f"confirm_predictions is {self.confirm_predictions}",
                field="confirm_predictions",
                fix="give 1 or more (1 corrects on the first prediction that moves away)",
            )
        for name in (
            "confirm_s",
            "update_time_s",
            "pass_margin_s",
            "impact_margin_sigma",
            "all_clear_delay_s",
        ):
            value = getattr(self, name)
            if not value >= 0.0:
                raise ConfigError(f"{name} is {value}", field=name, fix="give 0 or more")

    @classmethod
    def for_nation(
        cls,
        nation: str,
        *,
        korea_at_risk: Callable[[ImpactPrediction], bool] | None = None,
        korea_on_land: Callable[[ImpactPrediction], bool] | None = None,
        japan_land_at_impact: Callable[[ImpactPrediction], str | None] | None = None,
    ) -> AlertLifecycle:
        """The lifecycle of ``nation`` with its territory: JPN warns as J-Alert does
        (launch only when at risk, :func:`japan_assessor`), KOR by
        :func:`korea_assessor` with ``korea_at_risk`` and ``korea_on_land`` plugged in,
        every other nation has no homeland at risk."""
        if nation == "JPN":
            assess = japan_assessor(land_at_impact=japan_land_at_impact)
            return cls(nation, assess=assess, launch_rule=LaunchRule.AT_RISK)
        if nation == "KOR":
            return cls(nation, assess=korea_assessor(korea_at_risk, on_land=korea_on_land))
        return cls(nation)

    @property
    def phase(self) -> LifecyclePhase:
        return self._phase

    def step(
        self,
        t_s: float,
        *,
        launch: LaunchEstimate | None = None,
        impacts: Sequence[ImpactPrediction] = (),
        track_alive: bool = True,
    ) -> list[Alert]:
        """Advance to ``t_s`` (POSIX seconds; never backwards) and return the alerts issued.

        ``launch`` is the best launch estimate held (``None``: none yet); ``impacts`` the
        predictions held, oldest first — those valid after the last one seen are taken,
        in order. ``track_alive`` false says the track has ended (after the verdict, the
        all-clear follows at once).
        """
        if t_s < self._last_t_s:
            raise ValueError(
                f"step at t_s={t_s} is {self._last_t_s - t_s:.3f} s before the last step "
                f"(t_s={self._last_t_s}); step in time order"
            )
        self._last_t_s = t_s
        first = len(self.alerts)
        if launch is not None:
            self._launch = launch
        if self._phase is LifecyclePhase.CLOSED:
            return []
        if self._phase is LifecyclePhase.WAITING and self._launch is not None:
            if self.launch_rule is LaunchRule.ALWAYS:
                self._issue_launch(t_s, ())
        newest = self._seen[-1].pred.t_valid_s if self._seen else float("-inf")
        for pred in impacts:
            if pred.t_valid_s > newest:
                newest = pred.t_valid_s
                self._on_prediction(t_s, _Seen(pred, self.assess(pred)))
        self._on_time(t_s, track_alive)
        return self.alerts[first:]

    # -- predictions --------------------------------------------------------------------

    def _on_prediction(self, t_s: float, seen: _Seen) -> None:
        self._seen.append(seen)
        if self._phase in (LifecyclePhase.PASSED, LifecyclePhase.FELL, LifecyclePhase.CLOSED):
            return
        threat = seen.threat
        predicted, ref = _predicted(seen.pred, threat, threat.areas, t_s)
        if self._phase is LifecyclePhase.WAITING:
            if self._launch is None or not (threat.at_risk and t_s < predicted):
                return
            self._issue_launch(t_s, threat.areas)
        if self._phase is LifecyclePhase.LAUNCHED:
            if threat.at_risk and t_s < predicted:
                self._warn(t_s, AlertStage.EVACUATE, threat.areas, seen.pred, (predicted, ref))
            return
        self._revise(t_s, seen)

    def _revise(self, t_s: float, seen: _Seen) -> None:
        """A new prediction while a warning stands: update, correction or cancel."""
        threat = seen.threat
        added = tuple(a for a in threat.areas if a not in self._named)
        if added:
            named = self._named + added
            predicted, ref = _predicted(seen.pred, threat, named, t_s)
            if t_s < predicted:
                self._warn(t_s, AlertStage.UPDATE, named, seen.pred, (predicted, ref))
            return
        dropped = self._confirmed_dropped()
        if dropped:
            self._correct(t_s, dropped, seen.pred)
            return
        now_t_s = _time_of(seen.pred, threat, self._warning_ref)
        if threat.at_risk and now_t_s is not None and t_s < now_t_s:
            if abs(now_t_s - self._warning_t_s) > self.update_time_s:
                pair = (now_t_s, self._warning_ref)
                self._warn(t_s, AlertStage.UPDATE, self._named, seen.pred, pair)

    def _confirmed_dropped(self) -> tuple[str, ...]:
        """Named areas absent from the latest ``confirm_predictions`` predictions or more
        in a row, the run spanning at least ``confirm_s``."""
        return tuple(a for a in self._named if self._absence_confirmed(a))

    def _absence_confirmed(self, area: str) -> bool:
        run = 0
        for seen in reversed(self._seen):
            if area in seen.threat.areas:
                break
            run += 1
        if run < self.confirm_predictions:
            return False
        span_s = self._seen[-1].pred.t_valid_s - self._seen[-run].pred.t_valid_s
        return span_s >= self.confirm_s

    # -- time ---------------------------------------------------------------------------

    def _on_time(self, t_s: float, track_alive: bool) -> None:
        """What the passing of time ends: the overflight, the flight, the alert."""
        if not self._seen or self._phase in (LifecyclePhase.WAITING, LifecyclePhase.CLOSED):
            return
        last = self._seen[-1]
        impact_t_s = last.pred.t_impact_s + self.impact_margin_sigma * _impact_sigma_s(last.pred)
        if self._phase is LifecyclePhase.WARNING and last.threat.land is None:
            passed = tuple(a for a in self._named if a in last.threat.overflown)
            if passed and t_s >= min(self._pass_t_s(last.threat, passed), impact_t_s):
                self._issue(t_s, AlertStage.PASSED_OVER, last.pred, prefectures=passed)
                self._phase = LifecyclePhase.PASSED
        if self._phase is not LifecyclePhase.FELL and t_s >= impact_t_s:
            self._verdict(t_s, last)
        if self._phase is LifecyclePhase.FELL and (
            not track_alive or t_s >= last.pred.t_impact_s + self.all_clear_delay_s
        ):
            self._issue(t_s, AlertStage.ALL_CLEAR, last.pred)
            self._phase = LifecyclePhase.CLOSED

    def _pass_t_s(self, threat: Threat, passed: tuple[str, ...]) -> float:
        """When the last of ``passed`` is behind the missile (inf when unknown)."""
        times = [threat.entry_t_s(a) for a in passed]
        known = [t for t in times if t is not None]
        if len(known) < len(times):
            return math.inf
        return max(known) + self.pass_margin_s

    def _verdict(self, t_s: float, last: _Seen) -> None:
        land = last.threat.land
        if land is not None:
            stage = AlertStage.FELL_ON_LAND
        elif last.pred.eez_verdict == "inside":
            stage = AlertStage.FELL_IN_EEZ
        else:
            stage = AlertStage.FELL_OUTSIDE_EEZ
        where = (land,) if land is not None else ()
        self._issue(t_s, stage, last.pred, prefectures=where)
        self._phase = LifecyclePhase.FELL

    # -- issuing ------------------------------------------------------------------------

    def _issue_launch(self, t_s: float, areas: tuple[str, ...]) -> None:
        self._issue(t_s, AlertStage.LAUNCH, None, prefectures=areas)
        self._phase = LifecyclePhase.LAUNCHED

    def _warn(
        self,
        t_s: float,
        stage: AlertStage,
        areas: tuple[str, ...],
        pred: ImpactPrediction,
        predicted: tuple[float, str | None],
    ) -> None:
        t_named, ref = predicted
        alert = self._issue(t_s, stage, pred, prefectures=areas, predicted_t_s=t_named)
        self._phase = LifecyclePhase.WARNING
        self._named = areas
        self._warning_id = alert.alert_id
        self._warning_t_s = t_named
        self._warning_ref = ref

    def _correct(self, t_s: float, dropped: tuple[str, ...], pred: ImpactPrediction) -> None:
        remaining = tuple(a for a in self._named if a not in dropped)
        stage = AlertStage.CORRECTION if remaining else AlertStage.CANCEL
        self._issue(
            t_s,
            stage,
            pred,
            prefectures=remaining,
            correction_of=self._warning_id,
            dropped=dropped,
        )
        self._named = remaining
        if not remaining:
            self._phase = LifecyclePhase.LAUNCHED
            self._warning_id = None

    def _issue(
        self,
        t_s: float,
        stage: AlertStage,
        pred: ImpactPrediction | None,
        *,
        prefectures: tuple[str, ...] = (),
        predicted_t_s: float | None = None,
        correction_of: str | None = None,
        dropped: tuple[str, ...] = (),
    ) -> Alert:
        alert_id = f"{self.nation}-A{len(self.alerts) + 1:03d}"
        alert = Alert(
            alert_id=alert_id,
            nation=self.nation,
            t_s=t_s,
            stage=stage,
            text=_text(stage, prefectures, predicted_t_s, correction_of, dropped, pred),
            prefectures=prefectures,
            predicted_t_s=predicted_t_s,
            eez_verdict="" if pred is None else pred.eez_verdict,
            correction_of=correction_of,
            launch_time_s=None if self._launch is None else self._launch.t_launch_s,
            impact_lat_deg=None if pred is None else pred.lat_deg,
            impact_lon_deg=None if pred is None else pred.lon_deg,
        )
        self.alerts.append(alert)
        return alert


# -- helpers ----------------------------------------------------------------------------


def _union(first: tuple[str, ...], then: tuple[str, ...]) -> tuple[str, ...]:
    """``first`` followed by the names of ``then`` not already in it."""
    return first + tuple(dict.fromkeys(a for a in then if a not in first))


def _impact_sigma_s(pred: ImpactPrediction) -> float:
    """The prediction's 1-sigma impact-time uncertainty (0 when absent or not finite)."""
    sigma = getattr(pred, "t_impact_sigma_s", None)
    return float(sigma) if sigma is not None and math.isfinite(sigma) else 0.0


def _predicted(
    pred: ImpactPrediction, threat: Threat, areas: tuple[str, ...], t_s: float
) -> tuple[float, str | None]:
    """The time an alert about ``areas`` names at ``t_s``, and the area it is the entry
    into (``None``: the impact). The entry into the first area still ahead of the
    missile; the impact time for an area whose entry is not known (one near the impact,
    or a prediction without overflight times). When every area is behind the missile,
    the last entry (not after ``t_s``: too late to warn)."""
    entries: list[tuple[float, str]] = []
    for area in areas:
        entry = threat.entry_t_s(area)
        if entry is None:
            return pred.t_impact_s, None
        if entry > t_s:
            return min(entry, pred.t_impact_s), area
        entries.append((entry, area))
    if not entries:
        return pred.t_impact_s, None
    last_t_s, last = max(entries)
    return last_t_s, last


def _time_of(pred: ImpactPrediction, threat: Threat, area: str | None) -> float | None:
    """The predicted time of ``area`` (``None``: the impact) in a new prediction: its
    entry, or the impact time when not known; ``None`` once the area is behind."""
    entry = None if area is None else threat.entry_t_s(area)
    if entry is None:
        return pred.t_impact_s
    return entry if math.isfinite(entry) else None


def _hms(t_s: float) -> str:
    return dt.datetime.fromtimestamp(t_s, tz=dt.UTC).strftime("%H:%M:%S UTC")


def _names(areas: tuple[str, ...]) -> str:
    return ", ".join(areas) if areas else "this area"


def _text(
    stage: AlertStage,
    areas: tuple[str, ...],
    predicted_t_s: float | None,
    correction_of: str | None,
    dropped: tuple[str, ...],
    pred: ImpactPrediction | None,
) -> str:
    """The message people read, in the wording of J-Alert's missile messages."""
    when = "" if predicted_t_s is None else f" at about {_hms(predicted_t_s)}"
    where = "" if pred is None else f" ({pred.lat_deg:.1f}N {pred.lon_deg:.1f}E)"
    texts = {
        AlertStage.LAUNCH: "Missile launched. A missile appears to have been launched from "
        "North Korea. Take shelter in a building or underground.",
        AlertStage.EVACUATE: f"Evacuate immediately. The missile may fly over or fall on "
        f"{_names(areas)}{when}. Take shelter in a building or underground now.",
        AlertStage.UPDATE: f"Update. The missile may fly over or fall on {_names(areas)}"
        f"{when}. Stay in shelter.",
        AlertStage.PASSED_OVER: f"Missile passed over. The missile appears to have passed "
        f"over {_names(areas)}. Do not approach anything suspicious; report it to the "
        "police or fire service.",
        AlertStage.FELL_IN_EEZ: "Missile fell. The missile appears to have fallen within "
        f"Japan's exclusive economic zone{where}.",
        AlertStage.FELL_OUTSIDE_EEZ: "Missile fell. The missile appears to have fallen "
        f"outside Japan's exclusive economic zone{where}.",
        AlertStage.FELL_ON_LAND: f"Missile fell. The missile appears to have fallen on "
        f"{_names(areas)}{where}. Do not approach anything suspicious; report it to the "
        "police or fire service.",
        AlertStage.ALL_CLEAR: "All clear. The missile threat has ended; you may leave shelter.",
        AlertStage.CORRECTION: f"Correction of {correction_of}. The missile is no longer "
        f"expected to fly over or fall on {_names(dropped)}. Still at risk: "
        f"{_names(areas)}.",
        AlertStage.CANCEL: f"Correction of {correction_of}. The missile is no longer "
        f"expected to fly over or fall on {_names(dropped)}. The shelter warning is "
        "cancelled.",
    }
    return _LABEL + texts[stage]
