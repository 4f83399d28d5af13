"""Fusion: each node's picture of system tracks from its own and its partners' tracks."""

from trilink.fusion.bias import BiasConfig, BiasEstimator
from trilink.fusion.picture import Picture, PictureConfig, SystemTrack
from trilink.fusion.provenance import ProvenanceRefused

__all__ = [
    "BiasConfig",
    "BiasEstimator",
    "Picture",
    "PictureConfig",
    "ProvenanceRefused",
    "SystemTrack",
]
