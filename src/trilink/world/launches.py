"""From a launch record (or a user's request) to a flown trajectory and its facts.

A library record gives site, date/time, missile, apogee, range and bearing, any of which
may be missing. Missing figures are filled from the missile class (``defaulted`` lists
which), a range without an apogee flies the minimum-energy shape, and a failed launch with
no figures is flown with its engine cut at half the burn. :func:`facts` reports what an
analyst compares with the public record. SIMULATION.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from trilink.geo.areas import in_japan_eez, japan_land_overflown, prefectures_overflown
from trilink.geo.earth import ecef_to_geodetic
from trilink.world.catalog import MissileClass, catalog, missile_class
from trilink.world.library import LaunchEvent
from trilink.world.trajectory import (
    MIN_ENERGY_APOGEE_RATIO,
    LaunchSpec,
    Shape,
    Steering,
    Trajectory,
    fly,
    solve_launch,
    solve_shape,
)

__all__ = [
    "Flight",
    "LaunchRequest",
    "disperse",
    "facts",
    "fly_event",
    "fly_request",
    "request_for",
]

DEFAULT_BEARING_DEG = 90.0
FAILURE_BURN_FRACTION = 0.5


@dataclass(frozen=True, slots=True)
class LaunchRequest:
    """What to fly: a site, a missile and either apogee + range or a shape + range."""

    lat_deg: float
    lon_deg: float
    missile: MissileClass
    bearing_deg: float
    t_launch_s: float
    range_km: float
    apogee_km: float | None = None
    shape: Shape | None = None
    failed: bool = False


@dataclass(frozen=True)
class Flight:
    """A flown launch and how it was set up."""

    trajectory: Trajectory
    request: LaunchRequest
    defaulted: tuple[str, ...] = field(default=())
    event_id: str | None = None


def _launch_time(event: LaunchEvent) -> float:
    if event.launch_time is not None:
        return event.launch_time.timestamp()
    day = event.date if len(event.date) == 10 else f"{event.date[:7]}-01"
    return dt.datetime.fromisoformat(f"{day}T00:00:00+00:00").timestamp()


def request_for(event: LaunchEvent) -> tuple[LaunchRequest, tuple[str, ...]]:
    """The launch a record describes, with the fields that had to be defaulted."""
    mc = missile_class(event.missile.key, event.missile.type)
    if event.missile.key not in catalog():
        mc = _class_for_figures(event.apogee_km, event.range_km, mc)
    defaulted: list[str] = []
    if event.missile.key != mc.key:
        defaulted.append(f"missile (flown as {mc.key})")
    if event.launch_time is None:
        defaulted.append("time_utc")
    bearing = event.bearing_deg
    if bearing is None:
        bearing = DEFAULT_BEARING_DEG
        defaulted.append("bearing_deg")
    rng, apogee, shape = event.range_km, event.apogee_km, None
    failed = event.outcome == "failure"
    if rng is None and apogee is None:
        # A failure with no figures is cut short (see fly_request); a success flies the
        # class's typical apogee and range.
        rng, apogee = mc.default_range_km, None if failed else mc.default_apogee_km
        defaulted += ["range_km", "apogee_km"]
    elif rng is None:
        assert apogee is not None
        rng = min(apogee / MIN_ENERGY_APOGEE_RATIO, mc.default_range_km)
        defaulted.append("range_km")
    elif apogee is None:
        shape = Shape.MINIMUM_ENERGY
        defaulted.append("apogee_km (minimum-energy shape)")
    request = LaunchRequest(
        lat_deg=event.site.lat_deg,
        lon_deg=event.site.lon_deg,
        missile=mc,
        bearing_deg=bearing,
        t_launch_s=_launch_time(event),
        range_km=rng,
        apogee_km=apogee,
        shape=shape,
        failed=failed,
    )
    return request, tuple(defaulted)


def _class_for_figures(
    apogee_km: float | None, range_km: float | None, fallback: MissileClass
) -> MissileClass:
    """For an unidentified missile, the smallest class the published figures call for."""
    apogee, rng = apogee_km or 0.0, range_km or 0.0
    if apogee == 0.0 and rng == 0.0:
        return fallback
    if 0.0 < apogee < 0.15 * rng and rng <= 1000.0:
        return catalog()["hwasong-11a"]  # a depressed, long shot: the pull-up SRBM family
    if apogee > 2500.0:
        return catalog()["hwasong-15"]
    if apogee > 600.0 or rng > 1300.0:
        return catalog()["hwasong-12"]
    if apogee > 150.0 or rng > 550.0:
        return catalog()["nodong"]
    return catalog()["scud-c"]


def fly_request(request: LaunchRequest, *, strict: bool = False) -> Trajectory:
    """Fly a request: solved for apogee and range, for a shape, or a failure cut short."""
    spec = LaunchSpec(
        lat_deg=request.lat_deg,
        lon_deg=request.lon_deg,
        bearing_deg=request.bearing_deg,
        t_launch_s=request.t_launch_s,
        missile=request.missile,
    )
    if request.failed:
        # A failure flies its first stage only, as one body; with no published figures the
        # engine is cut at half that stage's burn.
        m = request.missile
        first = dataclasses.replace(m, stages=m.stages[:1], separates=False)
        spec = dataclasses.replace(spec, missile=first)
        if request.apogee_km is None:
            cutoff = max(m.vertical_rise_s + 2.0, FAILURE_BURN_FRACTION * first.burn_time_s)
            return fly(spec, Steering(60.0, cutoff))
    if request.apogee_km is None:
        return solve_shape(
            spec,
            shape=request.shape or Shape.MINIMUM_ENERGY,
            range_km=request.range_km,
            strict=strict,
        )
    return solve_launch(spec, apogee_km=request.apogee_km, range_km=request.range_km, strict=strict)


def fly_event(event: LaunchEvent) -> Flight:
    """The truth trajectory of a library event (class defaults where the record is silent)."""
    request, defaulted = request_for(event)
    return Flight(fly_request(request), request, defaulted, event.id)


def facts(flight: Flight) -> dict[str, object]:
    """The figures an analyst compares with the public record (JSON-ready)."""
    traj = flight.trajectory
    t = np.arange(0.0, traj.impact_s, 1.0, dtype=np.float64)
    lat, lon, _ = ecef_to_geodetic(traj.states(t)[:, :3])
    regions = japan_land_overflown(lat, lon)
    return {
        "simulation": True,
        "event": flight.event_id,
        "missile": traj.spec.missile.key,
        "launch_time_utc": dt.datetime.fromtimestamp(traj.t_launch_s, dt.UTC)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z"),
        "apogee_km": round(traj.apogee_m / 1e3, 3),
        "range_km": round(traj.range_m / 1e3, 3),
        "flight_time_s": round(traj.flight_time_s, 2),
        "burnout_time_s": round(traj.burnout_s, 2),
        "impact_lat": round(traj.impact_lat_deg, 5),
        "impact_lon": round(traj.impact_lon_deg, 5),
        "impact_in_japan_eez": in_japan_eez(traj.impact_lat_deg, traj.impact_lon_deg),
        "overflight_japan": bool(regions),
        "overflight_regions": list(regions),
        "overflight_prefectures": list(prefectures_overflown(lat, lon)),
        "objects": len(traj.bodies),
        "bodies": [
            {
                "name": b.name,
                "impact_s": round(b.impact_s, 1),
                "impact_lat": round(b.impact_lat_deg, 4),
                "impact_lon": round(b.impact_lon_deg, 4),
            }
            for b in traj.bodies
        ],
        "fit_error": round(traj.fit_error, 5),
        "defaulted": list(flight.defaulted),
    }


def disperse(
    request: LaunchRequest,
    n: int,
    rng: np.random.Generator,
    *,
    sigma_bearing_deg: float = 0.5,
    sigma_relative: float = 0.03,
) -> list[Trajectory]:
    """``n`` seeded Monte Carlo flights around ``request``: bearing, apogee and range drawn
    from normal distributions (1-sigma ``sigma_bearing_deg`` and ``sigma_relative``)."""
    out = []
    for _ in range(n):
        apogee = request.apogee_km
        drawn = dataclasses.replace(
            request,
            bearing_deg=request.bearing_deg + float(rng.normal(0.0, sigma_bearing_deg)),
            range_km=request.range_km * (1.0 + float(rng.normal(0.0, sigma_relative))),
            apogee_km=None
            if apogee is None
            else apogee * (1.0 + float(rng.normal(0.0, sigma_relative))),
        )
        out.append(fly_request(drawn))
    return out
