"""Identities, key files and signature verification."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trilink.errors import ConfigError, MalformedMessage, SignatureInvalid
from trilink.sharing.crypto import (
    SEAL_OVERHEAD,
    Identity,
    KeyRing,
    KeyStore,
    PublicKey,
    Verifier,
    box_public_key,
    format_keyring,
    key_fingerprint,
    load_keyring,
    open_sealed,
    parse_keyring,
    seal,
)

DATA = b"KOR track KOR-T0001 at t=12.5 s"
T_2026 = datetime(2026, 1, 1, tzinfo=UTC).timestamp()


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_sign_verify_round_trip() -> None:
    kor = Identity.generate("KOR")
    sig = kor.sign(DATA)
    assert len(sig) == 64
    assert len(kor.public_key) == 32
    Verifier({"KOR": kor.public_key}).verify("KOR", DATA, sig)


def test_keys_persist_across_keystores(tmp_path: Path) -> None:
    directory = tmp_path / "deep" / "keys"
    first = KeyStore(directory).load_or_create("JPN")
    second = KeyStore(directory).load_or_create("JPN")
    assert first.public_key == second.public_key
    assert (directory / "JPN.pub").read_text().strip() == first.public_key.hex()
    assert KeyStore(directory).public_keys() == {"JPN": first.public_key}


def test_key_file_mode_is_owner_only(tmp_path: Path) -> None:
    KeyStore(tmp_path).load_or_create("USA")
    assert stat.S_IMODE((tmp_path / "USA.key").stat().st_mode) == 0o600


def test_public_keys_collects_every_pub(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    ids = {n: store.load_or_create(n) for n in ("JPN", "KOR", "USA")}
    assert store.public_keys() == {n: i.public_key for n, i in ids.items()}


@pytest.mark.parametrize("bit", [0, 7, 100, 247])
def test_flipped_bit_in_data_is_rejected(bit: int) -> None:
    usa = Identity.generate("USA")
    sig = usa.sign(DATA)
    with pytest.raises(SignatureInvalid) as info:
        Verifier({"USA": usa.public_key}).verify("USA", _flip(DATA, bit), sig)
    assert info.value.originator == "USA"
    assert isinstance(info.value.__cause__, Exception)


@pytest.mark.parametrize("bit", [0, 13, 256, 511])
def test_flipped_bit_in_signature_is_rejected(bit: int) -> None:
    usa = Identity.generate("USA")
    with pytest.raises(SignatureInvalid):
        Verifier({"USA": usa.public_key}).verify("USA", DATA, _flip(usa.sign(DATA), bit))


def test_truncated_signature_is_rejected() -> None:
    usa = Identity.generate("USA")
    with pytest.raises(SignatureInvalid):
        Verifier({"USA": usa.public_key}).verify("USA", DATA, usa.sign(DATA)[:-1])


def test_signature_by_another_nation_is_rejected() -> None:
    jpn, kor = Identity.generate("JPN"), Identity.generate("KOR")
    verifier = Verifier({"JPN": jpn.public_key, "KOR": kor.public_key})
    with pytest.raises(SignatureInvalid):
        verifier.verify("JPN", DATA, kor.sign(DATA))


def test_unknown_nation_is_rejected() -> None:
    jpn = Identity.generate("JPN")
    with pytest.raises(SignatureInvalid, match="no public key for 'PRK'") as info:
        Verifier({"JPN": jpn.public_key}).verify("PRK", DATA, jpn.sign(DATA))
    assert info.value.originator == "PRK"


def test_corrupt_key_file_names_path_and_fix(tmp_path: Path) -> None:
    KeyStore(tmp_path).load_or_create("KOR")
    key = tmp_path / "KOR.key"
    key.write_text("not hex at all\n")
    with pytest.raises(ConfigError) as info:
        KeyStore(tmp_path).load_or_create("KOR")
    assert str(key) in str(info.value)
    assert "delete it" in str(info.value)


def test_short_key_file_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "KOR.key").write_text("ab" * 16)
    with pytest.raises(ConfigError, match="16 bytes, expected 32"):
        KeyStore(tmp_path).load_or_create("KOR")


def test_mismatched_pub_file_is_rejected(tmp_path: Path) -> None:
    KeyStore(tmp_path).load_or_create("KOR")
    (tmp_path / "KOR.pub").write_text(Identity.generate("KOR").public_key.hex())
    with pytest.raises(ConfigError, match="does not match"):
        KeyStore(tmp_path).load_or_create("KOR")


@pytest.mark.parametrize("nation", ["jpn", "JP", "JPNX", "J1N", ""])
def test_nation_must_be_alpha3(tmp_path: Path, nation: str) -> None:
    with pytest.raises(ConfigError, match="alpha-3"):
        KeyStore(tmp_path).load_or_create(nation)


def test_invalid_public_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="KOR"):
        Verifier({"KOR": b"short"})


# -- sealing --------------------------------------------------------------------------------


def test_seal_open_round_trip() -> None:
    jpn = Identity.generate("JPN")
    sealed = seal(DATA, jpn.box_public_key)
    assert sealed != DATA and DATA not in sealed
    assert len(sealed) == len(DATA) + SEAL_OVERHEAD
    assert open_sealed(sealed, jpn) == DATA
    assert seal(DATA, jpn.box_public_key) != sealed  # a fresh ephemeral key each time


def test_box_key_derives_from_the_signing_key() -> None:
    jpn = Identity.from_seed("JPN", bytes(range(32)))
    assert jpn.box_public_key == box_public_key(jpn.public_key)
    verifier = Verifier({"JPN": jpn.public_key})
    assert verifier.box_public_key("JPN") == jpn.box_public_key


def test_relay_cannot_open() -> None:
    jpn, usa = Identity.generate("JPN"), Identity.generate("USA")
    sealed = seal(DATA, jpn.box_public_key)
    with pytest.raises(MalformedMessage, match="does not open with USA's key"):
        open_sealed(sealed, usa)


@pytest.mark.parametrize("bit", [0, 100, 255, 300, -1])
def test_tampered_ciphertext_fails(bit: int) -> None:
    jpn = Identity.generate("JPN")
    sealed = seal(DATA, jpn.box_public_key)
    bit = bit % (len(sealed) * 8)
    with pytest.raises(MalformedMessage, match="altered"):
        open_sealed(_flip(sealed, bit), jpn)


@pytest.mark.parametrize("data", [b"", b"x" * 47, b"x" * 48, b"x" * 1000])
def test_garbage_never_opens(data: bytes) -> None:
    with pytest.raises(MalformedMessage):
        open_sealed(data, Identity.generate("JPN"))


def test_open_with_an_older_key_after_rotation() -> None:
    old, new = Identity.generate("JPN", key_id="JPN-1"), Identity.generate("JPN", key_id="JPN-2")
    sealed_to_old = seal(DATA, old.box_public_key)
    with pytest.raises(MalformedMessage, match="JPN-2"):
        open_sealed(sealed_to_old, new)
    assert open_sealed(sealed_to_old, new, old) == DATA


def test_seal_to_a_bad_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="32-byte X25519"):
        seal(DATA, b"short")


# -- key ids, keys files, rotation and revocation ----------------------------------------------


def test_key_ids() -> None:
    kor = Identity.from_seed("KOR", bytes(32))
    assert kor.key_id == key_fingerprint("KOR", kor.public_key)
    assert kor.key_id.startswith("KOR-") and len(kor.key_id) == 20
    assert Identity.from_seed("KOR", bytes(32), key_id="KOR-2024").key_id == "KOR-2024"
    with pytest.raises(ConfigError, match="key id"):
        Identity.generate("KOR", key_id="no spaces please")


def _write_keys(path: Path, *keys: PublicKey, revoked: tuple[str, ...] = ()) -> None:
    path.write_text(format_keyring(KeyRing(keys, frozenset(revoked))))


def test_keys_file_round_trip(tmp_path: Path) -> None:
    jpn, kor = Identity.generate("JPN", key_id="JPN-1"), Identity.generate("KOR")
    ring = KeyRing(
        (jpn.public_entry(not_after_s=T_2026, note='rotated "in" 2024'), kor.public_entry()),
        frozenset({"JPN-0"}),
    )
    path = tmp_path / "keys.toml"
    path.write_text(format_keyring(ring))
    back = load_keyring(path)
    assert back.keys == ring.keys and back.revoked == ring.revoked and back.source == str(path)


def test_rotation_and_revocation_take_effect_on_reload(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    old = Identity.generate("JPN", key_id="JPN-2023")
    new = Identity.generate("JPN", key_id="JPN-2024")
    _write_keys(path, old.public_entry())
    verifier = Verifier.from_file(path)
    verifier.verify("JPN", DATA, old.sign(DATA), key_id="JPN-2023")

    # JPN starts signing with its new key before partners have it: refused, and said why.
    with pytest.raises(SignatureInvalid) as info:
        verifier.verify("JPN", DATA, new.sign(DATA), key_id="JPN-2024")
    assert "'JPN-2024'" in str(info.value) and "reload" in str(info.value)
    assert "known for JPN: JPN-2023" in str(info.value)

    # The new key is added to the file: after reload both verify (old until revoked).
    _write_keys(path, old.public_entry(), new.public_entry())
    with pytest.raises(SignatureInvalid):
        verifier.verify("JPN", DATA, new.sign(DATA), key_id="JPN-2024")  # not yet reloaded
    verifier.reload()
    verifier.verify("JPN", DATA, new.sign(DATA), key_id="JPN-2024")
    verifier.verify("JPN", DATA, old.sign(DATA), key_id="JPN-2023")
    verifier.verify("JPN", DATA, old.sign(DATA))  # no key id: any usable key
    assert verifier.current_key("JPN").key_id == "JPN-2024"
    assert verifier.box_public_key("JPN") == new.box_public_key

    # The old key is revoked: after reload it fails, naming the key id and the fix.
    _write_keys(path, old.public_entry(), new.public_entry(), revoked=("JPN-2023",))
    verifier.verify("JPN", DATA, old.sign(DATA), key_id="JPN-2023")  # not yet reloaded
    verifier.reload()
    with pytest.raises(SignatureInvalid) as info:
        verifier.verify("JPN", DATA, old.sign(DATA), key_id="JPN-2023")
    message = str(info.value)
    assert "'JPN-2023'" in message and "revoked" in message and str(path) in message
    assert "Fix:" in message and info.value.originator == "JPN"
    with pytest.raises(SignatureInvalid):
        verifier.verify("JPN", DATA, old.sign(DATA))  # nor without a key id
    verifier.verify("JPN", DATA, new.sign(DATA), key_id="JPN-2024")


def test_not_after(tmp_path: Path) -> None:
    jpn = Identity.generate("JPN", key_id="JPN-1")
    verifier = Verifier(KeyRing((jpn.public_entry(not_after_s=T_2026),)))
    sig = jpn.sign(DATA)
    verifier.verify("JPN", DATA, sig, key_id="JPN-1", at_s=T_2026 - 1)
    verifier.verify("JPN", DATA, sig, key_id="JPN-1")  # no time given: not judged
    with pytest.raises(SignatureInvalid, match="expired at 2026-01-01T00:00:00Z"):
        verifier.verify("JPN", DATA, sig, key_id="JPN-1", at_s=T_2026)
    with pytest.raises(SignatureInvalid, match="no public key"):
        verifier.verify("JPN", DATA, sig, at_s=T_2026)
    with pytest.raises(ConfigError, match="no current key for JPN"):
        verifier.box_public_key("JPN", at_s=T_2026)


def test_key_id_of_another_nation_is_refused() -> None:
    jpn, kor = Identity.generate("JPN", key_id="JPN-1"), Identity.generate("KOR", key_id="KOR-1")
    verifier = Verifier(KeyRing((jpn.public_entry(), kor.public_entry())))
    with pytest.raises(SignatureInvalid, match="belongs to KOR, not to JPN"):
        verifier.verify("JPN", DATA, kor.sign(DATA), key_id="KOR-1")


def test_bad_reload_keeps_the_old_keys(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    jpn = Identity.generate("JPN")
    _write_keys(path, jpn.public_entry())
    verifier = Verifier.from_file(path)
    path.write_text("format = 1\n[[key]]\nnation = 'JPN'\n")
    with pytest.raises(ConfigError, match="required field `id`"):
        verifier.reload()
    verifier.verify("JPN", DATA, jpn.sign(DATA), key_id=jpn.key_id)


def test_reload_needs_a_file() -> None:
    with pytest.raises(ConfigError, match="from_file"):
        Verifier({}).reload()


GOOD_KEYS = f"""\
format = 1
revoked = ["JPN-0"]

[[key]]
nation = "JPN"
id = "JPN-1"
public = "{Identity.from_seed("JPN", bytes(32)).public_key.hex()}"
not-after = 2026-01-01T00:00:00Z
"""

BAD_KEYS = [
    pytest.param(GOOD_KEYS.replace("format = 1", "format = 2"), "format", "format = 1", id="fmt"),
    pytest.param(
        GOOD_KEYS.replace("nation =", "nacion ="),
        "key[0].nacion",
        "did you mean `nation`",
        id="unknown",
    ),
    pytest.param(
        GOOD_KEYS.replace("revoked", "revoke"), "revoke", "did you mean `revoked`", id="top"
    ),
    pytest.param(GOOD_KEYS.replace('"JPN"', '"jp"'), "key[0].nation", "alpha-3", id="nation"),
    pytest.param(GOOD_KEYS.replace('"JPN-1"', '"JPN 1"'), "key[0].id", "key id", id="id"),
    pytest.param(
        GOOD_KEYS.replace('public = "', 'public = "zz'), "key[0].public", "64 hex", id="hex"
    ),
    pytest.param(
        GOOD_KEYS.replace('public = "', 'public = "00'), "key[0].public", "33 bytes", id="len"
    ),
    pytest.param(
        GOOD_KEYS.replace("2026-01-01T00:00:00Z", "2026-01-01T00:00:00"),
        "key[0].not-after",
        "Z for UTC",
        id="tz",
    ),
    pytest.param(
        GOOD_KEYS + GOOD_KEYS[GOOD_KEYS.index("[[key]]") :], "key[1].id", "its own id", id="dup"
    ),
    pytest.param(
        GOOD_KEYS.replace('["JPN-0"]', '["JPN 0"]'), "revoked[0]", "revoked = [", id="revoked"
    ),
]


@pytest.mark.parametrize(("text", "field", "fix"), BAD_KEYS)
def test_bad_keys_files_say_where_and_how(tmp_path: Path, text: str, field: str, fix: str) -> None:
    path = tmp_path / "keys.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_keyring(path)
    assert info.value.file == str(path) and info.value.field == field
    assert "Fix:" in str(info.value) and fix in str(info.value)


def test_good_keys_file_parses() -> None:
    ring = parse_keyring(GOOD_KEYS, source="k.toml")
    assert [k.key_id for k in ring.keys] == ["JPN-1"] and ring.revoked == {"JPN-0"}
    assert ring.keys[0].not_after_s == T_2026


@settings(max_examples=300, deadline=None)
@given(text=st.text() | st.text().map(lambda t: "format = 1\n[[key]]\n" + t))
def test_keys_parse_never_raises_anything_but_config_error(text: str) -> None:
    try:
        parse_keyring(text, source="fuzz.toml")
    except ConfigError as exc:
        assert exc.file == "fuzz.toml"


def test_keys_directory(tmp_path: Path) -> None:
    jpn, kor = Identity.generate("JPN", key_id="JPN-1"), Identity.generate("KOR", key_id="KOR-1")
    _write_keys(tmp_path / "JPN.toml", jpn.public_entry())
    _write_keys(tmp_path / "KOR.toml", kor.public_entry())
    verifier = Verifier.from_file(tmp_path)
    verifier.verify("KOR", DATA, kor.sign(DATA), key_id="KOR-1")
    (tmp_path / "revoked.toml").write_text('format = 1\nrevoked = ["KOR-1"]\n')
    verifier.reload()
    with pytest.raises(SignatureInvalid, match="revoked"):
        verifier.verify("KOR", DATA, kor.sign(DATA), key_id="KOR-1")
    verifier.verify("JPN", DATA, jpn.sign(DATA), key_id="JPN-1")
    _write_keys(tmp_path / "JPN-copy.toml", jpn.public_entry())
    with pytest.raises(ConfigError, match="already used in") as info:
        verifier.reload()
    assert info.value.file is not None and info.value.file.endswith("JPN.toml")


# -- batch signatures (one signature over a Merkle root of many bodies) -----------------


def test_every_body_of_every_batch_size_verifies_and_none_other() -> None:
    from trilink.sharing.crypto import BatchProof, sign_batch

    kor = Identity.from_seed("KOR", bytes(range(32)))
    verifier = Verifier({"KOR": kor.public_key})
    for n in (1, 2, 3, 5, 8, 17):
        bodies = [f"body {n}.{i}".encode() for i in range(n)]
        sig, proofs = sign_batch(kor, bodies)
        for body, proof in zip(bodies, proofs, strict=True):
            verifier.verify_batch("KOR", body, sig, proof)
            with pytest.raises(SignatureInvalid):
                verifier.verify_batch("KOR", body + b"!", sig, proof)
        if n > 1:
            wrong = BatchProof((proofs[0].index + 1) % n, n, proofs[0].path)
            with pytest.raises(SignatureInvalid):
                verifier.verify_batch("KOR", bodies[0], sig, wrong)
            longer = BatchProof(0, n, (*proofs[0].path, b"\0" * 32))
            with pytest.raises(SignatureInvalid, match="more sibling hashes"):
                verifier.verify_batch("KOR", bodies[0], sig, longer)


def test_a_remembered_batch_is_refused_once_its_key_is_revoked() -> None:
    from trilink.sharing.crypto import KeyRing, sign_batch

    kor = Identity.from_seed("KOR", bytes(range(32)), key_id="KOR-1")
    verifier = Verifier(KeyRing((kor.public_entry(),)))
    sig, proofs = sign_batch(kor, [b"a", b"b"])
    verifier.verify_batch("KOR", b"a", sig, proofs[0], key_id="KOR-1")
    verifier.update(KeyRing((kor.public_entry(),), revoked=frozenset({"KOR-1"})))
    with pytest.raises(SignatureInvalid, match="revoked"):
        verifier.verify_batch("KOR", b"b", sig, proofs[1], key_id="KOR-1")
