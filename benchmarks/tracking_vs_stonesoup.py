"""trilink's national tracker against Stone Soup's EKF + GNN, side by side. SIMULATION.

A thin script over :mod:`trilink.bench.tracking` (needs ``pip install -e '.[dev]'``):

    python benchmarks/tracking_vs_stonesoup.py --targets 10 50 200 1000 --scans 20
    python benchmarks/tracking_vs_stonesoup.py --tune   # Stone Soup process-noise sweep
"""

from trilink.bench.tracking import main

if __name__ == "__main__":
    main()
