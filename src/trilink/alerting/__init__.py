"""Warnings: launch alert, impact prediction, areas at risk and summaries."""

from trilink.alerting.summary import Summary
from trilink.alerting.warnings import WarningCenter

__all__ = ["Summary", "WarningCenter"]
