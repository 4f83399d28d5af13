"""Ground radars: horizon, field of regard, radar-equation detection and noisy reports.

Line of sight uses the 4/3-Earth model of standard refraction: the ray is straight above
an Earth of radius ``k R`` (``k = 4/3``), so a target is above the horizon when its
elevation in that equivalent geometry is above the radar's lowest beam. Detection follows
the radar equation folded into a reference: a 1 m² target at ``ref_range_km`` gives
``snr_ref_db``; the signal-to-noise ratio falls as range⁻⁴ and scales with the radar cross
section, and a Swerling 1 target is detected with ``Pd = Pfa ** (1 / (1 + SNR))``.
"""

from __future__ import annotations

import math
from typing import Final

import msgspec
import numpy as np
from numpy.typing import NDArray

from trilink.geo.earth import altitude_m, enu_rotation, geodetic_to_ecef
from trilink.types import Detection

__all__ = ["EFFECTIVE_EARTH_K", "Radar", "swerling1_pd"]

EFFECTIVE_EARTH_K: Final = 4.0 / 3.0
Array = NDArray[np.float64]


def swerling1_pd(snr: Array | float, pfa: float) -> Array:
    """Probability of detection of a Swerling 1 target at linear ``snr`` and ``pfa``."""
    return np.asarray(pfa ** (1.0 / (1.0 + np.asarray(snr, dtype=np.float64))))


class Radar(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A ground radar and its parameters (the network file's ``[[radar]]`` table)."""

    id: str
    nation: str
    name: str
    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0
    notional: bool = True
    source: str = ""
    boresight_az_deg: float = 0.0
    half_width_az_deg: float = 180.0
    min_el_deg: float = 0.5
    max_el_deg: float = 90.0
    max_range_km: float = 1000.0
    snr_ref_db: float = 20.0
    ref_range_km: float = 1000.0
    pfa: float = 1e-6
    sigma_range_m: float = 20.0
    sigma_angle_mrad: float = 1.0
    sigma_range_rate_mps: float = 5.0
    scan_period_s: float = 1.0
    false_alarms_per_scan: float = 0.05

    def __post_init__(self) -> None:
        checks: list[tuple[bool, str]] = [
            (len(self.nation) == 3 and self.nation.isupper(), "nation must be ISO alpha-3"),
            (-90.0 <= self.lat_deg <= 90.0, "lat_deg must be within [-90, 90]"),
            (-180.0 <= self.lon_deg <= 360.0, "lon_deg must be within [-180, 360]"),
            (0.0 < self.half_width_az_deg <= 180.0, "half_width_az_deg must be in (0, 180]"),
            (self.min_el_deg < self.max_el_deg, "min_el_deg must be below max_el_deg"),
            (self.max_range_km > 0.0, "max_range_km must be positive"),
            (self.ref_range_km > 0.0, "ref_range_km must be positive"),
            (0.0 < self.pfa < 1.0, "pfa must be in (0, 1)"),
            (self.sigma_range_m > 0.0, "sigma_range_m must be positive"),
            (self.sigma_angle_mrad > 0.0, "sigma_angle_mrad must be positive"),
            (self.sigma_range_rate_mps > 0.0, "sigma_range_rate_mps must be positive"),
            (self.scan_period_s > 0.0, "scan_period_s must be positive"),
            (self.false_alarms_per_scan >= 0.0, "false_alarms_per_scan must be >= 0"),
        ]
        for ok, problem in checks:
            if not ok:
                raise ValueError(f"radar {self.id!r}: {problem}")

    @property
    def ecef_m(self) -> Array:
        return geodetic_to_ecef(self.lat_deg, self.lon_deg, self.alt_m)

    @property
    def sigma(self) -> Array:
        """1-sigma noise (range m, azimuth rad, elevation rad, range-rate m/s) at full SNR."""
        a = self.sigma_angle_mrad * 1e-3
        return np.array([self.sigma_range_m, a, a, self.sigma_range_rate_mps])

    def geometry(self, r_ecef: Array) -> tuple[Array, Array, Array]:
        """Range (m), azimuth (rad, clockwise from north, [0, 2π)) and geometric elevation
        (rad) of ECEF positions (N, 3)."""
        enu = (np.asarray(r_ecef) - self.ecef_m) @ self._rot.T
        rng = np.linalg.norm(enu, axis=-1)
        az = np.mod(np.arctan2(enu[..., 0], enu[..., 1]), 2.0 * math.pi)
        el = np.arcsin(np.clip(enu[..., 2] / np.maximum(rng, 1e-9), -1.0, 1.0))
        return rng, az, el

    @property
    def _rot(self) -> Array:
        return enu_rotation(math.radians(self.lat_deg), math.radians(self.lon_deg))

    def refracted_elevation(self, r_ecef: Array) -> Array:
        """Elevation (rad) of targets in the 4/3-Earth geometry: above ``min_el`` = visible."""
        s = self.ecef_m
        r = np.atleast_2d(np.asarray(r_ecef, dtype=np.float64))
        earth_r = float(np.linalg.norm(s)) - float(altitude_m(s))
        h_s, h_t = float(altitude_m(s)), altitude_m(r)
        cos_phi = (r @ s) / (np.linalg.norm(r, axis=-1) * np.linalg.norm(s))
        phi = np.arccos(np.clip(cos_phi, -1.0, 1.0))
        re = EFFECTIVE_EARTH_K * earth_r
        phi_e = phi * earth_r / re
        return np.asarray(
            np.arctan2((re + h_t) * np.cos(phi_e) - (re + h_s), (re + h_t) * np.sin(phi_e))
        )

    def in_coverage(self, r_ecef: Array) -> NDArray[np.bool_]:
        """Whether ECEF positions (N, 3) are inside line of sight, range and field of regard."""
        rng, az, _ = self.geometry(r_ecef)
        el_eff = self.refracted_elevation(r_ecef)
        off = np.abs((np.degrees(az) - self.boresight_az_deg + 180.0) % 360.0 - 180.0)
        return np.asarray(
            (el_eff >= math.radians(self.min_el_deg))
            & (el_eff <= math.radians(self.max_el_deg))
            & (rng <= self.max_range_km * 1e3)
            & (off <= self.half_width_az_deg)
        )

    def snr(self, range_m: Array, rcs_m2: Array) -> Array:
        """Linear signal-to-noise ratio from the folded radar equation."""
        ref = 10.0 ** (self.snr_ref_db / 10.0)
        return np.asarray(ref * rcs_m2 * (self.ref_range_km * 1e3 / np.maximum(range_m, 1.0)) ** 4)

    def observe(
        self,
        t_s: float,
        positions: Array,
        velocities: Array,
        rcs_m2: Array,
        truth_ids: list[str],
        rng: np.random.Generator,
    ) -> list[Detection]:
        """One scan at ``t_s`` over targets (N, 3) ECEF: detections with noise, plus false
        alarms. Every random draw comes from ``rng``."""
        out: list[Detection] = []
        sigma0 = self.sigma
        s = self.ecef_m
        lat_r, lon_r = math.radians(self.lat_deg), math.radians(self.lon_deg)
        if len(truth_ids):
            pos = np.atleast_2d(positions)
            vel = np.atleast_2d(velocities)
            visible = self.in_coverage(pos)
            rng_m, az, el = self.geometry(pos)
            snr = self.snr(rng_m, np.asarray(rcs_m2, dtype=np.float64))
            pd = swerling1_pd(snr, self.pfa)
            draws = rng.random(len(truth_ids))
            for i in np.flatnonzero(visible & (draws < pd)):
                # Noise grows as SNR falls (thermal-noise limited accuracy), floored at sigma0.
                scale = max(1.0, math.sqrt(100.0 / max(float(snr[i]), 1e-9)))
                sig = sigma0 * scale
                los = (pos[i] - s) / rng_m[i]
                rr = float(los @ vel[i])
                noise = rng.normal(0.0, sig)
                out.append(
                    Detection(
                        sensor_id=self.id,
                        nation=self.nation,
                        t_s=t_s,
                        range_m=float(rng_m[i] + noise[0]),
                        azimuth_rad=float(np.mod(az[i] + noise[1], 2.0 * math.pi)),
                        elevation_rad=float(el[i] + noise[2]),
                        range_rate_mps=rr + float(noise[3]),
                        sigma=sig,
                        sensor_ecef_m=s,
                        sensor_lat_rad=lat_r,
                        sensor_lon_rad=lon_r,
                        truth_id=truth_ids[i],
                    )
                )
        for _ in range(int(rng.poisson(self.false_alarms_per_scan))):
            az_fa = math.radians(
                self.boresight_az_deg + rng.uniform(-1, 1) * self.half_width_az_deg
            )
            out.append(
                Detection(
                    sensor_id=self.id,
                    nation=self.nation,
                    t_s=t_s,
                    range_m=float(rng.uniform(0.1, 1.0) * self.max_range_km * 1e3),
                    azimuth_rad=az_fa % (2.0 * math.pi),
                    elevation_rad=math.radians(rng.uniform(self.min_el_deg, 60.0)),
                    range_rate_mps=float(rng.uniform(-3000.0, 3000.0)),
                    sigma=sigma0,
                    sensor_ecef_m=s,
                    sensor_lat_rad=lat_r,
                    sensor_lon_rad=lon_r,
                    false_alarm=True,
                )
            )
        return out
