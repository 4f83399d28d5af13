"""The demo runs unchanged on both transports: `trilink demo --transport jetstream` starts
its own 3-server cluster, runs, stops it, and tells the same story as the embedded run."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trilink.sharing.audit import verify_dir
from trilink.sharing.crypto import KeyStore


@pytest.mark.slow
@pytest.mark.jetstream
def test_the_demo_on_jetstream_matches_the_embedded_run(
    tmp_path: Path,
    demo_run: dict[str, Any],
    trilink_cli: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    out = tmp_path / "demo.json"
    data = tmp_path / "data"
    proc = trilink_cli(
        "demo", "--transport", "jetstream", "--quiet", "--json", str(out), "--data-dir", str(data)
    )
    assert proc.returncode == 0, proc.stderr
    assert "transport jetstream" in proc.stdout
    result = json.loads(out.read_text())
    assert result["rejected"] == 0
    for nation, view in result["nations"].items():
        embedded = demo_run["nations"][nation]
        # Same seed, same sensors and trackers: the same alert time and the same story.
        assert view["first_alert_s"] == embedded["first_alert_s"], nation
        assert view["summary"]["overflight_regions"] == embedded["summary"]["overflight_regions"]
        assert abs(view["summary"]["range_km"] - result["truth"]["range_km"]) < 30.0
    reports = verify_dir(Path(result["audit_dir"]), KeyStore(data / "keys").public_keys())
    assert reports and all(r.ok for r in reports), [r.error for r in reports]
    cluster_dirs = list((data / "cluster").iterdir())
    assert len(cluster_dirs) == 1  # the run's own cluster, stopped: no server left running
    info = json.loads((cluster_dirs[0] / "cluster.json").read_text())
    for server in info["servers"]:
        pid = server.get("pid")
        assert pid is None or not Path(f"/proc/{pid}").exists() or _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        return " Z " in Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
