"""Maps of where a nation's radars can see targets at given altitudes (PNG, matplotlib).

For each altitude the coverage of each radar (line of sight over the 4/3 Earth, field of
regard, instrumented range) is evaluated on a latitude/longitude grid and drawn as a
filled contour over the shipped land outlines and Japan's EEZ. SIMULATION.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from trilink.geo.areas import area_outlines
from trilink.geo.earth import geodetic_to_ecef
from trilink.sensors.radar import Radar

__all__ = ["coverage_grid", "draw_coverage"]

EXTENT_DEG = (120.0, 150.0, 25.0, 48.0)  # lon min, lon max, lat min, lat max


def coverage_grid(
    radar: Radar,
    alt_m: float,
    *,
    extent: tuple[float, float, float, float] = EXTENT_DEG,
    step_deg: float = 0.25,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Longitudes, latitudes and a boolean mask of where ``radar`` sees a target at
    ``alt_m``."""
    lon = np.arange(extent[0], extent[1] + step_deg, step_deg)
    lat = np.arange(extent[2], extent[3] + step_deg, step_deg)
    glon, glat = np.meshgrid(lon, lat)
    pts = geodetic_to_ecef(glat.ravel(), glon.ravel(), np.full(glat.size, alt_m))
    return lon, lat, radar.in_coverage(pts).reshape(glat.shape)


def draw_coverage(
    radars: Sequence[Radar], altitudes_km: Sequence[float], path: Path, *, title: str
) -> Path:
    """Draw the coverage of ``radars`` at ``altitudes_km`` to a PNG file at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 7.5), dpi=110)
    for name, rings in area_outlines().items():
        eez = name == "Japan EEZ"
        for ring in rings:
            ax.plot(
                ring[:, 0],
                ring[:, 1],
                color="tab:blue" if eez else "0.35",
                lw=0.8 if eez else 0.6,
                ls="--" if eez else "-",
            )
    colours = ["tab:red", "tab:orange", "tab:green", "tab:purple", "tab:brown"]
    for k, alt_km in enumerate(sorted(altitudes_km)):
        colour = colours[k % len(colours)]
        union = None
        for radar in radars:
            lon, lat, mask = coverage_grid(radar, alt_km * 1e3)
            union = mask if union is None else union | mask
        if union is not None and union.any():
            ax.contourf(
                lon, lat, union.astype(float), levels=[0.5, 1.5], colors=[colour], alpha=0.12
            )
            ax.contour(lon, lat, union.astype(float), levels=[0.5], colors=[colour], linewidths=1.2)
        ax.plot([], [], color=colour, label=f"target at {alt_km:g} km")
    for radar in radars:
        marker = "^" if radar.platform == "ground" else "s"
        ax.plot(radar.lon_deg, radar.lat_deg, marker, color="k", ms=6)
        label = radar.id + (" (notional)" if radar.notional else "")
        ax.annotate(
            label,
            (radar.lon_deg, radar.lat_deg),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
    ax.set_xlim(EXTENT_DEG[0], EXTENT_DEG[1])
    ax.set_ylim(EXTENT_DEG[2], EXTENT_DEG[3])
    ax.set_aspect(1.0 / np.cos(np.radians(0.5 * (EXTENT_DEG[2] + EXTENT_DEG[3]))))
    ax.set_xlabel("longitude (deg E)")
    ax.set_ylabel("latitude (deg N)")
    ax.set_title(f"{title} — SIMULATION, notional parameters")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
