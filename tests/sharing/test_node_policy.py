"""Agreements enforced by the nodes end to end: redaction, precision, sealing through a
relay, delay, region; signed receipts back to the originator; key rotation at run time."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from _net import T0, Net, _audit, _close, _network, _track

from trilink.sharing.agreements import AgreementSet, Region, load_default_agreements
from trilink.sharing.crypto import Identity, load_keyring
from trilink.sharing.envelope import PartialTrack, decode_body, decode_frame
from trilink.sharing.transport.base import Transport
from trilink.types import Track


def _kor_jpn(**terms: object) -> AgreementSet:
    """The default hub with the KOR→JPN agreement given extra terms."""
    out = [
        dataclasses.replace(a, **terms) if a.id == "KOR-JPN" else a  # type: ignore[arg-type]
        for a in load_default_agreements()
    ]
    return AgreementSet(tuple(out), source="test")


async def _one(net: Net) -> None:
    await net.nodes["KOR"].publish(_track("KOR"), event_id="e", valid_time_s=T0 + 60.0)
    await net.transport.drain()


async def test_redaction_and_precision_reach_japan_as_agreed_and_the_us_in_full(
    tmp_path: Path,
) -> None:
    net = await _network(
        tmp_path, _kor_jpn(redact=frozenset({"covariance", "sensor"}), precision_m=10_000.0)
    )
    await _one(net)
    (jpn,) = net.inbox["JPN"]
    (usa,) = net.inbox["USA"]
    assert isinstance(usa.payload, Track) and usa.payload.sensors == ("KOR-RADAR",)
    assert isinstance(jpn.payload, PartialTrack)
    assert jpn.payload.covariance is None and jpn.payload.sensors == ()
    # Positions on a 10 km grid: never finer than agreed.
    assert np.allclose(jpn.payload.state[:3] / 10_000.0, np.round(jpn.payload.state[:3] / 1e4))
    await _close(net)


async def test_a_sealed_release_is_relayed_unread_and_opened_only_by_japan(
    tmp_path: Path,
) -> None:
    net = await _network(tmp_path, _kor_jpn(seal=True))
    seen_by_usa: list[bytes] = []
    transport: Transport = net.transport
    original = transport.send

    async def spy(src: str, dst: str, frame: bytes, *, msg_id: str) -> None:
        if src == "USA" and dst == "JPN":
            seen_by_usa.append(frame)
        await original(src, dst, frame, msg_id=msg_id)

    transport.send = spy  # type: ignore[method-assign]
    await _one(net)
    (jpn,) = net.inbox["JPN"]
    assert isinstance(jpn.payload, Track) and jpn.payload.track_id == "KOR-T0001"
    (relayed,) = seen_by_usa
    env = decode_body(decode_frame(relayed).body)
    assert env.sealed_to == "JPN" and b"KOR-T0001" not in env.payload  # ciphertext
    assert net.nodes["USA"].rejected.total() == 0
    await _close(net)


async def test_a_delayed_release_waits_for_its_time(tmp_path: Path) -> None:
    now = [T0 + 60.0]
    net = await _network(tmp_path, _kor_jpn(delay_s=30.0), now=lambda: now[0])
    await _one(net)
    assert len(net.inbox["USA"]) == 1 and net.inbox["JPN"] == []
    now[0] = T0 + 89.0
    assert await net.nodes["KOR"].release_due() == []
    now[0] = T0 + 90.0
    (env,) = await net.nodes["KOR"].release_due()
    await net.transport.drain()
    assert env.recipients == ("JPN",) and len(net.inbox["JPN"]) == 1
    await _close(net)


async def test_a_region_limited_agreement_withholds_data_about_elsewhere(tmp_path: Path) -> None:
    # The test track sits over Siberia (ECEF -3000, 4000, 4000 km), outside Japan's EEZ.
    net = await _network(tmp_path, _kor_jpn(region=Region.named("japan-eez")))
    await _one(net)
    assert net.inbox["JPN"] == [] and len(net.inbox["USA"]) == 1
    withheld = [r for r in _audit(net, "KOR") if r["name"] == "withheld"]
    assert len(withheld) == 1 and "KOR-JPN" in str(withheld[0]["reason"])
    await _close(net)


async def test_recipients_return_signed_receipts_for_everything_they_accepted(
    tmp_path: Path,
) -> None:
    got: list[tuple[str, str]] = []
    net = await _network(tmp_path, on_receipt=lambda mid, frm, t: got.append((mid, frm)))
    for i in range(5):
        await net.nodes["KOR"].publish(_track("KOR", i), event_id="e", valid_time_s=T0 + i)
    for _ in range(3):  # receipts are sent after the frames that earn them
        await net.transport.drain()
        for node in net.nodes.values():
            await node.settle()
    kor = net.nodes["KOR"]
    assert kor.receipts == 10 and kor.sent_at == {}
    assert sorted({frm for _, frm in got}) == ["JPN", "USA"]
    receipts = [r for r in _audit(net, "KOR") if r["name"] == "received" and r["kind"] == "receipt"]
    assert receipts and all(r["originator"] in ("JPN", "USA") for r in receipts)
    await _close(net)


async def test_a_rotated_key_is_used_after_the_verifiers_reload_and_the_old_one_revoked(
    tmp_path: Path,
) -> None:
    net = await _network(tmp_path)
    await _one(net)
    new_kor = Identity.generate("KOR", key_id="KOR-2")
    old = {n: net.keys.load_or_create(n) for n in ("JPN", "KOR", "USA")}  # type: ignore[union-attr]
    ring_text = _ring([old["JPN"], old["USA"], old["KOR"], new_kor], revoked=[old["KOR"].key_id])
    path = tmp_path / "keys.toml"
    path.write_text(ring_text)
    ring = load_keyring(path)
    for node in net.nodes.values():
        node._verifier.update(ring)  # a configuration change, no restart
    net.nodes["KOR"]._identity = new_kor
    await net.nodes["KOR"].publish(_track("KOR", 2), event_id="e", valid_time_s=T0 + 61.0)
    await net.transport.drain()
    assert len(net.inbox["JPN"]) == 2
    net.nodes["KOR"]._identity = old["KOR"]  # a stolen, revoked key no longer verifies
    await net.nodes["KOR"].publish(_track("KOR", 3), event_id="e", valid_time_s=T0 + 62.0)
    await net.transport.drain()
    assert len(net.inbox["USA"]) == 2
    assert len(net.inbox["JPN"]) == 2
    # Both copies (KOR's to the US and KOR's to Japan) are refused at the US hop.
    assert net.nodes["USA"].rejected["bad-signature"] == 2, net.nodes["USA"].rejected
    await _close(net)


def _ring(identities: list[Identity], *, revoked: list[str]) -> str:
    lines = ["format = 1", f"revoked = {revoked!r}".replace("'", '"')]
    for i in identities:
        lines += [
            "[[key]]",
            f'nation = "{i.nation}"',
            f'id = "{i.key_id}"',
            f'public = "{i.public_key.hex()}"',
        ]
    return "\n".join(lines) + "\n"


async def test_a_burst_of_thousands_is_receipted_in_frames_below_the_size_limit(
    tmp_path: Path,
) -> None:
    got: list[str] = []
    only_kor_usa = AgreementSet(
        tuple(a for a in load_default_agreements() if a.id == "KOR-USA"), source="test"
    )
    net = await _network(tmp_path, only_kor_usa, on_receipt=lambda mid, frm, t: got.append(mid))
    await net.nodes["USA"].stop()  # USA then handles the whole backlog in one pass
    for i in range(2500):  # 2,500 message ids: 85 kB, more than one frame may hold
        await net.nodes["KOR"].publish(_track("KOR", i), event_id="e", valid_time_s=T0 + 1)
    await net.nodes["USA"].start()
    for _ in range(4):
        await net.transport.drain()
        for node in net.nodes.values():
            await node.settle()
    assert net.nodes["KOR"].rejected.total() == 0
    assert len(got) == 2500
    await _close(net)
