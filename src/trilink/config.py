"""Settings and the network file (nations, links, radars).

The network file is TOML; the shipped default (``trilink/data/network.toml``) is the hub
as deployed in December 2023 with one radar per nation. Every problem is reported as a
:class:`~trilink.errors.ConfigError` naming the file, the field and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Final

import msgspec

from trilink._tomlfile import config_error, parse_toml, read_config_text
from trilink.errors import ConfigError
from trilink.sensors.infrared import InfraredSatellite
from trilink.sensors.radar import Radar

__all__ = [
    "SETTINGS",
    "NetworkConfig",
    "Setting",
    "load_default_network",
    "load_network",
    "parse_network",
]

NETWORK_FORMAT: Final = 1


@dataclass(frozen=True, slots=True)
class Setting:
    """One documented setting: name, default and help (the CLI and docs read this table)."""

    name: str
    default: object
    help: str


SETTINGS: Final[tuple[Setting, ...]] = (
    Setting("data_dir", "trilink-data", "where keys (keys/) and audit logs (audit/) are written"),
    Setting("seed", 2017, "seed of every random draw of a run (same seed, same run)"),
    Setting("network", "(shipped default)", "network TOML: nations, links, radars"),
    Setting("agreements", "(shipped default)", "agreements TOML: who releases what to whom"),
    Setting("event", "2017-08-28-hwasong-12-1", "historical launch to run (trilink events list)"),
)


class NetworkConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The network: nations, the links between their nodes, and their radars."""

    format: int
    nations: list[str]
    links: list[tuple[str, str]]
    radar: list[Radar] = msgspec.field(default_factory=list)
    infrared: list[InfraredSatellite] = msgspec.field(default_factory=list)
    registration_reference: str | None = None
    """The nation whose sensors every node's picture takes as unbiased: the frame all
    partners' registration biases are estimated against (None: each node its own)."""

    def with_ships(self, positions: dict[str, tuple[float, float]]) -> NetworkConfig:
        """The network with ships moved for a scenario (``{radar id: (lat, lon)}``)."""
        ships = {r.id: r for r in self.radar if r.platform == "ship"}
        for ship_id in positions:
            if ship_id not in ships:
                raise ConfigError(
                    f"no ship radar {ship_id!r} in the network",
                    field="radar",
                    fix=f"use one of the ship radars: {sorted(ships)}",
                )
        moved = [r.moved(*positions[r.id]) if r.id in positions else r for r in self.radar]
        return msgspec.structs.replace(self, radar=moved)


_TOP_FIELDS: Final = tuple(f.encode_name for f in msgspec.structs.fields(NetworkConfig))
_RADAR_FIELDS: Final = tuple(f.encode_name for f in msgspec.structs.fields(Radar))
_IR_FIELDS: Final = tuple(f.encode_name for f in msgspec.structs.fields(InfraredSatellite))
_WRITE: Final = {
    "format": f"`format = {NETWORK_FORMAT}` at the top of the file",
    "nations": 'the ISO alpha-3 codes of the nodes, e.g. `nations = ["JPN", "KOR", "USA"]`',
    "links": 'pairs of linked nations, e.g. `links = [["KOR", "USA"], ["USA", "JPN"]]`',
    "registration_reference": 'a nation of the network, e.g. `registration_reference = "USA"`',
}


def _known_fields(path: str) -> tuple[str, ...]:
    if path.startswith("radar"):
        return _RADAR_FIELDS
    if path.startswith("infrared"):
        return _IR_FIELDS
    return _TOP_FIELDS


def parse_network(text: str, *, source: str) -> NetworkConfig:
    """Parse a network TOML; ``source`` names the file in errors."""
    raw = parse_toml(text, source=source)
    try:
        net = msgspec.convert(raw, NetworkConfig)
    except msgspec.ValidationError as exc:
        raise config_error(
            exc,
            source=source,
            known_fields=_known_fields,
            how_to_write=_WRITE,
            default_fix="see the commented default network file, trilink/data/network.toml",
        ) from exc
    if net.format != NETWORK_FORMAT:
        raise ConfigError(
            f"format {net.format} is not supported",
            file=source,
            field="format",
            fix=f"write {_WRITE['format']}",
        )
    ref = net.registration_reference
    if ref is not None and ref not in net.nations:
        raise ConfigError(
            f"registration_reference {ref!r} is not a nation of the network",
            file=source,
            field="registration_reference",
            fix=f"use one of {net.nations}, or leave it out (each node its own frame)",
        )
    sensors: list[tuple[str, Radar | InfraredSatellite]] = [
        *(("radar", r) for r in net.radar),
        *(("infrared", s) for s in net.infrared),
    ]
    seen: set[str] = set()
    for table in ("radar", "infrared"):
        for i, sensor in enumerate(x for t, x in sensors if t == table):
            if sensor.nation not in net.nations:
                raise ConfigError(
                    f"{table} {sensor.id!r} belongs to {sensor.nation}, not a nation of the "
                    "network",
                    file=source,
                    field=f"{table}[{i}].nation",
                    fix=f"use one of {net.nations} or add {sensor.nation} to `nations`",
                )
            if sensor.id in seen:
                raise ConfigError(
                    f"sensor id {sensor.id!r} is used twice",
                    file=source,
                    field=f"{table}[{i}].id",
                    fix="give every sensor its own id",
                )
            seen.add(sensor.id)
    return net


def load_network(path: Path) -> NetworkConfig:
    """Read and check a network file."""
    text = read_config_text(
        path,
        what="network file",
        fix_missing="give the path of an existing network TOML file (start from the shipped "
        "trilink/data/network.toml)",
    )
    return parse_network(text, source=str(path))


def load_default_network() -> NetworkConfig:
    text = files("trilink").joinpath("data", "network.toml").read_text("utf-8")
    return parse_network(text, source="trilink/data/network.toml")
