"""Agreements files and the pure release policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trilink.errors import ConfigError
from trilink.sharing.agreements import (
    Agreement,
    AgreementSet,
    AgreementState,
    Backlog,
    ObjectClass,
    Region,
    decide,
    load_agreements,
    load_default_agreements,
    parse_agreements,
    recipients_for,
)
from trilink.sharing.envelope import Envelope, Kind

ALL = frozenset(Kind)
T2024 = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
T2030 = datetime(2030, 1, 1, tzinfo=UTC).timestamp()


@dataclass(frozen=True)
class Msg:
    originator: str
    kind: Kind
    valid_time_s: float


def _a(
    id: str = "KOR-JPN",
    originator: str = "KOR",
    recipient: str = "JPN",
    kinds: frozenset[Kind] = frozenset({Kind.TRACK, Kind.LAUNCH, Kind.IMPACT}),
    state: AgreementState = AgreementState.ACTIVE,
    valid_from_s: float | None = None,
    valid_until_s: float | None = None,
) -> Agreement:
    return Agreement(
        id=id,
        version=1,
        originator=originator,
        recipient=recipient,
        kinds=kinds,
        state=state,
        valid_from_s=valid_from_s,
        valid_until_s=valid_until_s,
    )


KOR_TRACK_2025 = Msg("KOR", Kind.TRACK, T2024 + 365 * 86400.0)

DECIDE_TABLE = [
    pytest.param([_a()], KOR_TRACK_2025, "JPN", True, "allowed by KOR-JPN v1", id="allowed"),
    pytest.param(
        [_a()], KOR_TRACK_2025, "AUS", False, "denied: no agreement from KOR to AUS", id="none"
    ),
    pytest.param(
        [_a(recipient="USA", id="KOR-USA")],
        KOR_TRACK_2025,
        "JPN",
        False,
        "no agreement from KOR to JPN",
        id="wrong-recipient",
    ),
    pytest.param(
        [_a()],
        Msg("KOR", Kind.DETECTION, T2024),
        "JPN",
        False,
        "denied: KOR-JPN v1 does not release kind detection",
        id="wrong-kind",
    ),
    pytest.param(
        [_a(state=AgreementState.SUSPENDED)],
        KOR_TRACK_2025,
        "JPN",
        False,
        "denied: KOR-JPN v1 is suspended",
        id="suspended",
    ),
    pytest.param(
        [_a(state=AgreementState.TERMINATED)],
        KOR_TRACK_2025,
        "JPN",
        False,
        "KOR-JPN v1 is terminated",
        id="terminated",
    ),
    pytest.param(
        [_a(valid_from_s=T2024)],
        Msg("KOR", Kind.TRACK, T2024 - 1),
        "JPN",
        False,
        "denied: KOR-JPN v1 not valid until 2024-01-01T00:00:00Z",
        id="before-valid-from",
    ),
    pytest.param(
        [_a(valid_from_s=T2024)],
        Msg("KOR", Kind.TRACK, T2024),
        "JPN",
        True,
        "allowed by KOR-JPN v1",
        id="at-valid-from",
    ),
    pytest.param(
        [_a(valid_until_s=T2030)],
        Msg("KOR", Kind.TRACK, T2030),
        "JPN",
        False,
        "KOR-JPN v1 expired at 2030-01-01T00:00:00Z",
        id="after-valid-until",
    ),
    pytest.param(
        [_a(state=AgreementState.SUSPENDED), _a(id="KOR-JPN-2")],
        KOR_TRACK_2025,
        "JPN",
        True,
        "allowed by KOR-JPN-2 v1",
        id="one-suspended-one-active",
    ),
    pytest.param(
        [_a(state=AgreementState.SUSPENDED), _a(id="KOR-JPN-2", kinds=frozenset({Kind.LAUNCH}))],
        KOR_TRACK_2025,
        "JPN",
        False,
        "KOR-JPN v1 is suspended; KOR-JPN-2 v1 does not release kind track",
        id="two-denying",
    ),
    pytest.param(
        [_a()], KOR_TRACK_2025, "KOR", False, "denied: KOR is the originator", id="to-self"
    ),
    pytest.param(
        [_a()],
        Msg("KOR", Kind.TRACK, float("nan")),
        "JPN",
        False,
        "not a finite number",
        id="nan-time",
    ),
]


@pytest.mark.parametrize(("agreements", "message", "recipient", "allow", "reason"), DECIDE_TABLE)
def test_decide(
    agreements: list[Agreement], message: Msg, recipient: str, allow: bool, reason: str
) -> None:
    decision = decide(message, recipient, AgreementSet(tuple(agreements)))
    assert decision.allow is allow
    assert reason in decision.reason
    assert decision.redact == ()
    if allow:
        assert decision.agreement_id is not None and decision.agreement_id in decision.reason


def test_envelope_is_releasable() -> None:
    env = Envelope(
        v=1,
        id="KOR-1",
        originator="KOR",
        seq=1,
        kind=Kind.LAUNCH,
        event_id="e",
        valid_time_s=T2024,
        sent_time_s=T2024,
        releasability=(),
        recipients=(),
        payload=b"",
    )
    assert decide(env, "JPN", AgreementSet((_a(),))).allow


def test_default_agreements_load() -> None:
    agreements = load_default_agreements()
    pairs = {(a.originator, a.recipient) for a in agreements}
    assert pairs == {
        ("KOR", "USA"),
        ("KOR", "JPN"),
        ("JPN", "USA"),
        ("JPN", "KOR"),
        ("USA", "JPN"),
        ("USA", "KOR"),
    }
    kinds = {Kind.TRACK, Kind.LAUNCH, Kind.IMPACT, Kind.ALERT, Kind.CORRECTION, Kind.ALL_CLEAR}
    for a in agreements:
        assert a.kinds == kinds and a.state is AgreementState.ACTIVE and a.note
    assert recipients_for("KOR", Kind.LAUNCH, T2024, agreements) == (
        ("JPN", "KOR-JPN"),
        ("USA", "KOR-USA"),
    )
    assert recipients_for("KOR", Kind.DETECTION, T2024, agreements) == ()


def test_agreement_set_indexes() -> None:
    s = AgreementSet((_a(), _a(id="KOR-USA", recipient="USA"), _a("JPN-KOR", "JPN", "KOR")))
    assert len(s) == 3 and [a.id for a in s] == ["KOR-JPN", "KOR-USA", "JPN-KOR"]
    assert [a.id for a in s.for_originator("KOR")] == ["KOR-JPN", "KOR-USA"]
    assert s.for_originator("AUS") == ()
    assert s.by_id("JPN-KOR") is not None and s.by_id("nope") is None
    with pytest.raises(ValueError, match="duplicate"):
        AgreementSet((_a(), _a()))


# -- files ------------------------------------------------------------------------------

GOOD = """\
format = 1

[[agreement]]
id = "KOR-JPN"
version = 2
from = "KOR"
to = "JPN"
kinds = ["track", "launch"]
state = "suspended"
backlog = "latest-only"
valid-from = 2023-12-19T00:00:00Z
valid-until = 2030-01-01T09:00:00+09:00
note = "via US relay"
"""


def test_parse_full_agreement() -> None:
    (a,) = parse_agreements(GOOD, source="x.toml")
    assert a == Agreement(
        id="KOR-JPN",
        version=2,
        originator="KOR",
        recipient="JPN",
        kinds=frozenset({Kind.TRACK, Kind.LAUNCH}),
        state=AgreementState.SUSPENDED,
        backlog=Backlog.LATEST_ONLY,
        valid_from_s=datetime(2023, 12, 19, tzinfo=UTC).timestamp(),
        valid_until_s=T2030,
        note="via US relay",
    )


FULL = (
    GOOD
    + """region = [[5, 115], [5.0, 130], [22, 130], [22, 115]]
object-classes = ["missile", "rv"]
precision-m = 1000
redact = ["sensor", "velocity"]
delay-s = 30
seal = true
"""
)


def test_parse_every_field() -> None:
    (a,) = parse_agreements(FULL, source="x.toml")
    assert a.region == Region.polygon([(5, 115), (5, 130), (22, 130), (22, 115)])
    assert a.region is not None and a.region.contains(10.0, 120.0)
    assert a.object_classes == frozenset({ObjectClass.MISSILE, ObjectClass.RV})
    assert a.redact == frozenset({"sensor", "velocity"})
    assert (a.precision_m, a.delay_s, a.seal) == (1000.0, 30.0, True)
    (named,) = parse_agreements(GOOD + 'region = "japan-eez"\n', source="x.toml")
    assert named.region == Region.named("japan-eez")


def test_new_fields_default_to_the_old_behaviour() -> None:
    (a,) = parse_agreements(GOOD, source="x.toml")
    assert a.region is None and a.object_classes is None and a.precision_m is None
    assert a.redact == frozenset() and a.delay_s == 0.0 and a.seal is False


def test_agreement_refuses_bad_values_in_code() -> None:
    with pytest.raises(ValueError, match="cannot redact"):
        _a_with(redact=frozenset({"colour"}))
    with pytest.raises(ValueError, match="precision_m"):
        _a_with(precision_m=0.0)
    with pytest.raises(ValueError, match="delay_s"):
        _a_with(delay_s=-1.0)
    with pytest.raises(ValueError, match="not simple"):
        Region.polygon([(0, 0), (1, 1), (0, 1), (1, 0)])
    with pytest.raises(ValueError, match="named region"):
        Region.named("atlantis")


def _a_with(**changes: object) -> Agreement:
    return Agreement(
        id="A",
        version=1,
        originator="KOR",
        recipient="JPN",
        kinds=ALL,
        **changes,  # type: ignore[arg-type]
    )


def test_load_from_file(tmp_path: Path) -> None:
    path = tmp_path / "agreements.toml"
    path.write_text(GOOD)
    agreements = load_agreements(path)
    assert agreements.source == str(path) and len(agreements) == 1


def _with(**changes: str | None) -> str:
    """GOOD with lines replaced (value) or removed (None); keys as in the file."""
    out = []
    for line in GOOD.splitlines():
        key = line.split(" = ")[0]
        if key in changes:
            if changes[key] is not None:
                out.append(f"{key} = {changes[key]}")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


SECOND = '\n[[agreement]]\nid = "{id}"\nversion = 1\nfrom = "JPN"\nto = "KOR"\n' + (
    'kinds = ["track"]\nstate = "active"\nbacklog = "hold"\n{extra}'
)

MALFORMED = [
    pytest.param("format = 1\nid = = 3\n", None, "line 2", id="toml-syntax"),
    pytest.param(_with(to=None), "agreement[0].to", "add the recipient", id="missing-field"),
    pytest.param(_with(state=None), "agreement[0].state", "active, suspended", id="missing-state"),
    pytest.param(GOOD + "kind = 3\n", "agreement[0].kind", "did you mean `kinds`", id="unknown"),
    pytest.param(
        GOOD.replace("valid-until", "valid-untill"),
        "agreement[0].valid-untill",
        "did you mean `valid-until`",
        id="unknown-kebab",
    ),
    pytest.param(
        "format = 1\nagreements = []\n", "agreements", "did you mean `agreement`", id="unknown-top"
    ),
    pytest.param(_with(version='"2"'), "agreement[0].version", "version = 1", id="wrong-type"),
    pytest.param(
        _with(kinds='["track", 3]'), "agreement[0].kinds[1]", "message kinds", id="kind-type"
    ),
    pytest.param(
        _with(kinds='["track", "trak"]'),
        "agreement[0].kinds[1]",
        "detection, track, launch",
        id="unknown-kind",
    ),
    pytest.param(_with(kinds="[]"), "agreement[0].kinds", "kinds = [", id="no-kinds"),
    pytest.param(_with(state='"paused"'), "agreement[0].state", "active, suspended", id="state"),
    pytest.param(
        _with(backlog='"keep"'), "agreement[0].backlog", "hold, latest-only", id="backlog"
    ),
    pytest.param(_with(to='"Japan"'), "agreement[0].to", "upper-case letters", id="nation-to"),
    pytest.param(_with(**{"from": '"kr"'}), "agreement[0].from", "upper-case letters", id="nation"),
    pytest.param(_with(to='"KOR"'), "agreement[0].to", "other than the originator", id="self"),
    pytest.param(
        GOOD + SECOND.format(id="KOR-JPN", extra=""),
        "agreement[1].id",
        "its own id",
        id="duplicate-id",
    ),
    pytest.param(
        GOOD + SECOND.format(id="JPN-KOR", extra="valid-from = 2024-06-01\n"),
        "agreement[1].valid-from",
        "2023-12-19T00:00:00Z",
        id="date-not-datetime",
    ),
    pytest.param(
        _with(**{"valid-from": "2023-12-19T00:00:00"}),
        "agreement[0].valid-from",
        "Z for UTC",
        id="no-time-zone",
    ),
    pytest.param(
        _with(**{"valid-until": "2020-01-01T00:00:00Z"}),
        "agreement[0].valid-until",
        "later than valid-from",
        id="until-before-from",
    ),
    pytest.param(_with(format=None), "format", "format = 1", id="missing-format"),
    pytest.param(_with(format="2"), "format", "format = 1", id="unsupported-format"),
    pytest.param(_with(format='"1"'), "format", "format = 1", id="format-type"),
    pytest.param("format = 1\n[agreement]\nid = 'x'\n", "agreement", "[[agreement]]", id="table"),
    pytest.param(_with(version="0"), "agreement[0].version", "version = 1", id="version-zero"),
    pytest.param(
        GOOD + 'region = "japan-ezz"\n',
        "agreement[0].region",
        "did you mean 'japan-eez'",
        id="region-name",
    ),
    pytest.param(GOOD + "region = 3\n", "agreement[0].region", "[lat, lon]", id="region-type"),
    pytest.param(
        GOOD + "region = [[1, 2], [3, 4]]\n", "agreement[0].region", "at least 3", id="region-few"
    ),
    pytest.param(
        GOOD + "region = [[1, 2], [3, 4, 5], [6, 7]]\n",
        "agreement[0].region[1]",
        "[lat, lon]",
        id="region-vertex",
    ),
    pytest.param(
        GOOD + "region = [[1, 2], [3, 400], [6, 7]]\n",
        "agreement[0].region",
        "region = [[5, 115]",
        id="region-range",
    ),
    pytest.param(
        GOOD + "region = [[0, 0], [1, 1], [0, 1], [1, 0]]\n",
        "agreement[0].region",
        "without crossing edges",
        id="region-bowtie",
    ),
    pytest.param(
        GOOD + 'object-classes = ["missle"]\n',
        "agreement[0].object-classes[0]",
        "did you mean 'missile'",
        id="object-class",
    ),
    pytest.param(
        GOOD + "object-classes = []\n",
        "agreement[0].object-classes",
        "leave the field out",
        id="no-classes",
    ),
    pytest.param(
        GOOD + "object-class = []\n",
        "agreement[0].object-class",
        "did you mean `object-classes`",
        id="unknown-object-class-key",
    ),
    pytest.param(GOOD + "precision-m = 0\n", "agreement[0].precision-m", "above 0", id="precision"),
    pytest.param(
        GOOD + 'precision-m = "1 km"\n',
        "agreement[0].precision-m",
        "precision-m = 1000",
        id="prec-type",
    ),
    pytest.param(
        GOOD + "precision = 10\n",
        "agreement[0].precision",
        "did you mean `precision-m`",
        id="prec-key",
    ),
    pytest.param(
        GOOD + 'redact = ["sensors"]\n',
        "agreement[0].redact[0]",
        "did you mean 'sensor'",
        id="redact",
    ),
    pytest.param(GOOD + "delay-s = -5\n", "agreement[0].delay-s", "0 or more", id="delay"),
    pytest.param(
        GOOD + "delay = 5\n", "agreement[0].delay", "did you mean `delay-s`", id="delay-key"
    ),
    pytest.param(GOOD + 'seal = "yes"\n', "agreement[0].seal", "seal = true", id="seal-type"),
]


@pytest.mark.parametrize(("text", "field", "fix"), MALFORMED)
def test_malformed_files_say_where_and_how(
    tmp_path: Path, text: str, field: str | None, fix: str
) -> None:
    path = tmp_path / "partners.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_agreements(path)
    message = str(info.value)
    assert info.value.file == str(path) and str(path) in message
    assert info.value.field == field
    if field is not None:
        assert f"`{field}`" in message
    assert info.value.fix and "Fix:" in message
    assert fix in message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="not found") as info:
        load_agreements(path)
    assert str(path) in str(info.value)
    assert "trilink/sharing/data/agreements.toml" in str(info.value)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bin.toml"
    path.write_bytes(b"format = 1\n\xff\n")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_agreements(path)


# -- properties -------------------------------------------------------------------------

NATIONS = ("JPN", "KOR", "USA", "AUS", "PHL")
_times = st.floats(1.6e9, 1.9e9)


@st.composite
def agreement_sets(draw: st.DrawFn) -> AgreementSet:
    count = draw(st.integers(0, 8))
    agreements = []
    for i in range(count):
        originator, recipient = draw(
            st.tuples(st.sampled_from(NATIONS), st.sampled_from(NATIONS)).filter(
                lambda p: p[0] != p[1]
            )
        )
        start = draw(st.none() | _times)
        end = draw(st.none() | _times)
        if start is not None and end is not None and end <= start:
            start, end = end, start + 1.0
        agreements.append(
            Agreement(
                id=f"A{i}",
                version=draw(st.integers(1, 5)),
                originator=originator,
                recipient=recipient,
                kinds=draw(st.frozensets(st.sampled_from(Kind))),
                state=draw(st.sampled_from(AgreementState)),
                valid_from_s=start,
                valid_until_s=end,
            )
        )
    return AgreementSet(tuple(agreements))


_messages = st.builds(Msg, st.sampled_from(NATIONS), st.sampled_from(Kind), _times)


def _expected(message: Msg, recipient: str, agreements: AgreementSet) -> bool:
    return recipient != message.originator and any(
        a.originator == message.originator
        and a.recipient == recipient
        and a.state == "active"
        and message.kind in a.kinds
        and (a.valid_from_s is None or a.valid_from_s <= message.valid_time_s)
        and (a.valid_until_s is None or message.valid_time_s < a.valid_until_s)
        for a in agreements.agreements
    )


@settings(max_examples=500)
@given(agreements=agreement_sets(), message=_messages, recipient=st.sampled_from(NATIONS))
def test_decide_allows_exactly_what_an_agreement_allows(
    agreements: AgreementSet, message: Msg, recipient: str
) -> None:
    decision = decide(message, recipient, agreements)
    assert decision.allow is _expected(message, recipient, agreements)
    assert decide(message, recipient, agreements) == decision
    if decision.allow:
        a = agreements.by_id(decision.agreement_id or "")
        assert a is not None and f"{a.id} v{a.version}" in decision.reason
    else:
        assert decision.reason.startswith("denied: ")
    released = dict(
        recipients_for(message.originator, message.kind, message.valid_time_s, agreements)
    )
    assert (recipient in released) is decision.allow


@settings(max_examples=500)
@given(text=st.text() | st.text().map(lambda t: "format = 1\n[[agreement]]\n" + t))
def test_parse_never_raises_anything_but_config_error(text: str) -> None:
    try:
        result = parse_agreements(text, source="fuzz.toml")
    except ConfigError as exc:
        assert exc.file == "fuzz.toml"
    else:
        assert isinstance(result, AgreementSet)


def test_format_agreements_round_trips_every_field() -> None:
    from trilink.sharing.agreements import format_agreements

    text = """
format = 1
[[agreement]]
id = "JPN-AUS"
version = 3
from = "JPN"
to = "AUS"
kinds = ["launch", "impact"]
state = "suspended"
backlog = "latest-only"
valid-from = 2024-01-01T00:00:00Z
valid-until = 2030-01-01T00:00:00Z
region = [[30.0, 125.0], [46.0, 125.0], [46.0, 150.0], [30.0, 150.0]]
object-classes = ["missile", "rv"]
precision-m = 5000.0
redact = ["overflight"]
delay-s = 30.0
seal = true
note = "alerts only, \\"quoted\\" note"

[[agreement]]
id = "JPN-PHL"
version = 1
from = "JPN"
to = "PHL"
kinds = ["track"]
state = "active"
backlog = "hold"
region = "japan-eez"
"""
    original = parse_agreements(text, source="a.toml")
    again = parse_agreements(format_agreements(original, header="written"), source="b.toml")
    assert again.agreements == original.agreements
