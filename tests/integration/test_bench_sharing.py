"""`trilink bench sharing --json` prints one JSON object with the figures the issue names,
on both transports (small counts: this checks the harness, `make bench` measures)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

import pytest


@pytest.mark.slow
@pytest.mark.jetstream
@pytest.mark.parametrize("transport", ["embedded", "jetstream"])
def test_bench_sharing_prints_one_json_object(
    transport: str, trilink_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    proc = trilink_cli(
        "bench", "sharing", "--transport", transport, "--rate", "200", "--seconds", "1",
        "--count", "300", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.strip().splitlines()
    result = json.loads(line)
    assert set(result) == {
        "msgs_per_s",
        "p50_ms",
        "p99_ms",
        "lost",
        "raw_nats_msgs_per_s",
        "signed_msgs_per_s",
    }
    assert result["lost"] == 0
    assert result["msgs_per_s"] > 0 and result["raw_nats_msgs_per_s"] > 0
    assert result["signed_msgs_per_s"] > 0
    assert 0 < result["p50_ms"] <= result["p99_ms"]
