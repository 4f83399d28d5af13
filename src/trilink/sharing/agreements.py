"""Sharing agreements as data, and the pure release policy :func:`decide`.

An agreements file is TOML (multi-word keys use dashes)::

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
    note = "why this agreement exists"    # optional

Every problem in a file raises :class:`~trilink.errors.ConfigError` naming the file, the
field (``agreement[2].kinds[1]``, indices from 0) and the fix. The policy never reads
files or clocks: :func:`decide` is a pure function of the message, the recipient and the
agreements, judged at the message's valid time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from importlib.resources import files
from pathlib import Path
from typing import Any, Final, Protocol

import msgspec

from trilink._tomlfile import config_error, parse_toml, read_config_text
from trilink.errors import ConfigError
from trilink.sharing.envelope import Kind

__all__ = [
    "DEFAULT_AGREEMENTS_RESOURCE",
    "FORMAT",
    "Agreement",
    "AgreementSet",
    "AgreementState",
    "Backlog",
    "Decision",
    "Releasable",
    "decide",
    "load_agreements",
    "load_default_agreements",
    "parse_agreements",
    "recipients_for",
]

FORMAT: Final = 1
"""The agreements file format this version reads."""

DEFAULT_AGREEMENTS_RESOURCE: Final = "trilink/sharing/data/agreements.toml"
"""Where the shipped default (the 2023 hub as deployed) lives in the package."""


class AgreementState(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


class Backlog(StrEnum):
    """What a suspension does to traffic released meanwhile."""

    HOLD = "hold"
    LATEST_ONLY = "latest-only"
    DROP = "drop"


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

    def for_originator(self, nation: str) -> tuple[Agreement, ...]:
        """The agreements under which ``nation`` releases, in file order."""
        return self._by_originator.get(nation, ())


# -- the policy -------------------------------------------------------------------------


class Releasable(Protocol):
    """What the policy needs of a message (an :class:`~.envelope.Envelope` has it)."""

    @property
    def originator(self) -> str: ...

    @property
    def kind(self) -> Kind: ...

    @property
    def valid_time_s(self) -> float: ...


@dataclass(frozen=True, kw_only=True)
class Decision:
    """The policy's answer for one message and one recipient."""

    allow: bool
    redact: tuple[str, ...] = field(default=(), metadata={"doc": "fields to redact (none yet)"})
    reason: str = field(metadata={"doc": "in words, citing the agreement id and version"})
    agreement_id: str | None = None


def decide(message: Releasable, recipient: str, agreements: AgreementSet) -> Decision:
    """May ``message`` go to ``recipient``? Judged at the message's valid time.

    Allowed when some agreement from the originator to the recipient is active, lists the
    message's kind and is in its valid period at ``message.valid_time_s``; otherwise
    denied with every matching agreement's reason.
    """
    originator, kind, t_s = message.originator, message.kind, message.valid_time_s
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
    for agreement in candidates:
        refusal = _refusal(agreement, kind, t_s)
        if refusal is None:
            return Decision(
                allow=True, reason=f"allowed by {agreement.label}", agreement_id=agreement.id
            )
        refusals.append(refusal)
    return Decision(
        allow=False, reason="denied: " + "; ".join(refusals), agreement_id=candidates[0].id
    )


def recipients_for(
    originator: str, kind: Kind, valid_time_s: float, agreements: AgreementSet
) -> tuple[tuple[str, str], ...]:
    """Every (recipient, agreement id) the originator may release to, sorted by recipient.

    The originator stamps these into a message's ``recipients`` and ``releasability``;
    the result agrees with :func:`decide` for every recipient.
    """
    if not math.isfinite(valid_time_s):
        return ()
    allowed: dict[str, str] = {}
    for agreement in agreements.for_originator(originator):
        if (
            agreement.recipient != originator
            and agreement.recipient not in allowed
            and _refusal(agreement, kind, valid_time_s) is None
        ):
            allowed[agreement.recipient] = agreement.id
    return tuple(sorted(allowed.items()))


def _refusal(agreement: Agreement, kind: Kind, t_s: float) -> str | None:
    """Why ``agreement`` does not release ``kind`` at ``t_s``, or None if it does."""
    if agreement.state is not AgreementState.ACTIVE:
        return f"{agreement.label} is {agreement.state.value}"
    if kind not in agreement.kinds:
        return f"{agreement.label} does not release kind {kind.value}"
    if agreement.valid_from_s is not None and t_s < agreement.valid_from_s:
        return f"{agreement.label} not valid until {_iso(agreement.valid_from_s)}"
    if agreement.valid_until_s is not None and t_s >= agreement.valid_until_s:
        return f"{agreement.label} expired at {_iso(agreement.valid_until_s)}"
    return None


def _iso(t_s: float) -> str:
    try:
        return datetime.fromtimestamp(t_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return f"{t_s} s (POSIX)"


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
    note: str = ""


class _FileToml(msgspec.Struct, forbid_unknown_fields=True):
    format: int
    agreement: list[_AgreementToml] = []


_KINDS: Final = ", ".join(k.value for k in Kind)
_STATES: Final = ", ".join(s.value for s in AgreementState)
_BACKLOGS: Final = ", ".join(b.value for b in Backlog)
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
    "note": 'a string, e.g. `note = "why this agreement exists"`',
}


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
    )


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
