"""The trilink command line: thin composition of the stages. SIMULATION ONLY."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from trilink.alerting.summary import Summary
from trilink.config import load_default_network, load_network
from trilink.deployment import Deployment, init_deployment, load_deployment, serve, stop_on_signals
from trilink.errors import TrilinkError
from trilink.geo.areas import in_japan_eez
from trilink.sensors.coverage import draw_coverage
from trilink.sensors.suite import SensorSuite
from trilink.sharing.agreements import AgreementState, load_agreements, load_default_agreements
from trilink.sharing.audit import verify_dir
from trilink.sharing.crypto import KeyStore
from trilink.sharing.envelope import Kind
from trilink.sharing.topology import Topology
from trilink.sharing.transport.jetstream import JetStreamTransport
from trilink.simulation import (
    LinkEvent,
    RunResult,
    TimelineEvent,
    run_event,
    run_event_on_jetstream,
)
from trilink.world.catalog import catalog, missile_class
from trilink.world.launches import Flight, LaunchRequest, disperse, facts, fly_event, fly_request
from trilink.world.library import DEFAULT_EVENT_ID, LaunchEvent, Library, load_library
from trilink.world.trajectory import Shape, Trajectory
from trilink.world.validate import validate

__all__ = ["app", "main"]

BANNER = "[bold yellow]SIMULATION[/] — trilink replays a simulated launch; nothing here is real."

app = typer.Typer(
    help="trilink: multinational missile-warning data sharing, simulated end to end.",
    no_args_is_help=True,
    add_completion=False,
)
events_app = typer.Typer(help="Browse the historical launch library (CNS / nk-missile-tests).")
audit_app = typer.Typer(help="Check audit logs.")
sensors_app = typer.Typer(help="The nations' sensors: coverage maps and who saw what, when.")
bench_app = typer.Typer(
    help="Side-by-side benchmarks against peer implementations (need pip install -e '.[dev]')."
)
app.add_typer(events_app, name="events")
app.add_typer(audit_app, name="audit")
app.add_typer(sensors_app, name="sensors")
app.add_typer(bench_app, name="bench")
network_app = typer.Typer(help="Deployments: the nations' nodes as separate processes.")
cluster_app = typer.Typer(help="The deployment's NATS JetStream cluster (3 servers, R3).")
link_app = typer.Typer(help="Change agreements and partners on a running network.")
app.add_typer(network_app, name="network")
app.add_typer(cluster_app, name="cluster")
app.add_typer(link_app, name="link")

console = Console(width=None if sys.stdout.isatty() else 132)
err = Console(stderr=True)


SeedOption = Annotated[int, typer.Option(help="seed of every random draw")]
DataDirOption = Annotated[Path, typer.Option(help="keys/ and audit/ are written here")]
NetworkOption = Annotated[Path | None, typer.Option(help="network TOML (default: the shipped hub)")]
AgreementsOption = Annotated[
    Path | None, typer.Option(help="agreements TOML (default: the shipped 2023 hub)")
]


@app.command()
def demo(
    event: Annotated[str, typer.Option(help="library event id (trilink events list)")] = (
        DEFAULT_EVENT_ID
    ),
    json_out: Annotated[
        Path | None, typer.Option("--json", help="write the results as JSON to this file")
    ] = None,
    seed: SeedOption = 2017,
    data_dir: DataDirOption = Path("trilink-data"),
    network: NetworkOption = None,
    agreements: AgreementsOption = None,
    ship: Annotated[
        list[str] | None,
        typer.Option(help="place a ship radar for this run: ID=LAT,LON (repeatable)"),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="no live timeline")] = False,
    transport: Annotated[
        str,
        typer.Option(
            help="embedded (one process, SQLite logs) or jetstream (starts and stops a "
            "3-server NATS JetStream cluster on loopback for the run)"
        ),
    ] = "embedded",
    topology: Annotated[
        str, typer.Option(help="hub (the network file's links, as deployed) or mesh")
    ] = "hub",
    link: Annotated[
        list[str] | None,
        typer.Option(
            help="an agreement change during the run, T:ACTION:AGREEMENT, e.g. "
            "120:suspend:KOR-JPN (ACTION: suspend, resume, terminate; repeatable)"
        ),
    ] = None,
) -> None:
    """Run one launch through world → sensors → tracking → sharing → fusion → warnings."""
    lib = load_library()
    ev = lib.get(event)
    net = load_network(network) if network else load_default_network()
    if ship:
        net = net.with_ships(dict(_ship(s) for s in ship))
    agr = load_agreements(agreements) if agreements else load_default_agreements()

    def show(e: TimelineEvent) -> None:
        if not quiet:
            console.print(f"  T{e.t_rel_s:+6.0f} s  [cyan]{e.nation}[/]  {e.text}")

    if transport not in ("embedded", "jetstream"):
        raise typer.BadParameter("use embedded or jetstream", param_hint="--transport")
    if topology not in ("hub", "mesh"):
        raise typer.BadParameter("use hub or mesh", param_hint="--topology")
    topo = (
        Topology.mesh(net.nations)
        if topology == "mesh"
        else Topology.from_links(net.nations, net.links)
    )
    console.print(BANNER)
    links = ", ".join("↔".join(sorted(pair)) for pair in sorted(topo.links, key=sorted))
    console.print(
        f"Event [bold]{ev.id}[/]: {ev.missile.name} from {ev.site.name}, "
        f"{ev.date} {ev.time_utc or '(time unknown)'} UTC; nodes {', '.join(net.nations)}, "
        f"links {links} ({topology}), transport {transport}"
    )
    events = [LinkEvent.parse(x) for x in link or ()]
    for e in events:
        agr.with_state(e.agreement_id, e.action)  # an unknown agreement fails here, early
    runner = run_event_on_jetstream if transport == "jetstream" else run_event
    with console.status(f"solving the trajectory and running the network ({transport})…"):
        result = asyncio.run(
            runner(
                ev,
                data_dir=data_dir,
                seed=seed,
                network=net,
                agreements=agr,
                topology=topo,
                on_timeline=show,
                link_events=events,
            )
        )
    _print_summaries(result)
    if json_out is not None:
        json_out.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
        console.print(f"results written to {json_out}")


@app.command()
def replay(
    event_id: Annotated[str, typer.Argument(help="library event id (trilink events list)")],
    json_out: Annotated[
        Path,
        typer.Option("--json", help="write truth, summaries, alerts and timeliness here"),
    ],
    seed: SeedOption = 2017,
    data_dir: DataDirOption = Path("trilink-data"),
    network: NetworkOption = None,
    agreements: AgreementsOption = None,
) -> None:
    """Replay one library launch through the whole chain; write each nation's summary,
    its alerts (J-Alert stages) and their timeliness as JSON."""
    ev = load_library().get(event_id)
    net = load_network(network) if network else load_default_network()
    agr = load_agreements(agreements) if agreements else load_default_agreements()
    console.print(BANNER)
    with console.status(f"replaying {ev.id} through the network…"):
        result = asyncio.run(
            run_event(ev, data_dir=data_dir, seed=seed, network=net, agreements=agr)
        )
    t0 = result.trajectory.t_launch_s
    table = Table(title=f"Alerts, {ev.id} — SIMULATION")
    for col in ("T+ s", "nation", "stage", "areas", "EEZ", "corrects"):
        table.add_column(col)
    for n, alerts in result.alerts.items():
        for a in alerts:
            table.add_row(
                f"{a.t_s - t0:+.0f}",
                n,
                a.stage.value,
                ", ".join(a.prefectures),
                a.eez_verdict,
                a.correction_of or "",
            )
    console.print(table)
    json_out.write_text(json.dumps(result.replay_json(), indent=2) + "\n", encoding="utf-8")
    console.print(f"replay written to {json_out}")


@app.command("export")
def export_cmd(
    event_id: Annotated[str, typer.Argument(help="library event id (trilink events list)")],
    fmt: Annotated[str, typer.Option("--format", help="czml, geojson or kml")],
    nation: Annotated[str, typer.Option(help="whose picture: JPN, KOR, USA ...")],
    out: Annotated[Path, typer.Option("--out", help="the file to write")],
    seed: SeedOption = 2017,
    data_dir: DataDirOption = Path("trilink-data"),
    network: NetworkOption = None,
    agreements: AgreementsOption = None,
) -> None:
    """Run one library launch through the chain as fast as possible and write what one
    nation held (system tracks, impact ellipses, alerts) beside the truth, as CZML
    (Cesium), GeoJSON or KML (Google Earth). SIMULATION."""
    # Imported here: the exporters are needed by this command only.
    from trilink.interop.exports import EXPORT_FORMATS, export_document
    from trilink.interop.history import HistoryRecorder

    fmt_key = fmt.lower()
    if fmt_key not in EXPORT_FORMATS:
        raise typer.BadParameter(
            f"unknown format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}",
            param_hint="--format",
        )
    if not out.parent.is_dir():
        raise typer.BadParameter(
            f"directory {out.parent} does not exist; create it or write elsewhere",
            param_hint="--out",
        )
    ev = load_library().get(event_id)
    net = load_network(network) if network else load_default_network()
    nation = nation.upper()
    if nation not in net.nations:
        raise typer.BadParameter(
            f"nation {nation!r} is not in the network; use one of {', '.join(net.nations)}",
            param_hint="--nation",
        )
    agr = load_agreements(agreements) if agreements else load_default_agreements()
    recorder = HistoryRecorder(nations=[nation])
    console.print(BANNER)
    with console.status(f"running {ev.id} through the network to export {nation}'s picture…"):
        result = asyncio.run(
            run_event(
                ev, data_dir=data_dir, seed=seed, network=net, agreements=agr, on_step=recorder
            )
        )
    history = recorder.history(nation)
    out.write_bytes(export_document(fmt_key, result.trajectory, history, event_id=ev.id))
    console.print(
        f"{fmt_key} of {ev.id} as {nation} held it ({len(history.tracks)} system tracks, "
        f"{len(history.impacts)} impact predictions, {len(history.alerts)} alerts) "
        f"written to {out} — SIMULATION"
    )


def _cot_tls(cert: Path | None, key: Path | None) -> tuple[Path, Path] | None:
    if (cert is None) != (key is None):
        raise typer.BadParameter(
            "give both --cot-cert and --cot-key (PEM files) for a TLS CoT feed, or neither",
            param_hint="--cot-cert/--cot-key",
        )
    return None if cert is None or key is None else (cert, key)


@app.command("serve")
def serve_cmd(
    event: Annotated[
        str, typer.Option(help="library event to replay first (trilink events list)")
    ] = DEFAULT_EVENT_ID,
    speed: Annotated[
        float, typer.Option(min=0.01, max=1000.0, help="event seconds per wall second")
    ] = 10.0,
    host: Annotated[str, typer.Option(help="loopback address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="port (0: a free one)")] = 8000,
    seed: SeedOption = 2017,
    data_dir: DataDirOption = Path("trilink-data"),
    cot_port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="also serve CoT to TAK clients on this TCP port"),
    ] = None,
    cot_nation: Annotated[str, typer.Option(help="whose view the CoT feed sends")] = "JPN",
    cot_cert: Annotated[
        Path | None, typer.Option(help="PEM certificate chain: serve the CoT feed over TLS")
    ] = None,
    cot_key: Annotated[Path | None, typer.Option(help="PEM private key of --cot-cert")] = None,
) -> None:
    """Serve the live picture (web): each nation's view of a replayed event, its alerts,
    agreements and audit; prints each nation's viewer address (Ctrl-C to stop)."""
    # Imported here: only this command needs the web stack.
    from trilink.web.server import serve_picture

    console.print(BANNER)
    try:
        serve_picture(
            event_id=event,
            speed=speed,
            host=host,
            port=port,
            data_dir=data_dir,
            seed=seed,
            say=lambda line: console.print(line, highlight=False, soft_wrap=True),
            cot_port=cot_port,
            cot_nation=cot_nation.upper(),
            cot_tls=_cot_tls(cot_cert, cot_key),
        )
    except KeyboardInterrupt:  # a second Ctrl-C while shutting down
        pass
    console.print("picture stopped")


def _ship(text: str) -> tuple[str, tuple[float, float]]:
    try:
        ship_id, where = text.split("=")
        lat, lon = (float(x) for x in where.split(","))
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not ID=LAT,LON", param_hint="--ship") from exc
    return ship_id, (lat, lon)


def _print_summaries(result: RunResult) -> None:
    table = Table(title="Announcements (Japan MoD style) beside the truth — SIMULATION")
    table.add_column("field")
    table.add_column("truth", style="green")
    nations = list(result.summaries)
    for n in nations:
        table.add_column(n)
    fields: list[tuple[str, Callable[[Summary], str]]] = [
        ("launch time (UTC)", lambda s: s.launch_time_utc.replace("T", " ")),
        ("launch site", lambda s: s.launch_site),
        ("number", lambda s: str(s.number)),
        ("apogee", lambda s: f"{s.apogee_km:,.0f} km"),
        ("range", lambda s: f"{s.range_km:,.0f} km"),
        ("flight time", lambda s: f"{s.flight_time_s / 60:.1f} min"),
        ("impact", lambda s: f"{s.impact_lat:.2f}N {s.impact_lon:.2f}E"),
        ("Japan's EEZ", lambda s: "inside" if s.impact_in_japan_eez else "outside"),
        (
            "overflight of Japan",
            lambda s: ("yes: " + ", ".join(s.overflight_regions)) if s.overflight_japan else "no",
        ),
    ]
    for name, get in fields:
        row = [name, get(result.truth)]
        for n in nations:
            s: Summary | None = result.summaries[n]
            row.append("—" if s is None else get(s))
        table.add_row(*row)
    first = (
        ["first alert"]
        + ["—"]
        + [
            "—" if result.first_alert_s[n] is None else f"T+{result.first_alert_s[n]:.0f} s"
            for n in nations
        ]
    )
    table.add_row(*first)
    console.print(table)
    console.print(
        f"messages rejected: {result.rejected}; audit logs: {result.audit_dir} "
        f"(check with `trilink audit verify {result.audit_dir}`); run took {result.wall_s:.1f} s"
    )


@app.command()
def simulate(
    site: Annotated[str, typer.Option(help="library facility key (pyongyang) or LAT,LON")],
    missile: Annotated[str, typer.Option(help="library missile key, e.g. hwasong-17")],
    bearing_deg: Annotated[float, typer.Option(help="initial heading, degrees from north")],
    range_km: Annotated[float | None, typer.Option(help="ground range to impact")] = None,
    apogee_km: Annotated[float | None, typer.Option(help="apogee (with --range-km)")] = None,
    shape: Annotated[
        Shape | None, typer.Option(help="minimum-energy or depressed (with --range-km)")
    ] = None,
    time: Annotated[str | None, typer.Option("--time", help="launch time, ISO 8601 UTC")] = None,
    monte_carlo: Annotated[
        int, typer.Option(help="also fly N seeded dispersed launches and summarise impacts")
    ] = 0,
    seed: Annotated[int, typer.Option(help="seed of the Monte Carlo draws")] = 2017,
    json_flag: Annotated[bool, typer.Option("--json", help="print JSON only")] = False,
) -> None:
    """Fly one launch in the simulated world and print its facts."""
    lib = load_library()
    lat, lon = _site(site, lib)
    info = lib.missiles.get(missile)
    if info is None:
        raise typer.BadParameter(
            f"unknown missile {missile!r}; keys: {', '.join(sorted(lib.missiles))}",
            param_hint="--missile",
        )
    if range_km is None:
        raise typer.BadParameter(
            "give --range-km (with --apogee-km or --shape)", param_hint="--range-km"
        )
    if (apogee_km is None) == (shape is None):
        raise typer.BadParameter(
            "give exactly one of --apogee-km and --shape", param_hint="--apogee-km/--shape"
        )
    t0 = _parse_time(time)
    request = LaunchRequest(
        lat_deg=lat,
        lon_deg=lon,
        missile=missile_class(info.key, info.type),
        bearing_deg=bearing_deg,
        t_launch_s=t0,
        range_km=range_km,
        apogee_km=apogee_km,
        shape=shape,
    )
    defaulted = () if info.key in catalog() else (f"missile (flown as {request.missile.key})",)
    out = facts(Flight(fly_request(request), request, defaulted))
    if monte_carlo > 0:
        flights = disperse(request, monte_carlo, np.random.default_rng(seed))
        out["monte_carlo"] = _dispersion_summary(flights, seed)
    _print_facts(out, json_flag)


def _site(site: str, lib: Library) -> tuple[float, float]:
    if "," in site:
        try:
            lat_s, lon_s = site.split(",")
            lat, lon = float(lat_s), float(lon_s)
        except ValueError as exc:
            raise typer.BadParameter(f"{site!r} is not LAT,LON", param_hint="--site") from exc
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 360.0):
            raise typer.BadParameter(f"{site!r} is off the map", param_hint="--site")
        return lat, lon
    f = lib.facility(site)
    return f.lat_deg, f.lon_deg


def _parse_time(text: str | None) -> float:
    if text is None:
        return dt.datetime.now(dt.UTC).replace(microsecond=0).timestamp()
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time", param_hint="--time") from exc
    if t.tzinfo is None:
        raise typer.BadParameter(
            "give the time in UTC, e.g. 2017-08-28T20:58:00Z", param_hint="--time"
        )
    return t.timestamp()


def _dispersion_summary(flights: list[Trajectory], seed: int) -> dict[str, object]:
    lat = np.array([f.impact_lat_deg for f in flights])
    lon = np.array([f.impact_lon_deg for f in flights])
    times = np.array([f.flight_time_s for f in flights])
    return {
        "runs": len(flights),
        "seed": seed,
        "impact_lat_mean": round(float(lat.mean()), 5),
        "impact_lon_mean": round(float(lon.mean()), 5),
        "impact_lat_std": round(float(lat.std()), 5),
        "impact_lon_std": round(float(lon.std()), 5),
        "flight_time_s_mean": round(float(times.mean()), 2),
        "flight_time_s_std": round(float(times.std()), 2),
        "in_japan_eez_share": round(
            float(np.mean([in_japan_eez(a, b) for a, b in zip(lat, lon, strict=True)])), 4
        ),
    }


def _print_facts(out: dict[str, object], json_flag: bool) -> None:
    if json_flag:
        sys.stdout.write(json.dumps(out) + "\n")
        return
    console.print(BANNER)
    table = Table(show_header=False)
    for k, v in out.items():
        table.add_row(k, escape(json.dumps(v)) if isinstance(v, list | dict) else str(v))
    console.print(table)


@app.command("validate")
def validate_cmd(
    json_flag: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Replay every launch with a published flight time against Japan MoD's figures."""
    rows = validate()
    if json_flag:
        sys.stdout.write(
            json.dumps(
                [
                    {
                        "event": r.published.event,
                        "published_flight_time_min": r.published.flight_time_min,
                        "simulated_flight_time_min": round(
                            float(r.simulated["flight_time_s"]) / 60, 2
                        ),
                        "flight_time_error": round(r.flight_time_error, 4),
                        "record_apogee_km": r.record_apogee_km,
                        "apogee_km": r.simulated["apogee_km"],
                        "record_range_km": r.record_range_km,
                        "range_km": r.simulated["range_km"],
                        "published_eez": r.published.eez,
                        "impact_in_japan_eez": r.simulated["impact_in_japan_eez"],
                        "published_overflight": r.published.overflight,
                        "overflight": r.simulated["overflight_regions"],
                        "overflight_prefectures": r.simulated["overflight_prefectures"],
                        "eez_ok": r.eez_ok,
                        "overflight_ok": r.overflight_ok,
                    }
                    for r in rows
                ]
            )
            + "\n"
        )
        return
    console.print(BANNER)
    table = Table(title="Simulated world vs Japan MoD announcements")
    table.add_column("event", no_wrap=True, min_width=26)
    for col in (
        "flight time pub/sim",
        "error",
        "apogee rec/sim km",
        "range rec/sim km",
        "EEZ pub/sim",
        "overflight pub / sim",
    ):
        table.add_column(col)
    for r in rows:
        s = r.simulated
        table.add_row(
            r.published.event,
            f"{r.published.flight_time_min:.0f} / {float(s['flight_time_s']) / 60:.1f} min",
            f"{100 * r.flight_time_error:+.1f} %",
            f"{_num(r.record_apogee_km)} / {float(s['apogee_km']):,.0f}",
            f"{_num(r.record_range_km)} / {float(s['range_km']):,.0f}",
            f"{r.published.eez or '?'} / {'inside' if s['impact_in_japan_eez'] else 'outside'}"
            + ("" if r.eez_ok else " [red]✗[/]"),
            f"{','.join(r.published.overflight) or '-'} / "
            f"{','.join(s['overflight_prefectures']) or '-'}"
            + ("" if r.overflight_ok else " [red]✗[/]"),
        )
    console.print(table)


@events_app.command("list")
def events_list(
    json_flag: Annotated[bool, typer.Option("--json", help="print a JSON array")] = False,
) -> None:
    """List the 339 historical launches."""
    lib = load_library()
    if json_flag:
        sys.stdout.write(json.dumps([e.to_json() for e in lib.events], indent=1) + "\n")
        return
    table = Table(title=f"{len(lib.events)} North Korean missile tests (CNS via nk-missile-tests)")
    for col in ("id", "time UTC", "site", "apogee km", "range km", "outcome"):
        table.add_column(col)
    for e in lib.events:
        table.add_row(
            e.id,
            e.time_utc or "?",
            e.site.key,
            _num(e.apogee_km),
            _num(e.range_km),
            e.outcome,
        )
    console.print(table)


def _num(x: float | None) -> str:
    return "?" if x is None else f"{x:,.0f}"


@events_app.command("show")
def events_show(event_id: Annotated[str, typer.Argument(help="event id")]) -> None:
    """Show one historical launch."""
    e = load_library().get(event_id)
    data = e.to_json()
    data["missile_name"] = e.missile.name
    data["site_name"] = e.site.name
    data["landing"] = e.landing
    data["description"] = e.description
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@events_app.command("simulate")
def events_simulate(
    event_id: Annotated[str, typer.Argument(help="event id")],
    json_flag: Annotated[bool, typer.Option("--json", help="print JSON only")] = False,
) -> None:
    """Replay one historical launch in the simulated world and print its facts."""
    _print_facts(facts(fly_event(load_library().get(event_id))), json_flag)


@sensors_app.command("coverage")
def sensors_coverage(
    nation: Annotated[str, typer.Option(help="JPN, KOR, USA ... (whose radars)")],
    png: Annotated[Path, typer.Option(help="PNG file to write")],
    altitudes_km: Annotated[
        str, typer.Option(help="comma-separated target altitudes, km")
    ] = "10,100,500",
    network: Annotated[Path | None, typer.Option(help="network TOML")] = None,
) -> None:
    """Draw where a nation's radars see targets at several altitudes."""
    net = load_network(network) if network else load_default_network()
    radars = [r for r in net.radar if r.nation == nation]
    if not radars:
        known = sorted({r.nation for r in net.radar})
        raise typer.BadParameter(
            f"no radars of {nation!r}; nations with radars: {known}", param_hint="--nation"
        )
    try:
        alts = [float(a) for a in altitudes_km.split(",") if a.strip()]
    except ValueError as exc:
        raise typer.BadParameter(
            f"{altitudes_km!r} is not a list of numbers", param_hint="--altitudes-km"
        ) from exc
    draw_coverage(radars, alts, png, title=f"{nation} radar coverage")
    console.print(f"coverage of {len(radars)} {nation} radars at {alts} km written to {png}")


@sensors_app.command("timeline")
def sensors_timeline(
    event_id: Annotated[str, typer.Argument(help="library event id")],
    seed: Annotated[int, typer.Option(help="seed of every random draw")] = 2017,
    network: Annotated[Path | None, typer.Option(help="network TOML")] = None,
    json_flag: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """For each sensor and object: when it came into view and was first and last detected."""
    net = load_network(network) if network else load_default_network()
    flight = fly_event(load_library().get(event_id))
    suite = SensorSuite(
        flight.trajectory, list(net.radar), list(net.infrared), np.random.default_rng(seed)
    )
    rows = suite.run()
    if json_flag:
        sys.stdout.write(json.dumps([dataclasses.asdict(r) for r in rows]) + "\n")
        return
    console.print(BANNER)
    table = Table(title=f"Who saw {event_id}, seconds after launch")
    for col in (
        "nation",
        "sensor",
        "kind",
        "object",
        "in view",
        "first detected",
        "last detected",
        "reports",
    ):
        table.add_column(col)
    rows.sort(key=lambda r: (r.first_detected_s is None, r.first_detected_s or 0.0))
    for r in rows:
        table.add_row(
            r.nation,
            r.sensor_id,
            r.sensor_kind,
            r.object,
            _t(r.first_visible_s),
            _t(r.first_detected_s),
            _t(r.last_detected_s),
            str(r.detections),
        )
    console.print(table)


def _t(x: float | None) -> str:
    return "-" if x is None else f"T+{x:.0f}"


@audit_app.command("verify")
def audit_verify(
    directory: Annotated[Path, typer.Argument(help="directory holding <NATION>.jsonl logs")],
    keys: Annotated[
        Path | None, typer.Option(help="keys directory (default: <data-dir>/keys above DIR)")
    ] = None,
) -> None:
    """Verify the hash chains and signatures of every audit log in DIRECTORY."""
    key_dir = keys or _find_keys(directory)
    reports = verify_dir(directory, KeyStore(key_dir).public_keys())
    if not reports:
        raise typer.BadParameter(f"no *.jsonl audit logs in {directory}")
    for r in reports:
        if r.ok:
            console.print(f"[green]OK[/]    {r.file} ({r.records} records)", soft_wrap=True)
        else:
            console.print(f"[red]FAIL[/]  {escape(str(r.error))}", soft_wrap=True)
    if not all(r.ok for r in reports):
        raise typer.Exit(code=1)


def _find_keys(directory: Path) -> Path:
    for parent in [directory, *directory.resolve().parents]:
        if (parent / "keys").is_dir():
            return parent / "keys"
    raise typer.BadParameter(
        f"no keys/ directory found above {directory}; give one with --keys", param_hint="--keys"
    )


@bench_app.command("tracking")
def bench_tracking(
    targets: Annotated[int, typer.Option(min=1, help="ballistic targets in the scenario")] = 200,
    scans: Annotated[int, typer.Option(min=1, help="1 s radar scans")] = 20,
    seed: Annotated[int, typer.Option(help="seed of the scenario")] = 1,
    json_flag: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """trilink's national tracker against Stone Soup's EKF+GNN on one seeded scenario."""
    # Imported here: only this command needs the benchmark (and, inside run, Stone Soup).
    from trilink.bench.tracking import results_table, run

    result = run(targets, scans, seed=seed)
    if json_flag:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    console.print(BANNER)
    console.print(results_table([result]))


@bench_app.command("sharing")
def bench_sharing(
    transport: Annotated[str, typer.Option(help="embedded or jetstream")] = "embedded",
    rate: Annotated[float, typer.Option(min=1, help="paced messages per second")] = 5000.0,
    seconds: Annotated[float, typer.Option(min=0.1, help="seconds of paced traffic")] = 5.0,
    count: Annotated[int, typer.Option(min=100, help="messages of the throughput run")] = 20_000,
    json_flag: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Node to node: signed msgs/s, publish → verified-receipt latency, losses, and raw
    nats-py on the same cluster (a 3-server JetStream cluster is started on loopback)."""
    from trilink.bench.sharing import run_sharing, sharing_table

    if transport not in ("embedded", "jetstream"):
        raise typer.BadParameter("use embedded or jetstream", param_hint="--transport")
    result = asyncio.run(
        run_sharing(
            "jetstream" if transport == "jetstream" else "embedded",
            rate=rate,
            seconds=seconds,
            count=count,
        )
    )
    if json_flag:
        keys = (
            "msgs_per_s",
            "p50_ms",
            "p99_ms",
            "lost",
            "raw_nats_msgs_per_s",
            "signed_msgs_per_s",
        )
        sys.stdout.write(json.dumps({k: result.to_json()[k] for k in keys}) + "\n")
        return
    console.print(BANNER)
    console.print(sharing_table([result]))


# -- a deployment: nodes in separate processes on a JetStream cluster --------------------

ConfigOption = Annotated[
    Path,
    typer.Option("--config", help="deployment.toml (write one with `trilink network init DIR`)"),
]


@network_app.command("init")
def network_init(
    directory: Annotated[Path, typer.Argument(help="where to write the deployment")],
    mesh: Annotated[bool, typer.Option(help="link every pair (default: the hub)")] = False,
    force: Annotated[bool, typer.Option(help="overwrite an existing deployment")] = False,
) -> None:
    """Write a deployment (nations, links, agreements, keys) to run nodes as processes."""
    dep = init_deployment(directory, mesh=mesh, force=force)
    console.print(f"deployment written: {dep.path}")
    console.print(f"  agreements {dep.agreements_path}, keys {dep.keys_dir}")
    console.print(f"next: trilink cluster up --config {dep.path}")


@cluster_app.command("up")
def cluster_up_cmd(config: ConfigOption) -> None:
    """Start the deployment's 3-server NATS JetStream cluster (R3) on loopback, detached."""
    info = load_deployment(config).cluster_up()
    console.print(f"cluster up: {', '.join(info.client_urls)} (directory {info.directory})")
    for nation in info.nations:
        console.print(f"  trilink node --nation {nation} --config {config} [--event ID --speed 10]")


@cluster_app.command("down")
def cluster_down_cmd(config: ConfigOption) -> None:
    """Stop the deployment's cluster."""
    info = load_deployment(config).cluster_down()
    console.print(f"cluster down ({len(info.servers)} servers stopped)")


@app.command()
def node(
    nation: Annotated[str, typer.Option(help="the nation whose node this process runs")],
    config: ConfigOption,
    event: Annotated[
        str | None,
        typer.Option(help="replay this library event with this nation's sensors and tracker"),
    ] = None,
    seed: Annotated[int, typer.Option(help="seed: the same in every node of a run")] = 2017,
    speed: Annotated[float, typer.Option(help="event seconds per wall second")] = 1.0,
    start_at: Annotated[
        float | None,
        typer.Option(help="POSIX wall time at which the event's launch is (all nodes alike)"),
    ] = None,
    linger: Annotated[float, typer.Option(help="seconds to keep receiving after the event")] = 5.0,
    json_out: Annotated[Path | None, typer.Option("--json", help="write results here")] = None,
    quiet: Annotated[bool, typer.Option(help="no live timeline")] = False,
) -> None:
    """Run one nation's node on the deployment's cluster (a process per nation)."""
    dep = load_deployment(config)
    console.print(BANNER)

    def line(text: str) -> None:
        if not quiet:
            console.print(f"  {text}", highlight=False)

    with stop_on_signals():
        try:
            if event is None:
                asyncio.run(serve(dep, nation, on_line=line))
                return
            result = asyncio.run(
                _run_nation(
                    dep, nation, load_library().get(event), seed, speed, start_at, linger, line
                )
            )
        except KeyboardInterrupt:
            console.print(f"{nation} node stopped")
            return
    _print_summaries(result)
    if json_out is not None:
        json_out.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")


async def _run_nation(
    dep: Deployment,
    nation: str,
    ev: LaunchEvent,
    seed: int,
    speed: float,
    start_at: float | None,
    linger: float,
    line: Callable[[str], None],
) -> RunResult:
    transport = JetStreamTransport.from_cluster(dep.cluster(), [nation])
    try:
        return await run_event(
            ev,
            data_dir=dep.data_dir,
            seed=seed,
            network=dep.network(),
            agreements=dep.agreements(),
            topology=dep.topology,
            transport=transport,
            nations=[nation],
            audit_dir=dep.audit_dir,
            speed=speed,
            start_wall_s=start_at,
            agreements_file=dep.agreements_path,
            topology_source=lambda: load_deployment(dep.path).topology,
            linger_s=linger,
            on_timeline=lambda e: line(f"T{e.t_rel_s:+6.0f} s  {e.nation}  {e.text}"),
        )
    finally:
        await transport.close()


def _set_state(config: Path, agreement_id: str, state: AgreementState) -> None:
    agreement = load_deployment(config).set_state(agreement_id, state)
    console.print(
        f"{agreement.label} is {agreement.state.value}; the running nodes reload it within "
        "a second and audit the change"
    )


@link_app.command("suspend")
def link_suspend(
    agreement: Annotated[str, typer.Argument(help="agreement id, e.g. KOR-JPN")],
    config: ConfigOption,
) -> None:
    """Suspend an agreement (its backlog rule holds, keeps the latest or drops traffic)."""
    _set_state(config, agreement, AgreementState.SUSPENDED)


@link_app.command("resume")
def link_resume(
    agreement: Annotated[str, typer.Argument(help="agreement id, e.g. KOR-JPN")],
    config: ConfigOption,
) -> None:
    """Resume an agreement: held traffic goes out first, in order."""
    _set_state(config, agreement, AgreementState.ACTIVE)


@link_app.command("terminate")
def link_terminate(
    agreement: Annotated[str, typer.Argument(help="agreement id, e.g. KOR-JPN")],
    config: ConfigOption,
) -> None:
    """Terminate an agreement (held traffic is dropped, audited)."""
    _set_state(config, agreement, AgreementState.TERMINATED)


@link_app.command("onboard")
def link_onboard(
    nation: Annotated[str, typer.Argument(help="the new partner, ISO alpha-3 (e.g. AUS)")],
    config: ConfigOption,
    via: Annotated[str, typer.Option(help="the nation it links to and receives from")] = "JPN",
    kinds: Annotated[
        str, typer.Option(help="what it receives, comma-separated (e.g. launch,impact)")
    ] = "launch,impact,all-clear",
) -> None:
    """Onboard a partner with a narrower agreement (e.g. Australia, alerts only)."""
    try:
        wanted = [Kind(k.strip()) for k in kinds.split(",") if k.strip()]
    except ValueError as exc:
        raise typer.BadParameter(
            f"{exc}; use kinds among {', '.join(k.value for k in Kind)}", param_hint="--kinds"
        ) from exc
    dep = load_deployment(config).onboard(nation, via=via, kinds=wanted)
    console.print(
        f"{nation} onboarded via {via} ({', '.join(k.value for k in wanted)}); links "
        f"{', '.join('↔'.join(p) for p in dep.links)}"
    )
    console.print(f"start its node: trilink node --nation {nation} --config {config}")


def main() -> None:
    """Entry point: run the app, turning trilink errors into a clear message and exit 2."""
    try:
        app()
    except TrilinkError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise SystemExit(2) from exc
