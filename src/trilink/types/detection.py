"""A radar report: what one sensor measured at one time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from trilink.types.state import StateVector

__all__ = ["Detection", "DetectionBatch"]


@dataclass(frozen=True, slots=True)
class Detection:
    """One measurement of range, azimuth, elevation and range-rate by one radar.

    Angles are in the radar's local East-North-Up frame (azimuth clockwise from north).
    """

    sensor_id: str = field(metadata={"doc": "id of the sensor that measured it"})
    nation: str = field(metadata={"doc": "ISO-3166 alpha-3 of the sensor's owner"})
    t_s: float = field(metadata={"doc": "measurement time, POSIX seconds UTC"})
    range_m: float
    azimuth_rad: float
    elevation_rad: float
    range_rate_mps: float
    sigma: StateVector = field(
        metadata={"doc": "1-sigma noise of (range m, az rad, el rad, range-rate m/s)"}
    )
    sensor_ecef_m: StateVector = field(metadata={"doc": "sensor position, ECEF m"})
    sensor_lat_rad: float = 0.0
    sensor_lon_rad: float = 0.0
    false_alarm: bool = field(default=False, metadata={"doc": "truth label, for metrics only"})
    truth_id: str | None = field(default=None, metadata={"doc": "truth object, metrics only"})

    @property
    def z(self) -> StateVector:
        """The measurement vector (range m, azimuth rad, elevation rad, range-rate m/s)."""
        return np.array([self.range_m, self.azimuth_rad, self.elevation_rad, self.range_rate_mps])


@dataclass(frozen=True)
class DetectionBatch:
    """One scan of one radar as arrays: what :class:`Detection` holds, for many reports.

    ``z`` rows are (range m, azimuth rad, elevation rad, range-rate m/s) and ``sigma`` rows
    their 1-sigma noise. ``truth_ids`` and ``merged`` (how many objects an unresolved
    report holds) are truth labels for metrics only.
    """

    sensor_id: str
    nation: str
    t_s: float
    sensor_ecef_m: StateVector
    sensor_lat_rad: float
    sensor_lon_rad: float
    z: StateVector
    sigma: StateVector
    truth_ids: list[str | None]
    merged: NDArray[np.int64]
    false_alarm: NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.z.shape[0])

    @classmethod
    def from_detections(cls, t_s: float, detections: Sequence[Detection]) -> DetectionBatch:
        """One sensor's detections (at least one) as a batch."""
        d0 = detections[0]
        return cls(
            sensor_id=d0.sensor_id,
            nation=d0.nation,
            t_s=t_s,
            sensor_ecef_m=d0.sensor_ecef_m,
            sensor_lat_rad=d0.sensor_lat_rad,
            sensor_lon_rad=d0.sensor_lon_rad,
            z=np.array([d.z for d in detections]),
            sigma=np.array([d.sigma for d in detections]),
            truth_ids=[d.truth_id for d in detections],
            merged=np.ones(len(detections), dtype=np.int64),
            false_alarm=np.array([d.false_alarm for d in detections], dtype=bool),
        )

    def subset(self, idx: NDArray[np.int64]) -> DetectionBatch:
        """The reports at indices ``idx``."""
        return DetectionBatch(
            sensor_id=self.sensor_id,
            nation=self.nation,
            t_s=self.t_s,
            sensor_ecef_m=self.sensor_ecef_m,
            sensor_lat_rad=self.sensor_lat_rad,
            sensor_lon_rad=self.sensor_lon_rad,
            z=self.z[idx],
            sigma=self.sigma[idx],
            truth_ids=[self.truth_ids[i] for i in idx],
            merged=self.merged[idx],
            false_alarm=self.false_alarm[idx],
        )

    def extended(self, false_alarms: StateVector, sigma: StateVector) -> DetectionBatch:
        """This batch with false-alarm measurements (K, 4) appended, reported with the
        1-sigma noise ``sigma`` (4,)."""
        k = int(false_alarms.shape[0])
        if k == 0:
            return self
        floor = np.asarray(sigma, dtype=np.float64).reshape(1, 4)
        return DetectionBatch(
            sensor_id=self.sensor_id,
            nation=self.nation,
            t_s=self.t_s,
            sensor_ecef_m=self.sensor_ecef_m,
            sensor_lat_rad=self.sensor_lat_rad,
            sensor_lon_rad=self.sensor_lon_rad,
            z=np.vstack([self.z, false_alarms]),
            sigma=np.vstack([self.sigma, np.repeat(floor, k, axis=0)]),
            truth_ids=[*self.truth_ids, *([None] * k)],
            merged=np.concatenate([self.merged, np.zeros(k, dtype=self.merged.dtype)]),
            false_alarm=np.concatenate([self.false_alarm, np.ones(k, dtype=bool)]),
        )

    def detections(self) -> list[Detection]:
        return [
            Detection(
                sensor_id=self.sensor_id,
                nation=self.nation,
                t_s=self.t_s,
                range_m=float(z[0]),
                azimuth_rad=float(z[1]),
                elevation_rad=float(z[2]),
                range_rate_mps=float(z[3]),
                sigma=sig,
                sensor_ecef_m=self.sensor_ecef_m,
                sensor_lat_rad=self.sensor_lat_rad,
                sensor_lon_rad=self.sensor_lon_rad,
                false_alarm=bool(fa),
                truth_id=tid,
            )
            for z, sig, fa, tid in zip(
                self.z, self.sigma, self.false_alarm, self.truth_ids, strict=True
            )
        ]
