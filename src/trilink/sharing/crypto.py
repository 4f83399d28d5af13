"""National identities, signatures, sealing and trusted keys (Ed25519 and X25519, via PyNaCl).

Each nation signs what it originates with its own Ed25519 key; every hop verifies with the
originator's public key. A :class:`KeyStore` keeps a node's own key as hex files in one
directory::

    keys/
      JPN.key    32-byte seed, hex, mode 0o600 (secret: never leaves the node)
      JPN.pub    32-byte public key, hex (distributed to partners)
      KOR.pub
      USA.pub

Nations are named by ISO 3166 alpha-3 codes (``JPN``, ``KOR``, ``USA``, ...).

**Key ids.** Every key has an id: given in the keys file, else derived from the public
key (:func:`key_fingerprint`, ``JPN-`` and the first 16 hex digits of its SHA-256). An
envelope names the id of the key that signed it, so a verifier holding several keys of a
nation (during a rotation) checks the right one.

**Sealing.** A payload released to one recipient can be sealed to it (:func:`seal`,
:func:`open_sealed`): libsodium's sealed box, i.e. an ephemeral X25519 key agreement with
the recipient's X25519 key and XSalsa20-Poly1305 authenticated encryption (48 bytes of
overhead). The sealed box is anonymous; the originator's Ed25519 signature over the
envelope that carries the ciphertext says who sealed it. *Choice:* a nation's X25519 key
is derived from its Ed25519 identity (libsodium's ``crypto_sign_ed25519_*_to_curve25519``,
PyNaCl's ``to_curve25519_*_key``), not kept as a second key: one key pair per nation to
generate, distribute, rotate and revoke, and rotating or revoking the signing key rotates
or revokes the sealing key with it. Using one key for both is sound for this pair of
schemes (it is what libsodium offers the conversion for); the cost is that a leaked secret
key exposes both signing and sealed traffic, which revocation ends for both at once.

**Trusted keys as configuration.** A keys file (TOML), or a directory of them, lists the
partners' public keys; a :class:`Verifier` built from it (:meth:`Verifier.from_file`)
re-reads it on :meth:`Verifier.reload` without a restart::

    format = 1
    revoked = ["JPN-2023"]                  # key ids no longer trusted (optional)

    [[key]]
    nation = "JPN"                          # ISO 3166 alpha-3
    id = "JPN-2024"                         # unique in the file; envelopes name it
    public = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
    not-after = 2026-01-01T00:00:00Z        # optional, UTC: not valid at or after
    note = "rotated in after the 2024 review"   # optional

Rotation: add the nation's new key (new id) and reload; both keys verify until the old
one is revoked (``revoked``) or passes its ``not-after``, and then the old one fails with
:class:`~trilink.errors.SignatureInvalid` naming the key id and the fix. Sealing uses a
nation's current key: the last one listed that is neither revoked nor expired.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import msgspec
import nacl.bindings
import nacl.exceptions
import nacl.public
import nacl.signing

from trilink._tomlfile import config_error, parse_toml, read_config_text
from trilink.errors import ConfigError, MalformedMessage, SignatureInvalid

__all__ = [
    "BATCH_DOMAIN",
    "KEYS_FORMAT",
    "MAX_BATCH",
    "SEAL_OVERHEAD",
    "BatchProof",
    "Identity",
    "KeyRing",
    "KeyStore",
    "PublicKey",
    "Verifier",
    "batch_root",
    "box_public_key",
    "format_keyring",
    "key_fingerprint",
    "load_keyring",
    "open_sealed",
    "parse_keyring",
    "seal",
    "sign_batch",
]

KEYS_FORMAT: Final = 1
"""The keys file format this version reads."""

_NATION_RE: Final = re.compile(r"[A-Z]{3}")
_KEY_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_KEY_BYTES: Final = 32
SEAL_OVERHEAD: Final = int(nacl.bindings.crypto_box_SEALBYTES)
"""Bytes :func:`seal` adds to a plaintext (48)."""


def _check_nation(nation: str) -> str:
    if not _NATION_RE.fullmatch(nation):
        raise ConfigError(
            f"nation {nation!r} is not an ISO 3166 alpha-3 code",
            field="nation",
            fix="use three upper-case letters, e.g. JPN, KOR, USA",
        )
    return nation


def key_fingerprint(nation: str, public_key: bytes) -> str:
    """The default key id: ``NATION-`` and 16 hex digits of the key's SHA-256."""
    return f"{nation}-{hashlib.sha256(public_key).hexdigest()[:16]}"


def box_public_key(ed25519_public_key: bytes) -> bytes:
    """The X25519 public key (32 bytes) derived from an Ed25519 public key."""
    try:
        return bytes(nacl.signing.VerifyKey(ed25519_public_key).to_curve25519_public_key())
    except (nacl.exceptions.CryptoError, TypeError) as exc:
        raise ConfigError(
            f"not a valid Ed25519 public key ({len(ed25519_public_key)} bytes): {exc}",
            fix="give the nation's 32-byte Ed25519 public key (64 hex digits)",
        ) from exc


@dataclass(frozen=True)
class Identity:
    """A nation's Ed25519 signing key (and the X25519 key derived from it), with its id.

    ``key_id`` defaults to :func:`key_fingerprint` of the public key.
    """

    nation: str
    signing_key: nacl.signing.SigningKey = field(repr=False)
    key_id: str = ""

    def __post_init__(self) -> None:
        if not self.key_id:
            object.__setattr__(self, "key_id", key_fingerprint(self.nation, self.public_key))
        elif not _KEY_ID_RE.fullmatch(self.key_id):
            raise ConfigError(
                f"key id {self.key_id!r} is not a valid key id",
                field="key_id",
                fix="use up to 64 letters, digits, '.', '_', ':' or '-', e.g. JPN-2024",
            )

    @classmethod
    def generate(cls, nation: str, *, key_id: str = "") -> Identity:
        """A fresh random identity (kept in memory only; see :class:`KeyStore`)."""
        return cls(_check_nation(nation), nacl.signing.SigningKey.generate(), key_id)

    @classmethod
    def from_seed(cls, nation: str, seed: bytes, *, key_id: str = "") -> Identity:
        """The identity whose private key derives from a 32-byte ``seed``."""
        return cls(_check_nation(nation), nacl.signing.SigningKey(seed), key_id)

    @property
    def verify_key(self) -> nacl.signing.VerifyKey:
        return self.signing_key.verify_key

    @property
    def public_key(self) -> bytes:
        """The 32-byte public key partners verify with."""
        return bytes(self.signing_key.verify_key)

    @property
    def box_public_key(self) -> bytes:
        """The 32-byte X25519 public key partners seal to (derived from the Ed25519 key)."""
        return bytes(self._box_private.public_key)

    @functools.cached_property
    def _box_private(self) -> nacl.public.PrivateKey:
        return self.signing_key.to_curve25519_private_key()

    @property
    def seed(self) -> bytes:
        return bytes(self.signing_key)

    def sign(self, data: bytes) -> bytes:
        """A 64-byte detached signature over ``data``."""
        return self.signing_key.sign(data).signature

    def public_entry(self, *, not_after_s: float | None = None, note: str = "") -> PublicKey:
        """This identity's entry for partners' keys files."""
        return PublicKey(self.nation, self.key_id, self.public_key, not_after_s, note)


# -- sealing ----------------------------------------------------------------------------


def seal(plaintext: bytes, recipient_public: bytes) -> bytes:
    """Seal ``plaintext`` so only the holder of ``recipient_public`` can open it.

    ``recipient_public`` is the recipient's 32-byte X25519 key
    (:attr:`Identity.box_public_key`, :meth:`Verifier.box_public_key`). AEAD: libsodium
    sealed box (ephemeral X25519 + XSalsa20-Poly1305); the result is 48 bytes longer.
    """
    try:
        box = nacl.public.SealedBox(nacl.public.PublicKey(recipient_public))
    except (nacl.exceptions.CryptoError, TypeError) as exc:
        raise ConfigError(
            f"cannot seal to a recipient key of {len(recipient_public)} bytes: {exc}",
            fix="seal to the recipient's 32-byte X25519 key (Verifier.box_public_key)",
        ) from exc
    return bytes(box.encrypt(plaintext))


def open_sealed(ciphertext: bytes, identity: Identity, *older: Identity) -> bytes:
    """Open what :func:`seal` sealed to ``identity`` (or to one of its ``older`` keys).

    Raises :class:`~trilink.errors.MalformedMessage` if no key opens it: it was altered,
    truncated, or sealed to someone else.
    """
    for candidate in (identity, *older):
        try:
            return bytes(nacl.public.SealedBox(candidate._box_private).decrypt(ciphertext))
        except (nacl.exceptions.CryptoError, TypeError):
            continue
    ids = ", ".join(i.key_id for i in (identity, *older))
    raise MalformedMessage(
        f"sealed payload ({len(ciphertext)} bytes) does not open with {identity.nation}'s "
        f"key(s) {ids}: it was altered or truncated, or sealed to another key. Fix: if "
        f"{identity.nation} rotated its key, keep the old identity for opening until "
        "partners seal to the new one"
    )


# -- the node's own key on disk ----------------------------------------------------------


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


# -- trusted keys ------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicKey:
    """One trusted public key of a nation."""

    nation: str
    key_id: str
    public: bytes = field(repr=False, metadata={"doc": "32-byte Ed25519 public key"})
    not_after_s: float | None = field(
        default=None, metadata={"doc": "POSIX s UTC: not valid at or after (None: no limit)"}
    )
    note: str = ""


@dataclass(frozen=True)
class KeyRing:
    """The trusted keys: every partner's public keys, and the ids revoked."""

    keys: tuple[PublicKey, ...] = ()
    revoked: frozenset[str] = frozenset()
    source: str = "<memory>"

    @classmethod
    def from_public_keys(cls, public_keys: Mapping[str, bytes]) -> KeyRing:
        """One key per nation, with fingerprint ids (what ``Verifier(mapping)`` trusts)."""
        return cls(
            tuple(PublicKey(n, key_fingerprint(n, raw), raw) for n, raw in public_keys.items())
        )


class _KeyToml(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, rename="kebab"):
    nation: str
    id: str
    public: str
    not_after: datetime | None = None
    note: str = ""


class _KeysFileToml(msgspec.Struct, forbid_unknown_fields=True):
    format: int
    key: list[_KeyToml] = []
    revoked: list[str] = []


_TOP_FIELDS: Final = ("format", "revoked", "key")
_KEY_FIELDS: Final = ("nation", "id", "public", "not-after", "note")
_WRITE: Final[Mapping[str, str]] = {
    "format": f"`format = {KEYS_FORMAT}` at the top of the file",
    "key": "one [[key]] table (double brackets) per public key",
    "revoked": 'a list of key ids, e.g. `revoked = ["JPN-2023"]`',
    "nation": 'the ISO 3166 alpha-3 code of the key\'s nation, e.g. `nation = "JPN"`',
    "id": 'a unique key id, e.g. `id = "JPN-2024"` (letters, digits, . _ : -)',
    "public": "the 32-byte Ed25519 public key as 64 hex digits (the partner's <NATION>.pub)",
    "not-after": "a UTC date-time, e.g. `not-after = 2026-01-01T00:00:00Z`",
    "note": 'a string, e.g. `note = "rotated in 2024"`',
}


def load_keyring(path: Path) -> KeyRing:
    """Read and check a keys file, or every ``*.toml`` keys file in a directory.

    A directory lets each partner's keys live in a file of their own (``JPN.toml``,
    ``revoked.toml``, ...): the keys of all files are trusted and the ``revoked`` lists
    joined; a key id may appear in one file only.
    """
    if path.is_dir():
        return _load_keys_dir(path)
    text = read_config_text(
        path,
        what="keys file",
        fix_missing=(
            "give the path of an existing keys file: "
            f"`format = {KEYS_FORMAT}` then one [[key]] table per partner key "
            "(see trilink.sharing.crypto)"
        ),
    )
    return parse_keyring(text, source=str(path))


def _load_keys_dir(directory: Path) -> KeyRing:
    keys: list[PublicKey] = []
    revoked: set[str] = set()
    where: dict[str, str] = {}
    for path in sorted(directory.glob("*.toml")):
        ring = load_keyring(path)
        for i, key in enumerate(ring.keys):
            if key.key_id in where:
                raise ConfigError(
                    f"key id {key.key_id!r} is already used in {where[key.key_id]}",
                    file=str(path),
                    field=f"key[{i}].id",
                    fix="give each key its own id, and list each key in one file only",
                )
            where[key.key_id] = str(path)
        keys.extend(ring.keys)
        revoked |= ring.revoked
    return KeyRing(tuple(keys), frozenset(revoked), str(directory))


def parse_keyring(text: str, *, source: str) -> KeyRing:
    """Parse keys TOML; ``source`` names the file in errors."""
    raw = parse_toml(text, source=source)
    fmt = raw.get("format")
    if type(fmt) is not int or fmt != KEYS_FORMAT:
        problem = (
            "the file does not say its format"
            if fmt is None
            else f"format {fmt!r} is not supported; this trilink reads format {KEYS_FORMAT}"
        )
        raise ConfigError(problem, file=source, field="format", fix=f"write {_WRITE['format']}")
    try:
        parsed = msgspec.convert(raw, _KeysFileToml)
    except msgspec.ValidationError as exc:
        raise config_error(
            exc,
            source=source,
            known_fields=lambda path: _KEY_FIELDS if path else _TOP_FIELDS,
            how_to_write=_WRITE,
            default_fix="see the keys file format in trilink.sharing.crypto",
        ) from exc
    keys: list[PublicKey] = []
    seen: dict[str, int] = {}
    for i, k in enumerate(parsed.key):
        key = _key_entry(k, f"key[{i}]", source)
        if key.key_id in seen:
            raise ConfigError(
                f"key id {key.key_id!r} is already used by key[{seen[key.key_id]}]",
                file=source,
                field=f"key[{i}].id",
                fix="give each key its own id",
            )
        seen[key.key_id] = i
        keys.append(key)
    for j, key_id in enumerate(parsed.revoked):
        if not _KEY_ID_RE.fullmatch(key_id):
            raise ConfigError(
                f"{key_id!r} is not a key id",
                file=source,
                field=f"revoked[{j}]",
                fix=f"write {_WRITE['revoked']}",
            )
    return KeyRing(tuple(keys), frozenset(parsed.revoked), source)


def _key_entry(k: _KeyToml, at: str, source: str) -> PublicKey:
    def fail(name: str, problem: str) -> ConfigError:
        return ConfigError(problem, file=source, field=f"{at}.{name}", fix=f"write {_WRITE[name]}")

    if not _NATION_RE.fullmatch(k.nation):
        raise fail("nation", f"{k.nation!r} is not an ISO 3166 alpha-3 nation code")
    if not _KEY_ID_RE.fullmatch(k.id):
        raise fail("id", f"{k.id!r} is not a valid key id")
    try:
        public = bytes.fromhex(k.public)
    except ValueError as exc:
        raise fail("public", "not hexadecimal") from exc
    if len(public) != _KEY_BYTES:
        raise fail("public", f"holds {len(public)} bytes, expected {_KEY_BYTES}")
    try:
        box_public_key(public)
    except ConfigError as exc:
        raise fail("public", "not a valid Ed25519 public key") from exc
    not_after_s: float | None = None
    if k.not_after is not None:
        if k.not_after.utcoffset() is None:
            raise fail("not-after", "not-after has no time zone (Z for UTC)")
        try:
            not_after_s = k.not_after.astimezone(UTC).timestamp()
        except (OverflowError, ValueError) as exc:
            raise fail("not-after", "not-after is out of range") from exc
    return PublicKey(k.nation, k.id, public, not_after_s, k.note)


def format_keyring(ring: KeyRing) -> str:
    """A keys file (TOML) holding ``ring``; :func:`parse_keyring` reads it back."""
    lines = [f"format = {KEYS_FORMAT}"]
    if ring.revoked:
        lines.append("revoked = [" + ", ".join(f'"{r}"' for r in sorted(ring.revoked)) + "]")
    for key in ring.keys:
        lines += ["", "[[key]]", f'nation = "{key.nation}"', f'id = "{key.key_id}"']
        lines.append(f'public = "{key.public.hex()}"')
        if key.not_after_s is not None:
            when = datetime.fromtimestamp(key.not_after_s, tz=UTC)
            lines.append(f"not-after = {when.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}")
        if key.note:
            lines.append(f"note = {msgspec.json.encode(key.note).decode()}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class _Trusted:
    entry: PublicKey
    verify_key: nacl.signing.VerifyKey
    box_key: bytes


@dataclass(frozen=True)
class _Trust:
    """What a :class:`Verifier` trusts at one moment (swapped whole on reload)."""

    ring: KeyRing
    by_id: Mapping[str, _Trusted]
    usable: Mapping[str, tuple[_Trusted, ...]]  # per nation, not revoked, in file order
    known: Mapping[str, tuple[str, ...]]  # per nation, every key id, in file order

    @classmethod
    def of(cls, ring: KeyRing) -> _Trust:
        by_id: dict[str, _Trusted] = {}
        usable: dict[str, list[_Trusted]] = {}
        known: dict[str, list[str]] = {}
        for key in ring.keys:
            try:
                verify_key = nacl.signing.VerifyKey(key.public)
                box_key = bytes(verify_key.to_curve25519_public_key())
            except (nacl.exceptions.CryptoError, TypeError) as exc:
                raise ConfigError(
                    f"public key of {key.nation} is not a valid Ed25519 key: {exc}",
                    file=None if ring.source == "<memory>" else ring.source,
                    field=key.nation,
                    fix=f"give the 32-byte public key from {key.nation}.pub",
                ) from exc
            if key.key_id in by_id:
                raise ConfigError(
                    f"key id {key.key_id!r} is listed twice",
                    field=key.key_id,
                    fix="give each key its own id",
                )
            trusted = _Trusted(key, verify_key, box_key)
            by_id[key.key_id] = trusted
            known.setdefault(key.nation, []).append(key.key_id)
            if key.key_id not in ring.revoked:
                usable.setdefault(key.nation, []).append(trusted)
        return cls(
            ring,
            by_id,
            {n: tuple(v) for n, v in usable.items()},
            {n: tuple(v) for n, v in known.items()},
        )


# -- batch signatures ---------------------------------------------------------------------
#
# One Ed25519 signature covers a batch of message bodies: the root of a Merkle tree over
# them (leaves SHA-256(0x00 || body), inner nodes SHA-256(0x01 || left || right), an odd
# node carried up unchanged). Each frame carries its leaf's index, the batch size and the
# sibling hashes up to the root; the signature is over BATCH_DOMAIN || root. A verifier
# that has checked a root's signature once accepts the other bodies of that batch by
# hashing alone. A batch of one is the plain case: root = leaf, no siblings.

BATCH_DOMAIN: Final = b"trilink-batch-v1\x00"
MAX_BATCH: Final = 1024


@dataclass(frozen=True, slots=True)
class BatchProof:
    """Where a body sits in its signed batch: its index, the batch size and the sibling
    hashes from the leaf up to the root."""

    index: int
    count: int
    path: tuple[bytes, ...]


def _leaf(body: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + body).digest()


def _parent(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def batch_root(body: bytes, proof: BatchProof) -> bytes:
    """The root a body and its proof lead to; raises ValueError for a malformed proof."""
    index, count = proof.index, proof.count
    if not 0 <= index < count <= MAX_BATCH:
        raise ValueError(f"batch index {index} of {count} is out of range")
    node = _leaf(body)
    siblings = iter(proof.path)
    while count > 1:
        if index % 2 == 1:
            node = _parent(next(siblings, b""), node)
        elif index + 1 < count:  # a right sibling exists
            node = _parent(node, next(siblings, b""))
        index, count = index // 2, (count + 1) // 2
    if next(siblings, None) is not None:
        raise ValueError("batch proof has more sibling hashes than the tree has levels")
    return node


def sign_batch(identity: Identity, bodies: list[bytes]) -> tuple[bytes, list[BatchProof]]:
    """One signature over ``bodies`` (at most MAX_BATCH) and each body's proof."""
    if not 0 < len(bodies) <= MAX_BATCH:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH} bodies, not {len(bodies)}")
    levels = [[_leaf(b) for b in bodies]]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append(
            [
                _parent(below[i], below[i + 1]) if i + 1 < len(below) else below[i]
                for i in range(0, len(below), 2)
            ]
        )
    sig = identity.sign(BATCH_DOMAIN + levels[-1][0])
    proofs = []
    for i in range(len(bodies)):
        path: list[bytes] = []
        index = i
        for level in levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            index //= 2
        proofs.append(BatchProof(i, len(bodies), tuple(path)))
    return sig, proofs


class Verifier:
    """Checks signatures against the partners' trusted public keys.

    Built from a mapping nation → public key (one key per nation, fingerprint ids), a
    :class:`KeyRing`, or a keys file (:meth:`from_file`), which :meth:`reload` re-reads
    without a restart. Verification is judged at ``at_s`` when given (a key past its
    ``not-after`` fails); a revoked or unknown key id always fails.
    """

    def __init__(self, public_keys: Mapping[str, bytes] | KeyRing) -> None:
        ring = (
            public_keys
            if isinstance(public_keys, KeyRing)
            else KeyRing.from_public_keys(public_keys)
        )
        self._trust = _Trust.of(ring)
        self._path: Path | None = None
        self._roots: dict[tuple[str, str | None, bytes, bytes], None] = {}  # verified batches

    @classmethod
    def from_file(cls, path: Path) -> Verifier:
        """A verifier trusting the keys file (or directory of keys files) at ``path``;
        :meth:`reload` re-reads it."""
        verifier = cls(load_keyring(path))
        verifier._path = path
        return verifier

    def reload(self) -> KeyRing:
        """Re-read the keys file; the new keys and revocations apply to the next verify.

        If the file is wrong, raises :class:`~trilink.errors.ConfigError` and keeps
        trusting what it trusted before.
        """
        if self._path is None:
            raise ConfigError(
                "this verifier was not loaded from a keys file, so there is nothing to reload",
                fix="build it with Verifier.from_file(path), or call update(ring)",
            )
        ring = load_keyring(self._path)
        self.update(ring)
        return ring

    def update(self, ring: KeyRing) -> None:
        """Trust exactly ``ring`` from now on (atomically)."""
        self._trust = _Trust.of(ring)
        self._roots.clear()  # a revoked key's batches must be checked again

    def verify_batch(
        self,
        nation: str,
        body: bytes,
        sig: bytes,
        proof: BatchProof,
        *,
        key_id: str | None = None,
        at_s: float | None = None,
    ) -> None:
        """Like :meth:`verify`, for a body signed in a batch (:func:`sign_batch`): the
        signature over the batch's root is checked once, then remembered (per nation, key
        and signature) for the other bodies of the batch."""
        try:
            root = batch_root(body, proof)
        except ValueError as exc:
            raise SignatureInvalid(f"{nation}'s batch proof: {exc}", originator=nation) from exc
        key = (nation, key_id, root, sig)
        if key in self._roots:
            if key_id is not None:
                self._by_key_id(self._trust, nation, key_id, at_s)  # revoked or expired since?
            return
        self.verify(nation, BATCH_DOMAIN + root, sig, key_id=key_id, at_s=at_s)
        if len(self._roots) >= 4096:
            self._roots.pop(next(iter(self._roots)))
        self._roots[key] = None

    @property
    def keyring(self) -> KeyRing:
        return self._trust.ring

    @property
    def nations(self) -> frozenset[str]:
        """Nations with at least one key that is not revoked."""
        return frozenset(self._trust.usable)

    def current_key(self, nation: str, *, at_s: float | None = None) -> PublicKey:
        """The nation's current key: the last listed that is neither revoked nor expired."""
        return self._current(nation, at_s).entry

    def box_public_key(self, nation: str, *, at_s: float | None = None) -> bytes:
        """The X25519 key to seal to ``nation`` (from its current key)."""
        return self._current(nation, at_s).box_key

    def _current(self, nation: str, at_s: float | None) -> _Trusted:
        for trusted in reversed(self._trust.usable.get(nation, ())):
            if not _expired(trusted.entry, at_s):
                return trusted
        raise ConfigError(
            f"no current key for {nation} (known ids: "
            f"{', '.join(self._trust.known.get(nation, ())) or 'none'}; all revoked or expired)",
            file=self._source,
            fix=f"add {nation}'s current public key to the keys file and reload",
        )

    @property
    def _source(self) -> str | None:
        return None if self._trust.ring.source == "<memory>" else self._trust.ring.source

    def verify(
        self,
        nation: str,
        data: bytes,
        sig: bytes,
        *,
        key_id: str | None = None,
        at_s: float | None = None,
    ) -> None:
        """Return if ``sig`` is ``nation``'s signature over ``data``; else raise
        :class:`~trilink.errors.SignatureInvalid`.

        With ``key_id`` only that key is tried, and an unknown, foreign, revoked or expired
        id fails, naming the id and the fix. Without it every usable key of the nation is
        tried. ``at_s`` (POSIX s UTC) is when the signature is judged, for ``not-after``.
        """
        trust = self._trust
        keys: tuple[_Trusted, ...]
        if key_id is not None:
            keys = (self._by_key_id(trust, nation, key_id, at_s),)
        else:
            keys = tuple(t for t in trust.usable.get(nation, ()) if not _expired(t.entry, at_s))
            if not keys:
                known = ", ".join(sorted(trust.usable)) or "none"
                raise SignatureInvalid(
                    f"no public key for {nation!r}; known: {known}", originator=nation
                )
        failure: Exception | None = None
        for trusted in keys:
            try:
                trusted.verify_key.verify(data, sig)
            except (nacl.exceptions.CryptoError, TypeError, ValueError) as exc:
                failure = exc
                continue
            return
        ids = ", ".join(t.entry.key_id for t in keys)
        raise SignatureInvalid(
            f"signature of {nation} does not verify with key(s) {ids}: {failure}",
            originator=nation,
        ) from failure

    def _by_key_id(self, trust: _Trust, nation: str, key_id: str, at_s: float | None) -> _Trusted:
        where = f" ({self._source})" if self._source else ""
        trusted = trust.by_id.get(key_id)
        if trusted is None:
            known = ", ".join(trust.known.get(nation, ())) or "none"
            raise SignatureInvalid(
                f"{nation} signed with key id {key_id!r}, which is not among the trusted "
                f"keys{where} (known for {nation}: {known}). Fix: add {nation}'s public key "
                f"with id {key_id!r} to the keys file and reload, or ask {nation} which key "
                "it signs with",
                originator=nation,
            )
        if trusted.entry.nation != nation:
            raise SignatureInvalid(
                f"key id {key_id!r} belongs to {trusted.entry.nation}, not to {nation}. "
                f"Fix: {nation} must sign with one of its own keys",
                originator=nation,
            )
        if key_id in trust.ring.revoked:
            raise SignatureInvalid(
                f"key id {key_id!r} of {nation} is revoked (in `revoked` of the keys "
                f"file{where}). Fix: {nation} must sign with its current key; if the "
                "revocation is a mistake, remove the id from `revoked` and reload",
                originator=nation,
            )
        if _expired(trusted.entry, at_s):
            assert trusted.entry.not_after_s is not None
            raise SignatureInvalid(
                f"key id {key_id!r} of {nation} expired at {_iso(trusted.entry.not_after_s)} "
                f"(`not-after` in the keys file{where}). Fix: {nation} must sign with its "
                "current key, or extend `not-after` and reload",
                originator=nation,
            )
        return trusted


def _expired(key: PublicKey, at_s: float | None) -> bool:
    if at_s is None or key.not_after_s is None:
        return False
    return not (math.isfinite(at_s) and at_s < key.not_after_s)


def _iso(t_s: float) -> str:
    return datetime.fromtimestamp(t_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
