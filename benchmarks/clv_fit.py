"""Time the CLV model fits on CDNOW master beside `lifetimes` (and PyMC-Marketing if given).

Usage::

    uv run python benchmarks/clv_fit.py [--data PATH] [--repeat N] [--pymc-python PATH]

Prints, for the 39-week calibration period ending 1997-09-30 (weeks), the
best-of-N wall time and the parameters of: our scipy BG/NBD and Gamma-Gamma
fits, the same fits forced onto the large-data path (a coarse start, then
Newton's method; used above 20,000 distinct rows) with their largest relative
difference from the exact path, the same through `lifetimes` (dev dependency,
used as an oracle), the whole ``fit_clv`` (two calibration fits, two refits,
holdout validation and per-customer value with intervals), and, when
``--pymc-python`` points at an
interpreter with ``pymc_marketing`` installed (a throwaway venv, never this
project), PyMC-Marketing's MAP fit of the BG/NBD model.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.clv import _bgnbd, _gammagamma, fit_clv
from analysis.clv._bgnbd import fit_bgnbd
from analysis.clv._data import purchase_days, summarize
from analysis.clv._gammagamma import fit_gammagamma
from analysis.config import ClvConfig

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "cdnow_master.csv.gz"
CAL_END = dt.date(1997, 9, 30)

PYMC_SNIPPET = """
import sys, time, json, resource
import pandas as pd
from pymc_marketing.clv import BetaGeoModel
data = pd.read_csv(sys.argv[1])
model = BetaGeoModel(data=data)
start = time.perf_counter()
model.fit(method="map", progressbar=False)
elapsed = time.perf_counter() - start
post = getattr(model.fit_result, "posterior", model.fit_result)
params = {k: float(post[k].values.ravel()[0]) for k in ("r", "alpha", "a", "b")}
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": elapsed, "params": params, "max_rss_mb": rss}))
"""


def _orders(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype={"customer_id": str, "date": str})
    raw["timestamp"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    orders = raw.groupby(["customer_id", "timestamp"], as_index=False)["dollar_value"].sum()
    orders = orders.rename(columns={"dollar_value": "amount"})
    orders["order_id"] = orders.index.astype(str)
    return orders


def _best(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def _fmt(params: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in params.items())


def _large_data_path(cal: pd.DataFrame, rep: pd.DataFrame, bg, gg, repeat: int) -> None:
    # The same fits forced onto the path used above EXACT_ROWS distinct rows.
    limits = _bgnbd.EXACT_ROWS, _gammagamma.EXACT_ROWS
    _bgnbd.EXACT_ROWS = _gammagamma.EXACT_ROWS = 0
    try:
        t_nbg, nbg = _best(lambda: fit_bgnbd(cal["frequency"], cal["recency"], cal["T"]), repeat)
        t_ngg, ngg = _best(lambda: fit_gammagamma(rep["frequency"], rep["monetary_value"]), repeat)
    finally:
        _bgnbd.EXACT_ROWS, _gammagamma.EXACT_ROWS = limits
    for label, secs, fit, exact in (("BG/NBD", t_nbg, nbg, bg), ("Gamma-Gamma", t_ngg, ngg, gg)):
        diff = float(np.max(np.abs(fit.params / exact.params - 1.0)))
        print(f"{label + ' (large-data path)':32s} {secs:8.3f} s   {_fmt(fit.as_dict())}   (max rel diff {diff:.1e})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pymc-python", type=Path, default=None)
    args = parser.parse_args()

    orders = _orders(args.data)
    cal = summarize(purchase_days(orders), end=CAL_END, time_unit="week")
    rep = cal[(cal["frequency"] > 0) & (cal["monetary_value"] > 0)]
    print(f"{args.data.name}: {len(cal):,} customers, {len(rep):,} repeat buyers in calibration")
    print(f"best of {args.repeat} runs\n")

    t_bg, bg = _best(lambda: fit_bgnbd(cal["frequency"], cal["recency"], cal["T"]), args.repeat)
    t_gg, gg = _best(lambda: fit_gammagamma(rep["frequency"], rep["monetary_value"]), args.repeat)
    print(f"{'scipy BG/NBD (ours)':32s} {t_bg:8.3f} s   {_fmt(bg.as_dict())}")
    print(f"{'scipy Gamma-Gamma (ours)':32s} {t_gg:8.3f} s   {_fmt(gg.as_dict())}")
    _large_data_path(cal, rep, bg, gg, args.repeat)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from lifetimes import BetaGeoFitter, GammaGammaFitter

            t_lbg, lbg = _best(lambda: BetaGeoFitter().fit(cal["frequency"], cal["recency"], cal["T"]), args.repeat)
            t_lgg, lgg = _best(lambda: GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"]), args.repeat)
        print(f"{'lifetimes BetaGeoFitter':32s} {t_lbg:8.3f} s   {_fmt(lbg.params_.to_dict())}")
        print(f"{'lifetimes GammaGammaFitter':32s} {t_lgg:8.3f} s   {_fmt(lgg.params_.to_dict())}")
    except ImportError:
        print("lifetimes is not installed (uv sync --group dev); skipped")

    segment_of = pd.Series(1, index=sorted(orders["customer_id"].unique()))
    config = ClvConfig(calibration_end=CAL_END, time_unit="week")
    t_all, res = _best(
        lambda: fit_clv(
            orders,
            config=config,
            segment_of=segment_of,
            segment_ids=[1],
            observation_end=orders["timestamp"].max().date(),
        ),
        max(1, args.repeat // 2),
    )
    val = res.section.validation.overall
    print(
        f"{'fit_clv end to end':32s} {t_all:8.3f} s   holdout actual {val.actual:,.0f}, "
        f"predicted {val.predicted:,.0f} ({val.relative_error:+.1%}), MAE {val.mae:.3f}"
    )

    if args.pymc_python is not None:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "cal.csv"
            cal.reset_index()[["customer_id", "frequency", "recency", "T"]].to_csv(data, index=False)
            script = Path(tmp) / "pymc_fit.py"
            script.write_text(PYMC_SNIPPET)
            start = time.perf_counter()
            proc = subprocess.run(
                [str(args.pymc_python), str(script), str(data)], capture_output=True, text=True, check=False
            )
            total = time.perf_counter() - start
        if proc.returncode != 0:
            print(f"PyMC-Marketing failed: {proc.stderr.strip().splitlines()[-1:]}")
        else:
            out = json.loads(proc.stdout.strip().splitlines()[-1])
            print(
                f"{'PyMC-Marketing MAP (BG/NBD)':32s} {out['seconds']:8.3f} s   {_fmt(out['params'])}   "
                f"(process {total:.1f} s incl. import/compile, peak RSS {out['max_rss_mb']:.0f} MB)"
            )


if __name__ == "__main__":
    sys.exit(main())
