"""Helpers of the web picture's tests: fixed tokens per nation, the error shape, an app
over a fresh deployment, and what the fixtures (conftest.py) hand to tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from trilink.deployment import Deployment, init_deployment
from trilink.web.app import create_app
from trilink.web.auth import NationTokens
from trilink.web.feed import FeedHub
from trilink.web.replay import ReplayRunner

TOKENS = {"JPN": "jpn-token-for-tests", "KOR": "kor-token-for-tests", "USA": "usa-token-for-tests"}
"""Fixed tokens, so a test can act as any nation."""


def auth(nation: str) -> dict[str, str]:
    """The header that authenticates as ``nation``."""
    return {"Authorization": f"Bearer {TOKENS[nation]}"}


def assert_error_shape(body: Any, status: int) -> None:
    """The one error shape: ``{ok: false, error, errors: [{field, message}], status}``."""
    assert isinstance(body, dict), body
    assert set(body) == {"ok", "error", "errors", "status"}, body
    assert body["ok"] is False
    assert body["status"] == status
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["errors"], list) and body["errors"]
    for item in body["errors"]:
        assert set(item) == {"field", "message"}, item
        assert item["field"] is None or isinstance(item["field"], str)
        assert isinstance(item["message"], str) and item["message"]


def make_app(
    directory: Path, *, static_dir: Path | None = None, **options: Any
) -> tuple[FastAPI, ReplayRunner, Deployment]:
    """An app over a fresh deployment in ``directory`` (no replay started)."""
    deployment = init_deployment(directory, force=True)
    runner = ReplayRunner(deployment, FeedHub(), seed=2017, publish_every_s=0.1)
    extra: dict[str, Any] = {} if static_dir is None else {"static_dir": static_dir}
    app = create_app(
        runner,
        NationTokens(deployment.nations, TOKENS),
        network=deployment.network(),
        **extra,
        **options,
    )
    return app, runner, deployment


@dataclass
class Web:
    """An app over a fresh deployment, and an httpx client of it (in-process)."""

    client: httpx.AsyncClient
    app: FastAPI
    runner: ReplayRunner
    deployment: Deployment


@dataclass
class Live:
    """A real uvicorn server of an app on a free loopback port."""

    base: str
    ws: str
    app: FastAPI
    runner: ReplayRunner
    deployment: Deployment
