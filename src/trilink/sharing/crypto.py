"""National identities and signatures (Ed25519, via PyNaCl).

Each nation signs what it originates with its own Ed25519 key; every hop verifies with the
originator's public key. A :class:`KeyStore` keeps keys as hex files in one directory::

    keys/
      JPN.key    32-byte seed, hex, mode 0o600 (secret: never leaves the node)
      JPN.pub    32-byte public key, hex (distributed to partners)
      KOR.pub
      USA.pub

Nations are named by ISO 3166 alpha-3 codes (``JPN``, ``KOR``, ``USA``, ...).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import nacl.exceptions
import nacl.signing

from trilink.errors import ConfigError, SignatureInvalid

__all__ = ["Identity", "KeyStore", "Verifier"]

_NATION_RE: Final = re.compile(r"[A-Z]{3}")
_KEY_BYTES: Final = 32


def _check_nation(nation: str) -> str:
    if not _NATION_RE.fullmatch(nation):
        raise ConfigError(
            f"nation {nation!r} is not an ISO 3166 alpha-3 code",
            field="nation",
            fix="use three upper-case letters, e.g. JPN, KOR, USA",
        )
    return nation


@dataclass(frozen=True)
class Identity:
    """A nation's Ed25519 signing key."""

    nation: str
    signing_key: nacl.signing.SigningKey = field(repr=False)

    @classmethod
    def generate(cls, nation: str) -> Identity:
        """A fresh random identity (kept in memory only; see :class:`KeyStore`)."""
        return cls(_check_nation(nation), nacl.signing.SigningKey.generate())

    @classmethod
    def from_seed(cls, nation: str, seed: bytes) -> Identity:
        """The identity whose private key derives from a 32-byte ``seed``."""
        return cls(_check_nation(nation), nacl.signing.SigningKey(seed))

    @property
    def verify_key(self) -> nacl.signing.VerifyKey:
        return self.signing_key.verify_key

    @property
    def public_key(self) -> bytes:
        """The 32-byte public key partners verify with."""
        return bytes(self.signing_key.verify_key)

    @property
    def seed(self) -> bytes:
        return bytes(self.signing_key)

    def sign(self, data: bytes) -> bytes:
        """A 64-byte detached signature over ``data``."""
        return self.signing_key.sign(data).signature


@dataclass(frozen=True)
class KeyStore:
    """Keys as hex files in one directory: ``<NATION>.key`` (secret) and ``<NATION>.pub``."""

    directory: Path

    def key_path(self, nation: str) -> Path:
        return self.directory / f"{_check_nation(nation)}.key"

    def pub_path(self, nation: str) -> Path:
        return self.directory / f"{_check_nation(nation)}.pub"

    def load_or_create(self, nation: str) -> Identity:
        """Load the nation's identity, creating its key files on first use."""
        key_path = self.key_path(nation)
        if not key_path.exists():
            try:
                return self._create(nation, key_path)
            except FileExistsError:
                pass  # another process created it meanwhile: load theirs
        identity = Identity(nation, nacl.signing.SigningKey(self._read_hex(key_path, "key")))
        pub_path = self.pub_path(nation)
        if not pub_path.exists():
            self._write_pub(identity)
        elif self._read_hex(pub_path, "pub") != identity.public_key:
            raise ConfigError(
                f"public key does not match the secret key in {key_path}",
                file=str(pub_path),
                fix=f"delete {pub_path} to regenerate it from the secret key",
            )
        return identity

    def public_keys(self) -> dict[str, bytes]:
        """Every ``<NATION>.pub`` in the directory, by nation."""
        if not self.directory.is_dir():
            raise ConfigError(
                "key directory not found",
                file=str(self.directory),
                fix="give the directory holding the <NATION>.pub files",
            )
        keys: dict[str, bytes] = {}
        for path in sorted(self.directory.glob("*.pub")):
            if not _NATION_RE.fullmatch(path.stem):
                raise ConfigError(
                    f"file name {path.name!r} does not name an ISO 3166 alpha-3 nation",
                    file=str(path),
                    fix="name public key files <NATION>.pub, e.g. JPN.pub",
                )
            keys[path.stem] = self._read_hex(path, "pub")
        return keys

    def _create(self, nation: str, key_path: Path) -> Identity:
        self.directory.mkdir(parents=True, exist_ok=True)
        identity = Identity.generate(nation)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(identity.seed.hex() + "\n")
        self._write_pub(identity)
        return identity

    def _write_pub(self, identity: Identity) -> None:
        self.pub_path(identity.nation).write_text(identity.public_key.hex() + "\n", "ascii")

    @staticmethod
    def _read_hex(path: Path, what: str) -> bytes:
        fix = (
            f"restore {path} from backup, or delete it to generate a new key "
            "(partners then need the new .pub)"
            if what == "key"
            else f"restore {path}, or ask the partner for its public key again"
        )
        try:
            data = bytes.fromhex(path.read_text("ascii").strip())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ConfigError(f"cannot read {what} file: {exc}", file=str(path), fix=fix) from exc
        if len(data) != _KEY_BYTES:
            raise ConfigError(
                f"{what} file holds {len(data)} bytes, expected {_KEY_BYTES}",
                file=str(path),
                fix=fix,
            )
        return data


class Verifier:
    """Checks signatures against the partners' public keys (VerifyKeys built once)."""

    def __init__(self, public_keys: Mapping[str, bytes]) -> None:
        keys: dict[str, nacl.signing.VerifyKey] = {}
        for nation, raw in public_keys.items():
            try:
                keys[nation] = nacl.signing.VerifyKey(raw)
            except nacl.exceptions.CryptoError as exc:
                raise ConfigError(
                    f"public key of {nation} is not a valid Ed25519 key: {exc}",
                    field=nation,
                    fix=f"give the 32-byte public key from {nation}.pub",
                ) from exc
        self._keys = keys

    @property
    def nations(self) -> frozenset[str]:
        return frozenset(self._keys)

    def verify(self, nation: str, data: bytes, sig: bytes) -> None:
        """Return if ``sig`` is ``nation``'s signature over ``data``; else raise."""
        key = self._keys.get(nation)
        if key is None:
            raise SignatureInvalid(
                f"no public key for {nation!r}; known: {', '.join(sorted(self._keys))}",
                originator=nation,
            )
        try:
            key.verify(data, sig)
        except nacl.exceptions.CryptoError as exc:
            raise SignatureInvalid(
                f"signature of {nation} does not verify: {exc}", originator=nation
            ) from exc
