"""One radar on the Sea of Japan coast scanning given targets: the scans the tracker
tests feed (every target seen with probability ``pd``, plus uniform clutter)."""

from __future__ import annotations

import numpy as np

from trilink.geo.earth import enu_rotation, geodetic_to_ecef
from trilink.tracking import ekf
from trilink.types import DetectionBatch

LAT, LON = 38.0, 138.4
SENSOR = geodetic_to_ecef(LAT, LON, 0.0)
ROT = enu_rotation(np.radians(LAT), np.radians(LON))
SIGMA = np.array([20.0, 1e-3, 1e-3, 5.0])


def _batch(
    t_s: float, states: np.ndarray, rng: np.random.Generator, pd: float = 1.0, clutter: int = 0
) -> DetectionBatch:
    x9 = np.zeros((states.shape[0], 9))
    x9[:, :6] = states
    z, _ = ekf.measure_batch(x9, SENSOR, ROT)
    keep = rng.random(z.shape[0]) < pd
    z = z[keep] + rng.normal(0.0, 1.0, (int(keep.sum()), 4)) * SIGMA
    if clutter:
        fa = np.column_stack(
            [
                rng.uniform(3e5, 1.5e6, clutter),
                rng.uniform(4.0, 5.5, clutter),
                rng.uniform(0.05, 0.6, clutter),
                rng.uniform(-3e3, 3e3, clutter),
            ]
        )
        z = np.vstack([z, fa])
    k = z.shape[0]
    return DetectionBatch(
        sensor_id="TST",
        nation="JPN",
        t_s=t_s,
        sensor_ecef_m=SENSOR,
        sensor_lat_rad=np.radians(LAT),
        sensor_lon_rad=np.radians(LON),
        z=z,
        sigma=np.tile(SIGMA, (k, 1)),
        truth_ids=[None] * k,
        merged=np.ones(k, np.int64),
        false_alarm=np.zeros(k, bool),
    )
