"""Time ``fit_clv`` (and ``window_forecast``) on simulated orders at growing scale, with peak memory.

Usage::

    uv run python benchmarks/clv_scale.py [--customers 16000 160000 1600000] [--cdnow PATH | --no-cdnow]
                                          [--code DIR] [--cache DIR] [--dump DIR] [--profile]

Orders come from the models themselves (seeded, so the same customers always
give the same orders): each customer's first purchase falls on a uniform day
of a two-year period; while alive they buy as a Poisson process with a weekly
rate ~ Gamma(r, alpha) and drop out after each repeat purchase with
probability ~ Beta(a, b) (Fader, Hardie & Lee 2005); each occasion's spend is
Gamma(p, nu) with nu ~ Gamma(q, gamma) (the Gamma-Gamma model); one occasion
in twenty is split into two orders on the same day. At 1.6 million customers
that gives about 5 million orders, the size of the 100-million-line run.

Every data set is run in its own child process with ``PYTHONPATH=--code`` (the
repository whose ``analysis`` package is timed; default: this one), so a
checkout of older code can be timed by the same script. The child resets the
kernel's high-water mark just before ``fit_clv`` and prints the peak resident
memory of the fit (``VmHWM``) and of the whole process (``ru_maxrss``), the
wall time of ``fit_clv`` and of its parts (the functions ``fit_clv`` calls,
timed by wrapping them), and of ``window_forecast`` over a 90-day window.
``--dump DIR`` writes each run's unrounded parameters and per-customer table
there, so two runs can be compared with ``--compare DIR_A DIR_B``.
Simulated orders are cached as Parquet under ``--cache`` (a temporary
directory by default); nothing is written into the repository.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
CDNOW = REPO.parent / "shared" / "data" / "cdnow_master.csv.gz"
START = dt.date(2020, 1, 1)
SPAN_DAYS = 730
# Weekly BG/NBD and Gamma-Gamma parameters of the simulation (about 3.1 occasions per customer).
SIM_PARAMS = {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 2.5, "p": 6.25, "q": 3.74, "gamma": 15.44}
SPLIT_SHARE = 0.05
SEGMENTS = 8
WINDOW_DAYS = 90
# What fit_clv calls, by the name it calls it under, and the part of the table it counts in.
PARTS = {
    "purchase_days": "summaries",
    "summarize": "summaries",
    "repeat_counts_between": "summaries",
    "occasions": "summaries",
    "summary_arrays": "summaries",
    "history_rows": "summaries",
    "counts_between": "summaries",
    "fit_bgnbd": "BG/NBD fits",
    "fit_gammagamma": "GG fits",
    "conditional_expected_purchases": "holdout",
    "expected_purchases_table": "holdout",
    "holdout_rows": "holdout",
    "holdout_validation": "holdout",
    "customer_value": "value",
    "_per_customer_frame": "tables",
    "_segment_rows": "tables",
    "customer_tables": "tables",
}
COLUMNS = ("summaries", "BG/NBD fits", "GG fits", "holdout", "value", "tables", "other")


def simulate_orders(customers: int, *, seed: int = 11) -> pd.DataFrame:
    """Simulate orders of ``customers`` customers from a BG/NBD + Gamma-Gamma process.

    Parameters
    ----------
    customers
        Number of customers (each has at least one order).
    seed
        Seed of the random generator; the same ``(customers, seed)`` gives the same orders.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (str), ``order_id`` (str), ``timestamp`` (datetime64) and
        ``amount`` (float, cents), sorted by customer, timestamp and order like
        ``analysis/sql/orders.sql``.
    """
    rng = np.random.default_rng([seed, customers])
    s = SIM_PARAMS
    rate = rng.gamma(s["r"], 1.0 / s["alpha"], customers)
    dropout = rng.beta(s["a"], s["b"], customers)
    nu = rng.gamma(s["q"], 1.0 / s["gamma"], customers)
    first = rng.integers(0, SPAN_DAYS, customers)
    weeks_left = (SPAN_DAYS - first) / 7.0
    ticks = rng.poisson(rate * weeks_left)
    repeats = np.minimum(ticks, rng.geometric(dropout))
    # The repeat purchases are the first `repeats` of `ticks` uniform arrival times in (0, weeks_left).
    owner = np.repeat(np.arange(customers), ticks)
    when = rng.random(owner.size) * weeks_left[owner]
    order = np.lexsort((when, owner))
    owner, when = owner[order], when[order]
    rank = np.arange(owner.size) - np.repeat(np.cumsum(ticks) - ticks, ticks)
    keep = rank < repeats[owner]
    cust = np.concatenate([np.arange(customers), owner[keep]])
    day = np.concatenate([first, first[owner[keep]] + np.floor(when[keep] * 7.0).astype(np.int64)])
    spend = rng.gamma(s["p"], 1.0 / nu[cust])
    split = rng.random(cust.size) < SPLIT_SHARE
    share = np.where(split, rng.uniform(0.2, 0.8, cust.size), 1.0)
    amount = np.concatenate([spend * share, (spend * (1.0 - share))[split]])
    cust = np.concatenate([cust, cust[split]])
    day = np.concatenate([day, day[split]])
    seconds = rng.integers(8 * 3600, 20 * 3600, cust.size)
    stamp = (np.datetime64(START, "s") + (day * 86400 + seconds).astype("timedelta64[s]")).astype("datetime64[ns]")
    ids = np.array([f"{10_000_000 + i}" for i in range(customers)], dtype=object)
    frame = pd.DataFrame({"customer_id": ids[cust], "timestamp": stamp, "amount": np.round(amount, 2)})
    frame = frame.sort_values(["customer_id", "timestamp"], kind="stable", ignore_index=True)
    frame.insert(1, "order_id", [f"O{i:08d}" for i in range(len(frame))])
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["order_id"] = frame["order_id"].astype(str)
    return frame


def _cdnow_orders(path: Path) -> pd.DataFrame:
    # As benchmarks/clv_fit.py: an order is one customer's purchases on one date.
    raw = pd.read_csv(path, dtype={"customer_id": str, "date": str})
    raw["timestamp"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    orders = raw.groupby(["customer_id", "timestamp"], as_index=False)["dollar_value"].sum()
    orders = orders.rename(columns={"dollar_value": "amount"})
    orders["order_id"] = orders.index.astype(str)
    return orders[["customer_id", "order_id", "timestamp", "amount"]]


def _instrument(module, spent: dict[str, float], captured: dict[str, list]) -> None:
    # Wrap the functions fit_clv calls, by the names it calls them under, to time them.
    for name in PARTS:
        fn = getattr(module, name, None)
        if fn is None:
            continue

        def timed(*args, _fn=fn, _name=name, **kwargs):
            start = time.perf_counter()
            out = _fn(*args, **kwargs)
            spent[_name] = spent.get(_name, 0.0) + time.perf_counter() - start
            if _name in ("fit_bgnbd", "fit_gammagamma"):
                captured.setdefault(_name, []).append([float(v) for v in out.params])
            if _name in ("_segment_rows", "customer_tables"):  # segment figures before the bundle rounds them
                rows, total = out[-2:]
                captured["segments"] = [total.model_dump(), *(row.model_dump() for row in rows)]
            return out

        setattr(module, name, timed)


def _vm(key: str) -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(key))


def _load(path: Path):
    from analysis.config import ClvConfig

    if path.suffix == ".parquet":
        return pd.read_parquet(path), ClvConfig()
    return _cdnow_orders(path), ClvConfig(calibration_end=dt.date(1997, 9, 30), time_unit="week")


def _dump(folder: Path, name: str, result, forecast, captured: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / name.split(".")[0]
    result.per_customer.to_parquet(f"{stem}.per_customer.parquet")
    forecast.to_parquet(f"{stem}.window.parquet")
    fits = {k: v for k, v in captured.items() if k != "segments"}
    Path(f"{stem}.json").write_text(json.dumps({"fits": fits, "segments": captured.get("segments", [])}))


def _child(args: argparse.Namespace) -> None:
    import analysis.clv._fit as fit_module
    from analysis.clv import fit_clv, window_forecast

    orders, config = _load(args.orders)
    ids = np.sort(orders["customer_id"].unique())
    segment_of = pd.Series(np.arange(ids.size) * 7919 % SEGMENTS, index=ids)
    names = {i: f"Segment {i}" for i in range(SEGMENTS)}
    spent: dict[str, float] = {}
    captured: dict[str, list] = {}
    _instrument(fit_module, spent, captured)
    rss_before = _vm("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset VmHWM: the next peak is the fit's own
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile(time.process_time)  # CPU time: robust on a busy machine
        profiler.enable()
    start, cpu = time.perf_counter(), time.process_time()
    end = orders["timestamp"].max().date()
    result = fit_clv(orders, config=config, segment_of=segment_of, segment_ids=sorted(names), observation_end=end)
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    fit_peak = _vm("VmHWM")
    start = time.perf_counter()
    window = WINDOW_DAYS / result.section.time_unit_days
    forecast = window_forecast(result.per_customer, params=result.section.forecast_params, window=window)
    window = time.perf_counter() - start
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    if args.dump is not None:
        _dump(args.dump, args.orders.name, result, forecast, captured)
    parts = {c: 0.0 for c in COLUMNS}
    for name, seconds in spent.items():
        parts[PARTS[name]] += seconds
    parts["other"] = total - sum(parts.values())
    report = {
        "customers": int(result.section.customers),
        "orders": len(orders),
        "fit_clv": total,
        "fit_clv_cpu": cpu,
        "parts": parts,
        "window_forecast": window,
        "rss_before_mib": rss_before / 1024,
        "fit_peak_mib": fit_peak / 1024,
        "process_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print("RESULT " + json.dumps(report))


def _run_child(orders: Path, code: Path, dump: Path | None, profile: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", str(orders)]
    if dump is not None:
        cmd += ["--dump", str(dump)]
    if profile:
        cmd.append("--profile")
    env = os.environ | {"PYTHONPATH": str(code)}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child failed on {orders}:\n{done.stderr}")
    if profile:
        print(done.stderr)
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def _print_row(label: str, res: dict) -> None:
    parts = "".join(f"{res['parts'][c]:>12.2f}" for c in COLUMNS)
    print(
        f"{label:<14}{res['customers']:>10,}{res['orders']:>11,}{res['fit_clv']:>9.2f}{res['fit_clv_cpu']:>9.2f}{parts}"
        f"{res['window_forecast']:>9.2f}{res['rss_before_mib']:>9.0f}{res['fit_peak_mib']:>9.0f}"
        f"{res['process_peak_mib']:>9.0f}"
    )


def _compare(a: Path, b: Path) -> None:
    # Largest relative difference of every fitted parameter, per-customer column and segment figure.
    def rel(x, y):
        x, y = np.asarray(x, float), np.asarray(y, float)
        both = np.isfinite(x) & np.isfinite(y)
        if not np.array_equal(np.isfinite(x), np.isfinite(y)):
            return float("inf")
        scale = np.maximum(np.abs(x[both]), np.abs(y[both]))
        diff = np.abs(x[both] - y[both])
        return float(np.max(np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), 0.0), initial=0.0))

    for left in sorted(a.glob("*.json")):
        stem = left.name.removesuffix(".json")
        right = b / left.name
        if not right.exists():
            continue
        ja, jb = json.loads(left.read_text()), json.loads(right.read_text())
        print(f"== {stem}")
        for fit in ja["fits"]:
            for i, (pa, pb) in enumerate(zip(ja["fits"][fit], jb["fits"][fit], strict=True)):
                print(f"  {fit}[{i}] max rel diff {rel(pa, pb):.3e}   {pa}")
        for kind in ("per_customer", "window"):
            fa, fb = pd.read_parquet(a / f"{stem}.{kind}.parquet"), pd.read_parquet(b / f"{stem}.{kind}.parquet")
            assert fa["customer_id"].tolist() == fb["customer_id"].tolist()
            worst = {c: rel(fa[c], fb[c]) for c in fa.columns if c not in ("customer_id", "segment")}
            print(f"  {kind}: " + ", ".join(f"{c} {v:.1e}" for c, v in worst.items()))
        keys = [k for k, v in ja["segments"][0].items() if isinstance(v, float)]
        worst = {k: rel([s[k] for s in ja["segments"]], [s[k] for s in jb["segments"]]) for k in keys}
        print("  segment rows: " + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="*", default=[16_000, 160_000, 1_600_000])
    parser.add_argument("--cdnow", type=Path, default=CDNOW)
    parser.add_argument("--no-cdnow", action="store_true")
    parser.add_argument("--code", type=Path, default=REPO, help="repository whose analysis package is timed")
    parser.add_argument("--cache", type=Path, default=None, help="where simulated orders are kept")
    parser.add_argument("--dump", type=Path, default=None, help="write parameters and per-customer tables here")
    parser.add_argument("--compare", type=Path, nargs=2, default=None, metavar=("DIR_A", "DIR_B"))
    parser.add_argument("--profile", action="store_true", help="print a cProfile of each fit_clv")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.compare is not None:
        _compare(*args.compare)
        return
    if args.child is not None:
        args.orders = args.child
        _child(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or Path(tmp)
        cache.mkdir(parents=True, exist_ok=True)
        print(f"code: {args.code}   {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; seconds, MiB")
        print("fit_clv: wall and CPU time; parts: wall; RSS in: before the fit; fit RSS: peak during it")
        head = "".join(f"{c:>12}" for c in COLUMNS)
        print(
            f"{'data':<14}{'customers':>10}{'orders':>11}{'fit_clv':>9}{'cpu':>9}{head}{'window':>9}"
            f"{'RSS in':>9}{'fit RSS':>9}{'proc RSS':>9}"
        )
        jobs = []
        if not args.no_cdnow and args.cdnow.is_file():
            jobs.append(("CDNOW master", args.cdnow))
        for n in args.customers:
            path = cache / f"sim{n}.parquet"
            if not path.exists():
                simulate_orders(n).to_parquet(path, index=False)
            jobs.append((f"sim {n:,}", path))
        for label, path in jobs:
            _print_row(label, _run_child(path, args.code, args.dump, args.profile))


if __name__ == "__main__":
    main()
