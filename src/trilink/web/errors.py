"""The web picture's errors and its one JSON error shape.

Every error the API or the WebSocket answers with has the same body::

    {"ok": false, "error": "what went wrong and how to fix it",
     "errors": [{"field": "query.speed", "message": "..."}], "status": 422}

``error`` is one sentence for people; ``errors`` lists each problem with the request
field it concerns (``null`` when none); ``status`` repeats the HTTP status. The errors
raised on purpose belong to trilink's one exception tree (:mod:`trilink.errors`)::

    TrilinkError
    └── WebError              a request to the web picture cannot be served (``status``)
        ├── Unauthorized      401: no bearer token, or one no nation holds
        ├── Forbidden         403: the token's nation may not do this
        ├── NotFound          404: no such agreement, event or page
        └── Unavailable       503: the front end is not built

Other trilink errors are translated at the boundary (:func:`install_error_handlers`): an
unknown event is a 404, a configuration or data problem a 422; FastAPI's validation
errors a 422 naming each field; an HTTP error of Starlette (unknown route, wrong method)
keeps its status; anything unexpected is a 500 whose body says only that (the traceback
goes to the server's log).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from trilink.errors import ConfigError, DataError, TrilinkError, UnknownEventError

__all__ = [
    "Forbidden",
    "NotFound",
    "Unauthorized",
    "Unavailable",
    "WebError",
    "error_body",
    "install_error_handlers",
]

_log = logging.getLogger("trilink.web")

_TITLES: Final = {
    400: "bad request",
    401: "not authenticated",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    409: "conflict",
    422: "invalid request",
    500: "internal error",
    503: "unavailable",
}


class WebError(TrilinkError):
    """A request to the web picture that cannot be served; ``status`` is its HTTP status,
    ``field`` the request field at fault (``None``: the request as a whole)."""

    status: int = 400

    def __init__(self, problem: str, *, fix: str, field: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        self.field = field
        super().__init__(f"{problem}. Fix: {fix}")


class Unauthorized(WebError):
    """No bearer token, or a token no nation holds (401)."""

    status = 401


class Forbidden(WebError):
    """The token's nation may not do what it asked (403)."""

    status = 403


class NotFound(WebError):
    """No such agreement, event or page (404)."""

    status = 404


class Unavailable(WebError):
    """A part of the picture is not there (the front end not built) (503)."""

    status = 503


def error_body(
    status: int, error: str, errors: Sequence[tuple[str | None, str]] = ()
) -> dict[str, Any]:
    """The one error shape: ``{ok: false, error, errors: [{field, message}], status}``.
    Without ``errors``, the list holds the error itself (with no field)."""
    items = [{"field": f, "message": m} for f, m in errors] or [{"field": None, "message": error}]
    return {"ok": False, "error": error, "errors": items, "status": status}


def _response(status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> Any:
    return JSONResponse(body, status_code=status, headers=headers)


def _field(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at the request's path (a path may have a route per
    method, and the router answers 405 from the first)."""
    allowed: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "\0"})
        if match is not Match.NONE:
            allowed |= set(getattr(route, "methods", None) or ())
    return sorted(allowed)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` in the one shape (see the module docstring)."""

    async def web_error(request: Request, exc: Exception) -> Any:
        assert isinstance(exc, WebError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        body = error_body(exc.status, str(exc), [(exc.field, str(exc))])
        return _response(exc.status, body, headers)

    async def trilink_error(request: Request, exc: Exception) -> Any:
        status = 404 if isinstance(exc, UnknownEventError) else 422
        field = getattr(exc, "field", None) if isinstance(exc, ConfigError) else None
        if not isinstance(exc, ConfigError | DataError):
            _log.info("request refused: %s", exc)
        return _response(status, error_body(status, str(exc), [(field, str(exc))]))

    async def validation_error(request: Request, exc: Exception) -> Any:
        assert isinstance(exc, RequestValidationError)
        problems = [(_field(e.get("loc", ())), str(e.get("msg", "invalid"))) for e in exc.errors()]
        listed = "; ".join(f"{f}: {m}" for f, m in problems)
        error = (
            f"the request has {len(problems)} invalid field(s): {listed}. Fix: send the "
            "fields as the OpenAPI document (/openapi.json) describes them"
        )
        return _response(422, error_body(422, error, problems))

    async def http_error(request: Request, exc: Exception) -> Any:
        assert isinstance(exc, StarletteHTTPException)
        title = _TITLES.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404:
            detail = (
                f"no page or endpoint at {request.url.path}. Fix: see /openapi.json for "
                "the API, / for the picture"
            )
        if exc.status_code == 400:
            detail = (
                f"the request cannot be read: {detail}. Fix: send a JSON body as the OpenAPI "
                "document (/openapi.json) describes it"
            )
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            allowed = _allowed_methods(request)
            headers["Allow"] = ", ".join(allowed)
            detail = (
                f"{request.method} is not allowed on {request.url.path}. Fix: use "
                f"{' or '.join(allowed)} (see /openapi.json)"
            )
        return _response(exc.status_code, error_body(exc.status_code, detail), headers)

    async def unexpected(request: Request, exc: Exception) -> Any:
        _log.error("unexpected error serving %s", request.url.path, exc_info=exc)
        error = (
            "internal error: the server could not answer this request. Fix: see the "
            "server's log for the traceback, and report it"
        )
        return _response(500, error_body(500, error))

    app.add_exception_handler(WebError, web_error)
    app.add_exception_handler(TrilinkError, trilink_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
