"""Governed sharing: agreements, signatures, audit, nodes, topology and transports."""

from trilink.sharing.agreements import AgreementSet, Decision, decide
from trilink.sharing.node import Node
from trilink.sharing.transport.base import Transport

__all__ = ["AgreementSet", "Decision", "Node", "Transport", "decide"]
