"""Reading configuration TOML with errors that name the file, the field and the fix.

Shared by every configuration file of trilink (network, agreements): the file is read as
UTF-8, parsed with :mod:`tomllib`, and msgspec's validation messages (``... - at
`$.agreement[0].kinds``) are turned into :class:`~trilink.errors.ConfigError` with a
readable field path and, for an unknown field, the closest known name.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import msgspec

from trilink.errors import ConfigError

__all__ = ["config_error", "parse_toml", "read_config_text"]

_AT: Final = re.compile(r"(?P<problem>.*?)(?: - at `\$(?P<path>[^`]*)`)?", re.S)
_MISSING: Final = re.compile(r"Object missing required field `(?P<name>[^`]*)`")
_UNKNOWN: Final = re.compile(r"Object contains unknown field `(?P<name>[^`]*)`")
_INDEX: Final = re.compile(r"\[\d+\]")


def read_config_text(path: Path, *, what: str, fix_missing: str) -> str:
    """The text of a configuration file; ``what`` names it in errors ("agreements file")."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} not found", file=str(path), fix=fix_missing) from exc
    except OSError as exc:
        raise ConfigError(
            f"cannot read the {what}: {exc.strerror}",
            file=str(path),
            fix="give a readable file (check its permissions, and that it is not a directory)",
        ) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not UTF-8 text (byte {exc.start})", file=str(path), fix="save the file as UTF-8"
        ) from exc


def parse_toml(text: str, *, source: str) -> dict[str, Any]:
    """Parse TOML text; ``source`` names the file in errors."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"not valid TOML: {exc}",
            file=source,
            fix="correct the TOML syntax at that line and column (strings in double quotes, "
            "one `key = value` per line)",
        ) from exc


def config_error(
    exc: msgspec.ValidationError,
    *,
    source: str,
    known_fields: Callable[[str], Sequence[str]],
    how_to_write: Mapping[str, str],
    default_fix: str,
) -> ConfigError:
    """Translate a msgspec validation error into a :class:`ConfigError`.

    ``known_fields(path)`` lists the fields valid at a path (``""`` for the top level,
    ``"agreement[0]"`` inside a table); ``how_to_write[name]`` says how to write a field.
    """
    message = str(exc)
    match = _AT.fullmatch(message)
    problem, path = (match["problem"], match["path"] or "") if match else (message, "")
    path = path.removeprefix(".")
    if missing := _MISSING.fullmatch(problem):
        name = missing["name"]
        return ConfigError(
            f"required field `{name}` is missing",
            file=source,
            field=_join(path, name),
            fix=f"add {how_to_write.get(name, f'`{name}`')}",
        )
    if unknown := _UNKNOWN.fullmatch(problem):
        name = unknown["name"]
        known = known_fields(path)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean `{close[0]}`? " if close else ""
        return ConfigError(
            f"unknown field `{name}`",
            file=source,
            field=_join(path, name),
            fix=f"{hint}The known fields are: {', '.join(known)}",
        )
    leaf = _INDEX.sub("", path.rsplit(".", 1)[-1])
    what = how_to_write.get(leaf)
    return ConfigError(
        problem[:1].lower() + problem[1:],
        file=source,
        field=path or None,
        fix=f"write {what}" if what else default_fix,
    )


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
