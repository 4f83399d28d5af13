#!/usr/bin/env bash
# Rebuild src/trilink/geo/data/land_10m_jpn_kor_prk.geojson from Natural Earth 1:10m
# (via the npm package world-atlas 2.0.2, ISC, Copyright Michael Bostock; Natural Earth
# data is public domain). Keeps Japan, South Korea and North Korea only, with properties
# {"name", "iso_a3"} and coordinates rounded to 4 decimals (about 11 m).
#
# Needs node/npm and python3. Usage: scripts/make_land_data.sh
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$repo/src/trilink/geo/data/land_10m_jpn_kor_prk.geojson"
python="$(realpath -s "$(command -v "${PYTHON:-python3}")")"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm init --yes >/dev/null
npm install --no-audit --no-fund --silent world-atlas@2.0.2 topojson-client@3.1.0
node_modules/.bin/topo2geo countries=countries10.geojson \
    < node_modules/world-atlas/countries-10m.json

"$python" - countries10.geojson "$out" <<'PY'
"""Keep JPN/KOR/PRK, name them by ISO alpha-3, round coordinates to 4 decimals."""

import json
import sys

ISO_BY_NUMERIC = {"392": "JPN", "410": "KOR", "408": "PRK"}


def ring(coords):
    rounded = []
    for lon, lat in coords:
        point = [round(lon, 4), round(lat, 4)]
        if not rounded or rounded[-1] != point:
            rounded.append(point)
    return rounded


def polygon(rings):
    kept = [ring(r) for r in rings]
    return [r for r in kept if len(r) >= 4]


src, dst = sys.argv[1], sys.argv[2]
with open(src, encoding="utf-8") as f:
    world = json.load(f)

features = []
for feature in world["features"]:
    iso = ISO_BY_NUMERIC.get(str(feature.get("id")))
    if iso is None:
        continue
    geometry = feature["geometry"]
    if geometry["type"] == "Polygon":
        polygons = [geometry["coordinates"]]
    elif geometry["type"] == "MultiPolygon":
        polygons = geometry["coordinates"]
    else:
        raise SystemExit(f"unexpected geometry {geometry['type']} for {iso}")
    parts = [p for p in (polygon(rings) for rings in polygons) if p]
    features.append(
        {
            "type": "Feature",
            "properties": {"name": feature["properties"]["name"], "iso_a3": iso},
            "geometry": {"type": "MultiPolygon", "coordinates": parts},
        }
    )

found = sorted(f["properties"]["iso_a3"] for f in features)
if found != ["JPN", "KOR", "PRK"]:
    raise SystemExit(f"expected JPN, KOR and PRK, found {found}")
features.sort(key=lambda f: f["properties"]["iso_a3"])
collection = {
    "type": "FeatureCollection",
    "name": "land_10m_jpn_kor_prk",
    "features": features,
}
with open(dst, "w", encoding="utf-8") as f:
    json.dump(collection, f, separators=(",", ":"))
    f.write("\n")
print(f"wrote {dst}: {', '.join(found)}")
PY
