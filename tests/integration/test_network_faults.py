"""Faults on a running deployment, real processes on loopback: a 3-server NATS JetStream
cluster (`trilink cluster up`) and one `trilink node` process per nation replaying one
event together. Mid-event, in one run and at different times:

(c) the KOR→JPN agreement is suspended and resumed with `trilink link suspend|resume`;
(a) the NATS server leading the stream is killed with SIGKILL and restarted;
(b) the US relay's node and then Japan's node are killed with SIGKILL and restarted with
    the same arguments (each catches up and rejoins).

Afterwards the audit logs alone are the evidence: every message a sender acknowledged
(its `released` line, written only once the transport accepted the frame) is `received`
exactly once, by its recipient and by no one else; the only refusals are replays of
frames handed over again to a node restarted after a crash; KOR→JPN traffic during the
suspension was `held` and delivered after the resume, in order; and `trilink audit
verify` accepts every chain.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest
from _audit_trail import AuditTail, Trail, recipient

from trilink.deployment import load_deployment
from trilink.sharing.cluster import ClusterInfo, NatsCluster

pytestmark = [pytest.mark.jetstream, pytest.mark.slow]

NATIONS = ("JPN", "KOR", "USA")
EVENT = "2017-08-28-hwasong-12-1"
"""Hwasong-12 over Hokkaido: about 15 minutes of flight, seen by all three nations.
Korea's radars report during roughly the first 330 s, the US and Japan much longer."""
END_REL_S = 923.0  # the last body's impact + 5 s: when the nodes stop replaying
SPEED = 10.0
"""Event seconds per wall second: the event takes ~92 s. Each fault step costs a few wall
seconds (a `trilink` command's start-up, a failover); with the suite on both cores (make
test runs two workers) at 20 they ran so late that Japan's node was killed 76 s before
the end, no longer mid-event."""
LEAD_S = 8.0  # wall seconds from spawning the nodes to launch (Python start-up on 2 cores)
LINGER_S = 8.0


def trilink(*args: str, timeout_s: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trilink", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def wait_for(
    what: str, condition: Callable[[], bool], *, timeout_s: float, check: Callable[[], None]
) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        check()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.05)


def _our_processes(marker: str, *patterns: str) -> list[str]:
    """Live processes whose command line contains ``marker`` and one of ``patterns``."""
    found: list[str] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline and any(p in cmdline for p in patterns):
            found.append(f"{entry.name}: {cmdline.strip()}")
    return found


class Run:
    """The node processes of one run: spawn, kill -9, restart with the same arguments."""

    def __init__(self, config: Path, logs: Path, start_at: float) -> None:
        self.config = config
        self.logs = logs
        self.start_at = start_at
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.lives: Counter[str] = Counter()
        self.finished: list[tuple[str, int, int]] = []  # (nation, life, exit code)

    def args(self, nation: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "trilink",
            "node",
            "--nation",
            nation,
            "--config",
            str(self.config),
            "--event",
            EVENT,
            "--speed",
            str(SPEED),
            "--start-at",
            f"{self.start_at:.3f}",
            "--linger",
            str(LINGER_S),
            "--quiet",
        ]

    def spawn(self, nation: str) -> None:
        self.lives[nation] += 1
        out = self.logs / f"{nation}.{self.lives[nation]}.out"
        with out.open("wb") as f:
            self.procs[nation] = subprocess.Popen(
                self.args(nation),
                stdout=f,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def kill9(self, nation: str) -> None:
        proc = self.procs.pop(nation)
        proc.send_signal(signal.SIGKILL)
        self.finished.append((nation, self.lives[nation], proc.wait(timeout=10)))

    def t_rel(self) -> float:
        """Event seconds since launch, on the run's shared clock."""
        return (time.time() - self.start_at) * SPEED

    def check_alive(self) -> None:
        for nation, proc in self.procs.items():
            code = proc.poll()
            if code is not None and self.t_rel() < END_REL_S:
                raise AssertionError(
                    f"{nation}'s node (life {self.lives[nation]}) exited with {code} "
                    f"mid-event:\n{self.output(nation)}"
                )

    def output(self, nation: str, life: int | None = None) -> str:
        life = life or self.lives[nation]
        path = self.logs / f"{nation}.{life}.out"
        return path.read_text("utf-8", errors="replace")[-3000:] if path.exists() else ""

    def wait_all(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for nation, proc in list(self.procs.items()):
            code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            self.finished.append((nation, self.lives[nation], code))
            del self.procs[nation]

    def kill_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        self.procs.clear()


def test_leader_node_and_link_faults_mid_event_lose_nothing_and_deliver_once(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "net"
    init = trilink("network", "init", str(directory))
    assert init.returncode == 0, init.stderr
    config = directory / "deployment.toml"
    dep = load_deployment(config)
    audit_dir = dep.audit_dir
    logs = tmp_path / "logs"
    logs.mkdir()
    marker = str(tmp_path)
    tails = {n: AuditTail(audit_dir / f"{n}.jsonl") for n in NATIONS}
    faults: dict[str, float] = {}  # what happened at which event time (s after launch)
    run: Run | None = None
    cluster_started = False
    down: subprocess.CompletedProcess[str] | None = None
    try:
        up = trilink("cluster", "up", "--config", str(config))
        assert up.returncode == 0, up.stdout + up.stderr
        cluster_started = True
        run = Run(config, logs, time.time() + LEAD_S)
        for n in NATIONS:
            run.spawn(n)

        def until(what: str, cond: Callable[[], bool], timeout_s: float = 60.0) -> None:
            assert run is not None
            wait_for(what, cond, timeout_s=timeout_s, check=run.check_alive)

        def at(t_rel_s: float) -> Callable[[], bool]:
            assert run is not None
            return lambda: run.t_rel() >= t_rel_s

        kor = tails["KOR"]

        # (c) suspend KOR→JPN while Korea's radars report, resume ~90 event-seconds later.
        until(
            "KOR releasing to JPN",
            lambda: kor.count("released", recipient="JPN", kind="track") >= 10,
        )
        until("t+60 s", at(60.0))
        suspend = trilink("link", "suspend", "KOR-JPN", "--config", str(config))
        assert suspend.returncode == 0, suspend.stdout + suspend.stderr
        faults["suspended"] = run.t_rel()
        until("KOR to apply the suspension", lambda: kor.count("agreement-changed") >= 1, 10)
        until("KOR to hold traffic for JPN", lambda: kor.count("held", recipient="JPN") >= 20)
        until("t+150 s", at(150.0))
        resume = trilink("link", "resume", "KOR-JPN", "--config", str(config))
        assert resume.returncode == 0, resume.stdout + resume.stderr
        faults["resumed"] = run.t_rel()
        until("KOR to apply the resumption", lambda: kor.count("agreement-changed") >= 2, 10)
        jpn = tails["JPN"]
        backlog = kor.count("released", recipient="JPN")
        until(  # the held backlog has reached Japan (accepted or refused) before the next fault
            "JPN to take KOR's backlog",
            lambda: jpn.count("received", originator="KOR")
            + jpn.count("rejected", originator="KOR")
            >= backlog,
            30,
        )

        # (a) kill -9 the stream leader while traffic flows, restart it a little later.
        cluster = NatsCluster.attach(
            dep.cluster_dir, agreements=dep.agreements(), topology=dep.topology
        )
        leader = cluster.stream_leader()
        released = sum(t.count("released") for t in tails.values())
        cluster.kill(leader)
        faults["leader killed"] = run.t_rel()
        assert cluster.stream_leader(timeout_s=20) != leader  # the stream failed over
        until(
            "traffic to go on without the leader",
            lambda: sum(t.count("released") for t in tails.values()) >= released + 100,
        )
        cluster.restart(leader)
        faults["leader restarted"] = run.t_rel()
        assert (
            ClusterInfo.load(dep.cluster_dir).servers[leader].pid
            == cluster.info().servers[leader].pid
        )

        # (b) kill -9 the US relay, then Japan's node; each comes back with the same args.
        for victim, not_before in (("USA", 300.0), ("JPN", 480.0)):
            until(f"t+{not_before:.0f} s", at(not_before))
            mark = tails[victim].count("received")
            until(
                f"{victim} receiving", lambda v=victim, m=mark: tails[v].count("received") >= m + 20
            )
            run.kill9(victim)
            faults[f"{victim} killed"] = run.t_rel()
            time.sleep(0.5)  # down for a moment: traffic for it piles up in the stream
            run.spawn(victim)
            faults[f"{victim} restarted"] = run.t_rel()
            until(  # its node has started again (the line Node.start writes)
                f"{victim} back up",
                lambda v=victim: tails[v].count("agreements-loaded") >= 2,
            )
        assert all(t < END_REL_S - 100 for t in faults.values()), f"faults not mid-event: {faults}"
        run.wait_all(timeout_s=(END_REL_S - run.t_rel()) / SPEED + LINGER_S + 60)
    finally:
        if run is not None:
            run.kill_all()
        if cluster_started:
            down = trilink("cluster", "down", "--config", str(config))
        left = _our_processes(marker, "nats-server", "trilink node", "-m trilink")
        for entry in left:  # a safety net: nothing of this run may outlive it
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.split(":")[0]), signal.SIGKILL)
    assert not left, f"processes left behind: {left}"
    assert down is not None and down.returncode == 0, down and down.stdout + down.stderr

    print(f"\nfaults at event time (s after launch): { {k: round(v) for k, v in faults.items()} }")
    for nation, life, code in run.finished:
        expected = -signal.SIGKILL if (nation, life) in (("USA", 1), ("JPN", 1)) else 0
        assert code == expected, f"{nation} life {life} exited {code}:\n{run.output(nation, life)}"
    trail = Trail.load(audit_dir, NATIONS)
    problems = check_delivery(trail, crashed={"USA", "JPN"})
    problems += check_rejoined(trail)
    problems += check_suspension(trail)
    verify = trilink("audit", "verify", str(audit_dir))
    if verify.returncode != 0:
        problems.append(f"`trilink audit verify` failed:\n{verify.stdout}{verify.stderr}")
    counts = {n: Counter(r["name"] for r in trail.logs[n]) for n in NATIONS}
    print(
        f"released {len(trail.released)}, refused {len(trail.rejected)}; per node: "
        + "; ".join(f"{n} {dict(c)}" for n, c in counts.items())
    )
    assert not problems, "\n".join(problems)


def check_delivery(trail: Trail, *, crashed: set[str]) -> list[str]:
    """Every acknowledged message received exactly once, by its recipient only; refusals
    only of replays after a crash. (Gaps in a live node's stream are reported, not failed:
    sends overlapping a failover can be stored out of order, see test_node_races.py.)"""
    problems: list[str] = []
    if trail.twice_released:
        problems.append(f"message ids released twice: {trail.twice_released[:5]}")
    refused = {r["message_id"]: r["reason"] for r in trail.rejected}
    lost = []
    for mid, rel in trail.released.items():
        got = [r["actor"] for r in trail.received.get(mid, [])]
        if got != [recipient(rel)]:
            why = refused.get(mid, "")[:110]
            lost.append(
                f"{rel['originator']}→{recipient(rel)} {rel['kind']} seq {rel['seq']}: {got} {why}"
            )
    if lost:
        problems.append(
            f"{len(lost)} released (acknowledged) messages not received exactly once by their "
            "recipient (received by, refusal):\n  " + "\n  ".join(lost[:20])
        )
    unaudited = []
    for mid, recs in trail.received.items():
        wrong = [r for r in recs if r["actor"] != recipient(r)]
        if wrong:
            problems.append(f"received by a nation other than its recipient: {wrong[0]}")
        if mid not in trail.released:
            unaudited.append(recs[0])
    in_flight = {o: in_flight_at_kill(trail, o) for o in crashed}
    # Only a node killed between the transport's acceptance of a batch and the batch's
    # `released` lines can have messages received that it never audited: numbers of the
    # life that was killed, above every release that life audited.
    stray = [
        r
        for r in unaudited
        if r["seq"] not in in_flight.get(r["originator"], {}).get(recipient(r), range(0))
    ]
    print(f"received, unaudited by its killed originator (in flight at the kill): {len(unaudited)}")
    if stray:
        problems.append(
            f"{len(stray)} received but never released, not in flight at a kill: {stray[:5]}"
        )
    for recs in trail.relayed.values():  # the hub relays; never to itself
        if not all(r["actor"] == "USA" != recipient(r) for r in recs):
            problems.append(f"unexpected relay: {recs}")

    # Refusals. A node killed mid-event had handled (and audited) some frames whose
    # acknowledgement never reached the stream; JetStream hands them over again after the
    # restart (at-least-once). The node's sequence book, resumed from its audit log,
    # recognises them and refuses them as replays: that is the only refusal allowed, and
    # only by a restarted node, of a frame its previous life had handled.
    for rec in trail.rejected:
        nation = rec["actor"]
        log = trail.logs[nation]
        restarts = [i for i, r in enumerate(log) if r["name"] == "agreements-loaded"][1:]
        handled_before = {
            r["message_id"]
            for r in log[: restarts[-1] if restarts else 0]
            if r["name"] in ("received", "relayed")
        }
        if not (
            nation in crashed
            and rec["reason"].startswith("replay:")
            and rec["message_id"] in handled_before
        ):
            problems.append(
                f"refusal other than a replay after a crash: {rec['actor']} "
                f"refused {rec['originator']} seq {rec['seq']}: {rec['reason']}"
            )
    # A gap is either the unused rest of a restarted originator's reserved block, or
    # numbers that arrive late (received above, exactly once): then it is no loss.
    for nation in NATIONS:
        for rec in trail.named(nation, "gap"):
            if rec["originator"] not in crashed:
                print(f"late arrival in a live node's stream: {nation}: {rec['reason']}")
    return problems


def in_flight_at_kill(trail: Trail, nation: str) -> dict[str, range]:
    """Per recipient, the sequence numbers ``nation``'s killed life could have sent
    without auditing them: above its last audited release, within its reserved blocks."""
    log = trail.logs[nation]
    starts = [i for i, r in enumerate(log) if r["name"] == "agreements-loaded"]
    killed = log[: starts[-1]] if len(starts) > 1 else []
    audited: dict[str, int] = defaultdict(int)
    reserved: dict[str, int] = defaultdict(int)
    for rec in killed:
        to = recipient(rec)
        if to is None or rec.get("originator") != nation:
            continue
        if rec["name"] == "released":
            audited[to] = max(audited[to], rec["seq"])
        elif rec["name"] == "reserved":
            reserved[to] = max(reserved[to], rec["seq"])
    return {to: range(audited[to] + 1, top + 1) for to, top in reserved.items()}


def check_rejoined(trail: Trail) -> list[str]:
    """The restarted nodes caught up and took part again: the US relayed again, and Japan,
    whose radars track the missile to the end, released its own data again once it had
    rejoined. (The US radars lose the missile around T+450 s, before its restart.)"""
    problems = []
    for nation, role in (("USA", "relayed"), ("JPN", "released")):
        log = trail.logs[nation]
        starts = [i for i, r in enumerate(log) if r["name"] == "agreements-loaded"]
        later = Counter(  # what it did after its restart; receipts count as "received"
            r["name"] for r in log[starts[-1] :] if r.get("kind") not in (None, "receipt")
        )
        receipts = sum(1 for r in log[starts[-1] :] if r.get("kind") == "receipt")
        if len(starts) != 2 or not (later["received"] or receipts) or not later[role]:
            problems.append(f"{nation} did not rejoin after its restart: {dict(later)}")
    return problems


def check_suspension(trail: Trail) -> list[str]:
    """While KOR→JPN was suspended Korea held its traffic for Japan (and kept sending to
    the US); on resumption it released the held messages first, in order, and Japan
    received them in that order."""
    problems: list[str] = []
    kor_log = trail.logs["KOR"]
    changes = [i for i, r in enumerate(kor_log) if r["name"] == "agreement-changed"]
    reasons = [kor_log[i]["reason"] for i in changes]
    if (
        len(changes) != 2
        or "active → suspended" not in reasons[0]
        or "suspended → active" not in reasons[1]
    ):
        return [f"KOR applied agreement changes {reasons}, expected a suspension and a resumption"]
    s, r = changes

    def data_to(nation: str, records: list[dict[str, object]]) -> list[dict[str, object]]:
        return [
            x
            for x in records
            if x["name"] == "released" and recipient(x) == nation and x["kind"] != "receipt"
        ]

    window = kor_log[s + 1 : r]
    held = [x for x in window if x["name"] == "held" and recipient(x) == "JPN"]
    if len(held) < 20 or not all("KOR-JPN" in str(x["reason"]) for x in held):
        problems.append(f"KOR held {len(held)} messages for JPN while suspended")
    # A publish that had decided under the old version before the suspension reached
    # Korea's node may finish its send just after (one release, in flight across an
    # await): tolerated here, before anything is held; tests/sharing/test_node_races.py
    # pins the strict behaviour. Anything else released to Japan in the window is a leak.
    old_version = str(kor_log[s]["reason"]).split(" → ")[0]  # "KOR-JPN v1"
    first_held = next((i for i, x in enumerate(window) if x["name"] == "held"), len(window))
    leaked = [
        (i, x)
        for i, x in enumerate(window)
        if x["name"] == "released" and recipient(x) == "JPN" and x["kind"] != "receipt"
    ]
    in_flight = [x for i, x in leaked if i < first_held and f"by {old_version}" in str(x["reason"])]
    if len(leaked) > len(in_flight) or len(in_flight) > 1:
        problems.append(f"KOR released to JPN while suspended: {[x for _, x in leaked][:3]}")
    if not data_to("USA", window):
        problems.append("KOR→USA stopped during the KOR→JPN suspension")
    backlog = data_to("JPN", kor_log[r + 1 :])[: len(held)]
    seqs = [int(x["seq"]) for x in backlog]  # type: ignore[call-overload]
    before = [int(x["seq"]) for x in data_to("JPN", kor_log[:s])]  # type: ignore[call-overload]
    if (
        len(backlog) != len(held)
        or seqs != sorted(seqs)
        or (seqs and before and seqs[0] <= max(before))
    ):
        problems.append(f"held messages not released in order on resumption: seqs {seqs}")
    jpn_from_kor = [
        x["seq"] for x in trail.logs["JPN"] if x["name"] == "received" and x["originator"] == "KOR"
    ]
    pos = {q: i for i, q in enumerate(jpn_from_kor)}
    if any(q not in pos for q in seqs) or [pos[q] for q in seqs] != sorted(
        pos.get(q, -1) for q in seqs
    ):
        problems.append("JPN did not receive the held messages, in order")
    inversions = sum(1 for a, b in zip(jpn_from_kor, jpn_from_kor[1:], strict=False) if b < a)
    print(f"KOR held {len(held)} for JPN; KOR→JPN order inversions at JPN: {inversions}")
    return problems
