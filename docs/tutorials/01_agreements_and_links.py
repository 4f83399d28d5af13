"""Tutorial 1 — who may receive what, and a link suspended during a launch. SIMULATION.

Run it: ``.venv/bin/python docs/tutorials/01_agreements_and_links.py`` (about 20 s).
The test suite runs every tutorial (tests/test_docs.py), so what it says stays true.

trilink's nodes release data only under agreements: machine-readable, versioned, one per
direction (Korea → Japan is one agreement, Japan → Korea another). The policy is a pure
function, ``decide(message, recipient, agreements)``; a node asks it for every partner.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import tempfile
from pathlib import Path

from trilink import DEFAULT_EVENT_ID, LinkEvent, load_library, run_event
from trilink.sharing.agreements import (
    AgreementState,
    Region,
    decide,
    load_default_agreements,
    release_facts,
)
from trilink.sharing.audit import verify_dir
from trilink.sharing.crypto import KeyStore
from trilink.types import LaunchEstimate

# 1. The shipped agreements: the trilateral hub of December 2023.
agreements = load_default_agreements()
for a in agreements:
    kinds = ", ".join(sorted(k.value for k in a.kinds))
    print(f"{a.label:12} {a.originator} → {a.recipient}: {kinds}")

# 2. Ask the policy. A launch estimate from Korea: may Japan have it?
alert = LaunchEstimate(
    t_launch_s=1_503_953_880.0,
    lat_deg=39.2,
    lon_deg=125.7,
    radius_95_m=3_000.0,
    t_sigma_s=2.0,
    track_id="KOR-T0001",
    nation="KOR",
)
facts = release_facts(alert, originator="KOR", valid_time_s=alert.t_launch_s + 44.0)
decision = decide(facts, "JPN", agreements)
print(f"KOR → JPN launch alert: {decision.verdict.value} ({decision.reason})")
assert decision.allow and decision.agreement_id == "KOR-JPN"

# An agreement can limit where the data may be about. Japan's EEZ only: a launch point in
# North Korea is outside it, so the same alert would be withheld.
kor_jpn = agreements.by_id("KOR-JPN")
assert kor_jpn is not None
eez_only = agreements.replacing(dataclasses.replace(kor_jpn, region=Region.named("japan-eez")))
decision = decide(facts, "JPN", eez_only)
print(f"with region japan-eez: {decision.verdict.value} ({decision.reason})")
assert not decision.allow

# 3. A link suspended during a launch. Korea sees the missile first (its radars are
# closest); suspend KOR → JPN from T+30 s to T+200 s and Japan gets no Korean data
# meanwhile — but Korea *holds* it (backlog rule "hold") and releases it, in order, when
# the agreement resumes. Japan still alerts from the US's own track in between.
event = load_library().get(DEFAULT_EVENT_ID)
injects = [
    LinkEvent(30.0, AgreementState.SUSPENDED, "KOR-JPN"),
    LinkEvent(200.0, AgreementState.ACTIVE, "KOR-JPN"),
]
timeline: list[tuple[float, str]] = []
with tempfile.TemporaryDirectory() as tmp:
    result = asyncio.run(
        run_event(
            event,
            data_dir=Path(tmp),
            link_events=injects,
            on_timeline=lambda e: timeline.append((e.t_rel_s, f"{e.nation} {e.text}")),
        )
    )
    for t, text in timeline:
        if text.startswith("JPN") and re.search("alert|agreement", text, re.IGNORECASE):
            print(f"T{t:+5.0f} s  {text}")
    from_korea = [
        t for t, text in timeline if text.startswith("JPN received launch alert from KOR")
    ]
    # Korea's launch alert reached Japan only after the resumption, from Korea's backlog.
    assert from_korea and min(from_korea) >= 200.0, from_korea
    # Every node's audit log verifies: every release, hold and resumption is in it.
    reports = verify_dir(result.audit_dir, KeyStore(Path(tmp) / "keys").public_keys())
    assert all(r.ok for r in reports), [r.error for r in reports]
    print(f"audit logs verified: {', '.join(Path(r.file).name for r in reports)}")
print("tutorial 1: OK")
