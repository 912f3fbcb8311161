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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


_WRAPPER = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:])\n"
    "print('PEAK_KIB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(done.returncode)\n"
)


def _measure(cmd: list[str]) -> tuple[float, float, str]:
    """Run ``cmd`` under a fresh wrapper process; return (seconds, peak MiB, last stdout line).

    The wrapper's RUSAGE_CHILDREN peak covers only this one command.
    """
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _WRAPPER, *cmd], capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}\n{done.stderr}")
    peak_kib = next(int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("PEAK_KIB"))
    last = (done.stdout.strip().splitlines() or [""])[-1]
    return seconds, peak_kib / 1024, last


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
                seconds, peak, last = _measure(cmd)
                times.append(seconds)
                peaks.append(peak)
            print(f"{name:<16} wall {statistics.median(times):7.1f} s   peak RSS {max(peaks):7.0f} MiB   | {last}")


if __name__ == "__main__":
    main()
