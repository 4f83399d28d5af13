"""The alert lifecycle (J-Alert stages) and the timeliness marks, on synthetic products.

Launch estimates and impact predictions are built directly; a scenario steps a lifecycle
every 10 s with the predictions valid by then (the launch estimate from T+44 s). The
property test checks that any stream of predictions gives a valid path of the state
machine.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trilink.alerting.lifecycle import (
    JAPAN_WATERS,
    SOUTH_KOREA,
    AlertLifecycle,
    LaunchRule,
    LifecyclePhase,
    japan_assessor,
    korea_assessor,
)
from trilink.alerting.timeliness import timeliness
from trilink.errors import ConfigError
from trilink.types import ImpactPrediction, LaunchEstimate
from trilink.types.alert import REPLAY_KEYS, TERMINAL_STAGES, Alert, AlertStage

T0 = 1_504_000_000.0  # launch, POSIX seconds
IMPACT_T = T0 + 900.0
LAUNCH = LaunchEstimate(
    t_launch_s=T0 + 2.0,
    lat_deg=39.2,
    lon_deg=125.7,
    radius_95_m=2_000.0,
    t_sigma_s=3.0,
    track_id="JPN-T0001",
    nation="JPN",
)
LAUNCH_KNOWN_T = T0 + 44.0


def pred(
    t_rel_s: float,
    *,
    over: tuple[str, ...] = (),
    eez: str = "outside",
    near: bool = False,
    impact_t_s: float = IMPACT_T,
    lat: float = 41.1,
    lon: float = 157.4,
) -> ImpactPrediction:
    return ImpactPrediction(
        t_valid_s=T0 + t_rel_s,
        t_impact_s=impact_t_s,
        lat_deg=lat,
        lon_deg=lon,
        semi_major_m=2_000.0,
        semi_minor_m=1_000.0,
        orientation_deg=80.0,
        apogee_m=550_000.0,
        eez_verdict=eez,
        eez_near_boundary=near,
        overflight=over,
        track_id="JPN-S001",
        nation="JPN",
    )


def fly(
    lifecycle: AlertLifecycle,
    preds: Sequence[ImpactPrediction],
    *,
    until_rel_s: float = 1_100.0,
    track_ends_rel_s: float | None = None,
) -> list[Alert]:
    """Step every 10 s from T+40 s; each step holds the predictions valid by then."""
    t_rel = 40.0
    while t_rel <= until_rel_s:
        t = T0 + t_rel
        lifecycle.step(
            t,
            launch=LAUNCH if t >= LAUNCH_KNOWN_T else None,
            impacts=[p for p in preds if p.t_valid_s <= t],
            track_alive=track_ends_rel_s is None or t_rel < track_ends_rel_s,
        )
        t_rel += 10.0
    return lifecycle.alerts


def stages(alerts: Sequence[Alert]) -> list[str]:
    return [a.stage.value for a in alerts]


def steady(over: tuple[str, ...], eez: str = "outside", n: int = 25) -> list[ImpactPrediction]:
    """The same prediction every 10 s from T+160 s."""
    return [pred(160.0 + 10.0 * i, over=over, eez=eez) for i in range(n)]


def jpn() -> AlertLifecycle:
    return AlertLifecycle.for_nation("JPN")


# -- whole sequences, as a table ---------------------------------------------------------

HOKKAIDO = ("Hokkaido",)


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[], AlertLifecycle]
    preds: list[ImpactPrediction]
    expected: list[str]


CASES = [
    Case(
        "overflight of Hokkaido",
        jpn,
        steady(HOKKAIDO),
        ["launch", "evacuate", "passed_over", "fell_outside_eez", "all_clear"],
    ),
    Case(
        "impact in Japan's EEZ",
        jpn,
        steady((), eez="inside"),
        ["launch", "evacuate", "fell_in_eez", "all_clear"],
    ),
    Case(
        "impact just outside, near the EEZ boundary: warned, then outside",
        jpn,
        [replace(p, eez_near_boundary=True) for p in steady(())],
        ["launch", "evacuate", "fell_outside_eez", "all_clear"],
    ),
    Case(
        "bad early estimate over Hokkaido that moves away (13 April 2023)",
        jpn,
        steady(HOKKAIDO, n=3) + [pred(190.0 + 10.0 * i) for i in range(20)],
        ["launch", "evacuate", "cancel", "fell_outside_eez", "all_clear"],
    ),
    Case(
        "one outlier does not flap the warning",
        jpn,
        steady(HOKKAIDO, n=3)
        + [pred(190.0)]
        + [pred(200.0 + 10 * i, over=HOKKAIDO) for i in range(9)],
        ["launch", "evacuate", "passed_over", "fell_outside_eez", "all_clear"],
    ),
    Case(
        "Japan stays silent when never at risk",
        jpn,
        steady(()),
        [],
    ),
    Case(
        "the US warns of the launch and says where it fell",
        lambda: AlertLifecycle.for_nation("USA"),
        steady(HOKKAIDO),
        ["launch", "fell_outside_eez", "all_clear"],
    ),
    Case(
        "Korea without its territory check: launch and verdict",
        lambda: AlertLifecycle.for_nation("KOR"),
        steady((), eez="inside"),
        ["launch", "fell_in_eez", "all_clear"],
    ),
    Case(
        "Korea with a territory check that says at risk",
        lambda: AlertLifecycle.for_nation("KOR", korea_at_risk=lambda p: p.lon_deg < 130.0),
        [replace(p, lon_deg=128.0) for p in steady(())],
        ["launch", "evacuate", "fell_outside_eez", "all_clear"],
    ),
    Case(
        "impact on Japanese land",
        lambda: AlertLifecycle.for_nation("JPN", japan_land_at_impact=lambda p: "Hokkaido"),
        steady(HOKKAIDO, eez="inside"),
        ["launch", "evacuate", "fell_on_land", "all_clear"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_stage_sequence(case: Case) -> None:
    assert stages(fly(case.make(), case.preds)) == case.expected


def test_overflight_alerts_name_hokkaido_and_the_predicted_time() -> None:
    alerts = fly(jpn(), steady(HOKKAIDO))
    launch, evacuate, passed, fell, clear = alerts
    assert launch.t_s == evacuate.t_s == T0 + 160.0  # J-Alert: once Japan is at risk
    assert launch.prefectures == evacuate.prefectures == passed.prefectures == HOKKAIDO
    assert evacuate.predicted_t_s == IMPACT_T  # no overflight times: the impact time
    assert fell.t_s == IMPACT_T and fell.eez_verdict == "outside"
    assert clear.t_s == IMPACT_T + 60.0
    assert [a.alert_id for a in alerts] == [f"JPN-A{i:03d}" for i in range(1, 6)]
    assert all(a.text.startswith("SIMULATION") for a in alerts)
    assert "Hokkaido" in evacuate.text and "Evacuate" in evacuate.text
    assert launch.launch_time_s == LAUNCH.t_launch_s


def test_eez_impact_without_overflight_names_japans_waters() -> None:
    alerts = fly(jpn(), steady((), eez="inside"))
    assert alerts[1].stage is AlertStage.EVACUATE
    assert alerts[1].prefectures == (JAPAN_WATERS,)
    assert alerts[2].eez_verdict == "inside"


def test_japan_may_warn_of_land_and_overflight_only() -> None:
    life = AlertLifecycle(
        "JPN", assess=japan_assessor(warn_eez=False), launch_rule=LaunchRule.AT_RISK
    )
    assert fly(life, steady((), eez="inside")) == []
    life = AlertLifecycle(
        "JPN", assess=japan_assessor(warn_eez=False), launch_rule=LaunchRule.AT_RISK
    )
    assert stages(fly(life, steady(HOKKAIDO, eez="inside")))[:2] == ["launch", "evacuate"]


def test_cancel_names_the_evacuate_it_corrects() -> None:
    alerts = fly(jpn(), steady(HOKKAIDO, n=3) + [pred(190.0 + 10.0 * i) for i in range(20)])
    evacuate, cancel = alerts[1], alerts[2]
    assert cancel.stage is AlertStage.CANCEL
    assert cancel.correction_of == evacuate.alert_id
    assert cancel.prefectures == ()
    assert cancel.t_s == T0 + 200.0  # two predictions without Hokkaido: T+190, T+200
    assert "no longer expected" in cancel.text and "Hokkaido" in cancel.text


def test_correction_keeps_the_areas_still_at_risk() -> None:
    both = ("Honshu", "Hokkaido")
    preds = steady(both, n=2) + [pred(180.0 + 10 * i, over=("Honshu",)) for i in range(20)]
    alerts = fly(jpn(), preds)
    assert stages(alerts)[:3] == ["launch", "evacuate", "correction"]
    correction = alerts[2]
    assert correction.correction_of == alerts[1].alert_id
    assert correction.prefectures == ("Honshu",)
    assert stages(alerts)[3] == "passed_over" and alerts[3].prefectures == ("Honshu",)


def test_a_cancelled_warning_is_raised_again_by_a_new_threat() -> None:
    preds = (
        steady(HOKKAIDO, n=2)
        + [pred(180.0), pred(190.0)]
        + [pred(200.0 + 10 * i, over=HOKKAIDO) for i in range(5)]
    )
    alerts = fly(jpn(), preds)
    assert stages(alerts)[:4] == ["launch", "evacuate", "cancel", "evacuate"]
    assert alerts[3].alert_id != alerts[1].alert_id


def test_confirm_seconds_hold_the_correction_back() -> None:
    life = AlertLifecycle(
        "JPN", assess=japan_assessor(), launch_rule=LaunchRule.AT_RISK, confirm_s=30.0
    )
    preds = steady(HOKKAIDO, n=2) + [pred(180.0 + 10 * i) for i in range(10)]
    alerts = fly(life, preds)
    cancel = next(a for a in alerts if a.stage is AlertStage.CANCEL)
    assert cancel.t_s == T0 + 210.0  # T+180 … T+210 spans 30 s


def test_update_when_an_area_is_added_at_once() -> None:
    preds = steady(HOKKAIDO, n=2) + steady(("Aomori", "Hokkaido"), n=20)[2:]
    alerts = fly(jpn(), preds)
    update = alerts[2]
    assert update.stage is AlertStage.UPDATE
    assert update.t_s == T0 + 180.0
    assert update.prefectures == ("Hokkaido", "Aomori")


def test_update_when_the_predicted_time_moves_beyond_the_threshold() -> None:
    preds = [pred(160.0, over=HOKKAIDO), pred(170.0, over=HOKKAIDO, impact_t_s=IMPACT_T + 20)]
    preds += [pred(180.0, over=HOKKAIDO, impact_t_s=IMPACT_T + 45)]
    alerts = fly(jpn(), preds)
    assert stages(alerts)[:3] == ["launch", "evacuate", "update"]
    assert alerts[2].t_s == T0 + 180.0 and alerts[2].predicted_t_s == IMPACT_T + 45


def test_evacuate_never_after_the_predicted_time() -> None:
    late = [pred(160.0 + 10 * i, over=HOKKAIDO, impact_t_s=T0 + 150.0) for i in range(5)]
    assert fly(jpn(), late) == []  # Japan: nothing to warn of any more
    usa = fly(AlertLifecycle("USA", assess=japan_assessor()), late)
    assert stages(usa) == ["launch", "fell_outside_eez", "all_clear"]


def test_overflight_times_name_the_overflight_and_time_the_pass() -> None:
    over_t = T0 + 400.0
    preds = [timed(160.0 + 10 * i, HOKKAIDO, (over_t,)) for i in range(10)]
    alerts = fly(jpn(), preds)
    assert alerts[1].predicted_t_s == over_t
    passed = alerts[2]
    assert passed.stage is AlertStage.PASSED_OVER and passed.t_s == over_t + 60.0
    # an overflight already under way is not an evacuate any more
    late = [timed(160.0 + 10 * i, HOKKAIDO, (T0 + 150.0,)) for i in range(10)]
    assert "evacuate" not in stages(fly(AlertLifecycle("USA", assess=japan_assessor()), late))


def timed(
    t_rel_s: float, over: tuple[str, ...], times: tuple[float, ...], sigma_s: float = 0.0
) -> ImpactPrediction:
    """A prediction with overflight times and an impact-time sigma."""
    base = pred(t_rel_s, over=over)
    return replace(base, overflight_times_s=times, t_impact_sigma_s=sigma_s)


def test_impact_time_sigma_delays_the_verdict() -> None:
    preds = [timed(160.0 + 10 * i, HOKKAIDO, (), sigma_s=10.0) for i in range(10)]
    alerts = fly(jpn(), preds)
    fell = next(a for a in alerts if a.stage in TERMINAL_STAGES)
    assert fell.t_s == IMPACT_T + 20.0


def test_a_sigma_that_is_not_a_number_is_no_sigma() -> None:
    preds = [timed(160.0 + 10 * i, HOKKAIDO, (), sigma_s=math.nan) for i in range(10)]
    fell = next(a for a in fly(jpn(), preds) if a.stage in TERMINAL_STAGES)
    assert fell.t_s == IMPACT_T


def test_all_clear_at_once_when_the_track_ends() -> None:
    alerts = fly(jpn(), steady(HOKKAIDO), track_ends_rel_s=800.0)
    assert stages(alerts)[-2:] == ["fell_outside_eez", "all_clear"]
    assert alerts[-1].t_s == alerts[-2].t_s == IMPACT_T


def test_nothing_after_all_clear() -> None:
    life = jpn()
    fly(life, steady(HOKKAIDO))
    assert life.phase is LifecyclePhase.CLOSED
    n = len(life.alerts)
    later = steady(HOKKAIDO) + [pred(2_000.0, over=("Honshu",), impact_t_s=T0 + 3_000.0)]
    assert life.step(T0 + 2_500.0, launch=LAUNCH, impacts=later) == []
    assert len(life.alerts) == n


def test_nothing_before_a_launch_estimate() -> None:
    life = AlertLifecycle("USA")
    assert life.step(T0 + 500.0, impacts=steady(HOKKAIDO)) == []
    assert life.step(T0 + 1_000.0, impacts=steady(HOKKAIDO)) == []
    assert life.phase is LifecyclePhase.WAITING


def test_stepping_back_in_time_is_refused() -> None:
    life = jpn()
    life.step(T0 + 100.0)
    with pytest.raises(ValueError, match="before the last step"):
        life.step(T0 + 99.0)


@pytest.mark.parametrize(
    ("name", "value"),
    [("confirm_predictions", 0), ("all_clear_delay_s", -1.0), ("update_time_s", float("nan"))],
)
def test_bad_rules_are_refused(name: str, value: float) -> None:
    with pytest.raises(ConfigError, match=name):
        AlertLifecycle("JPN", **{name: value})  # type: ignore[arg-type]


def test_korea_assessor_on_land() -> None:
    assess = korea_assessor(lambda p: True, on_land=lambda p: p.lat_deg < 38.0)
    assert assess(pred(0, lat=37.5)).land == SOUTH_KOREA
    assert assess(pred(0, lat=40.0)).land is None
    assert assess(pred(0, lat=40.0)).areas == (SOUTH_KOREA,)


def test_korea_reads_the_prediction_by_default() -> None:
    over = [
        replace(
            p,
            korea_overflight=("North Korea", SOUTH_KOREA),
            korea_overflight_times_s=(T0 + 100.0, T0 + 600.0),
        )
        for p in steady(())
    ]
    alerts = fly(AlertLifecycle.for_nation("KOR"), over)
    assert stages(alerts) == ["launch", "evacuate", "passed_over", "fell_outside_eez", "all_clear"]
    assert alerts[1].prefectures == (SOUTH_KOREA,) and alerts[1].predicted_t_s == T0 + 600.0
    assert alerts[2].t_s == T0 + 660.0
    landed = [replace(p, impact_land=SOUTH_KOREA) for p in steady(())]
    alerts = fly(AlertLifecycle.for_nation("KOR"), landed)
    assert stages(alerts) == ["launch", "evacuate", "fell_on_land", "all_clear"]
    assert alerts[2].prefectures == (SOUTH_KOREA,)
    # Japan is not warned of a fall in Korea
    assert fly(jpn(), landed) == []


def test_japan_names_prefectures_and_its_land_by_default() -> None:
    ahead = [
        replace(
            p,
            overflight_prefectures=("Aomori", "Hokkaido"),
            overflight_prefecture_times_s=(math.nan, T0 + 450.0),
        )
        for p in steady(("Honshu", "Hokkaido"))
    ]
    alerts = fly(jpn(), ahead)
    evacuate = alerts[1]
    assert evacuate.prefectures == ("Aomori", "Hokkaido")
    assert evacuate.predicted_t_s == T0 + 450.0  # Aomori is behind the missile (NaN)
    assert alerts[2].stage is AlertStage.PASSED_OVER and alerts[2].t_s == T0 + 510.0
    landed = [replace(p, impact_land="Hokkaido", eez_verdict="inside") for p in steady(HOKKAIDO)]
    alerts = fly(jpn(), landed)
    assert stages(alerts) == ["launch", "evacuate", "fell_on_land", "all_clear"]
    assert alerts[2].prefectures == HOKKAIDO and "fallen on Hokkaido" in alerts[2].text


def test_every_prefecture_already_behind_is_no_evacuate() -> None:
    behind = [
        replace(p, overflight_prefectures=("Aomori",), overflight_prefecture_times_s=(math.nan,))
        for p in steady(("Honshu",))
    ]
    assert fly(jpn(), behind) == []


def test_replay_json_shape() -> None:
    alerts = fly(jpn(), steady(HOKKAIDO, n=3) + [pred(190.0 + 10.0 * i) for i in range(20)])
    for alert in alerts:
        data = alert.to_json()
        assert tuple(data)[: len(REPLAY_KEYS)] == REPLAY_KEYS
        assert set(data) == {
            *REPLAY_KEYS,
            "alert_id",
            "nation",
            "predicted_t_s",
            "launch_time_s",
            "impact_lat_deg",
            "impact_lon_deg",
            "text",
        }
        assert data["stage"] in {s.value for s in AlertStage}
        assert isinstance(data["prefectures"], list)
        assert isinstance(data["eez_verdict"], str)
    cancel = alerts[2].to_json()
    assert cancel["stage"] == "cancel" and cancel["correction_of"] == alerts[1].alert_id
    assert alerts[0].to_json()["eez_verdict"] == ""
    assert {s.value for s in AlertStage} == {
        "launch",
        "evacuate",
        "update",
        "passed_over",
        "fell_in_eez",
        "fell_outside_eez",
        "fell_on_land",
        "all_clear",
        "correction",
        "cancel",
    }


# -- the state machine holds for any stream ----------------------------------------------

NEXT: dict[str, dict[str, str]] = {
    "waiting": {"launch": "launched"},
    "launched": {"evacuate": "warning", **dict.fromkeys(TERMINAL_STAGES, "fell")},
    "warning": {
        "update": "warning",
        "correction": "warning",
        "cancel": "launched",
        "passed_over": "passed",
        **dict.fromkeys(TERMINAL_STAGES, "fell"),
    },
    "passed": dict.fromkeys(TERMINAL_STAGES, "fell"),
    "fell": {"all_clear": "closed"},
    "closed": {},
}

AREAS = ("Hokkaido", "Aomori", "Honshu")


def times_for(draw: st.DrawFn, names: tuple[str, ...]) -> tuple[float, ...]:
    """Entry times for ``names``: none, or increasing, some NaN (behind the missile)."""
    if not draw(st.booleans()):
        return ()
    times = sorted(T0 + draw(st.floats(0.0, 1_000.0)) for _ in names)
    return tuple(math.nan if draw(st.booleans()) else t for t in times)


@st.composite
def streams(draw: st.DrawFn) -> tuple[AlertLifecycle, list[ImpactPrediction], list[float], float]:
    n = draw(st.integers(0, 12))
    impact_t = T0 + draw(st.floats(100.0, 1_000.0))
    preds = []
    for i in range(n):
        over = tuple(a for a in ("Honshu", "Hokkaido") if draw(st.booleans()))
        prefectures = tuple(a for a in AREAS if draw(st.booleans()))
        korea = (SOUTH_KOREA,) if draw(st.booleans()) else ()
        base = pred(60.0 + 30.0 * i + draw(st.floats(0.0, 29.0)), over=over)
        preds.append(
            replace(
                base,
                t_impact_s=impact_t + draw(st.floats(-60.0, 60.0)),
                eez_verdict=draw(st.sampled_from(["inside", "outside", "joint-or-disputed"])),
                eez_near_boundary=draw(st.booleans()),
                overflight_times_s=times_for(draw, over),
                overflight_prefectures=prefectures,
                overflight_prefecture_times_s=times_for(draw, prefectures),
                korea_overflight=korea,
                korea_overflight_times_s=times_for(draw, korea),
                impact_land=draw(st.sampled_from([None, "Hokkaido", SOUTH_KOREA, "North Korea"])),
                t_impact_sigma_s=draw(st.floats(0.0, 20.0)),
            )
        )
    steps = sorted(T0 + draw(st.floats(0.0, 1_500.0)) for _ in range(draw(st.integers(1, 40))))
    life = replace(
        AlertLifecycle.for_nation(draw(st.sampled_from(["JPN", "KOR", "USA"]))),
        launch_rule=draw(st.sampled_from(list(LaunchRule))),
        confirm_predictions=draw(st.integers(1, 3)),
        confirm_s=draw(st.sampled_from([0.0, 15.0])),
        update_time_s=draw(st.sampled_from([0.0, 30.0])),
        all_clear_delay_s=draw(st.sampled_from([0.0, 60.0])),
    )
    ends = T0 + draw(st.floats(0.0, 2_000.0))
    return life, preds, steps, ends


@settings(max_examples=200)
@given(streams())
def test_any_stream_gives_a_valid_path(
    case: tuple[AlertLifecycle, list[ImpactPrediction], list[float], float],
) -> None:
    life, preds, steps, ends = case
    for t in steps:
        life.step(
            t,
            launch=LAUNCH if t >= LAUNCH_KNOWN_T else None,
            impacts=[p for p in preds if p.t_valid_s <= t],
            track_alive=t < ends,
        )
    state = "waiting"
    by_id: dict[str, Alert] = {}
    named: tuple[str, ...] = ()
    for alert in life.alerts:
        stage = alert.stage.value
        assert stage in NEXT[state], f"{stage} after {state}: {stages(life.alerts)}"
        state = NEXT[state][stage]
        assert alert.nation == life.nation and alert.alert_id not in by_id
        if alert.stage in (AlertStage.EVACUATE, AlertStage.UPDATE):
            assert alert.predicted_t_s is not None and alert.predicted_t_s > alert.t_s
            assert alert.prefectures
            named = alert.prefectures
        if alert.stage in (AlertStage.CORRECTION, AlertStage.CANCEL):
            earlier = by_id[alert.correction_of or ""]
            assert earlier.stage in (AlertStage.EVACUATE, AlertStage.UPDATE)
            assert set(alert.prefectures) < set(named)
            named = alert.prefectures
        else:
            assert alert.correction_of is None
        by_id[alert.alert_id] = alert
    assert [a.t_s for a in life.alerts] == sorted(a.t_s for a in life.alerts)
    assert life.phase.value == state


# -- timeliness ---------------------------------------------------------------------------


def test_timeliness_marks_against_truth() -> None:
    truth = (41.1, 157.4)
    preds = [
        pred(160.0, lat=43.0, eez="inside"),  # ~ 210 km off
        pred(170.0, lat=41.4, eez="inside"),  # ~ 33 km off
        pred(180.0, lat=41.15),  # ~ 5.6 km off
        pred(190.0, lat=41.1),
    ]
    alerts = fly(AlertLifecycle.for_nation("USA"), preds)
    marks = timeliness(
        alerts,
        t_launch_s=T0,
        impacts=preds,
        true_impact_lat_lon=truth,
        true_eez_verdict="outside",
    )
    assert marks.nation == "USA"
    assert marks.first_alert_s == 50.0
    assert marks.first_warning_s is None
    assert marks.impact_near_s == 170.0
    assert marks.impact_close_s == 180.0
    assert marks.eez_settled_s == 180.0
    assert marks.eez_verdict_s == 900.0
    assert marks.eez_verdict == "outside" and marks.eez_correct is True
    assert set(marks.to_json()) == {
        "first_alert_s",
        "first_warning_s",
        "impact_within_50km_s",
        "impact_within_10km_s",
        "eez_settled_s",
        "eez_verdict_s",
        "eez_verdict",
        "eez_correct",
    }


def test_timeliness_first_warning_and_a_wrong_verdict() -> None:
    preds = steady(HOKKAIDO)
    marks = timeliness(
        fly(jpn(), preds),
        t_launch_s=T0,
        impacts=preds,
        true_impact_lat_lon=(41.1, 157.4),
        true_eez_verdict="inside",
    )
    assert marks.first_warning_s == 160.0 == marks.first_alert_s
    assert marks.eez_correct is False


def test_timeliness_without_anything() -> None:
    marks = timeliness(
        [], t_launch_s=T0, impacts=[], true_impact_lat_lon=(41.1, 157.4), nation="JPN"
    )
    assert marks.nation == "JPN"
    assert marks.first_alert_s is None and marks.impact_near_s is None
    assert marks.eez_settled_s is None and marks.eez_verdict == "" and marks.eez_correct is None
