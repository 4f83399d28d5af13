"""Shared fixtures: one real end-to-end demo run, reused by the tests that inspect it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`trilink demo --json FILE` run once as a user would, as a real subprocess."""
    work = tmp_path_factory.mktemp("demo")
    out = work / "demo.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "trilink",
            "demo",
            "--quiet",
            "--json",
            str(out),
            "--data-dir",
            str(work / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=work,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(out.read_text())
    result["_stdout"] = proc.stdout
    result["_data_dir"] = str(work / "data")
    return result


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
