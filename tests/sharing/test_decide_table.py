"""The release policy as a table: one row per agreement field and per state.

Each row gives the agreements, the message (its facts), the recipient, the expected
verdict, a piece of the expected reason and any other field of the decision that the row
is about. Read down the ``id`` column to see what each field does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from trilink.geo.areas import in_japan_eez
from trilink.sharing.agreements import (
    Agreement,
    AgreementSet,
    AgreementState,
    Backlog,
    ObjectClass,
    Region,
    ReleaseFacts,
    Verdict,
    decide,
    release_decisions,
)
from trilink.sharing.envelope import Kind

T2024 = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
T2030 = datetime(2030, 1, 1, tzinfo=UTC).timestamp()
T = T2024 + 86400.0

SEA_OF_JAPAN = (40.0, 138.0)  # inside Japan's EEZ
NORTH_KOREA = (39.0, 125.7)  # a launch site: outside
TAKESHIMA = (37.5, 131.5)  # joint/disputed: outside "japan-eez"
LUZON_STRAIT = (20.0, 121.0)
BOX = Region.polygon([(5.0, 115.0), (5.0, 130.0), (22.0, 130.0), (22.0, 115.0)])
ALL_KINDS = frozenset(Kind)


@dataclass(frozen=True)
class Plain:
    """A message given without its content (as an envelope is)."""

    originator: str
    kind: Kind
    valid_time_s: float


def _a(id: str = "KOR-JPN", **fields: Any) -> Agreement:
    base: dict[str, Any] = {
        "version": 3,
        "originator": "KOR",
        "recipient": "JPN",
        "kinds": frozenset({Kind.TRACK, Kind.LAUNCH, Kind.IMPACT, Kind.ALL_CLEAR}),
    }
    return Agreement(id=id, **(base | fields))


def _m(
    kind: Kind = Kind.LAUNCH,
    at: tuple[float, float] | None = SEA_OF_JAPAN,
    cls: ObjectClass | None = ObjectClass.MISSILE,
    t_s: float = T,
) -> ReleaseFacts:
    lat, lon = at if at is not None else (None, None)
    return ReleaseFacts(
        originator="KOR", kind=kind, valid_time_s=t_s, lat_deg=lat, lon_deg=lon, object_class=cls
    )


ALLOW, REDACT, DENY = Verdict.ALLOW, Verdict.REDACT, Verdict.DENY

TABLE = [
    # -- who ----------------------------------------------------------------------------
    pytest.param([_a()], _m(), "JPN", ALLOW, "allowed by KOR-JPN v3", {}, id="from-to"),
    pytest.param([_a()], _m(), "USA", DENY, "no agreement from KOR to USA", {}, id="to-other"),
    pytest.param([_a()], _m(), "KOR", DENY, "KOR is the originator", {}, id="to-self"),
    # -- kinds --------------------------------------------------------------------------
    pytest.param(
        [_a()], _m(Kind.DETECTION), "JPN", DENY, "does not release kind detection", {}, id="kinds"
    ),
    pytest.param(
        [_a(kinds=frozenset({Kind.RECEIPT}))],
        _m(Kind.RECEIPT, at=None, cls=None),
        "JPN",
        ALLOW,
        "allowed",
        {},
        id="kinds-receipt",
    ),
    # -- state and backlog ----------------------------------------------------------------
    pytest.param(
        [_a(state=AgreementState.ACTIVE)], _m(), "JPN", ALLOW, "allowed", {}, id="state-active"
    ),
    pytest.param(
        [_a(state=AgreementState.SUSPENDED)],
        _m(),
        "JPN",
        DENY,
        "KOR-JPN v3 is suspended",
        {"backlog": Backlog.HOLD, "agreement_id": "KOR-JPN", "agreement_version": 3},
        id="state-suspended-hold",
    ),
    pytest.param(
        [_a(state=AgreementState.SUSPENDED, backlog=Backlog.LATEST_ONLY)],
        _m(),
        "JPN",
        DENY,
        "is suspended",
        {"backlog": Backlog.LATEST_ONLY},
        id="state-suspended-latest-only",
    ),
    pytest.param(
        [_a(state=AgreementState.SUSPENDED, backlog=Backlog.DROP)],
        _m(),
        "JPN",
        DENY,
        "is suspended",
        {"backlog": Backlog.DROP},
        id="state-suspended-drop",
    ),
    pytest.param(
        [_a(state=AgreementState.SUSPENDED)],
        _m(Kind.DETECTION),
        "JPN",
        DENY,
        "is suspended",
        {"backlog": None},
        id="suspended-but-not-releasable-holds-nothing",
    ),
    pytest.param(
        [_a(state=AgreementState.TERMINATED)],
        _m(),
        "JPN",
        DENY,
        "KOR-JPN v3 is terminated",
        {"backlog": None},
        id="state-terminated",
    ),
    pytest.param(
        [_a(state=AgreementState.SUSPENDED), _a("KOR-JPN-2")],
        _m(),
        "JPN",
        ALLOW,
        "allowed by KOR-JPN-2 v3",
        {"backlog": None},
        id="suspended-and-active",
    ),
    # -- validity ----------------------------------------------------------------------
    pytest.param(
        [_a(valid_from_s=T2024)],
        _m(t_s=T2024 - 1),
        "JPN",
        DENY,
        "not valid until 2024-01-01T00:00:00Z",
        {},
        id="valid-from-before",
    ),
    pytest.param(
        [_a(valid_from_s=T2024)], _m(t_s=T2024), "JPN", ALLOW, "allowed", {}, id="valid-from-at"
    ),
    pytest.param(
        [_a(valid_until_s=T2030)],
        _m(t_s=T2030),
        "JPN",
        DENY,
        "expired at 2030-01-01T00:00:00Z",
        {},
        id="valid-until-at",
    ),
    pytest.param(
        [_a(valid_until_s=T2030)],
        _m(t_s=T2030 - 1),
        "JPN",
        ALLOW,
        "allowed",
        {},
        id="valid-until-before",
    ),
    pytest.param(
        [_a()], _m(t_s=float("inf")), "JPN", DENY, "not a finite number", {}, id="valid-time-inf"
    ),
    # -- region --------------------------------------------------------------------------
    pytest.param(
        [_a(region=Region.named("japan-eez"))],
        _m(at=SEA_OF_JAPAN),
        "JPN",
        ALLOW,
        "allowed",
        {},
        id="region-named-inside",
    ),
    pytest.param(
        [_a(region=Region.named("japan-eez"))],
        _m(at=NORTH_KOREA),
        "JPN",
        DENY,
        "position 39.000, 125.700 lies outside japan-eez",
        {},
        id="region-named-outside",
    ),
    pytest.param(
        [_a(region=Region.named("japan-eez"))],
        _m(at=TAKESHIMA),
        "JPN",
        DENY,
        "outside japan-eez",
        {},
        id="region-named-disputed",
    ),
    pytest.param(
        [_a(region=BOX)], _m(at=LUZON_STRAIT), "JPN", ALLOW, "allowed", {}, id="region-vertices-in"
    ),
    pytest.param(
        [_a(region=BOX)],
        _m(at=(22.0, 121.0)),
        "JPN",
        ALLOW,
        "allowed",
        {},
        id="region-vertices-edge",
    ),
    pytest.param(
        [_a(region=BOX)],
        _m(at=SEA_OF_JAPAN),
        "JPN",
        DENY,
        "outside polygon of 4 vertices",
        {},
        id="region-vertices-out",
    ),
    pytest.param(
        [_a(region=BOX)],
        _m(Kind.TRACK, at=None),
        "JPN",
        DENY,
        "the message has no position",
        {},
        id="region-no-position",
    ),
    pytest.param(
        [_a(region=BOX)],
        Plain("KOR", Kind.TRACK, T),
        "JPN",
        DENY,
        "position was not judged",
        {},
        id="region-content-unknown",
    ),
    pytest.param(
        [_a(region=BOX)],
        _m(Kind.ALL_CLEAR, at=None, cls=None),
        "JPN",
        ALLOW,
        "allowed",
        {},
        id="region-not-for-all-clear",
    ),
    # -- object classes -------------------------------------------------------------------
    pytest.param(
        [_a(object_classes=frozenset({ObjectClass.MISSILE, ObjectClass.RV}))],
        _m(cls=ObjectClass.RV),
        "JPN",
        ALLOW,
        "allowed",
        {},
        id="object-classes-listed",
    ),
    pytest.param(
        [_a(object_classes=frozenset({ObjectClass.MISSILE}))],
        _m(Kind.TRACK, cls=ObjectClass.DEBRIS),
        "JPN",
        DENY,
        "does not release object class debris (only missile)",
        {},
        id="object-classes-not-listed",
    ),
    pytest.param(
        [_a(object_classes=frozenset({ObjectClass.MISSILE}))],
        _m(Kind.TRACK, cls=None),
        "JPN",
        DENY,
        "object class unknown",
        {},
        id="object-classes-unclassified-is-unknown",
    ),
    pytest.param(
        [_a(object_classes=frozenset({ObjectClass.UNKNOWN}))],
        _m(Kind.TRACK, cls=None),
        "JPN",
        ALLOW,
        "allowed",
        {},
        id="object-classes-unknown-listed",
    ),
    pytest.param(
        [_a(object_classes=frozenset({ObjectClass.UNKNOWN}))],
        Plain("KOR", Kind.LAUNCH, T),
        "JPN",
        DENY,
        "class was not judged",
        {},
        id="object-classes-content-unknown",
    ),
    # -- what a release must do -------------------------------------------------------------
    pytest.param(
        [_a(precision_m=1000.0)],
        _m(),
        "JPN",
        REDACT,
        "allowed by KOR-JPN v3 (precision 1000 m)",
        {"precision_m": 1000.0, "redact": ()},
        id="precision-m",
    ),
    pytest.param(
        [_a(redact=frozenset({"sensor", "covariance"}))],
        _m(),
        "JPN",
        REDACT,
        "redact covariance, sensor",
        {"redact": ("covariance", "sensor"), "precision_m": None},
        id="redact",
    ),
    pytest.param(
        [_a(delay_s=30.0)],
        _m(),
        "JPN",
        ALLOW,
        "delay 30 s",
        {"release_at_s": T + 30.0},
        id="delay-s",
    ),
    pytest.param([_a()], _m(), "JPN", ALLOW, "allowed", {"release_at_s": T}, id="no-delay"),
    pytest.param([_a(seal=True)], _m(), "JPN", ALLOW, "sealed", {"seal": True}, id="seal"),
    pytest.param([_a()], _m(), "JPN", ALLOW, "allowed", {"seal": False}, id="no-seal"),
    pytest.param(
        [_a(precision_m=5000.0), _a("KOR-JPN-fine")],
        _m(),
        "JPN",
        REDACT,
        "allowed by KOR-JPN v3",
        {"precision_m": 5000.0, "agreement_id": "KOR-JPN"},
        id="first-in-file-order-decides",
    ),
]


@pytest.mark.parametrize(
    ("agreements", "message", "recipient", "verdict", "reason", "fields"), TABLE
)
def test_decide(
    agreements: list[Agreement],
    message: ReleaseFacts | Plain,
    recipient: str,
    verdict: Verdict,
    reason: str,
    fields: dict[str, Any],
) -> None:
    decision = decide(message, recipient, AgreementSet(tuple(agreements)))
    assert decision.verdict is verdict, decision.reason
    assert decision.allow is (verdict is not DENY)
    assert reason in decision.reason
    assert decision.reason.startswith("allowed by " if decision.allow else "denied: ")
    for name, value in fields.items():
        assert getattr(decision, name) == value, name
    if decision.allow:
        assert decision.agreement_id is not None and decision.agreement_version == 3
        assert f"{decision.agreement_id} v3" in decision.reason


def test_points_used_above_agree_with_the_geo_module() -> None:
    assert in_japan_eez(*SEA_OF_JAPAN)
    assert not in_japan_eez(*NORTH_KOREA) and not in_japan_eez(*TAKESHIMA)


def test_release_decisions_judge_every_partner() -> None:
    agreements = AgreementSet(
        (
            _a(),
            _a("KOR-USA", recipient="USA", precision_m=100.0),
            _a("KOR-PHL", recipient="PHL", region=BOX),
            _a("JPN-KOR", originator="JPN", recipient="KOR"),
        )
    )
    decisions = dict(release_decisions(_m(at=SEA_OF_JAPAN), agreements))
    assert sorted(decisions) == ["JPN", "PHL", "USA"]
    assert decisions["JPN"].verdict is ALLOW
    assert decisions["USA"].verdict is REDACT and decisions["USA"].precision_m == 100.0
    assert decisions["PHL"].verdict is DENY
