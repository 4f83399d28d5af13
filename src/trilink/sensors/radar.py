"""Ground and ship radars: horizon, field of regard, the radar equation, noisy reports.

Line of sight uses the 4/3-Earth model of standard refraction: the ray is straight above
an Earth of radius ``k R`` (``k = 4/3``), so a target is above the horizon when its
elevation in that equivalent geometry is above the radar's lowest beam.

Signal-to-noise ratio from the radar equation for a dwell of ``n`` coherently integrated
pulses::

    SNR = P_t τ n G² λ² σ / ((4π)³ k T₀ F L R⁴)

(peak power, pulse width, gain, wavelength, radar cross-section, Boltzmann constant,
290 K, noise figure, losses, range). A Swerling 1 target is detected with
``Pd = Pfa ** (1 / (1 + SNR))``. Measurement noise is thermal (it grows as SNR falls,
``σ = resolution / √(2 SNR)`` with the angle resolution ``θ₃dB / 1.6``) on top of a
floor for calibration and bias: ``σ² = σ_floor² + σ_thermal²``. Objects closer than a
resolution cell (range ``c / 2B`` and the beamwidth) are reported as one, at their
power-weighted centroid. False alarms arrive as a Poisson count per scan, uniform in the
field of regard. A radar may carry a registration bias (``range_bias_m``,
``azimuth_bias_mrad``, ``elevation_bias_mrad``, zero by default): it is added to every
report of a target but not to the reported noise, so trackers do not know it (fusion
estimates it from objects seen in common). :meth:`Radar.scan` is vectorised over targets
and returns a :class:`~trilink.types.DetectionBatch`; :meth:`Radar.observe` gives the same
reports as :class:`~trilink.types.Detection` objects.
"""

from __future__ import annotations

import math
from typing import Final

import msgspec
import numpy as np
from numpy.typing import NDArray

from trilink.geo.earth import altitude_m, enu_rotation, geodetic_to_ecef
from trilink.types import Detection, DetectionBatch

__all__ = [
    "EFFECTIVE_EARTH_K",
    "MAX_ANGLE_BIAS_MRAD",
    "MAX_RANGE_BIAS_M",
    "PLATFORMS",
    "Radar",
    "swerling1_pd",
]

EFFECTIVE_EARTH_K: Final = 4.0 / 3.0
PLATFORMS: Final = ("ground", "ship")
_C: Final = 299_792_458.0
_KT0: Final = 1.380649e-23 * 290.0
_FOUR_PI_CUBED: Final = (4.0 * math.pi) ** 3
_ANGLE_SLOPE: Final = 1.6  # monopulse: sigma = beamwidth / (1.6 sqrt(2 SNR))
MAX_RANGE_BIAS_M: Final = 10_000.0
MAX_ANGLE_BIAS_MRAD: Final = 50.0
Array = NDArray[np.float64]


def swerling1_pd(snr: Array | float, pfa: float) -> Array:
    """Probability of detection of a Swerling 1 target at linear ``snr`` and ``pfa``."""
    return np.asarray(pfa ** (1.0 / (1.0 + np.asarray(snr, dtype=np.float64))))


class Radar(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A radar and its parameters (the network file's ``[[radar]]`` table)."""

    id: str
    nation: str
    name: str
    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0
    notional: bool = True
    source: str = ""
    platform: str = "ground"
    boresight_az_deg: float = 0.0
    half_width_az_deg: float = 180.0
    min_el_deg: float = 0.5
    max_el_deg: float = 90.0
    max_range_km: float = 1000.0
    frequency_ghz: float = 3.0
    peak_power_kw: float = 1000.0
    antenna_gain_db: float = 40.0
    pulse_width_us: float = 100.0
    pulses_integrated: int = 10
    bandwidth_mhz: float = 5.0
    noise_figure_db: float = 3.0
    losses_db: float = 6.0
    beamwidth_deg: float = 1.0
    dwell_s: float = 0.01
    pfa: float = 1e-6
    sigma_range_floor_m: float = 5.0
    sigma_angle_floor_mrad: float = 0.2
    sigma_range_rate_floor_mps: float = 1.0
    scan_period_s: float = 1.0
    false_alarms_per_scan: float = 0.05
    range_bias_m: float = 0.0
    azimuth_bias_mrad: float = 0.0
    elevation_bias_mrad: float = 0.0

    def __post_init__(self) -> None:
        positive = (
            "max_range_km",
            "frequency_ghz",
            "peak_power_kw",
            "pulse_width_us",
            "pulses_integrated",
            "bandwidth_mhz",
            "beamwidth_deg",
            "dwell_s",
            "sigma_range_floor_m",
            "sigma_angle_floor_mrad",
            "sigma_range_rate_floor_mps",
            "scan_period_s",
        )
        checks: list[tuple[bool, str]] = [
            (
                len(self.nation) == 3 and self.nation.isalpha() and self.nation.isupper(),
                "`nation` must be an ISO 3166 alpha-3 code such as JPN",
            ),
            (-90.0 <= self.lat_deg <= 90.0, "`lat_deg` must be within [-90, 90]"),
            (-180.0 <= self.lon_deg <= 360.0, "`lon_deg` must be within [-180, 360]"),
            (self.platform in PLATFORMS, f"`platform` must be one of {PLATFORMS}"),
            (0.0 < self.half_width_az_deg <= 180.0, "`half_width_az_deg` must be in (0, 180]"),
            (self.min_el_deg < self.max_el_deg, "`min_el_deg` must be below `max_el_deg`"),
            (0.0 < self.pfa < 1.0, "`pfa` must be in (0, 1)"),
            (self.false_alarms_per_scan >= 0.0, "`false_alarms_per_scan` must be >= 0"),
            (self.losses_db >= 0.0, "`losses_db` must be >= 0"),
            (
                abs(self.range_bias_m) <= MAX_RANGE_BIAS_M,
                f"`range_bias_m` must be within ±{MAX_RANGE_BIAS_M:.0f} m",
            ),
            (
                abs(self.azimuth_bias_mrad) <= MAX_ANGLE_BIAS_MRAD,
                f"`azimuth_bias_mrad` must be within ±{MAX_ANGLE_BIAS_MRAD:.0f} mrad",
            ),
            (
                abs(self.elevation_bias_mrad) <= MAX_ANGLE_BIAS_MRAD,
                f"`elevation_bias_mrad` must be within ±{MAX_ANGLE_BIAS_MRAD:.0f} mrad",
            ),
        ]
        checks += [(getattr(self, name) > 0, f"`{name}` must be positive") for name in positive]
        for ok, problem in checks:
            if not ok:
                raise ValueError(f"radar {self.id!r}: {problem}")

    # -- geometry ---------------------------------------------------------------------

    @property
    def ecef_m(self) -> Array:
        return geodetic_to_ecef(self.lat_deg, self.lon_deg, self.alt_m)

    @property
    def _rot(self) -> Array:
        return enu_rotation(math.radians(self.lat_deg), math.radians(self.lon_deg))

    @property
    def wavelength_m(self) -> float:
        return _C / (self.frequency_ghz * 1e9)

    @property
    def range_resolution_m(self) -> float:
        return _C / (2.0 * self.bandwidth_mhz * 1e6)

    def geometry(self, r_ecef: Array) -> tuple[Array, Array, Array]:
        """Range (m), azimuth (rad, clockwise from north, [0, 2π)) and geometric elevation
        (rad) of ECEF positions (N, 3)."""
        enu = (np.asarray(r_ecef) - self.ecef_m) @ self._rot.T
        rng = np.linalg.norm(enu, axis=-1)
        az = np.mod(np.arctan2(enu[..., 0], enu[..., 1]), 2.0 * math.pi)
        el = np.arcsin(np.clip(enu[..., 2] / np.maximum(rng, 1e-9), -1.0, 1.0))
        return rng, az, el

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
        r = np.atleast_2d(np.asarray(r_ecef, dtype=np.float64))
        rng, az, _ = self.geometry(r)
        el_eff = self.refracted_elevation(r)
        off = np.abs((np.degrees(az) - self.boresight_az_deg + 180.0) % 360.0 - 180.0)
        return np.asarray(
            (el_eff >= math.radians(self.min_el_deg))
            & (el_eff <= math.radians(self.max_el_deg))
            & (rng <= self.max_range_km * 1e3)
            & (off <= self.half_width_az_deg)
        )

    # -- the radar equation ---------------------------------------------------------------

    def snr(self, range_m: Array, rcs_m2: Array) -> Array:
        """Linear signal-to-noise ratio of one dwell from the radar equation."""
        g = 10.0 ** (self.antenna_gain_db / 10.0)
        energy = self.peak_power_kw * 1e3 * self.pulse_width_us * 1e-6 * self.pulses_integrated
        loss = 10.0 ** ((self.noise_figure_db + self.losses_db) / 10.0)
        k = energy * g * g * self.wavelength_m**2 / (_FOUR_PI_CUBED * _KT0 * loss)
        return np.asarray(k * np.asarray(rcs_m2) / np.maximum(np.asarray(range_m), 1.0) ** 4)

    def sigma_at(self, snr: Array | float) -> Array:
        """1-sigma noise (range m, azimuth rad, elevation rad, range-rate m/s) at ``snr``,
        shape (..., 4): the floor and the thermal part added in quadrature."""
        s = np.sqrt(2.0 * np.maximum(np.asarray(snr, dtype=np.float64), 1e-9))[..., None]
        thermal = (
            np.array(
                [
                    self.range_resolution_m,
                    math.radians(self.beamwidth_deg) / _ANGLE_SLOPE,
                    math.radians(self.beamwidth_deg) / _ANGLE_SLOPE,
                    self.wavelength_m / (2.0 * self.dwell_s),
                ]
            )
            / s
        )
        return np.asarray(np.sqrt(self.sigma**2 + thermal**2))

    @property
    def sigma(self) -> Array:
        """The noise floor (range m, azimuth rad, elevation rad, range-rate m/s)."""
        a = self.sigma_angle_floor_mrad * 1e-3
        return np.array([self.sigma_range_floor_m, a, a, self.sigma_range_rate_floor_mps])

    @property
    def bias(self) -> Array:
        """The registration bias added to target reports (range m, azimuth rad, elevation
        rad, range-rate m/s); zero unless the network file sets one."""
        return np.array(
            [self.range_bias_m, self.azimuth_bias_mrad * 1e-3, self.elevation_bias_mrad * 1e-3, 0.0]
        )

    def cued(self, azimuth_deg: float, half_width_deg: float) -> Radar:
        """The radar tasked to search a sector: the field of regard narrows to the sector and
        the revisit shortens in proportion (the same search time over a smaller sector)."""
        width = min(half_width_deg, self.half_width_az_deg)
        return msgspec.structs.replace(
            self,
            boresight_az_deg=azimuth_deg,
            half_width_az_deg=width,
            scan_period_s=max(0.1, self.scan_period_s * width / self.half_width_az_deg),
        )

    def moved(self, lat_deg: float, lon_deg: float) -> Radar:
        """The same radar at another position (a ship placed for a scenario)."""
        return msgspec.structs.replace(self, lat_deg=lat_deg, lon_deg=lon_deg)

    # -- scans ----------------------------------------------------------------------------

    def scan(
        self,
        t_s: float,
        positions: Array,
        velocities: Array,
        rcs_m2: Array,
        truth_ids: list[str],
        rng: np.random.Generator,
    ) -> DetectionBatch:
        """One scan at ``t_s`` over targets (N, 3) ECEF, vectorised: unresolved targets are
        merged, detected with Swerling 1 probability, measured with noise; false alarms are
        added. Every random draw comes from ``rng``."""
        pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
        vel = np.asarray(velocities, dtype=np.float64).reshape(-1, 3)
        rcs = np.asarray(rcs_m2, dtype=np.float64).reshape(-1)
        idx = np.flatnonzero(self.in_coverage(pos)) if len(pos) else np.zeros(0, dtype=np.int64)
        s = self.ecef_m
        rng_m, az, el = self.geometry(pos[idx]) if idx.size else (np.zeros(0),) * 3
        los = (pos[idx] - s) / np.maximum(rng_m, 1e-9)[:, None] if idx.size else np.zeros((0, 3))
        rr = np.einsum("ij,ij->i", los, vel[idx]) if idx.size else np.zeros(0)
        snr = self.snr(rng_m, rcs[idx])
        groups = self._resolve(rng_m, los)
        # One report per resolution group: the power-weighted centroid, the summed SNR.
        n_groups = int(groups.max()) + 1 if groups.size else 0
        w = np.zeros(n_groups)
        np.add.at(w, groups, snr)
        wn = snr / np.maximum(w[groups], 1e-300)

        def centroid(x: Array) -> Array:
            out = np.zeros(n_groups)
            np.add.at(out, groups, wn * x)
            return out

        g_rng, g_rr = centroid(rng_m), centroid(rr)
        g_los = (
            np.stack([centroid(los[:, k]) for k in range(3)], axis=1)
            if n_groups
            else (np.zeros((0, 3)))
        )
        g_los /= np.maximum(np.linalg.norm(g_los, axis=1), 1e-12)[:, None]
        enu = g_los @ self._rot.T
        g_az = np.mod(np.arctan2(enu[:, 0], enu[:, 1]), 2.0 * math.pi)
        g_el = np.arcsin(np.clip(enu[:, 2], -1.0, 1.0))
        strongest = np.full(n_groups, -1)
        best = np.full(n_groups, -1.0)
        for i, g in enumerate(groups):  # a few objects per scan: plain loop is fine here
            if snr[i] > best[g]:
                best[g], strongest[g] = snr[i], idx[i]
        members = np.bincount(groups, minlength=n_groups).astype(np.int64)
        detected = rng.random(n_groups) < swerling1_pd(w, self.pfa)
        sig = self.sigma_at(w[detected])
        noise = rng.normal(0.0, 1.0, (int(detected.sum()), 4)) * sig
        z = np.stack([g_rng, g_az, g_el, g_rr], axis=1)[detected] + noise + self.bias
        z[:, 1] = np.mod(z[:, 1], 2.0 * math.pi)
        ids = [truth_ids[j] for j in strongest[detected]]
        batch = DetectionBatch(
            sensor_id=self.id,
            nation=self.nation,
            t_s=t_s,
            sensor_ecef_m=s,
            sensor_lat_rad=math.radians(self.lat_deg),
            sensor_lon_rad=math.radians(self.lon_deg),
            z=z,
            sigma=sig,
            truth_ids=ids,
            merged=members[detected],
            false_alarm=np.zeros(len(ids), dtype=bool),
        )
        return batch.extended(self._false_alarms(rng), self.sigma)

    def _resolve(self, rng_m: Array, los: Array) -> NDArray[np.int64]:
        """Group index per target: neighbours in range closer than a range cell and within
        the beamwidth of each other share a group (chains join)."""
        n = rng_m.size
        groups = np.arange(n)
        if n < 2:
            return groups
        order = np.argsort(rng_m)
        close_r = np.diff(rng_m[order]) < self.range_resolution_m
        cosang = np.einsum("ij,ij->i", los[order[:-1]], los[order[1:]])
        close_a = cosang > math.cos(math.radians(self.beamwidth_deg))
        joined = close_r & close_a
        label = np.concatenate([[0], np.cumsum(~joined)])
        groups[order] = label
        return groups

    def _false_alarms(self, rng: np.random.Generator) -> Array:
        """False-alarm measurements (K, 4): uniform in the field of regard."""
        k = int(rng.poisson(self.false_alarms_per_scan))
        az = np.radians(self.boresight_az_deg + rng.uniform(-1, 1, k) * self.half_width_az_deg)
        return np.stack(
            [
                rng.uniform(0.1, 1.0, k) * self.max_range_km * 1e3,
                np.mod(az, 2.0 * math.pi),
                np.radians(rng.uniform(self.min_el_deg, min(60.0, self.max_el_deg), k)),
                rng.uniform(-3000.0, 3000.0, k),
            ],
            axis=1,
        )

    def observe(
        self,
        t_s: float,
        positions: Array,
        velocities: Array,
        rcs_m2: Array,
        truth_ids: list[str],
        rng: np.random.Generator,
    ) -> list[Detection]:
        """:meth:`scan` as a list of :class:`~trilink.types.Detection`."""
        return self.scan(t_s, positions, velocities, rcs_m2, truth_ids, rng).detections()
