"""read_results: lift with CI and p-value, and every bad row counted, never silently dropped."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats import proportion as smp

from analysis.config import ExperimentsConfig
from analysis.errors import DataError, EmptyDataError
from analysis.experiments import read_results

ASSIGN = pd.DataFrame(
    {
        "customer_id": [f"c{i}" for i in range(400)],
        "pseudonym": [f"p{i}" for i in range(400)],
        "segment": [1 + (i % 2) for i in range(400)],
        "arm": ["treatment" if i % 4 < 2 else "control" for i in range(400)],
    }
)


def _results(tmp_path, extra_lines=(), id_header="customer"):
    lines = [f"{id_header},arm,converted,revenue"]
    for i, row in ASSIGN.iterrows():
        treat = row["arm"] == "treatment"
        conv = int(i % 10 < (4 if treat else 2))  # 40% vs 20%
        lines.append(f"{row['pseudonym']},{row['arm']},{conv},{conv * (30.0 + i % 7)}")
    lines.extend(extra_lines)
    path = tmp_path / "results.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_clean_file_lift_matches_statsmodels(tmp_path):
    res = read_results(_results(tmp_path), assignments=ASSIGN, config=ExperimentsConfig(), segment_ids=[1, 2])
    assert (res.rows, res.used, res.unparseable, res.unknown_customers, res.arm_mismatches) == (400, 400, 0, 0, 0)
    overall = res.primary.overall
    assert overall.treatment_value == pytest.approx(0.4) and overall.control_value == pytest.approx(0.2)
    assert overall.lift == pytest.approx(1.0)
    assert overall.difference_low < 0.2 < overall.difference_high
    expected_p = smp.test_proportions_2indep(80, 200, 40, 200, method="score", compare="diff").pvalue
    assert overall.p_value == pytest.approx(expected_p) and overall.significant
    assert [r.segment for r in res.primary.segments] == [1, 2]
    assert res.secondary.metric == "revenue"


def test_revenue_lift_uses_welch(tmp_path):
    res = read_results(_results(tmp_path), assignments=ASSIGN, config=ExperimentsConfig(metric="revenue"))
    df = pd.read_csv(tmp_path / "results.csv")
    t, c = df.loc[df.arm == "treatment", "revenue"], df.loc[df.arm == "control", "revenue"]
    welch = stats.ttest_ind(t, c, equal_var=False)
    row = res.primary.overall
    assert row.p_value == pytest.approx(welch.pvalue)
    assert row.difference == pytest.approx(t.mean() - c.mean())
    assert row.lift_low < row.lift < row.lift_high


def test_bad_rows_are_counted_under_their_first_problem(tmp_path):
    extra = [
        "p0,treatment,1,10",  # duplicate of a known customer
        "p1,control,1,10",  # duplicate too (first occurrence wins)
        "stranger,control,0,0",  # unknown
        "c5,control,1,5",  # raw id of p5 also matches; p5 itself came earlier -> duplicate
        "p999,treatment,1,1",  # unknown
        "nobody,placebo,1,1",  # unparseable arm
        "p3,control,maybe,1",  # unparseable converted
    ]
    path = _results(tmp_path, extra)
    res = read_results(path, assignments=ASSIGN, config=ExperimentsConfig(max_bad_result_share=0.05))
    assert res.rows == 407
    assert (res.unparseable, res.unknown_customers, res.duplicates) == (2, 2, 3)
    assert res.used + res.unparseable + res.unknown_customers + res.duplicates + res.arm_mismatches == res.rows
    assert [(q.row, q.column, q.value) for q in res.problems] == [(407, "arm", "placebo"), (408, "converted", "maybe")]


def test_arm_mismatches_are_counted_and_left_out(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("pseudonym,arm,converted,revenue\np0,control,1,3\np2,control,0,0\np1,treatment,1,2\n")
    res = read_results(path, assignments=ASSIGN, config=ExperimentsConfig())
    # p0 and p1 were assigned to treatment, p2 to control.
    assert (res.arm_mismatches, res.used) == (1, 2)


def test_raw_ids_match_only_through_a_customer_id_column(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("customer_id,arm,converted,revenue\nc0,treatment,1,3\np2,control,0,0\n")
    res = read_results(path, assignments=ASSIGN, config=ExperimentsConfig())
    assert (res.used, res.unknown_customers) == (1, 1)


@pytest.mark.parametrize(
    ("text", "error", "match"),
    [
        ("customer,arm,revenue\np0,control,1\n", DataError, "column 'converted'.*missing \\['converted'\\]"),
        ("arm,converted,revenue\ncontrol,1,1\n", DataError, "column 'customer'"),
        ("", EmptyDataError, "empty"),
        ("customer,arm,converted,revenue\n", EmptyDataError, "no rows"),
        (
            "customer,arm,converted,revenue\np0,control,1,-5\np1,control,1,1\n",
            DataError,
            "column 'revenue', row 2.*Got '-5'",
        ),
    ],
    ids=["missing-column", "no-id-column", "empty", "header-only", "too-many-bad-rows"],
)
def test_bad_files_raise_naming_file_column_value(tmp_path, text, error, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(error, match=match) as info:
        read_results(path, assignments=ASSIGN, config=ExperimentsConfig())
    assert "bad.csv" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_results(tmp_path / "nope.csv", assignments=ASSIGN, config=ExperimentsConfig())
