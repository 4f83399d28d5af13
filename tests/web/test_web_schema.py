"""schemathesis against the OpenAPI document: generated requests to every operation, as
JPN's operator, find no server error and no answer outside the documented schema.

Bounded: a few dozen examples per operation, derandomized, no deadline. The app has no
replay running (generated event ids do not exist, so POST /api/replay answers 404/422
and starts none).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from _web import auth, make_app
from hypothesis import HealthCheck, settings

from trilink.web.replay import ReplayRunner


@pytest.fixture(scope="module")
def runner_and_schema(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ReplayRunner, object]]:
    root: Path = tmp_path_factory.mktemp("schema")
    app, runner, _ = make_app(root / "serve", static_dir=root / "static")
    yield runner, schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def api_schema(runner_and_schema: tuple[ReplayRunner, object]) -> object:
    return runner_and_schema[1]


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_and_every_answer_as_documented(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=auth("JPN"))
