"""All of a network's sensors looking at one launch, tick by tick, with a record of who saw
what and when. Used by the full simulation and by ``trilink sensors timeline``.

Each tick (1 s of event time) every radar whose revisit falls due scans the bodies in
flight (RCS by kind and aspect) and every infrared satellite reports the boosting ones.
For each sensor and object the suite records when the object first came into the
sensor's view (geometry alone: horizon, field of regard, range; for infrared, boosting
and above the clouds) and when it was first and last detected.

Randomness: each sensor draws from its own stream, derived from one draw of the given
generator and the sensor's id. So a suite of any subset of the sensors (one nation's, in
its own process) produces exactly the detections those sensors produce in the whole
network's suite, given a generator seeded alike.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from trilink.sensors.infrared import InfraredSatellite, LineOfSight
from trilink.sensors.radar import Radar
from trilink.sensors.signatures import kind_of, rcs_m2
from trilink.types import Detection
from trilink.world.trajectory import Trajectory

__all__ = ["Sighting", "SensorSuite", "Tick"]


@dataclass
class Sighting:
    """When one sensor could and did see one object (seconds after launch)."""

    sensor_id: str
    nation: str
    sensor_kind: str  # "radar" or "infrared"
    object: str
    first_visible_s: float | None = None
    first_detected_s: float | None = None
    last_detected_s: float | None = None
    detections: int = 0


@dataclass(frozen=True)
class Tick:
    """What the sensors produced in one tick."""

    radar: list[tuple[Radar, list[Detection]]]
    infrared: list[tuple[InfraredSatellite, list[LineOfSight]]]


@dataclass
class SensorSuite:
    """A network's radars and infrared satellites over one trajectory."""

    trajectory: Trajectory
    radars: list[Radar]
    satellites: list[InfraredSatellite]
    rng: np.random.Generator
    sightings: dict[tuple[str, str], Sighting] = field(default_factory=dict)
    _streams: dict[str, np.random.Generator] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        root = int(self.rng.integers(2**63))
        for sensor_id in [r.id for r in self.radars] + [s.id for s in self.satellites]:
            self._streams[sensor_id] = np.random.default_rng(
                [root, zlib.crc32(sensor_id.encode("utf-8"))]
            )

    def tick(self, t_rel_s: float, dt_s: float = 1.0) -> Tick:
        """Sense at ``t_rel_s`` seconds after launch (one tick of ``dt_s``)."""
        traj = self.trajectory
        t = traj.t_launch_s + t_rel_s
        names, states = traj.active(t_rel_s)
        kinds = [kind_of(n, t_rel_s, traj.burnout_s) for n in names]
        pos, vel = states[:, :3], states[:, 3:]
        out_r: list[tuple[Radar, list[Detection]]] = []
        for radar in self.radars:
            if (t_rel_s + 1e-9) % radar.scan_period_s > dt_s - 1e-9:
                continue
            if names:
                self._visible(
                    radar.id, radar.nation, "radar", names, radar.in_coverage(pos), t_rel_s
                )
            los = pos - radar.ecef_m
            los /= np.maximum(np.linalg.norm(los, axis=1), 1.0)[:, None]
            dets = radar.observe(
                t, pos, vel, rcs_m2(kinds, los, vel), names, self._streams[radar.id]
            )
            self._detected(
                radar.id, radar.nation, "radar", [d.truth_id for d in dets if d.truth_id], t_rel_s
            )
            out_r.append((radar, dets))
        boosting = np.array(
            [k == "missile" and t_rel_s < traj.burnout_s for k in kinds], dtype=bool
        )
        out_i: list[tuple[InfraredSatellite, list[LineOfSight]]] = []
        for sat in self.satellites:
            if names:
                seen = sat.visible(t, pos) & boosting
                self._visible(sat.id, sat.nation, "infrared", names, seen, t_rel_s)
            reports = sat.observe(
                t, dt_s, pos, boosting, names, self._streams[sat.id], velocities=vel
            )
            self._detected(
                sat.id, sat.nation, "infrared", [r.truth_id for r in reports if r.truth_id], t_rel_s
            )
            out_i.append((sat, reports))
        return Tick(out_r, out_i)

    def _get(self, sensor: str, nation: str, kind: str, obj: str) -> Sighting:
        key = (sensor, obj)
        if key not in self.sightings:
            self.sightings[key] = Sighting(sensor, nation, kind, obj)
        return self.sightings[key]

    def _visible(
        self,
        sensor: str,
        nation: str,
        kind: str,
        names: list[str],
        mask: np.ndarray,
        t_rel_s: float,
    ) -> None:
        for name, seen in zip(names, mask, strict=True):
            if seen:
                s = self._get(sensor, nation, kind, name)
                if s.first_visible_s is None:
                    s.first_visible_s = t_rel_s

    def _detected(
        self, sensor: str, nation: str, kind: str, objects: list[str], t_rel_s: float
    ) -> None:
        for name in objects:
            s = self._get(sensor, nation, kind, name)
            if s.first_detected_s is None:
                s.first_detected_s = t_rel_s
            s.last_detected_s = t_rel_s
            s.detections += 1

    def run(self, *, end_s: float | None = None) -> list[Sighting]:
        """Sense every tick from launch until every body has fallen; the sightings."""
        stop = end_s if end_s is not None else max(b.impact_s for b in self.trajectory.bodies)
        t = 0.0
        while t <= stop:
            self.tick(t)
            t += 1.0
        return sorted(self.sightings.values(), key=lambda s: (s.nation, s.sensor_id, s.object))
