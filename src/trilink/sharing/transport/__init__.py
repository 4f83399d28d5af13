"""Transports move frames between linked nodes; the embedded one is the default."""

from trilink.sharing.transport.base import Transport
from trilink.sharing.transport.embedded import EmbeddedTransport

__all__ = ["EmbeddedTransport", "Transport"]
