"""kill -9 the process of an embedded network mid-event and start it again: every message
whose publish had returned is received exactly once by each recipient (by the recipients'
audit chains), and the chains still verify."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from trilink.sharing.audit import verify_dir
from trilink.sharing.crypto import KeyStore

RUN = Path(__file__).with_name("_embedded_crash_run.py")


def _received(directory: Path, nation: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in (directory / "audit" / f"{nation}.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["name"] == "received" and rec["originator"] == "KOR":
            counts[f"{rec['seq']}"] += 1
    return counts


def test_kill_9_mid_event_loses_nothing_acknowledged_and_delivers_once(tmp_path: Path) -> None:
    first = subprocess.Popen([sys.executable, str(RUN), str(tmp_path), "1"])
    acked = tmp_path / "acked.txt"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if acked.exists() and len(acked.read_text().splitlines()) >= 300:
            break
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.wait()
    done_before = len(acked.read_text().splitlines())
    assert 300 <= done_before < 1000, "the first life must be killed mid-event"
    second = subprocess.run(
        [sys.executable, str(RUN), str(tmp_path), str(done_before + 1)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "drained" in second.stdout
    published = acked.read_text().splitlines()
    assert len(published) >= 1000 - 1  # the one cut mid-line, if any, was never acked
    for nation in ("USA", "JPN"):
        got = _received(tmp_path, nation)
        assert max(got.values()) == 1, f"{nation} received a message twice"
        # KOR's stream to each recipient: sequence numbers 1.. with every acked one present.
        assert len(got) >= len(published), f"{nation} lost acknowledged messages"
    reports = verify_dir(tmp_path / "audit", KeyStore(tmp_path / "keys").public_keys())
    assert all(r.ok for r in reports), [r.error for r in reports if not r.ok]
