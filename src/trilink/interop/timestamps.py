"""ISO 8601 UTC timestamps with a ``Z``, from trilink's event time (POSIX seconds UTC).

Every export writes times this way: CoT's ``time``/``start``/``stale`` (xs:dateTime, UTC,
``Z``), CZML's epochs and intervals, GeoJSON properties and KML ``<when>``/``<begin>``.
Milliseconds are kept (CoT allows any number of fractional digits; TAK clients read
three), rounded once to a whole millisecond so that ``...59.9996`` never prints as
``...59.1000``.
"""

from __future__ import annotations

import datetime as dt
import math

from trilink.errors import ConfigError

__all__ = ["iso_interval", "iso_z"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def iso_z(t_s: float) -> str:
    """``t_s`` (POSIX seconds UTC) as ``YYYY-MM-DDThh:mm:ss.sssZ``."""
    if not math.isfinite(t_s):
        raise ConfigError(
            f"time {t_s} is not a finite number of seconds",
            field="t_s",
            fix="give event time as finite POSIX seconds UTC (e.g. Track.t_s)",
        )
    ms = round(t_s * 1000.0)
    when = _EPOCH + dt.timedelta(milliseconds=ms)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def iso_interval(start_s: float, stop_s: float) -> str:
    """An ISO 8601 interval ``start/stop`` (CZML ``availability`` and clock ``interval``)."""
    return f"{iso_z(start_s)}/{iso_z(stop_s)}"
