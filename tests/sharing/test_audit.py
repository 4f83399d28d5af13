"""The hash-chained, signed audit log: writing, resuming and tamper detection."""

from __future__ import annotations

import hashlib
import itertools
import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trilink.errors import AuditError
from trilink.sharing.audit import (
    GENESIS,
    AuditEvent,
    AuditLog,
    AuditName,
    canonical_json,
    verify_dir,
    verify_log,
)
from trilink.sharing.crypto import Identity
from trilink.sharing.envelope import Kind

JPN = Identity.from_seed("JPN", bytes(range(32)))
KOR = Identity.from_seed("KOR", bytes(range(1, 33)))
KEYS = {"JPN": JPN.public_key, "KOR": KOR.public_key}


def _clock() -> Callable[[], float]:
    ticks = itertools.count()
    return lambda: 1_714_554_000.0 + 0.001 * next(ticks)


def _event(i: int, actor: str = "JPN") -> AuditEvent:
    return AuditEvent(
        name=AuditName.RELEASED,
        actor=actor,
        reason=f"allowed by JPN-USA v1 #{i:03d}",
        message_id=f"JPN-{i:06d}",
        originator=actor,
        kind=Kind.TRACK,
        peer="USA",
        seq=i,
        event_time_s=1_714_554_000.0 + i,
        detail={"hops": 1, "relay": False, "note": None, "ratio": 0.25},
    )


def _write(path: Path, count: int, identity: Identity = JPN) -> None:
    with AuditLog(path, identity, wall_clock=_clock(), sign_every=1) as log:
        for i in range(count):
            log.append(_event(i, identity.nation))


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _put(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))


def _fails_at(path: Path, line: int, problem: str) -> None:
    with pytest.raises(AuditError) as info:
        verify_log(path, KEYS)
    assert (info.value.line, info.value.file) == (line, str(path))
    assert problem in info.value.problem


@pytest.fixture
def log100(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "JPN.jsonl"
    _write(path, 100)
    yield path


def test_hundred_events_verify(log100: Path) -> None:
    assert verify_log(log100, KEYS) == 100
    first = json.loads(_lines(log100)[0])
    assert first["n"] == 1 and first["prev"] == GENESIS
    assert first["created"].endswith("Z") and first["created"].startswith("2024-05-01T09:00:00")
    assert first["name"] == "released" and first["kind"] == "track" and first["actor"] == "JPN"
    assert first["detail"] == {"hops": 1, "relay": False, "note": None, "ratio": 0.25}


def test_append_returns_the_record(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "a.jsonl", JPN, wall_clock=_clock(), sign_every=1) as log:
        one = log.append(_event(1))
        two = log.append(_event(2))
    assert (one.n, two.n) == (1, 2)
    assert one.prev == GENESIS and two.prev == one.hash
    assert one.created == "2024-05-01T09:00:00.000000Z"
    assert bytes.fromhex(one.sig) == JPN.sign(bytes.fromhex(one.hash))


def test_edited_field_is_detected_at_its_line(log100: Path) -> None:
    lines = _lines(log100)
    lines[36] = lines[36].replace(b"v1 #036", b"v2 #036")
    _put(log100, lines)
    _fails_at(log100, 37, "`hash` does not match")


def test_deleted_line_is_detected(log100: Path) -> None:
    lines = _lines(log100)
    del lines[49]
    _put(log100, lines)
    _fails_at(log100, 50, "`n` is 51, expected 50")


def test_swapped_lines_are_detected(log100: Path) -> None:
    lines = _lines(log100)
    lines[9], lines[10] = lines[10], lines[9]
    _put(log100, lines)
    _fails_at(log100, 10, "`n` is 11, expected 10")


def test_renumbered_deletion_is_detected_by_prev(log100: Path) -> None:
    lines = _lines(log100)
    del lines[49]
    obj = json.loads(lines[49])
    obj["n"] = 50
    lines[49] = canonical_json(obj) + b"\n"
    _put(log100, lines)
    _fails_at(log100, 50, "`prev`")


def test_truncated_signature_on_last_line_is_detected(log100: Path) -> None:
    lines = _lines(log100)
    obj = json.loads(lines[-1])
    obj["sig"] = obj["sig"][:-2]
    lines[-1] = canonical_json(obj) + b"\n"
    _put(log100, lines)
    _fails_at(log100, 100, "`sig`")


def test_missing_signature_is_detected(log100: Path) -> None:
    lines = _lines(log100)
    obj = json.loads(lines[4])
    del obj["sig"]
    lines[4] = canonical_json(obj) + b"\n"
    _put(log100, lines)
    _fails_at(log100, 5, "`sig`")


def test_rehashed_edit_without_the_key_is_detected(log100: Path) -> None:
    lines = _lines(log100)
    obj = json.loads(lines[19])
    obj["reason"] = "denied: no agreement from JPN to USA"
    body = {k: v for k, v in obj.items() if k not in ("hash", "sig")}
    obj["hash"] = hashlib.sha256(canonical_json(body)).hexdigest()
    lines[19] = canonical_json(obj) + b"\n"
    _put(log100, lines)
    _fails_at(log100, 20, "signature does not verify")


def test_bad_json_is_detected(log100: Path) -> None:
    lines = _lines(log100)
    lines[2] = b'{"n": 3, oops\n'
    _put(log100, lines)
    _fails_at(log100, 3, "not valid JSON")


def test_non_canonical_line_is_detected(log100: Path) -> None:
    lines = _lines(log100)
    lines[2] = json.dumps(json.loads(lines[2])).encode() + b"\n"
    _put(log100, lines)
    _fails_at(log100, 3, "canonical")


def test_unknown_actor_is_detected(log100: Path) -> None:
    with pytest.raises(AuditError, match="unknown actor 'JPN'") as info:
        verify_log(log100, {"KOR": KOR.public_key})
    assert info.value.line == 1


def test_foreign_key_signature_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "JPN.jsonl"
    _write(path, 3, Identity.generate("JPN"))  # an impostor's key
    _fails_at(path, 1, "signature does not verify")


def test_reopening_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "JPN.jsonl"
    _write(path, 3)
    with AuditLog(path, JPN, sign_every=1) as log:
        assert log.records == 3
        record = log.append(_event(3))
    assert record.n == 4
    assert record.prev == json.loads(_lines(path)[2])["hash"]
    _write(path, 2)
    assert verify_log(path, KEYS) == 6


def test_reopening_with_a_long_last_line(tmp_path: Path) -> None:
    path = tmp_path / "JPN.jsonl"
    with AuditLog(path, JPN, sign_every=1) as log:
        log.append(_event(0))
        log.append(AuditEvent(AuditName.ALERT, "JPN", "x" * 10_000))
    with AuditLog(path, JPN, sign_every=1) as log:
        assert log.append(_event(2)).n == 3
    assert verify_log(path, KEYS) == 3


def test_reopening_an_incomplete_log_refuses(log100: Path) -> None:
    log100.write_bytes(log100.read_bytes()[:-10])
    with pytest.raises(AuditError, match="incomplete") as info:
        AuditLog(log100, JPN)
    assert info.value.line == 100


def test_reopening_another_nations_log_refuses(log100: Path) -> None:
    with pytest.raises(AuditError, match="belongs to 'JPN'"):
        AuditLog(log100, KOR)


def test_mixed_actors_are_detected(tmp_path: Path) -> None:
    jpn, kor = tmp_path / "JPN.jsonl", tmp_path / "KOR.jsonl"
    _write(jpn, 1)
    _write(kor, 2, KOR)
    _put(jpn, _lines(jpn) + _lines(kor)[1:])
    with pytest.raises(AuditError) as info:
        verify_log(jpn, KEYS)
    assert info.value.line == 2


def test_append_refuses_foreign_actor_and_non_finite(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "JPN.jsonl", JPN) as log:
        with pytest.raises(ValueError, match="actor"):
            log.append(_event(1, "KOR"))
        with pytest.raises(ValueError, match="non-finite"):
            log.append(AuditEvent(AuditName.ALERT, "JPN", "x", event_time_s=float("nan")))
        assert log.records == 0


def test_empty_and_missing_logs(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").touch()
    assert verify_log(tmp_path / "empty.jsonl", KEYS) == 0
    with pytest.raises(AuditError, match="cannot open"):
        verify_log(tmp_path / "missing.jsonl", KEYS)


def test_verify_dir_reports_per_file(tmp_path: Path) -> None:
    _write(tmp_path / "JPN.jsonl", 5)
    _write(tmp_path / "KOR.jsonl", 4, KOR)
    bad = tmp_path / "bad.jsonl"
    _write(bad, 6)
    lines = _lines(bad)
    del lines[3]
    _put(bad, lines)
    (tmp_path / "notes.txt").write_text("not a log")
    reports = verify_dir(tmp_path, KEYS)
    assert [(Path(r.file).name, r.records, r.ok) for r in reports] == [
        ("JPN.jsonl", 5, True),
        ("KOR.jsonl", 4, True),
        ("bad.jsonl", 3, False),
    ]
    assert reports[2].error is not None and ":4:" in reports[2].error
    with pytest.raises(AuditError, match="no such directory"):
        verify_dir(tmp_path / "nope", KEYS)


_details = st.dictionaries(
    st.text(max_size=3),
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=5),
    ),
    max_size=2,
)
_events = st.builds(
    AuditEvent,
    name=st.sampled_from(AuditName),
    actor=st.just("JPN"),
    reason=st.text(max_size=12),
    kind=st.none() | st.sampled_from(Kind),
    seq=st.none() | st.integers(0, 2**40),
    event_time_s=st.none() | st.floats(0, 2e9),
    detail=_details,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(_events, min_size=1, max_size=4), data=st.data())
def test_any_single_character_edit_is_detected(
    events: list[AuditEvent], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "JPN.jsonl"
        # Batched signing: only the closing checkpoint line is signed; the chain carries it.
        with AuditLog(path, JPN, wall_clock=_clock(), sign_every=99, sign_after_s=1e9) as log:
            for event in events:
                log.append(event)
        text = path.read_text("utf-8")
        lines = text.splitlines(keepends=True)
        index = data.draw(st.integers(0, len(lines) - 1), label="line")
        start = sum(len(line) for line in lines[:index])
        pos = start + data.draw(st.integers(0, len(lines[index]) - 1), label="offset")
        char = data.draw(st.characters(codec="utf-8"), label="char")
        op = data.draw(st.sampled_from(["replace", "insert", "delete"]), label="op")
        if op == "replace":
            edited = text[:pos] + char + text[pos + 1 :]
        elif op == "insert":
            edited = text[:pos] + char + text[pos:]
        else:
            edited = text[:pos] + text[pos + 1 :]
        path.write_text(edited, "utf-8", newline="")
        if edited == text:
            assert verify_log(path, KEYS) == len(events) + 1
        else:
            with pytest.raises(AuditError):
                verify_log(path, KEYS)


def test_canonical_json_is_sorted_and_compact() -> None:
    assert canonical_json({"b": 1, "a": {"d": None, "c": "é"}}) == (
        '{"a":{"c":"é","d":null},"b":1}'.encode()
    )
    assert msgspec.json.decode(canonical_json({"x": 0.1})) == {"x": 0.1}


def test_batched_signing_signs_every_nth_line_and_seals_on_close(tmp_path: Path) -> None:
    path = tmp_path / "JPN.jsonl"
    with AuditLog(path, JPN, wall_clock=_clock(), sign_every=8, sign_after_s=1e9) as log:
        for i in range(20):
            log.append(_event(i))
    lines = [json.loads(line) for line in _lines(path)]
    assert [rec["n"] for rec in lines if rec["sig"] is not None] == [8, 16, 21]
    assert lines[-1]["name"] == "checkpoint"
    assert verify_log(path, KEYS) == 21


def test_an_unsigned_line_rehashed_without_the_key_is_caught_by_the_next_signature(
    tmp_path: Path,
) -> None:
    path = tmp_path / "JPN.jsonl"
    with AuditLog(path, JPN, wall_clock=_clock(), sign_every=8, sign_after_s=1e9) as log:
        for i in range(20):
            log.append(_event(i))
    records = [json.loads(line) for line in _lines(path)]
    records[2]["reason"] = "allowed by nobody"  # line 3: unsigned; re-chain lines 3..8
    for rec in records[2:8]:
        rec["prev"] = records[rec["n"] - 2]["hash"] if rec["n"] > 1 else GENESIS
        body = {k: v for k, v in rec.items() if k not in ("hash", "sig")}
        rec["hash"] = hashlib.sha256(canonical_json(body)).hexdigest()
    _put(path, [canonical_json(rec) + b"\n" for rec in records])
    _fails_at(path, 8, "signature does not verify")


def test_unsigned_lines_at_the_end_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "JPN.jsonl"
    log = AuditLog(path, JPN, wall_clock=_clock(), sign_every=8, sign_after_s=1e9)
    for i in range(11):
        log.append(_event(i))
    log._file.close()  # killed: no closing checkpoint
    _fails_at(path, 9, "lines 9–11 are not covered by a signature")
    with AuditLog(path, JPN) as resumed:  # the restarted node seals them
        assert resumed.records == 11
    assert verify_log(path, KEYS) == 12
