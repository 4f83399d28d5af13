"""A radar report: what one sensor measured at one time."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from trilink.types.state import StateVector

__all__ = ["Detection"]


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
