"""Where the time of one ``analysis run`` goes: wall seconds and peak memory per stage.

Runs the same stages as ``python -m analysis run FILE`` in this process, with
a progress receiver that notes the clock and the resident-set high-water mark
(``VmHWM`` of /proc/self/status) at every stage boundary, then writes the
outputs into a temporary directory. Imports are timed as their own row.

    uv run python benchmarks/stages.py /tmp/segmentation-scale/synth_10000000.parquet
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

START = time.perf_counter()


def _peak_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--config", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("SEGMENTATION_KEY", "benchmark-key-not-secret-0123456789abcdef")

    from analysis.config import load_config
    from analysis.pipeline import Progress, run_pipeline

    rows: list[tuple[str, float, float]] = [("imports", time.perf_counter() - START, _peak_mib())]

    class Clock(Progress):
        def __init__(self) -> None:
            self.name, self.since = "setup", time.perf_counter()

        def stage(self, name: str) -> None:
            now = time.perf_counter()
            rows.append((self.name, now - self.since, _peak_mib()))
            self.name, self.since = name, now

        def steps(self, name: str, total: int):
            self.stage(name)
            return lambda: None

    clock = Clock()
    with tempfile.TemporaryDirectory() as out:
        run_pipeline(args.data, config=load_config(args.config), out_dir=Path(out) / "run", progress=clock)
        clock.stage("done")
    total = time.perf_counter() - START
    print(f"{args.data.name}: {total:.2f} s in all, peak {_peak_mib():,.0f} MiB\n")
    print("| stage | seconds | share | peak MiB so far |\n|---|---|---|---|")
    for name, seconds, peak in rows:
        print(f"| {name} | {seconds:.2f} | {seconds / total:.0%} | {peak:,.0f} |")


if __name__ == "__main__":
    main()
