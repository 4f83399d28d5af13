"""The WebSocket feed (and the CoT feed of one view): a viewer sees only what its nation
holds.

A replay runs through a real uvicorn server with narrowed agreements — Korea releases to
Japan its launch estimates and alerts but not its tracks or impact predictions, and the
US link to Japan is suspended — and every frame a JPN viewer receives is checked against
those agreements with the real policy (:func:`trilink.sharing.agreements.decide`): each
track, launch estimate, impact prediction and alert is Japan's own or comes from a
partner whose agreement releases that kind to Japan. The same replay sends Japan's view
as Cursor on Target to a TCP client (``trilink serve --cot-port``): only Japan's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import time
from typing import Any

import httpx
import websockets
from _web import TOKENS, Live, auth

from trilink.interop.cot_feed import CotFeed
from trilink.sharing.agreements import (
    AgreementSet,
    AgreementState,
    ReleaseFacts,
    decide,
    load_agreements,
)
from trilink.sharing.envelope import Kind, alert_kind
from trilink.types import Alert, AlertStage
from trilink.web.cot import CotTap
from trilink.world.library import DEFAULT_EVENT_ID

UNTIL_T_REL_S = 250.0
"""Japan's first alert is at T+160 s; Korea's launch alert reaches it at T+44 s."""


def _narrow(agreements: AgreementSet) -> AgreementSet:
    kor_jpn = agreements.by_id("KOR-JPN")
    assert kor_jpn is not None
    narrowed = dataclasses.replace(
        kor_jpn, kinds=frozenset({Kind.LAUNCH, Kind.ALERT, Kind.CORRECTION, Kind.ALL_CLEAR})
    )
    return agreements.replacing(narrowed).with_state("USA-JPN", AgreementState.SUSPENDED)


async def _frames(url: str, token: str, until_s: float, timeout_s: float) -> list[dict[str, Any]]:
    """Every message a viewer gets until its picture reaches ``until_s`` after launch."""
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    async with websockets.connect(url, subprotocols=["trilink.v1", f"bearer.{token}"]) as ws:
        assert ws.subprotocol == "trilink.v1"
        while time.monotonic() < deadline:
            raw = await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
            msg = json.loads(raw)
            out.append(msg)
            if msg["type"] == "picture" and (msg["t_rel_s"] or 0.0) >= until_s:
                return out
    raise AssertionError(f"no picture reached T+{until_s:.0f} s in {timeout_s:.0f} s")


def _released(agreements: AgreementSet, originator: str, kind: Kind, t_s: float) -> bool:
    facts = ReleaseFacts(originator=originator, kind=kind, valid_time_s=t_s)
    return decide(facts, "JPN", agreements).allow


def _alert_kind(a: dict[str, Any]) -> Kind:
    alert = Alert(
        alert_id=a["alert_id"],
        nation=a["originator"],
        t_s=a["t_s"],
        stage=AlertStage(a["stage"]),
        text="",
    )
    return alert_kind(alert)


async def _read_all(reader: asyncio.StreamReader, into: bytearray) -> None:
    while chunk := await reader.read(65536):
        into.extend(chunk)


async def test_a_jpn_viewer_gets_only_what_jpn_agreements_release_to_it(live_server: Live) -> None:
    dep = live_server.deployment
    dep.write_agreements(_narrow(dep.agreements()), "test: Korea keeps its tracks")
    agreements = load_agreements(dep.agreements_path)  # the real file the nodes use
    feed = CotFeed()
    cot_port = await feed.start("127.0.0.1", 0)
    live_server.runner.cot = CotTap("JPN", feed)
    cot_reader, cot_writer = await asyncio.open_connection("127.0.0.1", cot_port)
    cot = bytearray()
    reading = asyncio.create_task(_read_all(cot_reader, cot))
    async with httpx.AsyncClient(base_url=live_server.base) as client:
        res = await client.post(
            "/api/replay",
            json={"event_id": DEFAULT_EVENT_ID, "speed": 1000},
            headers=auth("JPN"),
        )
        assert res.status_code == 200, res.text
    try:
        jpn, kor = await asyncio.gather(
            _frames(live_server.ws, TOKENS["JPN"], UNTIL_T_REL_S, 150.0),
            _frames(live_server.ws, TOKENS["KOR"], UNTIL_T_REL_S, 150.0),
        )
    finally:
        await feed.stop()
        await asyncio.wait_for(reading, 10)
        cot_writer.close()
    assert jpn[0]["type"] == "hello" and jpn[0]["nation"] == "JPN"
    pictures = [m for m in jpn if m["type"] == "picture"]
    assert len(pictures) >= 3
    seen: dict[str, set[str]] = {"track": set(), "launch": set(), "alert": set()}
    for pic in pictures:
        assert pic["nation"] == "JPN" and pic["simulation"] is True
        t = pic["t_s"]
        for track in pic["tracks"]:
            n = track["originator"]
            assert n == "JPN" or _released(agreements, n, Kind.TRACK, t), track["track_id"]
            assert track["track_id"].startswith(n + "-")
            seen["track"].add(n)
        for st in pic["system_tracks"]:
            assert st["originator"] == "JPN"
            for m in st["members"]:
                assert m["nation"] == "JPN" or _released(agreements, m["nation"], Kind.TRACK, t)
        for est in pic["launch_estimates"]:
            n = est["originator"]
            assert n == "JPN" or _released(agreements, n, Kind.LAUNCH, t)
            seen["launch"].add(n)
        for imp in pic["received_impacts"]:
            assert _released(agreements, imp["originator"], Kind.IMPACT, t), imp
        assert pic["impact"] is None or pic["impact"]["originator"] == "JPN"
        assert all(a["originator"] == "JPN" for a in pic["alerts"])
        for a in pic["received_alerts"]:
            assert _released(agreements, a["originator"], _alert_kind(a), t), a
            seen["alert"].add(a["originator"])
        for row in pic["links"]:
            assert "JPN" in (row["originator"], row["recipient"]), row
    # Not vacuous: Japan held its own tracks and what Korea did release; Korea tracked.
    assert seen["track"] == {"JPN"}
    assert "KOR" in seen["launch"] and "KOR" in seen["alert"]
    assert "USA" not in seen["launch"] | seen["alert"]
    assert pictures[-1]["alerts"], "Japan alerted by T+250 s"
    kor_tracks = {t["originator"] for m in kor if m["type"] == "picture" for t in m["tracks"]}
    assert "KOR" in kor_tracks
    suspended = {r["agreement_id"]: r["state"] for r in pictures[-1]["links"]}
    assert suspended["USA-JPN"] == "suspended"
    # The API answers from the same picture, and Japan's own audit log.
    async with httpx.AsyncClient(base_url=live_server.base, headers=auth("JPN")) as client:
        alerts = (await client.get("/api/alerts")).json()
        assert alerts["alerts"] and all(a["originator"] == "JPN" for a in alerts["alerts"])
        audit = (await client.get("/api/audit", params={"limit": 50})).json()["records"]
        assert len(audit) == 50 and {r["actor"] for r in audit} == {"JPN"}
        loaded = (await client.get("/api/audit", params={"name": "agreements-loaded"})).json()
        assert [r["name"] for r in loaded["records"]] == ["agreements-loaded"]
    # Japan's view as CoT: tracks typed as missiles, marked as simulation, all Japan's.
    events = re.findall(rb"<event [^>]*>", bytes(cot))
    assert events, "the CoT client received events"
    assert any(b'type="a-h-A-W-M-S-S"' in e for e in events)
    assert all(b'opex="s-trilink"' in e and b'uid="trilink.JPN.' in e for e in events)
