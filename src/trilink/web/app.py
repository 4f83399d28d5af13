"""The ASGI app of the live picture: JSON API, WebSocket feed per nation, static front end.

SIMULATION ONLY. Every ``/api`` endpoint but ``/api/health`` needs a nation's bearer
token (:mod:`trilink.web.auth`) and answers for that nation alone; every error has the
one shape of :mod:`trilink.web.errors`; the OpenAPI document is at ``/openapi.json``
(no interactive docs: they would load scripts from the internet).

==========================================  ============================================
``GET /``                                   the picture (``/#token=...``: a nation's view)
``GET /api/health``                         up, and which nations (no token)
``GET /api/session``                        the token's nation, what it may change
``GET /api/picture``                        the nation's picture (as the feed sends it)
``GET /api/alerts``                         its alerts and the partners' it received
``GET /api/summary``                        its MoD-style announcement so far
``GET /api/agreements``                     agreements into and out of it, with traffic
``POST /api/agreements/{id}/suspend``       its operator suspends one of its agreements
``POST /api/agreements/{id}/resume``        ... or resumes it
``GET /api/audit``                          the last records of its node's audit log
``GET /api/replay``, ``POST /api/replay``   the replay running; (re)start one
``GET /api/events``                         the historical launch library
``GET /api/network``                        nations, links, sensor sites
``GET /api/geo/eez``                        Japan's EEZ (GeoJSON)
``GET /api/geo/coverage``                   radar coverage per nation at an altitude
``WS /ws``                                  the nation's picture, live (:mod:`.feed`)
==========================================  ============================================
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Final

import msgspec
from fastapi import Depends, FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles

from trilink.config import NetworkConfig
from trilink.sharing.agreements import AgreementState
from trilink.web.audit import tail_records
from trilink.web.auth import SUBPROTOCOL, NationTokens, token_from_subprotocols
from trilink.web.errors import Unauthorized, Unavailable, error_body, install_error_handlers
from trilink.web.geo import coverage_geojson, eez_geojson, network_sites
from trilink.web.links import LinkBook
from trilink.web.models import (
    AgreementsView,
    AlertsView,
    AuditView,
    ErrorBody,
    EventsView,
    Health,
    LinkChange,
    NetworkView,
    PictureView,
    ReplayRequest,
    ReplayView,
    SessionView,
    SummaryView,
)
from trilink.web.replay import ReplayRunner
from trilink.web.views import empty_picture, link_row
from trilink.world.library import load_library

__all__ = ["STATIC_DIR", "create_app"]

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
"""Where the front end's build lands (``make setup``: ``npm ci`` and the build in
``frontend/``); not in git."""

_CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

_E = {"model": ErrorBody}
_AUTH: dict[int | str, dict[str, Any]] = {401: _E, 422: _E}
_CHANGE: dict[int | str, dict[str, Any]] = {401: _E, 403: _E, 404: _E, 422: _E}
_REPLAY: dict[int | str, dict[str, Any]] = {400: _E, 401: _E, 404: _E, 422: _E}


_BEARER: Final = HTTPBearer(
    auto_error=False, description="a nation's token, printed by `trilink serve`"
)


def _viewer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
) -> str:
    """The nation the request's bearer token belongs to (401 without a valid one)."""
    tokens: NationTokens = request.app.state.tokens
    return tokens.nation_for(None if credentials is None else credentials.credentials)


Viewer = Annotated[str, Depends(_viewer)]


def create_app(
    runner: ReplayRunner,
    tokens: NationTokens,
    *,
    network: NetworkConfig,
    static_dir: Path = STATIC_DIR,
    initial_event: str | None = None,
    initial_speed: float = 10.0,
) -> FastAPI:
    """The picture's app: ``runner`` replays events, ``tokens`` authenticate viewers.
    With ``initial_event`` the app starts replaying it at ``initial_speed`` when it
    starts up; the replay is stopped when it shuts down."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if initial_event is not None:
            await runner.start(initial_event, speed=initial_speed)
        try:
            yield
        finally:
            await runner.stop()

    app = FastAPI(
        title="trilink picture — SIMULATION",
        version="1",
        description=(
            "SIMULATION ONLY. The live operational picture of trilink's simulated "
            "missile-warning data sharing: each nation's view, alerts, agreements and "
            "audit. Authenticate with the nation's bearer token printed by `trilink serve`."
        ),
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.state.tokens = tokens
    hub = runner.hub

    def picture_of(nation: str) -> dict[str, Any]:
        status = runner.status()
        return hub.picture(nation) or empty_picture(
            nation, run=status["run"], event_id=status["event_id"] or ""
        )

    def link_rows(nation: str) -> list[dict[str, Any]]:
        """The agreements file's rows for ``nation``, with the traffic the latest
        picture saw on them."""
        seen = {row["agreement_id"]: row for row in picture_of(nation)["links"]}
        rows = []
        for a in runner.agreements():
            if nation not in (a.originator, a.recipient):
                continue
            row = link_row(a, nation, LinkBook(), 0.0, 0.0)
            traffic = seen.get(a.id)
            if traffic is not None:
                for key in ("messages", "last_kind", "last_valid_rel_s", "last_received_rel_s"):
                    row[key] = traffic[key]
                for key in ("lag_s", "quiet_s", "path"):
                    row[key] = traffic[key]
            rows.append(row)
        return rows

    @app.get("/api/health", response_model=Health, tags=["session"])
    def health() -> dict[str, Any]:
        """Up, SIMULATION, and the nations that have viewers (no token needed)."""
        return {"ok": True, "simulation": True, "nations": list(tokens.nations)}

    @app.get("/api/session", response_model=SessionView, responses=_AUTH, tags=["session"])
    def session(nation: Viewer) -> dict[str, Any]:
        """The nation the token views as, and the agreements its operator may change."""
        return {
            "ok": True,
            "simulation": True,
            "nation": nation,
            "nations": list(tokens.nations),
            "may_change": [a.id for a in runner.agreements() if a.originator == nation],
        }

    @app.get("/api/picture", response_model=PictureView, responses=_AUTH, tags=["picture"])
    def picture(nation: Viewer) -> dict[str, Any]:
        """The nation's picture now: the document the WebSocket sends."""
        return picture_of(nation)

    @app.get("/api/alerts", response_model=AlertsView, responses=_AUTH, tags=["picture"])
    def alerts(nation: Viewer) -> dict[str, Any]:
        """The nation's alerts (J-Alert stages) and the partners' alerts it received."""
        doc = picture_of(nation)
        return {
            "ok": True,
            "nation": nation,
            "run": doc["run"],
            "alerts": doc["alerts"],
            "received_alerts": doc["received_alerts"],
        }

    @app.get("/api/summary", response_model=SummaryView, responses=_AUTH, tags=["picture"])
    def summary(nation: Viewer) -> dict[str, Any]:
        """The nation's announcement so far, in the fields of Japan's MoD (null until it
        holds a launch estimate and an impact prediction)."""
        doc = picture_of(nation)
        return {
            "ok": True,
            "nation": nation,
            "run": doc["run"],
            "event_id": doc["event_id"],
            "summary": doc["summary"],
        }

    @app.get("/api/agreements", response_model=AgreementsView, responses=_AUTH, tags=["agreements"])
    def agreements(nation: Viewer) -> dict[str, Any]:
        """The agreements into and out of the nation (as the deployment's file holds
        them), with the traffic the latest picture saw on each."""
        return {"ok": True, "nation": nation, "agreements": link_rows(nation)}

    def change(nation: str, agreement_id: str, state: AgreementState) -> dict[str, Any]:
        changed = runner.set_link_state(nation, agreement_id, state)
        return {
            "ok": True,
            "agreement_id": changed.id,
            "version": changed.version,
            "state": changed.state.value,
            "note": "written to the agreements file: the running nodes reload it within a "
            "second and audit the change",
        }

    @app.post(
        "/api/agreements/{agreement_id}/suspend",
        response_model=LinkChange,
        responses=_CHANGE,
        tags=["agreements"],
    )
    def suspend(agreement_id: str, nation: Viewer) -> dict[str, Any]:
        """Suspend an agreement from the token's nation (each nation decides what leaves
        its hands): its backlog rule applies to traffic meanwhile."""
        return change(nation, agreement_id, AgreementState.SUSPENDED)

    @app.post(
        "/api/agreements/{agreement_id}/resume",
        response_model=LinkChange,
        responses=_CHANGE,
        tags=["agreements"],
    )
    def resume(agreement_id: str, nation: Viewer) -> dict[str, Any]:
        """Resume an agreement from the token's nation: held traffic goes first, in order."""
        return change(nation, agreement_id, AgreementState.ACTIVE)

    @app.get("/api/audit", response_model=AuditView, responses=_AUTH, tags=["audit"])
    def audit(
        nation: Viewer,
        limit: Annotated[int, Query(ge=1, le=1000, description="records, newest last")] = 100,
        name: Annotated[
            str | None, Query(max_length=40, description="only records of this name")
        ] = None,
    ) -> dict[str, Any]:
        """The last records of the nation's node's audit log in the current replay
        (verify the whole chain with `trilink audit verify DIR`)."""
        path = runner.audit_log(nation)
        records = [] if path is None else tail_records(path, limit, name=name)
        return {"ok": True, "nation": nation, "run": runner.status()["run"], "records": records}

    @app.get("/api/replay", response_model=ReplayView, responses=_AUTH, tags=["replay"])
    def replay_status(nation: Viewer) -> dict[str, Any]:
        """The replay running (or last run): event, speed, state, event time."""
        return {"ok": True, **runner.status()}

    @app.post("/api/replay", response_model=ReplayView, responses=_REPLAY, tags=["replay"])
    async def replay_start(request: ReplayRequest, nation: Viewer) -> dict[str, Any]:
        """Stop the current replay and replay a library event at a speed (event seconds
        per wall second) through the network; every viewer's picture starts anew."""
        status = await runner.start(request.event_id, speed=request.speed, seed=request.seed)
        return {"ok": True, **status}

    @app.get("/api/events", response_model=EventsView, responses=_AUTH, tags=["replay"])
    def events(
        nation: Viewer,
        q: Annotated[
            str | None, Query(max_length=100, description="part of the id, e.g. 2017 or hwasong")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=400)] = 400,
    ) -> dict[str, Any]:
        """The historical launches that can be replayed (CNS via nk-missile-tests)."""
        found = [
            e.to_json() | {"missile_name": e.missile.name, "site_name": e.site.name}
            for e in load_library().events
            if q is None or q.lower() in e.id.lower()
        ]
        return {"ok": True, "total": len(found), "events": found[:limit]}

    @app.get("/api/network", response_model=NetworkView, responses=_AUTH, tags=["map"])
    def network_view(nation: Viewer) -> dict[str, Any]:
        """Nations, links and sensor sites of the network (notional where marked)."""
        return {"ok": True, **network_sites(network)}

    @app.get("/api/geo/eez", responses=_AUTH, tags=["map"])
    def eez(nation: Viewer) -> dict[str, Any]:
        """Japan's EEZ, joint regime and disputed areas (GeoJSON; Marine Regions, CC-BY 4.0)."""
        return eez_geojson()

    @app.get("/api/geo/coverage", responses=_AUTH, tags=["map"])
    def coverage(
        nation: Viewer,
        alt_km: Annotated[float, Query(ge=0.0, le=2000.0, description="target altitude")] = 300.0,
    ) -> dict[str, Any]:
        """Where each nation's radars see a target at ``alt_km`` (GeoJSON, per nation)."""
        return coverage_geojson(network, round(alt_km))

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        page = static_dir / "index.html"
        if not page.is_file():
            raise Unavailable(
                f"the front end is not built ({page} is missing)",
                fix="run `make setup` (npm ci and the build in frontend/)",
            )
        return FileResponse(page, headers={"Content-Security-Policy": _CSP})

    app.mount("/static", StaticFiles(directory=static_dir, check_dir=False), name="static")

    @app.websocket("/ws")
    async def feed(websocket: WebSocket) -> None:
        offered = list(websocket.scope.get("subprotocols", []))
        token = token_from_subprotocols(offered) or websocket.query_params.get("token")
        try:
            nation = tokens.nation_for(token)
        except Unauthorized as exc:
            body = error_body(401, str(exc), [(exc.field, str(exc))])
            if "websocket.http.response" in websocket.scope.get("extensions", {}):
                await websocket.send_denial_response(JSONResponse(body, status_code=401))
            else:  # a server without denial responses: the error, then close
                await websocket.accept()
                await websocket.send_text(msgspec.json.encode(body).decode())
                await websocket.close(code=4401)
            return
        await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
        hello = {
            "type": "hello",
            "v": 1,
            "simulation": True,
            "nation": nation,
            "replay": runner.status(),
        }
        await websocket.send_text(msgspec.json.encode(hello).decode())

        async def send_updates() -> None:
            async for message in hub.updates(nation):
                await websocket.send_text(message.decode())

        sender = asyncio.create_task(send_updates())
        try:
            while True:  # the viewer sends nothing; this notices when it goes
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
        finally:
            sender.cancel()
            with contextlib.suppress(
                asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError
            ):
                await sender

    return app
