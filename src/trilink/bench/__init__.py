"""Side-by-side benchmarks of trilink against peer implementations. SIMULATION.

These need the dev dependencies (``pip install -e '.[dev]'``): the peer trackers are not
runtime dependencies of trilink. Each peer is imported only when a benchmark runs, so
importing this package is cheap; a missing peer raises :class:`trilink.errors.TrilinkError`
saying what to install.

* :mod:`trilink.bench.scenario`: a seeded many-target ballistic scenario (one radar);
* :mod:`trilink.bench.tracking`: trilink's national tracker against Stone Soup's EKF + GNN
  on that scenario (``trilink bench tracking``);
* :mod:`trilink.bench.ballistic`: the tracker's ballistic EKF against the posterior
  Cramér–Rao bound on a ballistic coast from the trajectory engine.
"""

from trilink.bench.scenario import Scenario, make_scenario
from trilink.bench.tracking import TrackingResult, run

__all__ = ["Scenario", "TrackingResult", "make_scenario", "run"]
