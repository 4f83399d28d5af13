"""Identities, key files and signature verification."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from trilink.errors import ConfigError, SignatureInvalid
from trilink.sharing.crypto import Identity, KeyStore, Verifier

DATA = b"KOR track KOR-T0001 at t=12.5 s"


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
