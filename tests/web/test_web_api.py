"""The JSON API in-process (httpx over ASGI): what each endpoint answers for a nation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from _web import Web, auth

from trilink.geo.earth import enu_rotation
from trilink.geo.ellipse import CHI2_2DOF_95
from trilink.sharing.agreements import AgreementState
from trilink.web.audit import tail_records
from trilink.web.views import horizontal_ellipse


async def test_health_needs_no_token_and_says_simulation(web: Web) -> None:
    doc = (await web.client.get("/api/health")).json()
    assert doc == {"ok": True, "simulation": True, "nations": ["JPN", "KOR", "USA"]}


async def test_session_names_the_nation_and_what_its_operator_may_change(web: Web) -> None:
    doc = (await web.client.get("/api/session", headers=auth("KOR"))).json()
    assert doc["nation"] == "KOR"
    assert sorted(doc["may_change"]) == ["KOR-JPN", "KOR-USA"]


async def test_picture_before_a_replay_is_empty_but_complete(web: Web) -> None:
    doc = (await web.client.get("/api/picture", headers=auth("JPN"))).json()
    assert doc["type"] == "picture" and doc["simulation"] is True and doc["nation"] == "JPN"
    assert doc["tracks"] == [] and doc["alerts"] == [] and doc["launch"] is None


async def test_agreements_are_the_nations_own_rows_with_the_authorisation_rule(web: Web) -> None:
    rows = (await web.client.get("/api/agreements", headers=auth("JPN"))).json()["agreements"]
    ids = {r["agreement_id"]: r for r in rows}
    assert set(ids) == {"JPN-USA", "JPN-KOR", "KOR-JPN", "USA-JPN"}  # never KOR-USA, USA-KOR
    assert ids["JPN-KOR"]["may_change"] and ids["JPN-KOR"]["direction"] == "outgoing"
    assert not ids["KOR-JPN"]["may_change"] and ids["KOR-JPN"]["direction"] == "incoming"


async def test_suspend_and_resume_rewrite_the_agreements_file_the_nodes_watch(web: Web) -> None:
    res = await web.client.post("/api/agreements/JPN-KOR/suspend", headers=auth("JPN"))
    assert res.status_code == 200, res.text
    assert res.json()["state"] == "suspended" and res.json()["version"] == 2
    on_file = web.deployment.agreements().by_id("JPN-KOR")
    assert on_file is not None and on_file.state is AgreementState.SUSPENDED
    rows = (await web.client.get("/api/agreements", headers=auth("KOR"))).json()["agreements"]
    assert {r["agreement_id"]: r["state"] for r in rows}["JPN-KOR"] == "suspended"
    again = await web.client.post("/api/agreements/JPN-KOR/suspend", headers=auth("JPN"))
    assert again.json()["version"] == 2  # no change, no new version
    res = await web.client.post("/api/agreements/JPN-KOR/resume", headers=auth("JPN"))
    assert res.json()["state"] == "active" and res.json()["version"] == 3


async def test_events_network_and_map_layers(web: Web) -> None:
    events = (await web.client.get("/api/events", headers=auth("USA"))).json()
    assert events["total"] == 339
    found = (await web.client.get("/api/events?q=2017-08-28", headers=auth("USA"))).json()
    assert [e["id"] for e in found["events"]] == ["2017-08-28-hwasong-12-1"]
    net = (await web.client.get("/api/network", headers=auth("USA"))).json()
    shariki = next(r for r in net["radars"] if "SHARIKI" in r["id"])
    assert shariki["nation"] == "USA"
    eez = (await web.client.get("/api/geo/eez", headers=auth("JPN"))).json()
    assert eez["type"] == "FeatureCollection"
    assert any(f["properties"]["Pol_type"] == "200NM" for f in eez["features"])
    cov = (await web.client.get("/api/geo/coverage?alt_km=300", headers=auth("JPN"))).json()
    assert {f["properties"]["nation"] for f in cov["features"]} == {"JPN", "KOR", "USA"}


async def test_audit_before_a_replay_is_empty(web: Web) -> None:
    doc = (await web.client.get("/api/audit", headers=auth("JPN"))).json()
    assert doc["records"] == [] and doc["run"] == 0


async def test_the_openapi_document_describes_every_endpoint_and_its_errors(web: Web) -> None:
    doc = (await web.client.get("/openapi.json")).json()
    paths = doc["paths"]
    assert {"/api/picture", "/api/alerts", "/api/summary", "/api/agreements", "/api/audit"} <= set(
        paths
    )
    for path, ops in paths.items():
        for method, op in ops.items():
            if path == "/api/health":
                continue
            ref = op["responses"]["401"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorBody"), (method, path)
            assert "HTTPValidationError" not in json.dumps(op), (method, path)
    assert (await web.client.get("/docs")).status_code == 404  # no CDN-loaded docs page


def test_horizontal_ellipse_of_an_east_west_covariance() -> None:
    lat, lon = 40.0, 135.0
    rot = enu_rotation(math.radians(lat), math.radians(lon))
    enu = np.diag([100.0**2, 50.0**2, 10.0**2])  # σ east 100 m, north 50 m
    e = horizontal_ellipse(lat, lon, rot.T @ enu @ rot)
    assert e is not None
    assert math.isclose(e["semi_major_m"], 100.0 * math.sqrt(CHI2_2DOF_95), rel_tol=1e-9)
    assert math.isclose(e["semi_minor_m"], 50.0 * math.sqrt(CHI2_2DOF_95), rel_tol=1e-9)
    assert math.isclose(e["orientation_deg"], 90.0, abs_tol=1e-6)


def test_audit_tail_reads_whole_lines_only(tmp_path: Path) -> None:
    log = tmp_path / "JPN.jsonl"
    lines = [json.dumps({"n": i, "name": "released" if i % 2 else "received"}) for i in range(50)]
    log.write_text("\n".join(lines) + '\n{"n": 50, "na')  # a line being written
    assert [r["n"] for r in tail_records(log, 3)] == [47, 48, 49]
    assert [r["n"] for r in tail_records(log, 2, name="received")] == [46, 48]
    assert tail_records(tmp_path / "none.jsonl", 5) == []
