"""Geodesy and geography: WGS-84 frames and areas (land, Japan EEZ)."""

__all__: list[str] = []
