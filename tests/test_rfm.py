"""Tests for analysis.rfm: rank quintiles, the rules table, and the bundle summary.

Expected scores in the known-value tests are worked out by hand in the comments,
from the ranking rule documented in analysis/rfm.py (sort worst to best on the
documented key; position i of n gets score i * 5 // n + 1).
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.config import RfmConfig
from analysis.errors import ConfigError, DataError, EmptyDataError
from analysis.rfm import load_rfm_rules, rfm_mix, score_rfm, summarize_rfm

CONFIG = RfmConfig()
CELLS = [(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)]


def _frame(rows: list[tuple[str, float, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "recency", "frequency", "monetary"])


# Ten customers with ties on every column; a and i are identical on all three values.
TINY = _frame(
    [
        ("a", 10.0, 1, 100.0),
        ("b", 10.0, 1, 50.0),
        ("c", 200.0, 1, 50.0),
        ("d", 5.0, 3, 300.0),
        ("e", 30.0, 2, 80.0),
        ("f", 60.0, 1, 20.0),
        ("g", 1.0, 5, 900.0),
        ("h", 90.0, 2, 80.0),
        ("i", 10.0, 1, 100.0),
        ("j", 120.0, 4, 400.0),
    ]
)
# R: recency descending, ties by frequency, monetary, id:
#    c200 j120 h90 f60 e30 | b(10,1,50) a(10,1,100) i(10,1,100) | d5 g1
#    -> c1 j1 h2 f2 e3 b3 a4 i4 d5 g5
# F: frequency, ties by monetary, recency descending, id:
#    f(1,20) c(1,50,r200) b(1,50,r10) a(1,100) i(1,100) | h(2,80,r90) e(2,80,r30) | d | j | g
#    -> f1 c1 b2 a2 i3 h3 e4 d4 j5 g5
# M: monetary, ties by frequency, recency descending, id:
#    f20 | c50(r200) b50(r10) | h80(r90) e80(r30) | a100 i100 | d300 j400 g900
#    -> f1 c1 b2 h2 e3 a3 i4 d4 j5 g5
TINY_SCORES = {
    "a": (4, 2, 3),
    "b": (3, 2, 2),
    "c": (1, 1, 1),
    "d": (5, 4, 4),
    "e": (3, 4, 3),
    "f": (2, 1, 1),
    "g": (5, 5, 5),
    "h": (2, 3, 2),
    "i": (4, 3, 4),
    "j": (1, 5, 5),
}
# FM = floor((F + M) / 2); names read off the grid in analysis/data/rfm_segments.toml.
TINY_SEGMENTS = {
    "a": "Potential Loyalist",  # R4, FM 2
    "b": "About to Sleep",  # R3, FM 2
    "c": "Lost",  # R1, FM 1
    "d": "Champions",  # R5, FM 4
    "e": "Need Attention",  # R3, FM 3
    "f": "Hibernating",  # R2, FM 1
    "g": "Champions",  # R5, FM 5
    "h": "Hibernating",  # R2, FM 2
    "i": "Potential Loyalist",  # R4, FM 3
    "j": "Can't Lose Them",  # R1, FM 5
}


# --------------------------------------------------------------------------- rules table


def test_every_cell_maps_to_exactly_one_table_segment_and_every_rule_is_reachable():
    rules = load_rfm_rules()
    table_names = [rule.name for rule in rules.segment]
    assigned = {cell: rules.segment_for(*cell) for cell in CELLS}
    assert all(isinstance(name, str) and name in table_names for name in assigned.values())
    # The fallback exists but is proven unnecessary: no cell reaches it.
    assert rules.fallback.name not in set(assigned.values())
    assert set(assigned.values()) == set(table_names)
    # First match wins: each cell's name is the earliest rule whose conditions hold.
    for cell, name in assigned.items():
        matching = [rule.name for rule in rules.segment if rule.matches(*cell)]
        assert matching and matching[0] == name


def test_packaged_table_lists_the_eleven_classic_names_in_order():
    rules = load_rfm_rules()
    assert [rule.name for rule in rules.segment] == [
        "Champions",
        "Loyal",
        "Potential Loyalist",
        "New Customers",
        "Promising",
        "Need Attention",
        "About to Sleep",
        "Can't Lose Them",
        "At Risk",
        "Hibernating",
        "Lost",
    ]


def test_fallback_names_cells_no_rule_covers(tmp_path: Path):
    path = tmp_path / "rules.toml"
    path.write_text(
        '[[segment]]\nname = "Best"\ndescription = "Top."\nr = [5, 5]\nf = [5, 5]\n'
        '[fallback]\nname = "Rest"\ndescription = "Everyone else."\n',
        encoding="utf-8",
    )
    rules = load_rfm_rules(path)
    assert rules.segment_for(5, 5, 1) == "Best"
    assert rules.segment_for(4, 5, 5) == "Rest"
    assert rules.rule_text("Rest") == "no rule above matches"
    scored = score_rfm(TINY, config=CONFIG, rules_path=path)
    # g is the only customer with R 5 and F 5 (see TINY_SCORES); d has F 4.
    assert scored.set_index("customer_id")["rfm_segment"].to_dict() == {
        cid: ("Best" if cid == "g" else "Rest") for cid in TINY["customer_id"]
    }
    section = summarize_rfm(scored, TINY, np.ones(10, dtype=int), rules_path=path)
    assert [s.name for s in section.segments] == ["Best", "Rest"]
    assert [s.size for s in section.segments] == [1, 9]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad_rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


_GOOD_FALLBACK = '[fallback]\nname = "Other"\ndescription = "None."\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            '[[segment]]\nname = "A"\ndescription = "x"\nrecency = [1, 5]\n' + _GOOD_FALLBACK,
            ["'segment[0].recency'", "'A'", "Extra inputs are not permitted"],
            id="unknown-key",
        ),
        pytest.param(
            '[[segment]]\nname = "A"\ndescription = "x"\nr = [0, 3]\n' + _GOOD_FALLBACK,
            ["'segment[0].r'", "1 <= lo <= hi <= 5", "Got [0, 3]"],
            id="range-below-one",
        ),
        pytest.param(
            '[[segment]]\nname = "A"\ndescription = "x"\nfm = [4, 2]\n' + _GOOD_FALLBACK,
            ["'segment[0].fm'", "1 <= lo <= hi <= 5", "Got [4, 2]"],
            id="range-reversed",
        ),
        pytest.param(
            '[[segment]]\nname = "A"\ndescription = "x"\nr = [1, 2, 3]\n' + _GOOD_FALLBACK,
            ["'segment[0].r'"],
            id="range-three-items",
        ),
        pytest.param(
            '[[segment]]\nname = "A"\ndescription = "x"\n[[segment]]\nname = "A"\ndescription = "y"\n' + _GOOD_FALLBACK,
            ["'segment'", "repeated: ['A']"],
            id="duplicate-name",
        ),
        pytest.param(
            '[[segment]]\nname = "A"\ndescription = "x"\n',
            ["'fallback'", "Field required"],
            id="no-fallback",
        ),
        pytest.param("[[segment]\n", ["not valid TOML"], id="not-toml"),
    ],
)
def test_invalid_rules_table_names_file_and_key(tmp_path: Path, text: str, expected: list[str]):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_rfm_rules(path)
    message = str(info.value)
    assert message.startswith(str(path))
    for part in expected:
        assert part in message


def test_missing_rules_file_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="not found"):
        load_rfm_rules(tmp_path / "absent.toml")


def test_rule_text_flags_rules_shadowed_by_earlier_ones():
    rules = load_rfm_rules()
    assert rules.rule_text("Champions") == "R 4–5 and FM 4–5"
    # "Can't Lose Them" (R 1, FM 4-5) is listed first and takes part of At Risk's range.
    assert rules.rule_text("At Risk") == "R 1–2 and FM 3–5, unless an earlier rule matched"


# --------------------------------------------------------------------------- scoring


def test_hand_computed_quintiles_with_ties():
    scored = score_rfm(TINY, config=CONFIG)
    got = {row.customer_id: (row.r_score, row.f_score, row.m_score) for row in scored.itertuples(index=False)}
    assert got == TINY_SCORES
    assert scored.set_index("customer_id")["rfm_segment"].to_dict() == TINY_SEGMENTS
    cells = scored.set_index("customer_id")["rfm_cell"].to_dict()
    assert cells == {cid: "".join(map(str, s)) for cid, s in TINY_SCORES.items()}
    assert list(scored.columns) == [
        "customer_id",
        "r_score",
        "f_score",
        "m_score",
        "rfm_cell",
        "rfm_segment",
    ]
    assert list(scored["customer_id"]) == list(TINY["customer_id"])  # input order kept


def test_recency_is_reversed_and_uneven_counts_split_by_position():
    # Seven customers, recency 1..7 days: sorted oldest first (7, 6, ..., 1), position i
    # gets i * 5 // 7 + 1 = 1, 1, 2, 3, 3, 4, 5.
    frame = _frame([(f"c{d}", float(d), 1, 10.0) for d in range(1, 8)])
    scored = score_rfm(frame, config=CONFIG)
    r = scored.set_index("customer_id")["r_score"].to_dict()
    assert r == {"c7": 1, "c6": 1, "c5": 2, "c4": 3, "c3": 3, "c2": 4, "c1": 5}


def test_scored_segment_is_the_table_verdict_for_its_cell():
    rules = load_rfm_rules()
    rng = np.random.default_rng(7)
    n = 400
    frame = pd.DataFrame(
        {
            "customer_id": [f"id{k:04d}" for k in range(n)],
            "recency": rng.integers(0, 400, n).astype(float),
            "frequency": rng.geometric(0.4, n),
            "monetary": rng.gamma(1.5, 200.0, n).round(2),
        }
    )
    scored = score_rfm(frame, config=CONFIG)
    for row in scored.itertuples(index=False):
        assert row.rfm_segment == rules.segment_for(row.r_score, row.f_score, row.m_score)


_customers = st.lists(
    st.tuples(
        st.integers(0, 30).map(float),  # few distinct values: many ties
        st.integers(1, 4),  # "frequency": mostly tied, like real data
        st.sampled_from([5.0, 12.5, 40.0, 99.99]),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_customers, seed=st.integers(0, 2**32 - 1))
def test_scores_ignore_row_order(rows: list[tuple[float, int, float]], seed: int):
    frame = _frame([(f"cust-{k}", *row) for k, row in enumerate(rows)])
    perm = np.random.default_rng(seed).permutation(len(frame))
    shuffled = frame.iloc[perm].reset_index(drop=True)
    a = score_rfm(frame, config=CONFIG).set_index("customer_id").sort_index()
    b = score_rfm(shuffled, config=CONFIG).set_index("customer_id").sort_index()
    pd.testing.assert_frame_equal(a, b)
    n = len(frame)
    assert len(a) == n and a.index.is_unique
    for col in ("r_score", "f_score", "m_score"):
        assert a[col].between(1, 5).all()
        # Rank cut: every score holds floor(n/5) or ceil(n/5) customers (a score may be
        # empty only when n < 5).
        sizes = a[col].value_counts().reindex(range(1, 6), fill_value=0)
        assert sizes.sum() == n
        assert sizes.min() >= n // 5 and sizes.max() <= -(-n // 5)


@pytest.mark.parametrize(
    ("change", "match", "error"),
    [
        pytest.param(lambda d: d.drop(columns="monetary"), "monetary", DataError, id="no-column"),
        pytest.param(lambda d: d.assign(recency=[np.nan] + [1.0] * 9), "'recency'", DataError, id="nan"),
        pytest.param(lambda d: d.assign(customer_id=["a"] * 10), "unique", DataError, id="dup-id"),
        pytest.param(lambda d: d.iloc[:0], "no rows", EmptyDataError, id="empty"),
    ],
)
def test_bad_customers_table_is_refused(change, match, error):
    with pytest.raises(error, match=match):
        score_rfm(change(TINY), config=CONFIG)


# --------------------------------------------------------------------------- summaries


LABELS = np.array([1, 1, 2, 2, 3, 3, 1, 2, 3, 1])  # aligned with TINY's rows


def test_summary_sizes_shares_and_crosstab_add_up():
    scored = score_rfm(TINY, config=CONFIG)
    section = summarize_rfm(scored, TINY, LABELS)
    rules = load_rfm_rules()
    assert [s.name for s in section.segments] == [r.name for r in rules.segment]
    sizes = {s.name: s.size for s in section.segments}
    assert sizes == {name: Counter(TINY_SEGMENTS.values()).get(name, 0) for name in sizes}
    assert sum(sizes.values()) == len(TINY)
    assert math.isclose(sum(s.share_customers for s in section.segments), 1.0)
    assert math.isclose(sum(s.share_revenue for s in section.segments), 1.0)
    champions = section.segments[0]
    # Champions are d (300.0, recency 5, 3 orders) and g (900.0, recency 1, 5 orders).
    assert champions.revenue == 1200.0
    assert champions.share_revenue == 1200.0 / TINY["monetary"].sum()
    assert (champions.mean_recency, champions.mean_frequency, champions.mean_monetary) == (
        3.0,
        4.0,
        600.0,
    )
    empty = next(s for s in section.segments if s.size == 0)
    assert empty.mean_recency is None and empty.revenue == 0.0

    assert list(section.crosstab) == [r.name for r in rules.segment]
    assert all(list(row) == ["1", "2", "3"] for row in section.crosstab.values())
    assert sum(sum(row.values()) for row in section.crosstab.values()) == len(TINY)
    # d (cluster 2) and g (cluster 1) are the Champions.
    assert section.crosstab["Champions"] == {"1": 1, "2": 1, "3": 0}
    for cluster in ("1", "2", "3"):
        column = sum(row[cluster] for row in section.crosstab.values())
        assert column == int((LABELS == int(cluster)).sum())


def test_rfm_mix_matches_crosstab_and_cluster_sizes():
    scored = score_rfm(TINY, config=CONFIG)
    mix = rfm_mix(scored, LABELS)
    section = summarize_rfm(scored, TINY, LABELS)
    assert list(mix) == [1, 2, 3]
    for cluster, counts in mix.items():
        assert sum(counts.values()) == int((LABELS == cluster).sum())
        assert counts == {name: row[str(cluster)] for name, row in section.crosstab.items()}


def test_grid_counts_and_most_common_segment_with_tie_break():
    scored = score_rfm(TINY, config=CONFIG)
    section = summarize_rfm(scored, TINY, LABELS)
    assert [(c.r, c.f) for c in section.grid] == [(r, f) for r in range(1, 6) for f in range(1, 6)]
    assert sum(c.customers for c in section.grid) == len(TINY)
    cells = {(c.r, c.f): c for c in section.grid}
    # (R4, F2) holds only a: Potential Loyalist.
    assert (cells[4, 2].customers, cells[4, 2].segment) == (1, "Potential Loyalist")
    # Empty cells show the rules' most frequent verdict over M 1..5 (FM = floor((F + M) / 2)).
    # (R1, F2): FM = 1, 2, 2, 3, 3 -> Lost x3, At Risk x2 -> Lost.
    assert (cells[1, 2].customers, cells[1, 2].segment) == (0, "Lost")
    # (R1, F3): FM = 2, 2, 3, 3, 4 -> Lost x2, At Risk x2, Can't Lose Them; the tie goes
    # to At Risk, which comes before Lost in the table.
    assert (cells[1, 3].customers, cells[1, 3].segment) == (0, "At Risk")

    # A tie: two customers in (R5, F1), one New Customers (M1 -> FM1) and one Potential
    # Loyalist (M3 -> FM2); Potential Loyalist comes first in the table, so it wins.
    scored_tie = pd.DataFrame(
        {
            "customer_id": ["p", "q"],
            "r_score": [5, 5],
            "f_score": [1, 1],
            "m_score": [1, 3],
            "rfm_cell": ["511", "513"],
            "rfm_segment": ["New Customers", "Potential Loyalist"],
        }
    )
    customers = _frame([("p", 1.0, 1, 5.0), ("q", 1.0, 1, 50.0)])
    tie = summarize_rfm(scored_tie, customers, np.array([1, 2]))
    cell = next(c for c in tie.grid if (c.r, c.f) == (5, 1))
    assert (cell.customers, cell.segment) == (2, "Potential Loyalist")


def test_summary_does_not_depend_on_row_order():
    scored = score_rfm(TINY, config=CONFIG)
    first = summarize_rfm(scored, TINY, LABELS)
    perm = np.random.default_rng(3).permutation(len(TINY))
    shuffled = TINY.iloc[perm].reset_index(drop=True)
    second = summarize_rfm(score_rfm(shuffled, config=CONFIG), shuffled, LABELS[perm])
    assert first.model_dump_json() == second.model_dump_json()


def test_summary_refuses_mismatched_inputs():
    scored = score_rfm(TINY, config=CONFIG)
    with pytest.raises(DataError, match="one label per customer"):
        summarize_rfm(scored, TINY, LABELS[:5])
    with pytest.raises(DataError, match="same customers"):
        summarize_rfm(scored.iloc[:9], TINY, LABELS)
    with pytest.raises(DataError, match="absent from the rules table"):
        rfm_mix(scored.assign(rfm_segment="Mystery"), LABELS)


def test_summary_carries_each_rules_ranges_and_shadowing():
    rules = load_rfm_rules()
    customers = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(50)],
            "recency": [float(i) for i in range(50)],
            "frequency": [1 + i % 7 for i in range(50)],
            "monetary": [10.0 * (1 + i % 11) for i in range(50)],
        }
    )
    scored = score_rfm(customers, config=CONFIG)
    section = summarize_rfm(scored, customers, np.ones(50, dtype=int))
    for row in section.segments:
        if row.name == rules.fallback.name:
            assert row.rule is None
            continue
        rule = next(r for r in rules.segment if r.name == row.name)
        assert (row.rule.r, row.rule.f, row.rule.m, row.rule.fm) == (rule.r, rule.f, rule.m, rule.fm)
        assert row.shadowed == rules.rule_text(row.name).endswith("unless an earlier rule matched")


def test_the_grid_drawn_in_the_rules_file_comment_is_the_table():
    """The comment's R x FM map must say what the rules do (issue: it once read as if 'Lost' never matched)."""
    import re

    from analysis.rfm_rules import default_rules_path

    rules = load_rfm_rules()
    lines = default_rules_path().read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if "R \\ FM" in line)
    header = lines[start]
    cols = [m.start() for m in re.finditer(r"\b[1-5]\b", header[header.index("FM") :])]
    cols = [c + header.index("FM") for c in cols] + [None]
    checked = 0
    for line in lines[start + 1 : start + 6]:
        r_text = line[: cols[0]].lstrip("#").strip()
        cells = [line[a:b].strip() for a, b in zip(cols, cols[1:], strict=False)]
        assert len(cells) == 5 and all(cells), line
        for fm, cell in enumerate(cells, start=1):
            name = rules.segment_for(int(r_text), fm, fm)  # F = M = FM gives that FM
            assert name.startswith(cell.rstrip(".")), (r_text, fm, cell, name)
            checked += 1
    assert checked == 25
