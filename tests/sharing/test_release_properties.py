"""Properties of the release policy over random agreements and random messages.

- :func:`decide` allows a message to a recipient exactly when some agreement from its
  originator to that recipient is active and admits its kind, valid time, object class
  and position; and the first such agreement (file order) sets what the release must do.
- :func:`redact_payload` never emits a field the decision withholds (checked on the wire
  bytes too) nor a position finer than the agreed grid, and inflates the uncertainty.
"""

from __future__ import annotations

import math

import msgspec
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from trilink.geo.earth import geodetic_to_ecef
from trilink.sharing.agreements import (
    OBJECT_KINDS,
    REDACTABLE,
    Agreement,
    AgreementSet,
    AgreementState,
    Backlog,
    ObjectClass,
    Region,
    ReleaseFacts,
    decide,
    ecef_to_lat_lon,
    plan_releases,
    redact_payload,
    release_facts,
)
from trilink.sharing.envelope import (
    Kind,
    PartialTrack,
    Payload,
    decode_payload,
    encode_payload,
)
from trilink.types import ImpactPrediction, LaunchEstimate, Track, TrackState

NATIONS = ("JPN", "KOR", "USA", "PHL")
M_PER_DEG = 6_371_008.8 * math.pi / 180.0
_times = st.floats(1.6e9, 1.9e9)
_lat = st.floats(-70.0, 70.0)
_lon = st.floats(-179.0, 179.0)


@st.composite
def boxes(draw: st.DrawFn) -> Region:
    lat0, lat1 = sorted(draw(st.tuples(_lat, _lat)))
    lon0, lon1 = sorted(draw(st.tuples(_lon, _lon)))
    lat1, lon1 = max(lat1, lat0 + 0.5), max(lon1, lon0 + 0.5)
    return Region.polygon([(lat0, lon0), (lat0, lon1), (lat1, lon1), (lat1, lon0)])


@st.composite
def agreement_sets(draw: st.DrawFn) -> AgreementSet:
    agreements = []
    for i in range(draw(st.integers(0, 8))):
        originator, recipient = draw(
            st.tuples(st.sampled_from(NATIONS), st.sampled_from(NATIONS)).filter(
                lambda p: p[0] != p[1]
            )
        )
        start, end = draw(st.none() | _times), draw(st.none() | _times)
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
                backlog=draw(st.sampled_from(Backlog)),
                valid_from_s=start,
                valid_until_s=end,
                region=draw(st.none() | boxes()),
                object_classes=draw(st.none() | st.frozensets(st.sampled_from(ObjectClass))),
                precision_m=draw(st.none() | st.floats(1.0, 50_000.0)),
                redact=draw(st.frozensets(st.sampled_from(sorted(REDACTABLE)))),
                delay_s=draw(st.floats(0.0, 600.0)),
                seal=draw(st.booleans()),
            )
        )
    return AgreementSet(tuple(agreements))


@st.composite
def facts(draw: st.DrawFn) -> ReleaseFacts:
    at = draw(st.none() | st.tuples(_lat, _lon))
    return ReleaseFacts(
        originator=draw(st.sampled_from(NATIONS)),
        kind=draw(st.sampled_from(Kind)),
        valid_time_s=draw(_times),
        lat_deg=None if at is None else at[0],
        lon_deg=None if at is None else at[1],
        object_class=draw(st.none() | st.sampled_from(ObjectClass)),
    )


def _in_box(region: Region, lat: float, lon: float) -> bool:
    lats = [v[0] for v in region.vertices]
    lons = [v[1] for v in region.vertices]
    return min(lats) <= lat <= max(lats) and min(lons) <= lon <= max(lons)


def _admits(a: Agreement, m: ReleaseFacts) -> bool:
    """Everything but the state: what the agreement releases (written independently)."""
    if m.kind not in a.kinds:
        return False
    if a.valid_from_s is not None and m.valid_time_s < a.valid_from_s:
        return False
    if a.valid_until_s is not None and m.valid_time_s >= a.valid_until_s:
        return False
    if m.kind not in OBJECT_KINDS:
        return True
    if a.object_classes is not None and (m.object_class or "unknown") not in a.object_classes:
        return False
    if a.region is not None:
        if m.lat_deg is None or m.lon_deg is None:
            return False
        return _in_box(a.region, m.lat_deg, m.lon_deg)
    return True


@settings(max_examples=500, deadline=None)
@given(agreements=agreement_sets(), message=facts(), recipient=st.sampled_from(NATIONS))
def test_decide_never_allows_outside_releasability(
    agreements: AgreementSet, message: ReleaseFacts, recipient: str
) -> None:
    decision = decide(message, recipient, agreements)
    mine = [
        a
        for a in agreements
        if a.originator == message.originator and a.recipient == recipient != message.originator
    ]
    releasing = [a for a in mine if a.state is AgreementState.ACTIVE and _admits(a, message)]
    assert decision.allow is bool(releasing), decision.reason
    if releasing:
        a = releasing[0]
        assert (decision.agreement_id, decision.agreement_version) == (a.id, a.version)
        assert decision.precision_m == a.precision_m
        assert decision.redact == tuple(sorted(a.redact))
        assert decision.release_at_s == message.valid_time_s + a.delay_s
        assert decision.seal is a.seal
        assert decision.backlog is None
    else:
        assert decision.reason.startswith("denied: ")
        held = [a for a in mine if a.state is AgreementState.SUSPENDED and _admits(a, message)]
        assert decision.backlog == (held[0].backlog if held else None)
        assert decision.redact == () and not decision.seal and decision.release_at_s is None


# -- redaction -------------------------------------------------------------------------------


@st.composite
def tracks(draw: st.DrawFn) -> Track:
    n = draw(st.sampled_from((6, 9)))
    pos = geodetic_to_ecef(draw(_lat), draw(_lon), draw(st.floats(0.0, 2e6)))
    rest = draw(st.lists(st.floats(-7e3, 7e3), min_size=n - 3, max_size=n - 3))
    a = np.array(draw(st.lists(st.floats(-50.0, 50.0), min_size=n * n, max_size=n * n)))
    cov = a.reshape(n, n) @ a.reshape(n, n).T + np.eye(n)
    return Track(
        track_id="KOR-T0001",
        nation="KOR",
        t_s=1.7e9,
        state=np.concatenate([pos, rest]),
        covariance=cov,
        status=TrackState.CONFIRMED,
        sensors=tuple(draw(st.lists(st.sampled_from(["KOR-GP1", "KOR-GP2"]), max_size=2))),
        first_t_s=1.7e9 - 30.0,
        n_updates=3,
        thrusting=draw(st.booleans()),
    )


_launches = st.builds(
    LaunchEstimate,
    st.just(1.7e9),
    _lat,
    _lon,
    st.floats(0.0, 1e5),
    st.floats(0.0, 60.0),
    st.just("KOR-T0001"),
    st.just("KOR"),
)


@st.composite
def impacts(draw: st.DrawFn) -> ImpactPrediction:
    minor = draw(st.floats(0.0, 1e5))
    return ImpactPrediction(
        1.7e9,
        1.7e9 + 600.0,
        draw(_lat),
        draw(_lon),
        minor + draw(st.floats(0.0, 1e5)),
        minor,
        draw(st.floats(0.0, 180.0)),
        5e5,
        "outside",
        False,
        tuple(draw(st.lists(st.sampled_from(["Hokkaido", "Honshu"]), max_size=2))),
        "KOR-T0001",
        "KOR",
    )


_payloads = st.one_of(tracks(), _launches, impacts())


def _on_grid(values: np.ndarray, step: float) -> bool:
    return bool(np.allclose(values / step, np.round(values / step), rtol=0.0, atol=1e-6))


@settings(max_examples=500, deadline=None)
@given(
    payload=_payloads,
    redact=st.frozensets(st.sampled_from(sorted(REDACTABLE))),
    precision_m=st.none() | st.floats(1.0, 50_000.0),
)
def test_redact_payload_never_emits_a_withheld_field_nor_finer_positions(
    payload: Payload, redact: frozenset[str], precision_m: float | None
) -> None:
    agreement = Agreement(
        id="KOR-JPN",
        version=1,
        originator="KOR",
        recipient="JPN",
        kinds=frozenset(Kind),
        redact=redact,
        precision_m=precision_m,
    )
    message = release_facts(payload, originator="KOR", valid_time_s=1.7e9)
    decision = decide(message, "JPN", AgreementSet((agreement,)))
    assert decision.allow
    out = redact_payload(payload, decision)
    kind, data = encode_payload(out)
    wire = msgspec.msgpack.decode(data)
    back = decode_payload(kind, data)
    p = precision_m

    if isinstance(payload, Track):
        assert isinstance(out, Track | PartialTrack) and isinstance(back, Track | PartialTrack)
        if "sensor" in redact:
            assert "sensors" not in wire and out.sensors == () and back.sensors == ()
        if "covariance" in redact:
            assert "cov" not in wire and out.covariance is None and back.covariance is None
        if "velocity" in redact:
            assert len(wire["state"]) == 3 and out.state.shape == (3,)
        if {"covariance", "velocity"} & redact:
            assert isinstance(back, PartialTrack)
        np.testing.assert_array_equal(back.state, out.state)
        if p is not None:
            assert _on_grid(np.asarray(wire["state"][:3]), p)
            if out.covariance is not None:
                grown = np.diag(out.covariance)[:3] - np.diag(payload.covariance)[:3]
                assert np.all(grown >= p * p / 12.0 * (1 - 1e-9))
        else:
            np.testing.assert_array_equal(out.state[:3], payload.state[:3])
    else:
        assert isinstance(out, type(payload)) and back == out
        assert isinstance(out, LaunchEstimate | ImpactPrediction)
        assert isinstance(payload, LaunchEstimate | ImpactPrediction)
        if isinstance(out, ImpactPrediction) and "overflight" in redact:
            assert "overflight" not in wire and out.overflight == ()
        if p is not None:
            dlat = p / M_PER_DEG
            dlon = p / (M_PER_DEG * max(math.cos(math.radians(out.lat_deg)), 1e-6))
            assert _on_grid(np.array([out.lat_deg]), dlat)
            assert _on_grid(np.array([out.lon_deg]), dlon)
            grow = p / math.sqrt(2) * (1 - 1e-9)
            if isinstance(out, LaunchEstimate):
                assert isinstance(payload, LaunchEstimate)
                assert out.radius_95_m - payload.radius_95_m >= grow
            else:
                assert isinstance(payload, ImpactPrediction)
                assert out.semi_major_m - payload.semi_major_m >= grow
                assert out.semi_minor_m - payload.semi_minor_m >= grow
        else:
            assert (out.lat_deg, out.lon_deg) == (payload.lat_deg, payload.lon_deg)


@settings(max_examples=300, deadline=None)
@given(lat=st.floats(-89.9, 89.9), lon=st.floats(-180.0, 180.0), alt=st.floats(-1e4, 4e7))
def test_ecef_to_lat_lon_inverts_geodetic_to_ecef(lat: float, lon: float, alt: float) -> None:
    x, y, z = (float(v) for v in geodetic_to_ecef(lat, lon, alt))
    back_lat, back_lon = ecef_to_lat_lon(x, y, z)
    assert abs(back_lat - lat) < 1e-9
    assert abs((back_lon - lon + 180.0) % 360.0 - 180.0) * math.cos(math.radians(lat)) < 1e-9


@settings(max_examples=300, deadline=None)
@given(agreements=agreement_sets(), payload=_payloads)
def test_what_the_originator_releases_the_recipient_accepts(
    agreements: AgreementSet, payload: Payload
) -> None:
    """plan_releases → wire → the recipient's own decide on what it received: same answer."""
    for release in plan_releases(payload, agreements, originator="KOR", valid_time_s=1.7e9):
        if not release.decision.allow:
            assert release.payload is None
            continue
        assert release.payload is not None
        kind, data = encode_payload(release.payload)
        received = decode_payload(kind, data)
        seen = release_facts(received, originator="KOR", valid_time_s=1.7e9)
        if isinstance(payload, Track):
            assert seen.object_class is None
        verdict = decide(seen, release.recipient, agreements)
        assert verdict.allow, verdict.reason
        assert verdict.agreement_id == release.decision.agreement_id
