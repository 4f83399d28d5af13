"""The map's fixed layers: Japan's EEZ, the sensor sites and their coverage (GeoJSON).

- :func:`eez_geojson`: the EEZ data trilink ships for its warnings
  (``trilink/geo/data/japan_eez_simplified.geojson``, Marine Regions World EEZ v10,
  CC-BY 4.0), served as it is: one file, no copy.
- :func:`network_sites`: the radars and infrared satellites of the network file, with
  whether each is notional.
- :func:`coverage_geojson`: where each nation's radars see a target at a given altitude,
  from :func:`trilink.sensors.coverage.coverage_grid` (line of sight over the 4/3 Earth,
  field of regard, range) on a 0.25° grid, the cells merged into polygons.

Coastlines are drawn by the front end from Natural Earth (the npm package
``world-atlas``), bundled with it.
"""

from __future__ import annotations

import functools
import json
from importlib.resources import files
from typing import Any, Final

import numpy as np
import shapely

from trilink.config import NetworkConfig
from trilink.sensors.coverage import coverage_grid

__all__ = ["COVERAGE_EXTENT_DEG", "coverage_geojson", "eez_geojson", "network_sites"]

COVERAGE_EXTENT_DEG: Final = (110.0, 165.0, 18.0, 55.0)
"""Where coverage is computed: lon min, lon max, lat min, lat max (degrees)."""

_STEP_DEG: Final = 0.25


@functools.cache
def eez_geojson() -> dict[str, Any]:
    """Japan's EEZ, the joint regime area and the disputed areas, as shipped."""
    text = files("trilink.geo").joinpath("data", "japan_eez_simplified.geojson").read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def network_sites(net: NetworkConfig) -> dict[str, Any]:
    """The network's nations, links, radar sites and infrared satellites."""
    return {
        "nations": list(net.nations),
        "links": [list(pair) for pair in net.links],
        "radars": [
            {
                "id": r.id,
                "nation": r.nation,
                "name": r.name,
                "lat_deg": r.lat_deg,
                "lon_deg": r.lon_deg,
                "platform": r.platform,
                "notional": r.notional,
                "source": r.source,
                "max_range_km": r.max_range_km,
            }
            for r in net.radar
        ],
        "infrared": [
            {
                "id": s.id,
                "nation": s.nation,
                "name": s.name,
                "orbit": s.orbit,
                "lon_deg": s.lon_deg,
                "notional": s.notional,
            }
            for s in net.infrared
        ],
    }


def coverage_geojson(net: NetworkConfig, alt_km: float) -> dict[str, Any]:
    """Per nation, where its radars see a target at ``alt_km`` (a FeatureCollection of
    MultiPolygons with properties ``nation`` and ``alt_km``)."""
    features = []
    for nation in net.nations:
        radars = [r for r in net.radar if r.nation == nation]
        if not radars:
            continue
        union: np.ndarray | None = None
        lon = lat = np.zeros(0)
        for radar in radars:
            lon, lat, mask = coverage_grid(
                radar, alt_km * 1e3, extent=COVERAGE_EXTENT_DEG, step_deg=_STEP_DEG
            )
            union = mask if union is None else union | mask
        assert union is not None
        geometry = _cells_to_geometry(lon, lat, union)
        if geometry is None:
            continue
        features.append(
            {
                "type": "Feature",
                "properties": {"nation": nation, "alt_km": alt_km},
                "geometry": shapely.geometry.mapping(geometry),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _cells_to_geometry(lon: np.ndarray, lat: np.ndarray, mask: np.ndarray) -> Any:
    """The union of the grid cells (centred on the grid points) where ``mask`` holds,
    merged row by row into runs first, simplified to smooth the grid steps."""
    half = _STEP_DEG / 2.0
    boxes = []
    for i, row in enumerate(mask):
        padded = np.concatenate([[False], row, [False]])
        edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            boxes.append(
                shapely.box(lon[start] - half, lat[i] - half, lon[stop - 1] + half, lat[i] + half)
            )
    if not boxes:
        return None
    merged = shapely.unary_union(boxes).simplify(_STEP_DEG * 0.6)
    return merged
