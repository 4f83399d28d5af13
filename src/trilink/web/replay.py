"""The replay behind the picture: one library event run through the network, live.

A :class:`ReplayRunner` runs :func:`trilink.simulation.run_event` for a chosen event at a
chosen speed on a thread of its own (its own event loop), so the web server stays
responsive however hard the simulation works. A few times a second (``publish_every_s``
of wall time, and at the end) it builds every nation's picture on that thread
(:func:`trilink.web.views.nation_picture`, reading the live objects where they live)
and hands the documents to the server's loop (:class:`trilink.web.feed.FeedHub`) — and,
with a :class:`~trilink.web.cot.CotTap`, one nation's view as CoT to TAK clients.
Starting another replay stops the current one first (its nodes and transport closed, its
audit logs complete).

Links change the one way a running network changes them: the deployment's agreements
file (:meth:`trilink.deployment.Deployment.set_state`, as ``trilink link suspend`` does),
which every node of the run watches, reloads within a second and audits. An operator
may change only agreements from its own nation (:func:`trilink.web.auth.check_may_change`).
The agreements file outlives a replay: a suspended link stays suspended in the next.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from trilink.deployment import Deployment, load_deployment
from trilink.errors import ConfigError
from trilink.sharing.agreements import Agreement, AgreementState
from trilink.simulation import Step, run_event
from trilink.web.auth import check_may_change
from trilink.web.cot import CotTap
from trilink.web.errors import NotFound
from trilink.web.feed import FeedHub
from trilink.web.links import LinkBook
from trilink.web.views import RunInfo, SummaryCache, nation_picture
from trilink.world.launches import fly_event
from trilink.world.library import LaunchEvent, load_library

__all__ = ["MAX_SPEED", "ReplayRunner", "ReplayState"]

_log = logging.getLogger("trilink.web")

MAX_SPEED: Final = 1000.0
"""The fastest replay asked for (event seconds per wall second); the simulation runs as
fast as the machine allows when that is slower."""


class ReplayState(StrEnum):
    """Where the current replay stands."""

    IDLE = "idle"
    STARTING = "starting"
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass
class _Run:
    """One replay and the thread it runs on."""

    number: int
    event: LaunchEvent
    speed: float
    seed: int
    info: RunInfo
    audit_dir: Path
    state: ReplayState = ReplayState.STARTING
    t_rel_s: float = 0.0
    error: str | None = None
    thread: threading.Thread | None = None
    loop: asyncio.AbstractEventLoop | None = None
    task: asyncio.Task[None] | None = None
    stop_requested: bool = False
    ready: threading.Event = field(default_factory=threading.Event)


class ReplayRunner:
    """Runs replays of library events for the picture, one at a time."""

    def __init__(
        self,
        deployment: Deployment,
        hub: FeedHub,
        *,
        seed: int = 2017,
        publish_every_s: float = 0.25,
        cot: CotTap | None = None,
    ) -> None:
        self.deployment = deployment
        self.hub = hub
        self.seed = seed
        self.publish_every_s = publish_every_s
        self.cot = cot
        self._run: _Run | None = None
        self._count = 0
        self._lock = asyncio.Lock()
        self._links_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- replays --------------------------------------------------------------------

    async def start(
        self, event_id: str, *, speed: float, seed: int | None = None
    ) -> dict[str, Any]:
        """Stop the current replay, if any, and start ``event_id`` at ``speed`` (event
        seconds per wall second). Raises :class:`~trilink.errors.UnknownEventError` for an
        unknown id and :class:`~trilink.errors.ConfigError` for a speed out of range
        before anything stops."""
        if not (math.isfinite(speed) and 0.0 < speed <= MAX_SPEED):
            raise ConfigError(
                f"speed {speed} is out of range",
                field="speed",
                fix=f"give event seconds per wall second, above 0 and at most {MAX_SPEED:g}",
            )
        event = load_library().get(event_id)
        flight = await asyncio.to_thread(fly_event, event)  # solves (and caches) the flight
        self._loop = asyncio.get_running_loop()
        async with self._lock:
            await self._stop_current()
            self._count += 1
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
            traj = flight.trajectory
            run = _Run(
                number=self._count,
                event=event,
                speed=speed,
                seed=self.seed if seed is None else seed,
                info=RunInfo(self._count, event.id, traj.t_launch_s, traj.flight_time_s),
                audit_dir=self.deployment.audit_dir / f"{stamp}-{event.id}",
            )
            self._run = run
            self.hub.clear_pictures()
            self.hub.publish_status(self.status())
            run.thread = threading.Thread(
                target=self._thread_main, args=(run,), name=f"trilink-replay-{run.number}"
            )
            run.thread.daemon = True
            run.thread.start()
        return self.status()

    async def stop(self) -> None:
        """Stop the current replay (if one runs) and wait for its thread to end."""
        async with self._lock:
            await self._stop_current()

    async def _stop_current(self) -> None:
        run = self._run
        if run is None or run.thread is None or not run.thread.is_alive():
            return
        run.stop_requested = True
        await asyncio.to_thread(run.ready.wait, 30.0)
        if run.loop is not None and run.task is not None:
            try:
                run.loop.call_soon_threadsafe(run.task.cancel)
            except RuntimeError:  # its loop has closed: the thread is ending anyway
                pass
        await asyncio.to_thread(run.thread.join, 60.0)

    def status(self) -> dict[str, Any]:
        """The current replay as ``GET /api/replay`` reports it."""
        run = self._run
        if run is None:
            return {
                "run": 0,
                "state": ReplayState.IDLE.value,
                "event_id": None,
                "missile": None,
                "site": None,
                "date": None,
                "speed": None,
                "seed": self.seed,
                "t_rel_s": None,
                "flight_time_s": None,
                "error": None,
            }
        return {
            "run": run.number,
            "state": run.state.value,
            "event_id": run.event.id,
            "missile": run.event.missile.name,
            "site": run.event.site.name,
            "date": run.event.date,
            "speed": run.speed,
            "seed": run.seed,
            "t_rel_s": run.t_rel_s,
            "flight_time_s": run.info.flight_time_s,
            "error": run.error,
        }

    def audit_log(self, nation: str) -> Path | None:
        """The audit log of ``nation``'s node in the current replay (``None`` before one)."""
        run = self._run
        return None if run is None else run.audit_dir / f"{nation}.jsonl"

    # -- links ----------------------------------------------------------------------

    def agreements(self) -> tuple[Agreement, ...]:
        """The agreements as the deployment's file holds them now."""
        return tuple(self.deployment.agreements())

    def set_link_state(self, nation: str, agreement_id: str, state: AgreementState) -> Agreement:
        """``nation``'s operator puts an agreement from ``nation`` in ``state``: the
        agreements file is rewritten and the running nodes reload and audit it within a
        second. Raises :class:`~trilink.web.errors.NotFound` for an unknown agreement and
        :class:`~trilink.web.errors.Forbidden` for one from another nation."""
        with self._links_lock:
            agreement = self.deployment.agreements().by_id(agreement_id)
            if agreement is None:
                known = ", ".join(a.id for a in self.agreements())
                raise NotFound(
                    f"no agreement {agreement_id!r} in the deployment",
                    fix=f"use one of: {known}",
                    field="agreement_id",
                )
            check_may_change(nation, agreement)
            if agreement.state is state:
                return agreement
            return self.deployment.set_state(agreement_id, state)

    # -- the simulation's thread ----------------------------------------------------

    def _post(self, fn: Any, *args: Any) -> None:
        """Run ``fn(*args)`` on the server's loop (from the simulation's thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the server is shutting down
            pass

    def _thread_main(self, run: _Run) -> None:
        try:
            asyncio.run(self._simulate(run))
        finally:
            run.ready.set()

    async def _simulate(self, run: _Run) -> None:
        run.loop = asyncio.get_running_loop()
        run.task = asyncio.current_task()
        run.ready.set()
        links = LinkBook()
        summaries = SummaryCache()
        seq = 0
        last_publish = -math.inf
        last_step: Step | None = None

        def publish(step: Step) -> None:
            nonlocal seq, last_publish
            seq += 1
            last_publish = time.monotonic()
            for nation in step.centers:
                doc = nation_picture(
                    step, nation, info=run.info, links=links, seq=seq, summaries=summaries
                )
                self._post(self.hub.publish_picture, nation, doc)
            if self.cot is not None:
                self._post(self.cot.feed.send, self.cot.events(step))

        def on_step(step: Step) -> None:
            nonlocal last_step
            last_step = step
            run.t_rel_s = step.t_rel_s
            if time.monotonic() - last_publish >= self.publish_every_s:
                publish(step)

        dep = self.deployment
        try:
            if run.stop_requested:
                raise asyncio.CancelledError
            run.state = ReplayState.RUNNING
            self._post(self._publish_status)
            await run_event(
                run.event,
                data_dir=dep.data_dir,
                seed=run.seed,
                network=dep.network(),
                agreements=dep.agreements(),
                topology=dep.topology,
                speed=run.speed,
                audit_dir=run.audit_dir,
                agreements_file=dep.agreements_path,
                topology_source=lambda: load_deployment(dep.path).topology,
                on_step=on_step,
                on_message=links.record,
            )
            if last_step is not None:
                publish(last_step)
            run.state = ReplayState.FINISHED
        except asyncio.CancelledError:
            run.state = ReplayState.STOPPED
        except Exception as exc:  # reported to every viewer and logged with its traceback
            _log.exception("replay %s of %s failed", run.number, run.event.id)
            run.state = ReplayState.FAILED
            run.error = f"{type(exc).__name__}: {exc}"
        finally:
            self._post(self._publish_status)

    def _publish_status(self) -> None:
        self.hub.publish_status(self.status())
