"""Sharing agreements as data, and the pure release policy :func:`decide`.

An agreements file is TOML (multi-word keys use dashes). This docstring is the reference
of the file format::

    format = 1

    [[agreement]]
    id = "KOR-JPN"                        # unique in the file
    version = 1                           # bumped on each change
    from = "KOR"                          # originator (ISO 3166 alpha-3)
    to = "JPN"                            # recipient
    kinds = ["track", "launch", "impact"] # message kinds released
    state = "active"                      # active | suspended | terminated
    backlog = "hold"                      # hold | latest-only | drop (on suspension)
    valid-from = 2023-12-19T00:00:00Z     # optional, UTC
    valid-until = 2030-01-01T00:00:00Z    # optional, UTC (exclusive)
    region = "japan-eez"                  # optional: a named area, or vertices (below)
    object-classes = ["missile", "rv"]    # optional: what the data may be about
    precision-m = 1000.0                  # optional: coarsest grid positions go out on
    redact = ["sensor", "covariance"]     # optional: fields withheld (see below)
    delay-s = 30.0                        # optional: release at valid time + delay
    seal = true                           # optional: seal payloads to the recipient
    note = "why this agreement exists"    # optional

Fields:

- ``kinds``: any of detection, track, launch, impact, alert, correction, all-clear, status,
  agreement-change, receipt. A message of another kind is denied.
- ``state``: only an *active* agreement releases. While *suspended*, a message the
  agreement would otherwise release is denied and the :class:`Decision` carries the
  agreement's ``backlog`` rule: *hold* (keep everything, release in order on resumption),
  *latest-only* (keep the newest per track, or per kind), *drop*. *Terminated* releases
  nothing and holds nothing.
- ``valid-from``/``valid-until``: the message's valid time must lie in [from, until).
- ``region``: where the data is about. Either a named area (:data:`NAMED_REGIONS`:
  ``"japan-eez"``, Japan's 200 NM zone without the joint and disputed areas, as
  :func:`trilink.geo.areas.in_japan_eez`) or a polygon as a list of at least three
  ``[lat, lon]`` vertices in degrees, e.g. ``region = [[5, 115], [5, 130], [22, 130],
  [22, 115]]`` (closed automatically; points on the edge count as inside; it must not
  cross itself nor the antimeridian). The position judged is a track's current
  sub-object point, a launch estimate's launch point, an impact prediction's impact
  point. A message of an object kind (detection, track, launch, impact, correction)
  without a position is denied; messages of other kinds (all-clear, status,
  agreement-change, receipt) are not about a place and are not filtered by region.
- ``object-classes``: any of missile, stage, rv, debris, unknown. Unclassified data counts
  as ``unknown``; today tracks are unclassified, launch estimates and impact predictions
  are about a ``missile`` (:func:`release_facts`). Applies to object kinds only. Absent:
  every class.
- ``precision-m``: positions are released on a grid of this spacing (metres), never
  finer, and their uncertainty is inflated to cover the rounding: a track's ECEF position
  is rounded per axis to a multiple of ``precision-m`` and ``precision-m² / 12`` (the
  variance of the rounding error) is added to each position variance; latitude and
  longitude (launch point, impact point) are rounded to a grid of ``precision-m`` metres
  (latitude step ``precision-m / 111 195 m``, longitude step that divided by the cosine
  of the rounded latitude), and the worst-case rounding error ``precision-m / √2`` is
  added to the 95 % launch radius and to both impact-ellipse semi-axes.
- ``redact``: fields withheld (:data:`REDACTABLE`): ``"sensor"`` (a track's sensor
  names), ``"covariance"`` (a track's covariance), ``"velocity"`` (a track's velocity and
  acceleration, and their covariance), ``"overflight"`` (an impact prediction's land
  regions overflown). A track without velocity or covariance travels as a
  :class:`~trilink.sharing.envelope.PartialTrack`. Fields not present in a payload are
  not affected. Launch estimates have no redactable field: limit them with
  ``precision-m``, ``region`` or ``kinds``.
- ``delay-s``: the release may not happen before valid time + ``delay-s`` (seconds, ≥ 0);
  the decision says when (``release_at_s``). The policy holds no clock: the node waits.
- ``seal``: the node seals each payload released under this agreement to the recipient's
  key (:func:`trilink.sharing.crypto.seal`), so relays forward what they cannot read.

Every problem in a file raises :class:`~trilink.errors.ConfigError` naming the file, the
field (``agreement[2].kinds[1]``, indices from 0) and the fix; an unknown field gets a
"did you mean". The policy never reads files or clocks: :func:`decide` is a pure function
of the message, the recipient and the agreements, judged at the message's valid time.
Named regions are loaded when the agreements are, not when a message is judged.

Judging content (region, object class) needs the message's facts: pass a
:class:`ReleaseFacts` built by :func:`release_facts` from the payload. A message given
only as a :class:`Releasable` (originator, kind, valid time; an envelope, say) has unknown
content, and an agreement that restricts region or object class denies it (fail closed).
If several agreements from the originator to the recipient could release a message, the
first in file order that allows it decides (and its precision and redactions apply).

The originator's release path in one call: :func:`plan_releases` (decide for every
partner, redact, and re-judge on the coarsened payload so that the recipient, judging
``release_facts`` of what it receives, reaches the same decision).
"""

from __future__ import annotations

import asyncio
import difflib
import functools
import json
import math
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from importlib.resources import files
from pathlib import Path
from typing import Any, Final, Protocol

import msgspec
import numpy as np
import shapely

from trilink._tomlfile import config_error, parse_toml, read_config_text
from trilink.errors import ConfigError
from trilink.geo.areas import area_outlines
from trilink.sharing.envelope import Kind, PartialTrack, Payload, alert_kind
from trilink.types import Alert, ImpactPrediction, LaunchEstimate, Track

__all__ = [
    "DEFAULT_AGREEMENTS_RESOURCE",
    "FORMAT",
    "NAMED_REGIONS",
    "OBJECT_KINDS",
    "REDACTABLE",
    "Agreement",
    "AgreementSet",
    "AgreementState",
    "AgreementsWatcher",
    "Backlog",
    "Decision",
    "ObjectClass",
    "Region",
    "Releasable",
    "Release",
    "ReleaseFacts",
    "Verdict",
    "decide",
    "format_agreements",
    "ecef_to_lat_lon",
    "load_agreements",
    "load_default_agreements",
    "parse_agreements",
    "plan_releases",
    "quantise_lat_lon",
    "quantise_m",
    "recipients_for",
    "redact_payload",
    "release_decisions",
    "release_facts",
]

FORMAT: Final = 1
"""The agreements file format this version reads."""

DEFAULT_AGREEMENTS_RESOURCE: Final = "trilink/sharing/data/agreements.toml"
"""Where the shipped default (the 2023 hub as deployed) lives in the package."""

OBJECT_KINDS: Final = frozenset(
    {Kind.DETECTION, Kind.TRACK, Kind.LAUNCH, Kind.IMPACT, Kind.CORRECTION}
)
"""Kinds about an object in a place: the ones ``region`` and ``object-classes`` filter."""

REDACTABLE: Final[Mapping[str, str]] = {
    "sensor": "a track's sensor names (released as none)",
    "covariance": "a track's covariance (the track travels as a PartialTrack)",
    "velocity": "a track's velocity and acceleration with their covariance (PartialTrack)",
    "overflight": "an impact prediction's land regions overflown (released as none)",
}
"""The field names ``redact`` accepts, and what each withholds."""

NAMED_REGIONS: Final[Mapping[str, str]] = {
    "japan-eez": "Japan's 200 NM exclusive economic zone, joint and disputed areas "
    "excluded (as trilink.geo.areas.in_japan_eez)",
}
"""The named areas ``region`` accepts."""

_M_PER_DEG: Final = 6_371_008.8 * math.pi / 180.0
"""Metres per degree of latitude on the mean Earth sphere (the precision grid)."""


class AgreementState(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


class Backlog(StrEnum):
    """What a suspension does to traffic released meanwhile."""

    HOLD = "hold"
    LATEST_ONLY = "latest-only"
    DROP = "drop"


class ObjectClass(StrEnum):
    """What a datum is about."""

    MISSILE = "missile"
    STAGE = "stage"
    RV = "rv"
    DEBRIS = "debris"
    UNKNOWN = "unknown"


@functools.cache
def _named_geometry(name: str) -> Any:
    if name == "japan-eez":
        # The EEZ's boundary rings, filled even-odd: the 200 NM polygons with their
        # high-seas holes, i.e. what in_japan_eez calls inside (checked by a test).
        rings = [shapely.Polygon(r) for r in area_outlines()["Japan EEZ"]]
        geometry = functools.reduce(shapely.symmetric_difference, rings)
    else:
        raise ValueError(f"no named region {name!r}; named regions: {', '.join(NAMED_REGIONS)}")
    shapely.prepare(geometry)
    return geometry


@dataclass(frozen=True)
class Region:
    """Where data may be about: a named area or a polygon of (lat, lon) vertices (degrees).

    The geometry is built (and named areas loaded) when the region is made, so that
    :meth:`contains` does no I/O.
    """

    name: str = field(default="", metadata={"doc": "a key of NAMED_REGIONS, or '' for vertices"})
    vertices: tuple[tuple[float, float], ...] = field(
        default=(), metadata={"doc": "(lat_deg, lon_deg) per vertex, when not named"}
    )
    _geometry: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.name:
            if self.vertices:
                raise ValueError("a region is either named or given by vertices, not both")
            geometry = _named_geometry(self.name)
        else:
            geometry = _polygon(self.vertices)
        object.__setattr__(self, "_geometry", geometry)

    @classmethod
    def named(cls, name: str) -> Region:
        return cls(name=name)

    @classmethod
    def polygon(cls, vertices: Sequence[Sequence[float]]) -> Region:
        return cls(vertices=tuple((float(v[0]), float(v[1])) for v in vertices))

    @property
    def label(self) -> str:
        return self.name or f"polygon of {len(self.vertices)} vertices"

    def contains(self, lat_deg: float, lon_deg: float) -> bool:
        """Is the point inside (or on the edge)?"""
        return bool(shapely.intersects_xy(self._geometry, lon_deg, lat_deg))


def _polygon(vertices: tuple[tuple[float, float], ...]) -> Any:
    if len(vertices) < 3:
        raise ValueError(f"a polygon needs at least 3 [lat, lon] vertices, got {len(vertices)}")
    for lat, lon in vertices:
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise ValueError(
                f"vertex [{lat}, {lon}] is not a [lat, lon] pair in degrees "
                "(lat within ±90, lon within ±180)"
            )
    geometry = shapely.Polygon([(lon, lat) for lat, lon in vertices])
    if not geometry.is_valid or geometry.area <= 0.0:
        raise ValueError(
            f"the polygon is not simple ({shapely.is_valid_reason(geometry)}): list the "
            "vertices in order around the area, without crossing edges"
        )
    shapely.prepare(geometry)
    return geometry


@dataclass(frozen=True)
class Agreement:
    """One directed agreement: what ``originator`` releases to ``recipient``."""

    id: str
    version: int
    originator: str = field(metadata={"doc": "`from` in the file: the releasing nation"})
    recipient: str = field(metadata={"doc": "`to` in the file: the receiving nation"})
    kinds: frozenset[Kind]
    state: AgreementState = AgreementState.ACTIVE
    backlog: Backlog = Backlog.HOLD
    valid_from_s: float | None = field(default=None, metadata={"doc": "POSIX s UTC, inclusive"})
    valid_until_s: float | None = field(default=None, metadata={"doc": "POSIX s UTC, exclusive"})
    note: str = ""
    region: Region | None = field(default=None, metadata={"doc": "None: anywhere"})
    object_classes: frozenset[ObjectClass] | None = field(
        default=None, metadata={"doc": "None: every class"}
    )
    precision_m: float | None = field(
        default=None, metadata={"doc": "position grid spacing (m); None: full precision"}
    )
    redact: frozenset[str] = field(
        default=frozenset(), metadata={"doc": "fields withheld: keys of REDACTABLE"}
    )
    delay_s: float = field(default=0.0, metadata={"doc": "release at valid time + delay"})
    seal: bool = field(default=False, metadata={"doc": "seal payloads to the recipient"})

    def __post_init__(self) -> None:
        unknown = sorted(set(self.redact) - set(REDACTABLE))
        if unknown:
            raise ValueError(f"cannot redact {unknown}; redactable: {', '.join(REDACTABLE)}")
        if self.precision_m is not None and not (
            math.isfinite(self.precision_m) and self.precision_m > 0.0
        ):
            raise ValueError(f"precision_m must be a positive number, got {self.precision_m}")
        if not (math.isfinite(self.delay_s) and self.delay_s >= 0.0):
            raise ValueError(f"delay_s must be a finite number ≥ 0, got {self.delay_s}")

    @property
    def label(self) -> str:
        """``id vVERSION``, as reasons cite it."""
        return f"{self.id} v{self.version}"


@dataclass(frozen=True)
class AgreementSet:
    """An immutable set of agreements with unique ids, indexed by originator."""

    agreements: tuple[Agreement, ...] = ()
    source: str = "<memory>"
    _by_id: Mapping[str, Agreement] = field(init=False, repr=False, compare=False)
    _by_originator: Mapping[str, tuple[Agreement, ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        by_id: dict[str, Agreement] = {}
        by_originator: dict[str, list[Agreement]] = {}
        for agreement in self.agreements:
            if agreement.id in by_id:
                raise ValueError(f"duplicate agreement id {agreement.id!r} in {self.source}")
            by_id[agreement.id] = agreement
            by_originator.setdefault(agreement.originator, []).append(agreement)
        object.__setattr__(self, "_by_id", by_id)
        object.__setattr__(self, "_by_originator", {k: tuple(v) for k, v in by_originator.items()})

    def __iter__(self) -> Iterator[Agreement]:
        return iter(self.agreements)

    def __len__(self) -> int:
        return len(self.agreements)

    def by_id(self, agreement_id: str) -> Agreement | None:
        return self._by_id.get(agreement_id)

    def replacing(self, agreement: Agreement) -> AgreementSet:
        """These agreements with the one of the same id replaced (or added)."""
        if agreement.id not in self._by_id:
            return AgreementSet((*self.agreements, agreement), source=self.source)
        swapped = tuple(agreement if a.id == agreement.id else a for a in self.agreements)
        return AgreementSet(swapped, source=self.source)

    def with_state(self, agreement_id: str, state: AgreementState) -> AgreementSet:
        """These agreements with one of them put in ``state`` (its version bumped)."""
        if agreement_id not in self._by_id:
            raise ConfigError(
                f"no agreement {agreement_id!r} in {self.source}",
                field="agreement",
                fix=f"use one of: {', '.join(sorted(self._by_id))}",
            )
        changed = tuple(
            replace(a, state=state, version=a.version + 1) if a.id == agreement_id else a
            for a in self.agreements
        )
        return AgreementSet(changed, source=self.source)

    def for_originator(self, nation: str) -> tuple[Agreement, ...]:
        """The agreements under which ``nation`` releases, in file order."""
        return self._by_originator.get(nation, ())


# -- the facts a decision judges ---------------------------------------------------------


class Releasable(Protocol):
    """What the policy needs of any message (an :class:`~.envelope.Envelope` has it)."""

    @property
    def originator(self) -> str: ...

    @property
    def kind(self) -> Kind: ...

    @property
    def valid_time_s(self) -> float: ...


@dataclass(frozen=True, kw_only=True)
class ReleaseFacts:
    """Everything the policy judges a message by, content included (see
    :func:`release_facts`). ``lat_deg``/``lon_deg`` are ``None`` when the message carries
    no position; ``object_class`` ``None`` means unclassified (judged as ``unknown``)."""

    originator: str
    kind: Kind
    valid_time_s: float
    lat_deg: float | None = None
    lon_deg: float | None = None
    object_class: ObjectClass | None = None


def release_facts(
    payload: Payload | None,
    *,
    originator: str,
    valid_time_s: float,
    kind: Kind | None = None,
    object_class: ObjectClass | None = None,
) -> ReleaseFacts:
    """The facts of a message carrying ``payload`` (``None`` for kinds without one).

    ``kind`` defaults to the payload's kind (give it for corrections, all-clears, ...).
    The position is a track's sub-object point (from its ECEF position), a launch
    estimate's launch point, an impact prediction's impact point. ``object_class``
    overrides the payload's: tracks are unclassified (``None``), launch estimates and
    impact predictions are about a ``missile``.
    """
    lat: float | None = None
    lon: float | None = None
    cls = object_class
    if isinstance(payload, Track | PartialTrack):
        own_kind = Kind.TRACK
        x, y, z = (float(v) for v in payload.state[:3])
        lat, lon = ecef_to_lat_lon(x, y, z)
    elif isinstance(payload, LaunchEstimate):
        own_kind, lat, lon = Kind.LAUNCH, payload.lat_deg, payload.lon_deg
        cls = cls or ObjectClass.MISSILE
    elif isinstance(payload, ImpactPrediction):
        own_kind, lat, lon = Kind.IMPACT, payload.lat_deg, payload.lon_deg
        cls = cls or ObjectClass.MISSILE
    elif isinstance(payload, Alert):
        own_kind, lat, lon = alert_kind(payload), payload.impact_lat_deg, payload.impact_lon_deg
        cls = cls or ObjectClass.MISSILE
    else:
        if kind is None:
            raise ValueError("release_facts needs `kind` for a message without a payload")
        own_kind = kind
    return ReleaseFacts(
        originator=originator,
        kind=kind or own_kind,
        valid_time_s=valid_time_s,
        lat_deg=lat,
        lon_deg=lon,
        object_class=cls,
    )


# -- the policy -------------------------------------------------------------------------


class Verdict(StrEnum):
    """A decision in one word."""

    ALLOW = "allow"
    REDACT = "redact"
    DENY = "deny"


@dataclass(frozen=True, kw_only=True)
class Decision:
    """The policy's answer for one message and one recipient, and what a release must do."""

    allow: bool
    redact: tuple[str, ...] = field(
        default=(), metadata={"doc": "fields to withhold (sorted keys of REDACTABLE)"}
    )
    reason: str = field(metadata={"doc": "in words, citing the agreement id and version"})
    agreement_id: str | None = None
    agreement_version: int | None = None
    precision_m: float | None = field(
        default=None, metadata={"doc": "release positions on this grid (m); None: as they are"}
    )
    release_at_s: float | None = field(
        default=None, metadata={"doc": "allowed: not before this time (valid time + delay)"}
    )
    seal: bool = field(default=False, metadata={"doc": "seal the payload to the recipient"})
    backlog: Backlog | None = field(
        default=None,
        metadata={"doc": "denied only because the agreement is suspended: its backlog rule"},
    )

    @property
    def verdict(self) -> Verdict:
        if not self.allow:
            return Verdict.DENY
        if self.redact or self.precision_m is not None:
            return Verdict.REDACT
        return Verdict.ALLOW


def decide(message: Releasable, recipient: str, agreements: AgreementSet) -> Decision:
    """May ``message`` go to ``recipient``, and how? Judged at the message's valid time.

    Allowed when some agreement from the originator to the recipient is active, lists the
    message's kind, is in its valid period at ``message.valid_time_s`` and admits the
    message's object class and position (give a :class:`ReleaseFacts` for those; see the
    module docstring); the first such agreement in file order sets the precision,
    redactions, delay and sealing. Otherwise denied with every matching agreement's
    reason, and with the backlog rule of a suspended agreement that would have released.
    """
    facts, known = _facts(message)
    originator, t_s = facts.originator, facts.valid_time_s
    if recipient == originator:
        return Decision(allow=False, reason=f"denied: {recipient} is the originator")
    candidates = [a for a in agreements.for_originator(originator) if a.recipient == recipient]
    if not candidates:
        return Decision(
            allow=False, reason=f"denied: no agreement from {originator} to {recipient}"
        )
    if not math.isfinite(t_s):
        return Decision(allow=False, reason=f"denied: valid time {t_s} is not a finite number")
    refusals: list[str] = []
    held: Agreement | None = None
    for agreement in candidates:
        refusal = _content_refusal(agreement, facts, known)
        if refusal is None:
            if agreement.state is AgreementState.ACTIVE:
                return _allowed(agreement, t_s)
            if held is None and agreement.state is AgreementState.SUSPENDED:
                held = agreement
        if agreement.state is not AgreementState.ACTIVE:
            refusal = f"{agreement.label} is {agreement.state.value}"
        assert refusal is not None
        refusals.append(refusal)
    cited = held or candidates[0]
    return Decision(
        allow=False,
        reason="denied: " + "; ".join(refusals),
        agreement_id=cited.id,
        agreement_version=cited.version,
        backlog=None if held is None else held.backlog,
    )


def release_decisions(
    message: Releasable, agreements: AgreementSet
) -> tuple[tuple[str, Decision], ...]:
    """:func:`decide` for every nation an agreement from the originator names, sorted.

    The originator releases to those whose decision allows (each with its own precision,
    redactions, delay and sealing), and applies the backlog rule where one is given.
    """
    recipients = sorted(
        {a.recipient for a in agreements.for_originator(message.originator)} - {message.originator}
    )
    return tuple((r, decide(message, r, agreements)) for r in recipients)


@dataclass(frozen=True)
class Release:
    """One recipient's share of a message: the decision, and the payload as it may go."""

    recipient: str
    decision: Decision
    payload: Payload | None = field(metadata={"doc": "redacted; None when denied"})


def plan_releases(
    payload: Payload,
    agreements: AgreementSet,
    *,
    originator: str,
    valid_time_s: float,
    kind: Kind | None = None,
    object_class: ObjectClass | None = None,
) -> tuple[Release, ...]:
    """Decide and redact ``payload`` for every partner of ``originator`` (sorted).

    Each allowed release is judged a second time on its redacted payload, i.e. on the
    facts the recipient will see (a position rounded to the agreed grid can fall on the
    other side of a region's edge): it goes only if the same agreement still allows it,
    so the recipient's own :func:`decide` on what it receives agrees with the originator.
    """
    facts = release_facts(
        payload,
        originator=originator,
        valid_time_s=valid_time_s,
        kind=kind,
        object_class=object_class,
    )
    plan: list[Release] = []
    for recipient, decision in release_decisions(facts, agreements):
        if not decision.allow:
            plan.append(Release(recipient, decision, None))
            continue
        redacted = redact_payload(payload, decision)
        if redacted is payload:  # the recipient sees the facts judged: no second look
            plan.append(Release(recipient, decision, redacted))
            continue
        seen = replace(
            release_facts(
                redacted,
                originator=originator,
                valid_time_s=valid_time_s,
                kind=facts.kind,
                object_class=object_class,
            ),
            object_class=facts.object_class,
        )
        again = decide(seen, recipient, agreements)
        if again.allow and again.agreement_id == decision.agreement_id:
            plan.append(Release(recipient, decision, redacted))
        else:
            refused = Decision(
                allow=False,
                reason=f"denied: {decision.agreement_id} v{decision.agreement_version} allows "
                f"the message, but not at its agreed precision ({again.reason})",
                agreement_id=decision.agreement_id,
                agreement_version=decision.agreement_version,
            )
            plan.append(Release(recipient, refused, None))
    return tuple(plan)


def recipients_for(
    originator: str, kind: Kind, valid_time_s: float, agreements: AgreementSet
) -> tuple[tuple[str, str], ...]:
    """Every (recipient, agreement id) the originator may release to, sorted by recipient.

    Judged without the message's content (as :func:`decide` judges a plain
    :class:`Releasable`): agreements restricting region or object class do not count.
    Use :func:`release_decisions` with :func:`release_facts` to judge content too.
    """
    if not math.isfinite(valid_time_s):
        return ()
    facts = ReleaseFacts(originator=originator, kind=kind, valid_time_s=valid_time_s)
    allowed: dict[str, str] = {}
    for agreement in agreements.for_originator(originator):
        if (
            agreement.recipient != originator
            and agreement.recipient not in allowed
            and agreement.state is AgreementState.ACTIVE
            and _content_refusal(agreement, facts, known=False) is None
        ):
            allowed[agreement.recipient] = agreement.id
    return tuple(sorted(allowed.items()))


def _facts(message: Releasable) -> tuple[ReleaseFacts, bool]:
    """The message's facts, and whether its content (position, class) is known."""
    if isinstance(message, ReleaseFacts):
        return message, True
    facts = ReleaseFacts(
        originator=message.originator, kind=message.kind, valid_time_s=message.valid_time_s
    )
    return facts, False


def _allowed(agreement: Agreement, t_s: float) -> Decision:
    redact = tuple(sorted(agreement.redact))
    terms: list[str] = []
    if redact:
        terms.append("redact " + ", ".join(redact))
    if agreement.precision_m is not None:
        terms.append(f"precision {agreement.precision_m:g} m")
    if agreement.delay_s:
        terms.append(f"delay {agreement.delay_s:g} s")
    if agreement.seal:
        terms.append("sealed")
    return Decision(
        allow=True,
        redact=redact,
        reason=f"allowed by {agreement.label}" + (f" ({'; '.join(terms)})" if terms else ""),
        agreement_id=agreement.id,
        agreement_version=agreement.version,
        precision_m=agreement.precision_m,
        release_at_s=t_s + agreement.delay_s,
        seal=agreement.seal,
    )


def _content_refusal(agreement: Agreement, facts: ReleaseFacts, known: bool) -> str | None:
    """Why ``agreement`` would not release the message even if active, or None."""
    kind, t_s, label = facts.kind, facts.valid_time_s, agreement.label
    if kind not in agreement.kinds:
        return f"{label} does not release kind {kind.value}"
    if agreement.valid_from_s is not None and t_s < agreement.valid_from_s:
        return f"{label} not valid until {_iso(agreement.valid_from_s)}"
    if agreement.valid_until_s is not None and t_s >= agreement.valid_until_s:
        return f"{label} expired at {_iso(agreement.valid_until_s)}"
    if kind not in OBJECT_KINDS:
        return None
    classes = agreement.object_classes
    if classes is not None:
        names = ", ".join(sorted(c.value for c in classes))
        if not known:
            return (
                f"{label} releases only object classes {names}, and the message's class "
                "was not judged (decide on release_facts(payload, ...))"
            )
        cls = facts.object_class or ObjectClass.UNKNOWN
        if cls not in classes:
            return f"{label} does not release object class {cls.value} (only {names})"
    region = agreement.region
    if region is not None:
        if not known:
            return (
                f"{label} releases only data inside {region.label}, and the message's "
                "position was not judged (decide on release_facts(payload, ...))"
            )
        lat, lon = facts.lat_deg, facts.lon_deg
        if lat is None or lon is None:
            return f"{label} releases only data inside {region.label}; the message has no position"
        if not (math.isfinite(lat) and math.isfinite(lon)):
            return f"{label}: position {lat}, {lon} is not a finite number"
        if not region.contains(lat, lon):
            return f"{label}: position {lat:.3f}, {lon:.3f} lies outside {region.label}"
    return None


_WGS84_A: Final = 6_378_137.0
_WGS84_F: Final = 1.0 / 298.257223563
_WGS84_B: Final = _WGS84_A * (1.0 - _WGS84_F)
_WGS84_E2: Final = _WGS84_F * (2.0 - _WGS84_F)
_WGS84_EP2: Final = (_WGS84_A**2 - _WGS84_B**2) / _WGS84_B**2


def ecef_to_lat_lon(x_m: float, y_m: float, z_m: float) -> tuple[float, float]:
    """Geodetic latitude and longitude (degrees, WGS-84) of an ECEF point (m).

    Heikkinen's closed form in plain floats (round trip with
    :func:`trilink.geo.earth.geodetic_to_ecef` within nanometres from the surface to
    geostationary height; tested), about 1 µs per point: some fifty times faster than
    :func:`trilink.geo.earth.ecef_to_geodetic` for one point, which matters on the
    release path. Returns NaN for non-finite input and (±90, 0) on the axis.
    """
    p2 = x_m * x_m + y_m * y_m
    p = math.sqrt(p2)
    if not (math.isfinite(p) and math.isfinite(z_m)):
        return math.nan, math.nan
    if p < 1e-3:
        return (90.0 if z_m >= 0.0 else -90.0), 0.0
    a, b, e2 = _WGS84_A, _WGS84_B, _WGS84_E2
    z2 = z_m * z_m
    f = 54.0 * b * b * z2
    g = p2 + (1.0 - e2) * z2 - e2 * (a * a - b * b)
    c = e2 * e2 * f * p2 / (g * g * g)
    s = (1.0 + c + math.sqrt(max(c * c + 2.0 * c, 0.0))) ** (1.0 / 3.0)
    k = s + 1.0 + 1.0 / s
    pp = f / (3.0 * k * k * g * g)
    q = math.sqrt(1.0 + 2.0 * e2 * e2 * pp)
    r0 = -(pp * e2 * p) / (1.0 + q) + math.sqrt(
        max(
            0.5 * a * a * (1.0 + 1.0 / q) - pp * (1.0 - e2) * z2 / (q * (1.0 + q)) - 0.5 * pp * p2,
            0.0,
        )
    )
    v = math.sqrt((p - e2 * r0) ** 2 + (1.0 - e2) * z2)
    z0 = b * b * z_m / (a * v)
    lat = math.degrees(math.atan2(z_m + _WGS84_EP2 * z0, p))
    return lat, math.degrees(math.atan2(y_m, x_m))


def _iso(t_s: float) -> str:
    try:
        return datetime.fromtimestamp(t_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return f"{t_s} s (POSIX)"


# -- applying a decision ------------------------------------------------------------------


def redact_payload(payload: Payload, decision: Decision) -> Payload:
    """``payload`` as ``decision`` lets it go: fields withheld, positions coarsened.

    Pure: returns a new value and leaves ``payload`` untouched. Redactions apply to the
    fields a payload has (see :data:`REDACTABLE`); ``precision_m`` rounds positions to
    its grid and inflates their uncertainty (see the module docstring). A track that
    loses its velocity or covariance becomes a
    :class:`~trilink.sharing.envelope.PartialTrack`. Raises ``ValueError`` for a denying
    decision: nothing may be released under it.
    """
    if not decision.allow:
        raise ValueError(f"nothing may be released under a denying decision: {decision.reason}")
    withheld = frozenset(decision.redact)
    p = decision.precision_m
    if not withheld and p is None:
        return payload  # as it is: immutable, nothing to withhold or coarsen
    if isinstance(payload, Track | PartialTrack):
        return _redact_track(payload, withheld, p)
    if isinstance(payload, LaunchEstimate):
        if p is None:
            return payload
        lat, lon = quantise_lat_lon(payload.lat_deg, payload.lon_deg, p)
        return replace(
            payload, lat_deg=lat, lon_deg=lon, radius_95_m=payload.radius_95_m + p / math.sqrt(2)
        )
    if isinstance(payload, Alert):
        if p is None or payload.impact_lat_deg is None or payload.impact_lon_deg is None:
            return payload
        lat, lon = quantise_lat_lon(payload.impact_lat_deg, payload.impact_lon_deg, p)
        return replace(payload, impact_lat_deg=lat, impact_lon_deg=lon)
    out = payload
    if "overflight" in withheld:
        out = replace(
            out,
            overflight=(),
            overflight_times_s=(),
            overflight_prefectures=(),
            overflight_prefecture_times_s=(),
            korea_overflight=(),
            korea_overflight_times_s=(),
        )
    if p is not None:
        lat, lon = quantise_lat_lon(out.lat_deg, out.lon_deg, p)
        grow = p / math.sqrt(2)
        out = replace(
            out,
            lat_deg=lat,
            lon_deg=lon,
            semi_major_m=out.semi_major_m + grow,
            semi_minor_m=out.semi_minor_m + grow,
        )
    return out


def _redact_track(
    track: Track | PartialTrack, withheld: frozenset[str], p: float | None
) -> Track | PartialTrack:
    state = np.array(track.state, dtype=np.float64)
    cov = None if track.covariance is None else np.array(track.covariance, dtype=np.float64)
    done = set(track.withheld) if isinstance(track, PartialTrack) else set()
    partial = isinstance(track, PartialTrack)
    if "velocity" in withheld and state.shape[0] > 3:
        state = state[:3].copy()
        cov = None if cov is None else cov[:3, :3].copy()
        done.add("velocity")
        partial = True
    if "covariance" in withheld and cov is not None:
        cov = None
        done.add("covariance")
        partial = True
    sensors = track.sensors
    if "sensor" in withheld:
        if sensors:
            done.add("sensor")
        sensors = ()
    if p is not None:
        state[:3] = quantise_m(state[:3], p)
        if cov is not None:
            cov[:3, :3] += np.eye(3) * (p * p / 12.0)
    if not partial and cov is not None:
        return Track(
            track_id=track.track_id,
            nation=track.nation,
            t_s=track.t_s,
            state=state,
            covariance=cov,
            status=track.status,
            sensors=sensors,
            first_t_s=track.first_t_s,
            n_updates=track.n_updates,
            thrusting=track.thrusting,
        )
    return PartialTrack(
        track_id=track.track_id,
        nation=track.nation,
        t_s=track.t_s,
        state=state,
        covariance=cov,
        status=track.status,
        sensors=sensors,
        first_t_s=track.first_t_s,
        n_updates=track.n_updates,
        thrusting=track.thrusting,
        withheld=tuple(sorted(done)),
    )


def quantise_m(values: Any, step_m: float) -> Any:
    """Round each value to the nearest multiple of ``step_m``."""
    return np.round(np.asarray(values, dtype=np.float64) / step_m) * step_m


def quantise_lat_lon(lat_deg: float, lon_deg: float, step_m: float) -> tuple[float, float]:
    """Round a point (degrees) to the ``step_m`` grid: latitude in steps of ``step_m`` on
    the mean sphere, then longitude in steps of ``step_m`` at the rounded latitude."""
    dlat = step_m / _M_PER_DEG
    lat = min(90.0, max(-90.0, round(lat_deg / dlat) * dlat))
    dlon = _lon_step_deg(lat, step_m)
    return lat, round(lon_deg / dlon) * dlon


def _lon_step_deg(lat_deg: float, step_m: float) -> float:
    """The longitude step (degrees) of the ``step_m`` grid at latitude ``lat_deg``."""
    return step_m / (_M_PER_DEG * max(math.cos(math.radians(lat_deg)), 1e-6))


# -- loading ----------------------------------------------------------------------------


class _AgreementToml(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, rename="kebab"):
    id: str
    version: int
    from_: str = msgspec.field(name="from")
    to: str
    kinds: list[str]
    state: str
    backlog: str
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    region: str | list[list[float]] | None = None
    object_classes: list[str] | None = None
    precision_m: float | None = None
    redact: list[str] = []
    delay_s: float = 0.0
    seal: bool = False
    note: str = ""


class _FileToml(msgspec.Struct, forbid_unknown_fields=True):
    format: int
    agreement: list[_AgreementToml] = []


_KINDS: Final = ", ".join(k.value for k in Kind)
_STATES: Final = ", ".join(s.value for s in AgreementState)
_BACKLOGS: Final = ", ".join(b.value for b in Backlog)
_CLASSES: Final = ", ".join(c.value for c in ObjectClass)
_NATION_RE: Final = re.compile(r"[A-Z]{3}")
_TOP_FIELDS: Final = ("format", "agreement")
_AGREEMENT_FIELDS: Final = (
    "id",
    "version",
    "from",
    "to",
    "kinds",
    "state",
    "backlog",
    "valid-from",
    "valid-until",
    "region",
    "object-classes",
    "precision-m",
    "redact",
    "delay-s",
    "seal",
    "note",
)
_WRITE: Final[Mapping[str, str]] = {
    "format": f"`format = {FORMAT}` at the top of the file",
    "agreement": "one [[agreement]] table (double brackets) per agreement",
    "id": 'a unique string, e.g. `id = "KOR-JPN"`',
    "version": "a whole number bumped on each change, e.g. `version = 1`",
    "from": 'the originator\'s ISO 3166 alpha-3 code, e.g. `from = "KOR"`',
    "to": 'the recipient\'s ISO 3166 alpha-3 code, e.g. `to = "JPN"`',
    "kinds": f'a list of message kinds, e.g. `kinds = ["track", "launch"]`; kinds: {_KINDS}',
    "state": f'one of {_STATES}, e.g. `state = "active"`',
    "backlog": f'one of {_BACKLOGS}, e.g. `backlog = "hold"`',
    "valid-from": "a UTC date-time, e.g. `valid-from = 2023-12-19T00:00:00Z`",
    "valid-until": "a UTC date-time, e.g. `valid-until = 2030-01-01T00:00:00Z`",
    "region": (
        f'a named area ({", ".join(NAMED_REGIONS)}), e.g. `region = "japan-eez"`, or a '
        "list of at least three [lat, lon] vertices in degrees, e.g. "
        "`region = [[5, 115], [5, 130], [22, 130], [22, 115]]`"
    ),
    "object-classes": f'a list of object classes, e.g. `object-classes = ["missile"]`; '
    f"classes: {_CLASSES}",
    "precision-m": "a grid spacing in metres above 0, e.g. `precision-m = 1000.0`",
    "redact": f'a list of fields to withhold, e.g. `redact = ["sensor"]`; fields: '
    f"{', '.join(REDACTABLE)}",
    "delay-s": "a delay in seconds, 0 or more, e.g. `delay-s = 30.0`",
    "seal": "true or false, e.g. `seal = true`",
    "note": 'a string, e.g. `note = "why this agreement exists"`',
}


def format_agreements(agreements: AgreementSet, *, header: str = "") -> str:
    """The agreements as a file :func:`parse_agreements` reads back to the same set (what
    ``trilink link`` writes when it changes an agreement on a running network)."""
    out = [f"# {line}".rstrip() for line in header.splitlines()]
    out += ["# Format: see trilink.sharing.agreements.", f"format = {FORMAT}", ""]
    for a in agreements:
        out += [
            "[[agreement]]",
            f"id = {_toml_str(a.id)}",
            f"version = {a.version}",
            f"from = {_toml_str(a.originator)}",
            f"to = {_toml_str(a.recipient)}",
            "kinds = [" + ", ".join(_toml_str(k.value) for k in sorted(a.kinds)) + "]",
            f"state = {_toml_str(a.state.value)}",
            f"backlog = {_toml_str(a.backlog.value)}",
        ]
        for key, t_s in (("valid-from", a.valid_from_s), ("valid-until", a.valid_until_s)):
            if t_s is not None:
                stamp = datetime.fromtimestamp(t_s, tz=UTC).isoformat().replace("+00:00", "Z")
                out.append(f"{key} = {stamp}")
        if a.region is not None:
            region = (
                _toml_str(a.region.name)
                if a.region.name
                else "[" + ", ".join(f"[{lat!r}, {lon!r}]" for lat, lon in a.region.vertices) + "]"
            )
            out.append(f"region = {region}")
        if a.object_classes is not None:
            classes = ", ".join(_toml_str(c.value) for c in sorted(a.object_classes))
            out.append(f"object-classes = [{classes}]")
        if a.precision_m is not None:
            out.append(f"precision-m = {a.precision_m!r}")
        if a.redact:
            out.append("redact = [" + ", ".join(_toml_str(r) for r in sorted(a.redact)) + "]")
        if a.delay_s:
            out.append(f"delay-s = {a.delay_s!r}")
        if a.seal:
            out.append("seal = true")
        if a.note:
            out.append(f"note = {_toml_str(a.note)}")
        out.append("")
    return "\n".join(out)


def _toml_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def load_agreements(path: Path) -> AgreementSet:
    """Read and check an agreements file."""
    text = read_config_text(
        path,
        what="agreements file",
        fix_missing=(
            "give the path of an existing agreements file, or start one from the "
            f"shipped default ({DEFAULT_AGREEMENTS_RESOURCE} in the trilink package): "
            f"`format = {FORMAT}` then one [[agreement]] table per agreement"
        ),
    )
    return parse_agreements(text, source=str(path))


class AgreementsWatcher:
    """Polls an agreements file; calls ``on_change`` with the new set when it changes.

    A file that does not load is reported through ``on_error`` and the agreements in
    force stay: the node keeps running on the last good set."""

    def __init__(
        self,
        path: Path,
        on_change: Callable[[AgreementSet], Awaitable[None]],
        on_error: Callable[[ConfigError], None],
        *,
        every_s: float = 0.5,
    ) -> None:
        self.path = path
        self._on_change = on_change
        self._on_error = on_error
        self._every_s = every_s
        self._seen = self._stamp()

    def _stamp(self) -> tuple[int, int]:
        try:
            st = self.path.stat()
        except OSError:
            return (0, 0)
        return (st.st_mtime_ns, st.st_size)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._every_s)
            stamp = self._stamp()
            if stamp == self._seen:
                continue
            self._seen = stamp
            try:
                agreements = load_agreements(self.path)
            except ConfigError as exc:
                self._on_error(exc)
                continue
            await self._on_change(agreements)


def load_default_agreements() -> AgreementSet:
    """The shipped default: the 2023 trilateral hub as deployed."""
    text = files("trilink.sharing").joinpath("data", "agreements.toml").read_text("utf-8")
    return parse_agreements(text, source=DEFAULT_AGREEMENTS_RESOURCE)


def parse_agreements(text: str, *, source: str) -> AgreementSet:
    """Parse agreements TOML; ``source`` names the file in errors."""
    raw = parse_toml(text, source=source)
    _check_format(raw, source)
    try:
        parsed = msgspec.convert(raw, _FileToml)
    except msgspec.ValidationError as exc:
        raise config_error(
            exc,
            source=source,
            known_fields=lambda path: _AGREEMENT_FIELDS if path else _TOP_FIELDS,
            how_to_write=_WRITE,
            default_fix="see the file format in trilink.sharing.agreements",
        ) from exc
    agreements = tuple(_agreement(a, i, source) for i, a in enumerate(parsed.agreement))
    seen: dict[str, int] = {}
    for i, agreement in enumerate(agreements):
        if agreement.id in seen:
            raise ConfigError(
                f"id {agreement.id!r} is already used by agreement[{seen[agreement.id]}]",
                file=source,
                field=f"agreement[{i}].id",
                fix="give each agreement its own id (change a version with `version`)",
            )
        seen[agreement.id] = i
    return AgreementSet(agreements, source=source)


def _check_format(raw: dict[str, Any], source: str) -> None:
    if "format" not in raw:
        raise ConfigError(
            "the file does not say its format",
            file=source,
            field="format",
            fix=f"write {_WRITE['format']}",
        )
    fmt = raw["format"]
    if type(fmt) is not int or fmt != FORMAT:
        raise ConfigError(
            f"format {fmt!r} is not supported; this trilink reads format {FORMAT}",
            file=source,
            field="format",
            fix=f"write {_WRITE['format']} and the fields of that format",
        )


def _agreement(raw: _AgreementToml, i: int, source: str) -> Agreement:
    at = f"agreement[{i}]"

    def fail(field_name: str, problem: str, fix: str) -> ConfigError:
        return ConfigError(problem, file=source, field=f"{at}.{field_name}", fix=fix)

    if not raw.id.strip():
        raise fail("id", "id is empty", f"write {_WRITE['id']}")
    if raw.version < 1:
        raise fail("version", f"version {raw.version} is below 1", f"write {_WRITE['version']}")
    for name, nation in (("from", raw.from_), ("to", raw.to)):
        if not _NATION_RE.fullmatch(nation):
            raise fail(
                name,
                f"{nation!r} is not an ISO 3166 alpha-3 nation code",
                f"write {_WRITE[name]} (three upper-case letters)",
            )
    if raw.from_ == raw.to:
        raise fail(
            "to", f"`from` and `to` are both {raw.to}", "name a recipient other than the originator"
        )
    if not raw.kinds:
        raise fail("kinds", "no kinds listed", f"write {_WRITE['kinds']}")
    kinds: set[Kind] = set()
    for j, value in enumerate(raw.kinds):
        try:
            kinds.add(Kind(value))
        except ValueError as exc:
            raise fail(
                f"kinds[{j}]", f"{value!r} is not a message kind", f"use one of {_KINDS}"
            ) from exc
    try:
        state = AgreementState(raw.state)
    except ValueError as exc:
        raise fail("state", f"{raw.state!r} is not a state", f"use one of {_STATES}") from exc
    try:
        backlog = Backlog(raw.backlog)
    except ValueError as exc:
        raise fail(
            "backlog", f"{raw.backlog!r} is not a backlog rule", f"use one of {_BACKLOGS}"
        ) from exc
    valid_from_s = _posix(raw.valid_from, fail, "valid-from")
    valid_until_s = _posix(raw.valid_until, fail, "valid-until")
    if valid_from_s is not None and valid_until_s is not None and valid_until_s <= valid_from_s:
        raise fail(
            "valid-until",
            "valid-until is not after valid-from",
            "give a valid-until later than valid-from (or leave either out)",
        )
    return Agreement(
        id=raw.id,
        version=raw.version,
        originator=raw.from_,
        recipient=raw.to,
        kinds=frozenset(kinds),
        state=state,
        backlog=backlog,
        valid_from_s=valid_from_s,
        valid_until_s=valid_until_s,
        note=raw.note,
        region=_region(raw.region, fail),
        object_classes=_object_classes(raw.object_classes, fail),
        precision_m=_precision(raw.precision_m, fail),
        redact=_redactions(raw.redact, fail),
        delay_s=_delay(raw.delay_s, fail),
        seal=raw.seal,
    )


def _closest(value: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(value, known, n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def _region(value: str | list[list[float]] | None, fail: _Fail) -> Region | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value not in NAMED_REGIONS:
            raise fail(
                "region",
                f"{value!r} is not a named region",
                f"{_closest(value, list(NAMED_REGIONS))}write {_WRITE['region']}",
            )
        return Region.named(value)
    for j, vertex in enumerate(value):
        if len(vertex) != 2:
            raise fail(
                f"region[{j}]",
                f"vertex {vertex} has {len(vertex)} numbers, not 2",
                "give each vertex as [lat, lon] in degrees",
            )
    try:
        return Region.polygon(value)
    except ValueError as exc:
        raise fail("region", str(exc), f"write {_WRITE['region']}") from exc


def _object_classes(values: list[str] | None, fail: _Fail) -> frozenset[ObjectClass] | None:
    if values is None:
        return None
    if not values:
        raise fail(
            "object-classes",
            "no object classes listed (nothing could be released)",
            f"write {_WRITE['object-classes']}, or leave the field out for every class",
        )
    classes: set[ObjectClass] = set()
    for j, value in enumerate(values):
        try:
            classes.add(ObjectClass(value))
        except ValueError as exc:
            raise fail(
                f"object-classes[{j}]",
                f"{value!r} is not an object class",
                f"{_closest(value, [c.value for c in ObjectClass])}use one of {_CLASSES}",
            ) from exc
    return frozenset(classes)


def _precision(value: float | None, fail: _Fail) -> float | None:
    if value is not None and not (math.isfinite(value) and value > 0.0):
        raise fail(
            "precision-m", f"precision-m {value} is not above 0", f"write {_WRITE['precision-m']}"
        )
    return value


def _redactions(values: list[str], fail: _Fail) -> frozenset[str]:
    for j, value in enumerate(values):
        if value not in REDACTABLE:
            raise fail(
                f"redact[{j}]",
                f"{value!r} is not a redactable field",
                f"{_closest(value, list(REDACTABLE))}use one of {', '.join(REDACTABLE)}",
            )
    return frozenset(values)


def _delay(value: float, fail: _Fail) -> float:
    if not (math.isfinite(value) and value >= 0.0):
        raise fail("delay-s", f"delay-s {value} is not 0 or more", f"write {_WRITE['delay-s']}")
    return value


class _Fail(Protocol):
    def __call__(self, field_name: str, problem: str, fix: str) -> ConfigError: ...


def _posix(value: datetime | None, fail: _Fail, name: str) -> float | None:
    if value is None:
        return None
    if value.utcoffset() is None:
        raise fail(name, f"{name} has no time zone", f"write {_WRITE[name]} (Z for UTC)")
    try:
        return value.astimezone(UTC).timestamp()
    except (OverflowError, ValueError) as exc:
        raise fail(name, f"{name} is out of range", f"write {_WRITE[name]}") from exc
