"""Sensors: what each nation's radars report, from geometry and the radar equation."""

from trilink.sensors.radar import Radar

__all__ = ["Radar"]
