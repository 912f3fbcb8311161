"""Wall time and peak memory of ``python -m analysis run`` beside the notebook recipe.

Each command runs in its own process (peak resident memory from getrusage of
the child), so the figures are independent. Usage:

    uv run python benchmarks/pipeline.py [FILE] [--repeat N]

FILE defaults to ../shared/data/online_retail_II.csv.gz (the full data set).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from _measure import measure

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(REPO.parent / "shared" / "data" / "online_retail_II.csv.gz"))
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        jobs = {
            "notebook recipe": [sys.executable, str(HERE / "notebook_recipe.py"), args.data],
            "analysis run": [sys.executable, "-m", "analysis", "run", args.data, "--out", out, "--progress", "never"],
        }
        print(f"data: {args.data} ({Path(args.data).stat().st_size / 1e6:.1f} MB), {os.cpu_count()} CPUs")
        for name, cmd in jobs.items():
            times, peaks = [], []
            for _ in range(args.repeat):
                seconds, peak, last = measure(cmd)
                times.append(seconds)
                peaks.append(peak)
            print(f"{name:<16} wall {statistics.median(times):7.1f} s   peak RSS {max(peaks):7.0f} MiB   | {last}")


if __name__ == "__main__":
    main()
