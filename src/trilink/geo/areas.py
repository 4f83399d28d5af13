"""Areas that warnings are phrased in: Japan's EEZ and the land of Japan and the Koreas.

Public functions take latitude and longitude in degrees (WGS-84) and return distances in
km; inside, shapely geometries hold (lon, lat) in degrees. The shipped data are loaded
lazily, once per process (see ``data/ATTRIBUTION.md`` for sources and licences):

- ``japan_eez_simplified.geojson``: Japan's 200 NM EEZ, the Japan/Korea joint regime area
  and the disputed areas (Liancourt Rocks, Senkaku, Kuril), simplified so that the
  boundary moves by up to about 20 km. Holes in the 200 NM polygon that hold Japanese land
  are filled, so the land and the coastal waters of the main islands count as inside and
  the boundary is the outer limit; high-seas pockets stay outside.
- ``land_10m_jpn_kor_prk.geojson``: Natural Earth 1:10m land of Japan, South Korea and
  North Korea. Japan's main islands are told apart by which polygon holds a reference city;
  the Koreas' land (Jeju and the other islands included) answers :func:`korean_land`.
- ``japan_prefectures.geojson``: the main area of each of Japan's 47 prefectures (outlying
  islands are not included), from the japanmap package.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from enum import StrEnum
from importlib.resources import files
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from pymap3d.vincenty import vdist
from shapely.geometry import MultiPolygon, Polygon, shape

from trilink.errors import DataError

__all__ = [
    "EEZ_BOUNDARY_UNCERTAINTY_KM",
    "AreaEntry",
    "EezCheck",
    "EezVerdict",
    "area_outlines",
    "in_japan_eez",
    "in_south_korea",
    "japan_eez_check",
    "japan_land_entries",
    "japan_land_overflown",
    "korean_land",
    "korean_land_entries",
    "land_region",
    "prefecture_entries",
    "prefectures_overflown",
]

EEZ_BOUNDARY_UNCERTAINTY_KM = 20.0
"""How far (km) the shipped, simplified EEZ boundary may lie from the true one."""

_EEZ_FILE = "japan_eez_simplified.geojson"
_LAND_FILE = "land_10m_jpn_kor_prk.geojson"
_PREFECTURE_FILE = "japan_prefectures.geojson"
_DENSIFY_DEG = 0.05
"""Boundary vertex spacing (degrees, about 5 km) for distance computations."""

_ISLAND_REFERENCE_POINTS: tuple[tuple[str, float, float], ...] = (
    # (region, lat_deg, lon_deg) of a city on that island
    ("Hokkaido", 43.06, 141.35),  # Sapporo
    ("Honshu", 35.68, 139.69),  # Tokyo
    ("Shikoku", 33.84, 132.77),  # Matsuyama
    ("Kyushu", 33.59, 130.40),  # Fukuoka
    ("Okinawa", 26.21, 127.68),  # Naha
)
_OTHER_JAPAN = "other Japanese islands"
_KOREAS = (("KOR", "South Korea"), ("PRK", "North Korea"))


@dataclass(frozen=True, slots=True)
class AreaEntry:
    """Where a sampled ground track first enters a named area.

    ``index`` is the position in the track's arrays of the first sample inside the area,
    so a caller holding the samples' times reads the time of entry as ``t_s[index]``.
    """

    name: str
    index: int


class EezVerdict(StrEnum):
    """Where a point lies relative to Japan's exclusive economic zone."""

    INSIDE = "inside"
    OUTSIDE = "outside"
    JOINT_OR_DISPUTED = "joint-or-disputed"


@dataclass(frozen=True)
class EezCheck:
    """The EEZ verdict for a point, with how sure the shipped boundary lets us be.

    ``boundary_distance_km`` is the geodesic distance (km) from the point to the boundary of
    the 200 NM polygon; ``near_boundary`` is true when it is within
    :data:`EEZ_BOUNDARY_UNCERTAINTY_KM`, where the simplified data may give the wrong verdict.
    """

    verdict: EezVerdict
    boundary_distance_km: float
    near_boundary: bool


def japan_eez_check(lat_deg: float, lon_deg: float) -> EezCheck:
    """Is the point (degrees) inside Japan's EEZ, a joint/disputed area, or outside?"""
    eez = _eez()
    if shapely.intersects_xy(eez.joint_or_disputed, lon_deg, lat_deg):
        verdict = EezVerdict.JOINT_OR_DISPUTED
    elif shapely.intersects_xy(eez.inside, lon_deg, lat_deg):
        verdict = EezVerdict.INSIDE
    else:
        verdict = EezVerdict.OUTSIDE
    distance_km = _boundary_distance_m(eez, lat_deg, lon_deg) / 1000.0
    return EezCheck(
        verdict=verdict,
        boundary_distance_km=distance_km,
        near_boundary=distance_km <= EEZ_BOUNDARY_UNCERTAINTY_KM,
    )


def in_japan_eez(lat_deg: float, lon_deg: float) -> bool:
    """True only if the point (degrees) is in Japan's EEZ proper, not a joint/disputed area."""
    return japan_eez_check(lat_deg, lon_deg).verdict is EezVerdict.INSIDE


def land_region(lat_deg: float, lon_deg: float) -> str | None:
    """The land under the point (degrees): a Japanese island, a Korea, or ``None`` at sea.

    Japanese land gives ``"Hokkaido"``, ``"Honshu"``, ``"Shikoku"``, ``"Kyushu"``,
    ``"Okinawa"`` or ``"other Japanese islands"``; Korean land ``"South Korea"`` or
    ``"North Korea"``. Land elsewhere is not covered and gives ``None``.
    """
    for name, geometry in _land().regions:
        if shapely.intersects_xy(geometry, lon_deg, lat_deg):
            return name
    return None


def japan_land_overflown(lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike) -> tuple[str, ...]:
    """Japanese land regions under a sampled ground track (degrees), in order of first crossing.

    The track is the sequence of points ``(lat_deg[i], lon_deg[i])``; sample it densely
    enough (a few km) that no island is stepped over. Each region is listed once.
    """
    return tuple(e.name for e in japan_land_entries(lat_deg, lon_deg))


def japan_land_entries(lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike) -> tuple[AreaEntry, ...]:
    """Like :func:`japan_land_overflown`, with the index of the first sample over each region."""
    return _first_entries(_land().japan, lat_deg, lon_deg, "japan_land_entries")


def prefectures_overflown(lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike) -> tuple[str, ...]:
    """Japanese prefectures under a sampled ground track (degrees), in order of first crossing.

    Only each prefecture's main area counts (its outlying islands are not in the data).
    """
    return tuple(e.name for e in prefecture_entries(lat_deg, lon_deg))


def prefecture_entries(lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike) -> tuple[AreaEntry, ...]:
    """Like :func:`prefectures_overflown`, with the index of the first sample over each one."""
    return _first_entries(_prefectures(), lat_deg, lon_deg, "prefecture_entries")


def korean_land_entries(lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike) -> tuple[AreaEntry, ...]:
    """``"South Korea"`` / ``"North Korea"`` land under a sampled ground track (degrees), in
    order of first crossing, with the index of the first sample over each."""
    return _first_entries(_land().koreas, lat_deg, lon_deg, "korean_land_entries")


def korean_land(lat_deg: float, lon_deg: float) -> str | None:
    """``"South Korea"`` or ``"North Korea"`` if the point (degrees) is on that land, else None.

    Land is Natural Earth's 1:10m coastline (about 1 km): territorial waters are not
    included, and points within a kilometre or so of the coast may be misjudged.
    """
    for name, geometry in _land().koreas:
        if shapely.intersects_xy(geometry, lon_deg, lat_deg):
            return str(name)
    return None


def in_south_korea(lat_deg: float, lon_deg: float) -> bool:
    """True if the point (degrees) is on South Korea's land (see :func:`korean_land`)."""
    return korean_land(lat_deg, lon_deg) == "South Korea"


def area_outlines() -> dict[str, list[npt.NDArray[np.float64]]]:
    """Outlines to draw on maps: rings of (lon, lat) degrees for the land of Japan and the
    Koreas and for Japan's EEZ (its 200 NM boundary)."""
    out: dict[str, list[npt.NDArray[np.float64]]] = {}
    land = _land()
    for name, groups in (("Japan", land.japan), ("Koreas", land.koreas)):
        rings: list[npt.NDArray[np.float64]] = []
        for _, geometry in groups:
            for part in shapely.get_parts(geometry):
                if part.geom_type == "Polygon":
                    ring = shapely.get_exterior_ring(part)
                    rings.append(np.asarray(shapely.get_coordinates(ring), dtype=np.float64))
        out[name] = rings
    out["Japan EEZ"] = list(_eez().boundary_rings)
    return out


def _first_entries(
    regions: tuple[tuple[str, Any], ...],
    lat_deg: npt.ArrayLike,
    lon_deg: npt.ArrayLike,
    caller: str,
) -> tuple[AreaEntry, ...]:
    """The regions a sampled track enters, in order of first entry (vectorised)."""
    lat = np.asarray(lat_deg, dtype=np.float64)
    lon = np.asarray(lon_deg, dtype=np.float64)
    if lat.ndim != 1 or lat.shape != lon.shape:
        raise ValueError(
            f"{caller} needs two 1-D arrays of equal length, got lat_deg of shape "
            f"{lat.shape} and lon_deg of shape {lon.shape}"
        )
    first: list[AreaEntry] = []
    for name, geometry in regions:
        hits = np.flatnonzero(shapely.contains_xy(geometry, lon, lat))
        if hits.size:
            first.append(AreaEntry(name=name, index=int(hits[0])))
    return tuple(sorted(first, key=lambda e: e.index))


@functools.cache
def _prefectures() -> tuple[tuple[str, Any], ...]:
    out = []
    for index, feature in enumerate(_features(_PREFECTURE_FILE)):
        geometry = shapely.make_valid(_geometry(feature, _PREFECTURE_FILE, index))
        shapely.prepare(geometry)
        out.append((str(_properties(feature).get("name")), geometry))
    if len(out) != 47:
        raise DataError(f"{_PREFECTURE_FILE}: expected 47 prefectures, found {len(out)}")
    return tuple(out)


@dataclass(frozen=True)
class _Eez:
    inside: Any  # shapely geometry, prepared
    joint_or_disputed: Any  # shapely geometry, prepared
    boundary_rings: tuple[npt.NDArray[np.float64], ...]  # densified (lon, lat) per ring


@dataclass(frozen=True)
class _Land:
    japan: tuple[tuple[str, Any], ...]  # (region name, prepared geometry)
    koreas: tuple[tuple[str, Any], ...]

    @property
    def regions(self) -> tuple[tuple[str, Any], ...]:
        return self.japan + self.koreas


def _boundary_distance_m(eez: _Eez, lat_deg: float, lon_deg: float) -> float:
    """Geodesic distance (m) to the 200 NM boundary, via an azimuthal equidistant projection.

    Each densified boundary vertex is placed at its true (Vincenty) distance and azimuth
    from the point; the distance from the origin to the projected rings is then exact at the
    vertices and within metres between them.
    """
    coords = np.concatenate(eez.boundary_rings)
    range_m, azimuth_deg = vdist(lat_deg, lon_deg, coords[:, 1], coords[:, 0])
    azimuth = np.radians(np.asarray(azimuth_deg, dtype=np.float64))
    range_m = np.asarray(range_m, dtype=np.float64)
    projected = np.column_stack((range_m * np.sin(azimuth), range_m * np.cos(azimuth)))
    ring_index = np.repeat(np.arange(len(eez.boundary_rings)), [len(r) for r in eez.boundary_rings])
    rings = shapely.linestrings(projected, indices=ring_index)
    return float(np.min(shapely.distance(shapely.Point(0.0, 0.0), rings)))


@functools.cache
def _eez() -> _Eez:
    inside: list[Any] = []
    joint_or_disputed: list[Any] = []
    for index, feature in enumerate(_features(_EEZ_FILE)):
        kind = _properties(feature).get("Pol_type")
        geometry = _geometry(feature, _EEZ_FILE, index)
        if kind == "200NM":
            inside.append(geometry)
        elif kind in ("Joint regime", "Disputed"):
            joint_or_disputed.append(geometry)
        else:
            raise DataError(f"{_EEZ_FILE} feature {index}: unexpected Pol_type {kind!r}")
    if not inside or not joint_or_disputed:
        raise DataError(f"{_EEZ_FILE}: needs a 200NM feature and joint/disputed features")
    japan_land = shapely.union_all([g for _, g in _land().japan])
    eez = _fill_land_holes(shapely.union_all(inside), japan_land)
    boundary = shapely.segmentize(eez.boundary, _DENSIFY_DEG)
    rings = tuple(
        np.asarray(shapely.get_coordinates(part), dtype=np.float64)
        for part in shapely.get_parts(boundary)
    )
    shared = shapely.union_all(joint_or_disputed)
    shapely.prepare(eez)
    shapely.prepare(shared)
    return _Eez(inside=eez, joint_or_disputed=shared, boundary_rings=rings)


def _fill_land_holes(eez: Any, land: Any) -> Any:
    """Fill the holes of the EEZ polygons that hold land; keep high-seas pockets open."""
    polygons = []
    for polygon in shapely.get_parts(eez):
        holes = [r for r in polygon.interiors if not Polygon(r).intersects(land)]
        polygons.append(Polygon(polygon.exterior, holes))
    return MultiPolygon(polygons)


@functools.cache
def _land() -> _Land:
    by_iso: dict[str, tuple[str, list[Any]]] = {}
    for index, feature in enumerate(_features(_LAND_FILE)):
        properties = _properties(feature)
        geometry = _geometry(feature, _LAND_FILE, index)
        parts = [shapely.make_valid(p) for p in shapely.get_parts(geometry)]
        by_iso[str(properties.get("iso_a3"))] = (str(properties.get("name")), parts)
    missing = {"JPN", "KOR", "PRK"} - set(by_iso)
    if missing:
        raise DataError(f"{_LAND_FILE}: no feature with iso_a3 {sorted(missing)}")
    japan = _japan_regions(by_iso["JPN"][1])
    koreas = tuple((name, _prepared(by_iso[iso][1])) for iso, name in _KOREAS)
    return _Land(japan=japan, koreas=koreas)


def _japan_regions(parts: list[Any]) -> tuple[tuple[str, Any], ...]:
    """Name Japan's main islands by the polygon holding each reference city."""
    remaining = list(parts)
    regions: list[tuple[str, Any]] = []
    for name, lat_deg, lon_deg in _ISLAND_REFERENCE_POINTS:
        found = [p for p in remaining if shapely.intersects_xy(p, lon_deg, lat_deg)]
        if len(found) != 1:
            raise DataError(
                f"{_LAND_FILE}: the reference point of {name} ({lat_deg} N, {lon_deg} E) lies "
                f"in {len(found)} Japanese polygons, expected 1; regenerate the land data "
                "with scripts/make_land_data.sh"
            )
        remaining.remove(found[0])
        regions.append((name, _prepared(found)))
    regions.append((_OTHER_JAPAN, _prepared(remaining)))
    return tuple(regions)


def _prepared(parts: list[Any]) -> Any:
    geometry = shapely.union_all(parts)
    shapely.prepare(geometry)
    return geometry


def _features(name: str) -> list[dict[str, Any]]:
    resource = files("trilink.geo").joinpath("data", name)
    try:
        doc = json.loads(resource.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(
            f"cannot read the shipped area data {name}: {exc}. Reinstall trilink."
        ) from exc
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list) or not all(isinstance(f, dict) for f in features):
        raise DataError(f"{name}: not a GeoJSON FeatureCollection")
    return features


def _properties(feature: dict[str, Any]) -> dict[str, Any]:
    properties = feature.get("properties")
    return properties if isinstance(properties, dict) else {}


def _geometry(feature: dict[str, Any], name: str, index: int) -> Any:
    try:
        return shape(feature["geometry"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"{name} feature {index}: bad geometry: {exc}") from exc
