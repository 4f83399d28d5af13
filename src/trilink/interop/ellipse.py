"""The 95 % impact ellipse as a closed ring of (longitude, latitude) degrees.

GeoJSON, KML and CZML draw an impact prediction's ellipse as the same polygon, so the
three exports agree to the digit. The ellipse (semi-axes in metres, the semi-major axis
``orientation_deg`` clockwise from true north, as in
:class:`~trilink.types.ImpactPrediction`) is laid in the local East-North plane at its
centre and each vertex is taken back to WGS-84 latitude and longitude with the geodesy
of :mod:`trilink.geo.earth`. The ring runs counter-clockwise seen from above (RFC 7946
§3.1.6 for exterior rings; KML 2.2 asks the same of an outer boundary) and is closed:
its last position repeats its first.
"""

from __future__ import annotations

import math

import numpy as np

from trilink.errors import ConfigError
from trilink.geo.earth import ecef_to_geodetic, enu_rotation, geodetic_to_ecef

__all__ = ["DEFAULT_VERTICES", "ellipse_ring"]

DEFAULT_VERTICES = 72
"""Distinct vertices of a ring (one every 5°)."""


def ellipse_ring(
    lat_deg: float,
    lon_deg: float,
    semi_major_m: float,
    semi_minor_m: float,
    orientation_deg: float,
    *,
    vertices: int = DEFAULT_VERTICES,
) -> list[tuple[float, float]]:
    """The closed, counter-clockwise ring ``[(lon_deg, lat_deg), ...]`` of an ellipse.

    ``vertices`` distinct points, then the first again. A degenerate axis (0 m) is drawn
    at 1 m so the ring stays a valid polygon.
    """
    if vertices < 4:
        raise ConfigError(
            f"an ellipse ring needs at least 4 vertices, got {vertices}",
            field="vertices",
            fix="give 4 or more (the default is 72)",
        )
    for name, value in (("semi_major_m", semi_major_m), ("semi_minor_m", semi_minor_m)):
        if not (math.isfinite(value) and value >= 0.0):
            raise ConfigError(
                f"{name} is {value}", field=name, fix="give a finite length in metres, >= 0"
            )
    a = max(semi_major_m, 1.0)
    b = max(semi_minor_m, 1.0)
    phi = math.radians(orientation_deg)
    major = np.array([math.sin(phi), math.cos(phi)])  # (east, north)
    minor = np.array([-math.cos(phi), math.sin(phi)])  # major turned 90° counter-clockwise
    theta = np.linspace(0.0, 2.0 * math.pi, vertices, endpoint=False)
    en = a * np.cos(theta)[:, None] * major + b * np.sin(theta)[:, None] * minor
    lat0, lon0 = math.radians(lat_deg), math.radians(lon_deg)
    centre = geodetic_to_ecef(lat_deg, lon_deg, 0.0)
    to_ecef = enu_rotation(lat0, lon0).T[:, :2]  # local (east, north) -> ECEF
    lat, lon, _ = ecef_to_geodetic(centre + en @ to_ecef.T)
    ring = [(float(x), float(y)) for x, y in zip(lon, lat, strict=True)]
    return [*ring, ring[0]]
