"""The one exception tree of trilink.

Every error raised on purpose by trilink derives from :class:`TrilinkError`, carries the
facts as attributes, and says in its message what went wrong and how to fix it.
Third-party errors (msgspec, TOML, numpy.linalg, nacl) are translated at the boundary
with ``raise ... from exc``.

::

    TrilinkError
    ├── ConfigError              a settings, network or agreements file is wrong
    ├── DataError                shipped or user data cannot be used
    │   └── UnknownEventError    no historical launch has that id
    ├── PhysicsError             the simulated world cannot do what was asked
    │   └── SolveError           no trajectory reproduces the requested apogee/range
    ├── MessageError             an incoming message is refused (node keeps running)
    │   ├── MalformedMessage     not a decodable, valid envelope
    │   ├── SignatureInvalid     the originator's signature does not verify
    │   ├── ReplayDetected       this originator's sequence number was seen already
    │   └── NotReleasable        the message was not released to this recipient
    ├── AuditError               an audit log fails verification
    ├── TransportError           a transport cannot deliver or start
    └── WebError                 a request to the live picture is refused (its HTTP status;
        │                        in :mod:`trilink.web.errors`, beside the one error shape)
        ├── Unauthorized         401: no valid token for a nation
        ├── Forbidden            403: not this nation's to change
        ├── NotFound             404
        └── Unavailable          503: the front end is not built
"""

from __future__ import annotations

__all__ = [
    "AuditError",
    "ConfigError",
    "DataError",
    "MalformedMessage",
    "MessageError",
    "NotReleasable",
    "PhysicsError",
    "ReplayDetected",
    "SignatureInvalid",
    "SolveError",
    "TransportError",
    "TrilinkError",
    "UnknownEventError",
]


class TrilinkError(Exception):
    """Base of every error trilink raises on purpose."""


class ConfigError(TrilinkError):
    """A configuration file (settings, network, agreements) is wrong.

    The message names the file, the field (as a path such as ``agreement[1].kinds``) and
    the fix.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | None = None,
        field: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.file = file
        self.field = field
        self.fix = fix
        where = f"{file}: " if file else ""
        at = f"field `{field}`: " if field else ""
        hint = f" Fix: {fix}" if fix else ""
        super().__init__(f"{where}{at}{problem}.{hint}")


class DataError(TrilinkError):
    """Shipped or user-supplied data cannot be used."""


class UnknownEventError(DataError):
    """No launch in the historical library has the requested id."""

    def __init__(self, event_id: str, suggestions: list[str]) -> None:
        self.event_id = event_id
        self.suggestions = suggestions
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(
            f"no historical launch has id {event_id!r}.{hint} List them with `trilink events list`."
        )


class PhysicsError(TrilinkError):
    """The simulated world cannot do what was asked."""


class SolveError(PhysicsError):
    """No trajectory of the missile reproduces the requested apogee and range."""

    def __init__(self, missile: str, apogee_km: float, range_km: float, reason: str) -> None:
        self.missile = missile
        self.apogee_km = apogee_km
        self.range_km = range_km
        self.reason = reason
        super().__init__(
            f"cannot solve a {missile} trajectory with apogee {apogee_km:.0f} km and range "
            f"{range_km:.0f} km: {reason}. Fix: give an apogee/range pair the class can "
            "reach, or another missile class."
        )


class MessageError(TrilinkError):
    """An incoming message is refused; the node records why and keeps running."""

    reason: str = "refused"

    def __init__(
        self, detail: str, *, message_id: str | None = None, originator: str | None = None
    ) -> None:
        self.detail = detail
        self.message_id = message_id
        self.originator = originator
        super().__init__(detail)


class MalformedMessage(MessageError):
    reason = "malformed"


class SignatureInvalid(MessageError):
    reason = "bad-signature"


class ReplayDetected(MessageError):
    reason = "replay"


class NotReleasable(MessageError):
    reason = "not-releasable"


class AuditError(TrilinkError):
    """An audit log fails verification at a given line."""

    def __init__(self, file: str, line: int, problem: str) -> None:
        self.file = file
        self.line = line
        self.problem = problem
        super().__init__(f"{file}:{line}: {problem}")


class TransportError(TrilinkError):
    """A transport cannot start or deliver."""
