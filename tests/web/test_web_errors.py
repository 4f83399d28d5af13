"""One JSON error shape on every endpoint: ``{ok: false, error, errors, status}``."""

from __future__ import annotations

import json
from typing import Any

import pytest
import websockets
from _web import Live, Web, assert_error_shape, auth
from fastapi.routing import APIRoute

_PATH_VALUES = {"agreement_id": "KOR-JPN"}
_BODIES = {"/api/replay": {"event_id": "2017-08-28-hwasong-12-1", "speed": 10.0}}


def _api_routes(web: Web) -> list[tuple[str, str]]:
    out = []
    for route in web.app.routes:
        if isinstance(route, APIRoute) and route.path.startswith("/api"):
            for method in sorted(route.methods):
                out.append((method, route.path.format(**_PATH_VALUES)))
    return out


async def test_every_endpoint_refuses_a_missing_or_wrong_token_in_the_one_shape(web: Web) -> None:
    routes = _api_routes(web)
    assert len(routes) >= 15, routes
    for method, path in routes:
        if path == "/api/health":
            continue
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}):
            res = await web.client.request(method, path, headers=headers, json=_BODIES.get(path))
            assert res.status_code == 401, (method, path, res.text)
            assert_error_shape(res.json(), 401)
            assert res.headers["www-authenticate"] == "Bearer"
            assert "token" in res.json()["error"] and "Fix:" in res.json()["error"]


async def test_every_endpoint_answers_a_wrong_method_in_the_one_shape(web: Web) -> None:
    for method, path in _api_routes(web):
        wrong = "DELETE" if method != "DELETE" else "PATCH"
        res = await web.client.request(wrong, path, headers=auth("JPN"))
        assert res.status_code == 405, (wrong, path)
        assert_error_shape(res.json(), 405)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("GET", "/api/no-such-thing", None, 404, None),
        ("GET", "/api/audit?limit=0", None, 422, "query.limit"),
        ("GET", "/api/audit?limit=many", None, 422, "query.limit"),
        ("GET", "/api/geo/coverage?alt_km=-5", None, 422, "query.alt_km"),
        ("GET", "/api/events?limit=100000", None, 422, "query.limit"),
        ("POST", "/api/replay", {"event_id": "2017-08-28-hwasong-12-1"}, 422, "body.speed"),
        ("POST", "/api/replay", {"event_id": "x", "speed": 0}, 422, "body.speed"),
        ("POST", "/api/replay", {"event_id": "nope", "speed": 5}, 404, None),
        ("POST", "/api/agreements/KOR-JPN/suspend", None, 403, "agreement_id"),
        ("POST", "/api/agreements/USA-KOR/resume", None, 403, "agreement_id"),
        ("POST", "/api/agreements/NOPE/suspend", None, 404, "agreement_id"),
    ],
)
async def test_errors_name_the_field_and_the_fix(
    web: Web, method: str, path: str, body: Any, status: int, field: str | None
) -> None:
    res = await web.client.request(method, path, headers=auth("JPN"), json=body)
    assert res.status_code == status, res.text
    doc = res.json()
    assert_error_shape(doc, status)
    assert (
        "Fix:" in doc["error"]
        or status == 404
        and "did you mean" in doc["error"].lower()
        or ("trilink events list" in doc["error"])
    )
    if field is not None:
        assert field in [e["field"] for e in doc["errors"]], doc


async def test_forbidden_names_the_rule(web: Web) -> None:
    res = await web.client.post("/api/agreements/KOR-JPN/suspend", headers=auth("JPN"))
    doc = res.json()
    assert "only agreements from JPN" in doc["error"]
    assert "KOR-JPN is from KOR" in doc["error"]


async def test_an_unexpected_error_is_a_500_in_the_one_shape(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("boom: a bug")

    monkeypatch.setattr(web.runner, "status", broken)
    res = await web.client.get("/api/replay", headers=auth("JPN"))
    assert res.status_code == 500
    doc = res.json()
    assert_error_shape(doc, 500)
    assert "boom" not in doc["error"]  # no internals leak to the viewer


async def test_the_page_without_a_build_is_a_503_in_the_one_shape(web: Web) -> None:
    res = await web.client.get("/")
    assert res.status_code == 503
    assert_error_shape(res.json(), 503)
    assert "make setup" in res.json()["error"]


async def test_the_websocket_refuses_a_wrong_token_in_the_one_shape(live_server: Live) -> None:
    attempts: list[dict[str, Any]] = [
        {"uri": live_server.ws},
        {"uri": live_server.ws, "subprotocols": ["trilink.v1", "bearer.wrong"]},
        {"uri": live_server.ws + "?token=wrong"},
    ]
    for attempt in attempts:
        with pytest.raises(websockets.InvalidStatus) as denied:
            async with websockets.connect(**attempt):
                pass
        response = denied.value.response
        assert response.status_code == 401
        assert_error_shape(json.loads(response.body), 401)
