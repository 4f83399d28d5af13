"""Registration bias of each nation's tracks, estimated online from objects seen in common.

Each nation's radars carry registration errors (a few hundred metres in range, a few
milliradians in angle): at 500–1000 km, 2 mrad moves a report by 1–2 km, and every track
that nation builds carries the offset. Per nation, a bias ``β`` (3) moves its tracks'
positions by ``b = G(r) β`` (ECEF metres), with one of two geometries:

* **site** (the track's radar sites are known): ``β = (Δrange m, Δazimuth rad,
  Δelevation rad)`` seen from the mean site ``s`` of the track's sensors, and
  ``G = [u_r, ρ cos(el) u_az, ρ u_el]`` (ECEF unit vectors of range, azimuth and
  elevation at ``r``, ``ρ = |r - s|``): the offset grows with range and turns with the
  line of sight, as a radar's registration error does;
* **translation** (no site): ``β = b`` (ECEF m), ``G = I``.

Both drift as a slow random walk. One nation, the reference, is taken as unbiased: only
differences between nations are observable. The biases of all other nations form one
state ``[β₁, β₂, …]`` with a joint covariance, estimated by a linear Kalman filter (``G``
evaluated at the tracks' positions). Each observation is the position difference of two
nations' tracks of the same object at one time (``zᵢⱼ = rᵢ - rⱼ = Gᵢβᵢ - Gⱼβⱼ + noise``,
noise covariance ``Pᵢ + Pⱼ``); a difference between two partners (neither the reference)
still informs both through their correlation. The prior is wide enough for a 500 m +
2 mrad bias; it shrinks as pairs arrive.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from numpy.typing import NDArray

from trilink.errors import PhysicsError
from trilink.geo.earth import ecef_to_geodetic

__all__ = ["BiasConfig", "BiasEstimator", "Member", "site_jacobian"]

Array = NDArray[np.float64]
_I3: Final = np.eye(3)
Member = tuple[str, Array, Array, Array | None]
"""One nation's track position in a pair: (nation, ECEF position m (3), covariance m²
(3×3), its sensors' mean site ECEF m (3) or None)."""


def ecef_to_latlon_rad(r_ecef_m: Array) -> tuple[float, float]:
    """Geodetic latitude and longitude (rad) of an ECEF position (m)."""
    lat, lon, _ = ecef_to_geodetic(r_ecef_m)
    return float(np.radians(lat)), float(np.radians(lon))


@dataclass(frozen=True, slots=True)
class BiasConfig:
    """Parameters of the bias filter."""

    prior_sigma_m: float = field(
        default=1500.0, metadata={"doc": "1-sigma prior translation per axis (m), no site"}
    )
    walk_m_per_sqrt_s: float = field(
        default=10.0, metadata={"doc": "random-walk drift of a translation (m/√s)"}
    )
    prior_range_sigma_m: float = field(
        default=500.0, metadata={"doc": "1-sigma prior range bias (m), site geometry"}
    )
    prior_angle_sigma_mrad: float = field(
        default=3.0, metadata={"doc": "1-sigma prior azimuth/elevation bias (mrad)"}
    )
    site_walk_fraction: float = field(
        default=0.002,
        metadata={"doc": "random walk of a site bias per √s, as a fraction of its prior sigma"},
    )
    gate_chi2: float = field(
        default=21.1, metadata={"doc": "pairs whose difference exceeds this χ² (3 dof) are skipped"}
    )
    pair_noise_factor: float = field(
        default=4.0,
        metadata={
            "doc": "each pair's difference is taken as this many times as noisy as its "
            "tracks' covariances say (the gate uses them as they are): tracking errors "
            "persist from one pair to the next (5 s apart), so successive pairs are not "
            "independent observations of the bias; 4 is an error correlation of ~0.6 "
            "between them. At 1, an unbiased Japan's bias turned significant late in the "
            "2022-11-18 replay (azimuth -0.28 ± 0.09 mrad from pairs on stage 2, seed 6) "
            "and its removal moved Japan's RV track 200 m; Korea's 500 m / 2 mrad is "
            "learnt as well at 4 (498-577 m, 1.8-2.2 mrad in 10 runs)"
        },
    )
    apply_chi2: float = field(
        default=11.34,
        metadata={
            "doc": "an estimated bias is removed only once significant: β̂ᵀP⁻¹β̂ above this "
            "χ² (3 dof; 11.34 is 99 %); below it the offset is left in and its mean square "
            "(P + β̂β̂ᵀ) added. 0 always removes it"
        },
    )

    model_error_fraction: float = field(
        default=0.3,
        metadata={
            "doc": "a removed offset leaves this fraction of its size as error (1-sigma, "
            "isotropic): one bias per nation stands for several radars, each offset by "
            "its own geometry, and a track blends them (measured: 100-600 m left of a "
            "1-2 km offset of Korea's three radars, each biased 500 m and 2 mrad)"
        },
    )

    def __post_init__(self) -> None:
        for name in (
            "prior_sigma_m",
            "gate_chi2",
            "prior_range_sigma_m",
            "prior_angle_sigma_mrad",
            "pair_noise_factor",
        ):
            if not getattr(self, name) > 0.0:
                raise ValueError(
                    f"BiasConfig: `{name}` must be positive, got {getattr(self, name)}"
                )
        for name in (
            "walk_m_per_sqrt_s",
            "site_walk_fraction",
            "apply_chi2",
            "model_error_fraction",
        ):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f"BiasConfig: `{name}` must be >= 0, got {getattr(self, name)}")

    def prior_sigma(self, with_site: bool) -> Array:
        """1-sigma prior of ``β`` (m, rad, rad with a site; m, m, m without)."""
        if with_site:
            a = self.prior_angle_sigma_mrad * 1e-3
            return np.array([self.prior_range_sigma_m, a, a])
        return np.full(3, self.prior_sigma_m)

    def walk_sigma(self, with_site: bool) -> Array:
        """Random-walk rate of ``β`` per √s."""
        if with_site:
            return self.site_walk_fraction * self.prior_sigma(True)
        return np.full(3, self.walk_m_per_sqrt_s)


@functools.lru_cache(maxsize=256)
def _site_axes(site_ecef_m: tuple[float, float, float]) -> tuple[Array, Array]:
    """Local up and east unit vectors (ECEF) at a site (sites are few and fixed)."""
    lat, lon = ecef_to_latlon_rad(np.asarray(site_ecef_m))
    up = np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    east = np.array([-np.sin(lon), np.cos(lon), 0.0])
    up.flags.writeable = False
    east.flags.writeable = False
    return up, east


def site_jacobian(site_ecef_m: Array, r_ecef_m: Array) -> Array:
    """``G`` (3×3): ECEF offset (m) of a position ``r`` per unit bias (m, rad, rad) in range,
    azimuth and elevation seen from ``site`` (ECEF m)."""
    los = r_ecef_m - site_ecef_m
    rho = float(np.linalg.norm(los))
    u_r = los / rho
    up, east = _site_axes(tuple(float(c) for c in site_ecef_m))
    # Azimuth turns about the local vertical; elevation tilts toward it.
    sin_el = float(u_r @ up)
    horiz = u_r - sin_el * up
    cos_el = float(np.linalg.norm(horiz))
    if cos_el < 1e-9:  # straight overhead: azimuth is undefined, elevation turns east
        return np.stack([u_r, np.zeros(3), rho * east], axis=1)
    u_az = np.cross(horiz / cos_el, up)
    u_el = (up - sin_el * u_r) / cos_el
    return np.stack([u_r, rho * cos_el * u_az, rho * u_el], axis=1)


class BiasEstimator:
    """Joint Kalman filter of every nation's bias relative to ``reference``."""

    def __init__(self, reference: str, config: BiasConfig | None = None) -> None:
        self.reference = reference
        self.config = config or BiasConfig()
        self._index: dict[str, int] = {}
        self._with_site: dict[str, bool] = {}
        self._x = np.zeros(0)
        self._p = np.zeros((0, 0))
        self._t_s: float | None = None
        self._anchored: set[str] = {reference}
        self.updates = 0

    @property
    def nations(self) -> tuple[str, ...]:
        """The nations with a bias state (the reference has none)."""
        return tuple(self._index)

    def parameters(self, nation: str) -> tuple[Array, Array, bool]:
        """The nation's bias ``β`` (3), its covariance and whether it is a site bias
        (range m, azimuth rad, elevation rad) or a translation (ECEF m)."""
        k = self._index.get(nation)
        if k is None:
            with_site = self._with_site.get(nation, False)
            return np.zeros(3), np.diag(self.config.prior_sigma(with_site) ** 2), with_site
        s = slice(3 * k, 3 * k + 3)
        return self._x[s].copy(), self._p[s, s].copy(), self._with_site[nation]

    def offset(
        self, nation: str, r_ecef_m: Array, site_ecef_m: Array | None, t_s: float | None = None
    ) -> tuple[Array, Array]:
        """The position offset (ECEF m, 3) of ``nation``'s track at ``r`` and its
        covariance (m², 3×3) at ``t_s``: zero for the reference, from the prior for a nation
        not yet seen.

        An estimate ``β̂`` that is not yet significant (``β̂ᵀP⁻¹β̂ <= apply_chi2``) is not
        applied: the offset is zero and its covariance the mean square error of that zero,
        ``G (P + β̂β̂ᵀ) Gᵀ``. Before a partner's track meets the reference's, the pairs
        between partners pin only the difference of their biases, and their common part
        wanders with the trackers' time-correlated errors (measured: Korea's and the US's
        offsets both moved ~200 m together in boost with no bias present, and the fused
        track was 110–210 m off while both members were 12–45 m off)."""
        if nation == self.reference:
            return np.zeros(3), np.zeros((3, 3))
        with_site = self._with_site.get(nation, site_ecef_m is not None)
        return self._offset(
            nation, with_site, self._jacobian(with_site, r_ecef_m, site_ecef_m), t_s
        )

    def state_offset(
        self,
        nation: str,
        r_ecef_m: Array,
        v_ecef_mps: Array,
        site_ecef_m: Array | None,
        t_s: float | None = None,
    ) -> tuple[Array, Array]:
        """The offset of ``nation``'s track in position and velocity (ECEF m, m/s: 6) at
        ``r`` moving at ``v``, and its covariance (6×6), as :meth:`offset`.

        A site bias moves a track by ``G(r) β``, and ``G`` turns with the line of sight as
        the object moves, so the track's velocity is off by ``(dG/dt) β`` too: for
        Korea's radars biased 2 mrad, a missile 700 km away crossing at 4 km/s carries
        ~8 m/s of it (a fused velocity pulled that far made the fused NEES 20–40 in
        boost). ``dG/dt`` is taken over one second along ``v``."""
        if nation == self.reference:
            return np.zeros(6), np.zeros((6, 6))
        with_site = self._with_site.get(nation, site_ecef_m is not None)
        g = self._jacobian(with_site, r_ecef_m, site_ecef_m)
        g_dot = self._jacobian(with_site, r_ecef_m + v_ecef_mps, site_ecef_m) - g
        return self._offset(nation, with_site, np.vstack([g, g_dot]), t_s)

    def _offset(
        self, nation: str, with_site: bool, g: Array, t_s: float | None
    ) -> tuple[Array, Array]:
        """The offset ``g β`` (rows of ``g``: 3 position, then 3 velocity if given) and its
        covariance, with the bias model's error on each block."""
        k = self._index.get(nation)
        if k is None:
            return np.zeros(g.shape[0]), g @ np.diag(self.config.prior_sigma(with_site) ** 2) @ g.T
        s = slice(3 * k, 3 * k + 3)
        walk = self.config.walk_sigma(with_site) ** 2 * self._elapsed(t_s)
        beta, p_beta = self._x[s], self._p[s, s] + np.diag(walk)
        if self.significant(nation):
            b = g @ beta
            model = np.zeros((b.size, b.size))
            for i in range(0, b.size, 3):
                model[i : i + 3, i : i + 3] = self._model_error(b[i : i + 3])
            return b, g @ p_beta @ g.T + model
        return np.zeros(g.shape[0]), g @ (p_beta + np.outer(beta, beta)) @ g.T

    def anchored(self, nation: str) -> bool:
        """Whether ``nation``'s bias is tied to the reference: it has been paired with the
        reference, or with a nation so tied. Pairs between partners alone pin only the
        difference of their biases."""
        return nation in self._anchored

    def model_error(self, nation: str, r_ecef_m: Array, site_ecef_m: Array | None) -> Array:
        """The part of :meth:`offset`'s covariance (m², 3×3) that differs from one of the
        nation's tracks to another (``model_error_fraction`` of the removed offset): zero
        while its bias is not removed."""
        if not self.significant(nation):
            return np.zeros((3, 3))
        with_site = self._with_site[nation]
        k = self._index[nation]
        b = self._jacobian(with_site, r_ecef_m, site_ecef_m) @ self._x[3 * k : 3 * k + 3]
        return self._model_error(b)

    def _model_error(self, offset_m: Array) -> Array:
        return (self.config.model_error_fraction**2 * float(offset_m @ offset_m) / 3.0) * _I3

    def significant(self, nation: str) -> bool:
        """Whether ``nation``'s estimated bias differs from zero by more than
        ``apply_chi2`` (χ², 3 dof); the reference's never does, nor that of a nation not
        yet :meth:`anchored` (its estimate's common part with its partners is not
        observed: applying it moved a fused track by ~1 km while its members were 40 m
        off, seed 104 of the 2022-11-18 replay, before Japan's first track)."""
        k = self._index.get(nation)
        if k is None or nation not in self._anchored:
            return False
        s = slice(3 * k, 3 * k + 3)
        beta = self._x[s]
        try:
            return float(beta @ np.linalg.solve(self._p[s, s], beta)) > self.config.apply_chi2
        except np.linalg.LinAlgError:
            return True

    def update(self, t_s: float, a: Member, b: Member) -> bool:
        """Take one pair of two nations' tracks of the same object at ``t_s`` (see
        :data:`Member`). Returns False if the pair was skipped (same nation, or its
        difference is outside the gate)."""
        if a[0] == b[0]:
            return False
        for n, _, _, site in (a, b):
            self._ensure(n, site is not None)
        self._predict(t_s)
        h = np.zeros((3, self._x.size))
        for (n, r, _, site), sign in ((a, 1.0), (b, -1.0)):
            if n != self.reference:
                k = self._index[n]
                h[:, 3 * k : 3 * k + 3] = sign * self._jacobian(self._with_site[n], r, site)
        innov = (a[1] - b[1]) - h @ self._x
        hph = h @ self._p @ h.T
        r_noise = self.config.pair_noise_factor * (a[2] + b[2])
        try:
            if float(innov @ np.linalg.solve(hph + a[2] + b[2], innov)) > self.config.gate_chi2:
                return False
            gain = np.linalg.solve(hph + r_noise, h @ self._p).T
        except np.linalg.LinAlgError as exc:
            raise PhysicsError(
                f"bias update of {a[0]}/{b[0]} at {t_s}: innovation covariance is singular "
                f"({exc}). Fix: give tracks positive-definite covariances."
            ) from exc
        self._x = self._x + gain @ innov
        ikh = np.eye(self._x.size) - gain @ h
        self._p = ikh @ self._p @ ikh.T + gain @ r_noise @ gain.T  # Joseph form
        self._p = 0.5 * (self._p + self._p.T)
        if a[0] in self._anchored or b[0] in self._anchored:
            self._anchored.update((a[0], b[0]))
        self.updates += 1
        return True

    @staticmethod
    def _jacobian(with_site: bool, r: Array, site: Array | None) -> Array:
        if with_site and site is not None:
            return site_jacobian(site, r)
        if with_site:
            raise ValueError("a nation with a site bias needs its track's site")
        return _I3

    def _ensure(self, nation: str, with_site: bool) -> None:
        if nation == self.reference or nation in self._index:
            return
        k = len(self._index)
        self._index[nation] = k
        self._with_site[nation] = with_site
        n = 3 * (k + 1)
        x, p = np.zeros(n), np.zeros((n, n))
        x[: n - 3], p[: n - 3, : n - 3] = self._x, self._p
        p[n - 3 :, n - 3 :] = np.diag(self.config.prior_sigma(with_site) ** 2)
        self._x, self._p = x, p

    def _elapsed(self, t_s: float | None) -> float:
        if t_s is None or self._t_s is None:
            return 0.0
        return max(0.0, t_s - self._t_s)

    def _predict(self, t_s: float) -> None:
        dt = self._elapsed(t_s)
        walk = (
            np.concatenate([self.config.walk_sigma(self._with_site[n]) ** 2 for n in self._index])
            if self._index
            else np.zeros(0)
        )
        self._p = self._p + np.diag(walk * dt)
        self._t_s = t_s if self._t_s is None else max(self._t_s, t_s)
