"""Shared fixtures: one real end-to-end demo run, reused by the tests that inspect it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# No timing in tests: Hypothesis's deadline and its "generation too slow" check are off, so
# a loaded machine cannot fail a property test; CI also replays the same examples.
_UNTIMED = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ci", derandomize=True, print_blob=True, **_UNTIMED)
settings.register_profile("local", **_UNTIMED)
settings.load_profile("ci" if os.environ.get("CI") else "local")


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """After each test's fixtures are gone, close the main thread's idle event loop.

    pytest-asyncio (1.3) asks for the main thread's current loop before every async test
    and sets it back afterwards; when there is none, asyncio makes one that nobody
    closes. Its self-pipe then warns (ResourceWarning, raised as an error here) in
    whichever later test the garbage collector happens to run in."""
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        except RuntimeError:
            return
        if not loop.is_running():
            if not loop.is_closed():
                loop.close()
            asyncio.set_event_loop(None)


def run_trilink(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the `trilink` command line as a user would, in a real subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "trilink", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
    )


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`trilink demo --json FILE` run once, as a real subprocess."""
    work = tmp_path_factory.mktemp("demo")
    out = work / "demo.json"
    proc = run_trilink(
        "demo", "--quiet", "--json", str(out), "--data-dir", str(work / "data"), cwd=work
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(out.read_text())
    result["_stdout"] = proc.stdout
    result["_data_dir"] = str(work / "data")
    return result


@pytest.fixture()
def trilink_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """The command line in a real subprocess: ``trilink_cli("events", "list")``."""
    return run_trilink


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
