"""Who a viewer is, and what its nation's operator may change.

Each nation has one bearer token, made at random when the server starts
(:class:`NationTokens`) and printed with that nation's viewer address. A request is
authenticated as the nation whose token it carries:

- HTTP: the ``Authorization: Bearer <token>`` header;
- WebSocket: the subprotocol ``bearer.<token>`` (the page offers it beside
  ``trilink.v1``, so the token stays out of URLs and logs), or ``?token=<token>``.

The viewer sees only what its nation holds, and its operator may change only what
leaves that nation's hands: :func:`check_may_change` lets a nation suspend or resume an
agreement only if the agreement's ``from`` is that nation.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from trilink.sharing.agreements import Agreement
from trilink.web.errors import Forbidden, Unauthorized

__all__ = [
    "SUBPROTOCOL",
    "TOKEN_PREFIX",
    "NationTokens",
    "check_may_change",
    "may_change",
    "token_from_subprotocols",
]

SUBPROTOCOL: Final = "trilink.v1"
"""The WebSocket subprotocol of the picture feed (the server answers with it)."""

TOKEN_PREFIX: Final = "bearer."
"""A WebSocket subprotocol starting with this carries the bearer token."""

_FIX: Final = (
    "use the viewer address `trilink serve` printed for your nation (its #token=...), or "
    "send `Authorization: Bearer <token>`"
)


class NationTokens:
    """One secret bearer token per nation; made at random unless given."""

    def __init__(self, nations: Iterable[str], tokens: Mapping[str, str] | None = None) -> None:
        given = dict(tokens or {})
        self._tokens = {n: given.get(n) or secrets.token_urlsafe(24) for n in nations}
        if len(set(self._tokens.values())) != len(self._tokens):
            raise ValueError("two nations were given the same token; give each its own")

    @property
    def nations(self) -> tuple[str, ...]:
        return tuple(self._tokens)

    def token(self, nation: str) -> str:
        """The token of ``nation`` (for printing its viewer address)."""
        return self._tokens[nation]

    def nation_for(self, token: str | None) -> str:
        """The nation holding ``token``; raises :class:`Unauthorized` for none or a wrong one.

        Every token is compared in constant time, so the answer's timing does not tell
        how much of a guess was right."""
        if not token:
            raise Unauthorized("no bearer token was given", fix=_FIX, field="authorization")
        found = None
        for nation, known in self._tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                found = nation
        if found is None:
            raise Unauthorized(
                "the bearer token is not one this server issued", fix=_FIX, field="authorization"
            )
        return found


def token_from_subprotocols(subprotocols: Sequence[str]) -> str | None:
    """The token in a ``bearer.<token>`` subprotocol, or ``None``."""
    for proto in subprotocols:
        if proto.startswith(TOKEN_PREFIX):
            return proto[len(TOKEN_PREFIX) :]
    return None


def may_change(nation: str, agreement: Agreement) -> bool:
    """A nation's operator may suspend or resume only what leaves its hands."""
    return agreement.originator == nation


def check_may_change(nation: str, agreement: Agreement) -> None:
    """Raise :class:`Forbidden` unless ``nation`` may change ``agreement``."""
    if not may_change(nation, agreement):
        raise Forbidden(
            f"{nation}'s operator may suspend or resume only agreements from {nation} "
            f"(each nation decides what leaves its hands); {agreement.id} is from "
            f"{agreement.originator}",
            fix=f"ask {agreement.originator}'s operator, or change an agreement from {nation}",
            field="agreement_id",
        )
