"""The trilink command line: thin composition of the stages. SIMULATION ONLY."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from trilink.alerting.summary import Summary
from trilink.config import load_default_network, load_network
from trilink.errors import TrilinkError
from trilink.sharing.agreements import load_agreements, load_default_agreements
from trilink.sharing.audit import verify_dir
from trilink.sharing.crypto import KeyStore
from trilink.simulation import RunResult, TimelineEvent, run_event
from trilink.world.library import DEFAULT_EVENT_ID, load_library

__all__ = ["app", "main"]

BANNER = "[bold yellow]SIMULATION[/] — trilink replays a simulated launch; nothing here is real."

app = typer.Typer(
    help="trilink: multinational missile-warning data sharing, simulated end to end.",
    no_args_is_help=True,
    add_completion=False,
)
events_app = typer.Typer(help="Browse the historical launch library (CNS / nk-missile-tests).")
audit_app = typer.Typer(help="Check audit logs.")
app.add_typer(events_app, name="events")
app.add_typer(audit_app, name="audit")

console = Console(width=None if sys.stdout.isatty() else 132)
err = Console(stderr=True)


@app.command()
def demo(
    event: Annotated[str, typer.Option(help="library event id (trilink events list)")] = (
        DEFAULT_EVENT_ID
    ),
    json_out: Annotated[
        Path | None, typer.Option("--json", help="write the results as JSON to this file")
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of every random draw")] = 2017,
    data_dir: Annotated[Path, typer.Option(help="keys/ and audit/ are written here")] = Path(
        "trilink-data"
    ),
    network: Annotated[
        Path | None, typer.Option(help="network TOML (default: the shipped hub)")
    ] = None,
    agreements: Annotated[
        Path | None, typer.Option(help="agreements TOML (default: the shipped 2023 hub)")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="no live timeline")] = False,
) -> None:
    """Run one launch through world → sensors → tracking → sharing → fusion → warnings."""
    lib = load_library()
    ev = lib.get(event)
    net = load_network(network) if network else load_default_network()
    agr = load_agreements(agreements) if agreements else load_default_agreements()
    console.print(BANNER)
    console.print(
        f"Event [bold]{ev.id}[/]: {ev.missile.name} from {ev.site.name}, "
        f"{ev.date} {ev.time_utc or '(time unknown)'} UTC; nodes {', '.join(net.nations)}, "
        f"links {', '.join('↔'.join(link) for link in net.links)}"
    )

    def show(e: TimelineEvent) -> None:
        if not quiet:
            console.print(f"  T{e.t_rel_s:+6.0f} s  [cyan]{e.nation}[/]  {e.text}")

    with console.status("solving the trajectory and running the network…"):
        result = asyncio.run(
            run_event(
                ev, data_dir=data_dir, seed=seed, network=net, agreements=agr, on_timeline=show
            )
        )
    _print_summaries(result)
    if json_out is not None:
        json_out.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
        console.print(f"results written to {json_out}")


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


def main() -> None:
    """Entry point: run the app, turning trilink errors into a clear message and exit 2."""
    try:
        app()
    except TrilinkError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise SystemExit(2) from exc
