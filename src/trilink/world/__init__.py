"""The simulated world: missiles, launch sites, trajectories and the historical launch library."""

__all__: list[str] = []
