"""Date-format detection: trying formats on a probe first never changes which formats fit best."""

from __future__ import annotations

import datetime as dt
from unittest.mock import patch

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

import analysis._dates as dates_module
from analysis._dates import DATE_FORMATS, PROBE_VALUES, _best, _fails

_WRITTEN = ("%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M", "%Y%m%d", "%d.%m.%Y")
_JUNK = ("", "n/a", "2011-13-45", "31/31/2011 10:00", "yesterday")


def _every_format_on_every_value(con, values_sql: str) -> tuple[int, list[str]]:
    """What _best chose before the probe: every format tried on every value."""
    n = con.execute(f"SELECT count(*) FROM ({values_sql})").fetchone()[0]
    fails = _fails(con, values_sql, DATE_FORMATS)
    fewest = min(fails)
    tied = [f for f, k in zip(DATE_FORMATS, fails, strict=True) if k == fewest]
    if fewest == n:
        return n, []
    distinct: list[str] = []
    for fmt in tied:
        same = f"try_strptime(v, '{fmt}')"
        if all(
            con.execute(
                f"SELECT count(*) FROM ({values_sql}) WHERE try_strptime(v, '{kept}') IS DISTINCT FROM {same}"
            ).fetchone()[0]
            for kept in distinct
        ):
            distinct.append(fmt)
    return n, distinct


def _values(draw_dates, formats, junk) -> list[str]:
    return sorted({d.strftime(f) for d, f in zip(draw_dates, formats, strict=False)} | set(junk))


dates = st.lists(
    st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2030, 12, 31)),
    min_size=1,
    max_size=700,
)


@settings(max_examples=60, deadline=None)
@given(
    when=dates,
    written=st.lists(st.sampled_from(_WRITTEN), min_size=1, max_size=700),
    junk=st.lists(st.sampled_from(_JUNK), max_size=4),
    probe=st.sampled_from([1, 2, 5, PROBE_VALUES]),
)
def test_the_probe_keeps_the_formats_that_fail_least(when, written, junk, probe):
    values = _values(when, written * (len(when) // len(written) + 1), junk)
    con = duckdb.connect()
    con.register("t", pa.table({"v": pa.array(values, pa.string())}))
    with patch.object(dates_module, "PROBE_VALUES", probe):
        assert _best(con, "SELECT v FROM t", DATE_FORMATS) == _every_format_on_every_value(con, "SELECT v FROM t")


def test_a_format_that_fits_the_probe_but_fewer_values_does_not_hide_a_better_one():
    values = [f"2011-01-{d:02d}" for d in range(1, 4)] + [
        f"2011{m:02d}{d:02d}" for m in range(1, 13) for d in range(1, 29)
    ]
    con = duckdb.connect()
    con.register("t", pa.table({"v": pa.array(values, pa.string())}))
    calls = []

    def counted(*args):
        calls.append(args[2])
        return _fails(*args)

    for probe in ("SELECT '2011-01-02' AS v", "SELECT '20110102' AS v"):  # either kind of value as the probe
        calls.clear()
        with patch.object(dates_module, "_fails", counted), patch.object(dates_module, "PROBE_VALUES", 1):
            with patch.object(dates_module, "_probe_sql", lambda values_sql, _p=probe: _p):
                assert _best(con, "SELECT v FROM t", DATE_FORMATS) == (len(values), ["%Y%m%d"])
        assert len(calls) == 3  # the probe, the formats that fit it, then the rest that could still win
