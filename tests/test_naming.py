"""Tests for analysis.naming (name_segments and the playbook)."""

from __future__ import annotations

import random
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.bundle import BoxStats, FeatureProfile
from analysis.config import FEATURES
from analysis.errors import ConfigError, DataError
from analysis.naming import DEFAULT_PLAYBOOK, load_playbook, name_segments
from analysis.profiles import SegmentProfile

PLAYBOOK = load_playbook()


def _profile(seg_id: int, pct: dict[str, float] | None = None, *, size: int = 100, features=FEATURES) -> SegmentProfile:
    """A profile whose percentiles are ``pct`` (0.5 elsewhere); means are 100 x percentile."""
    pct = {f: 0.5 for f in features} | {k.removesuffix("_pct"): v for k, v in (pct or {}).items()}
    feats = {}
    for f in features:
        m = 100 * pct[f]
        feats[f] = FeatureProfile(
            mean=m,
            median=m,
            z=2 * (pct[f] - 0.5),
            box=BoxStats(min=0, q1=m, median=m, q3=m, max=200, whisker_low=m, whisker_high=m, mean=m),
        )
    return SegmentProfile(
        id=seg_id,
        size=size,
        share_customers=size / 10_000,
        revenue=10.0 * size,
        share_revenue=size / 10_000,
        features=feats,
        outlier=False,
        outlier_feature=None,
        outlier_ratio=None,
        percentile={f: pct[f] for f in features},
    )


def test_packaged_playbook_is_valid_and_rich_enough():
    assert DEFAULT_PLAYBOOK.is_file()
    assert len(PLAYBOOK.personas) >= 8
    keys = {p.key for p in PLAYBOOK.personas}
    assert {"champions", "loyal_regulars", "big_spenders_at_risk", "promising_newcomers", "hibernating"} <= keys


@pytest.mark.parametrize("persona", PLAYBOOK.personas, ids=lambda p: p.key)
def test_every_persona_is_reachable_from_its_ideal(persona):
    (segment,) = name_segments([_profile(1, persona.ideal)])
    assert segment.persona == persona.key
    assert segment.name == persona.name
    assert len(segment.recommendations) == len(persona.actions)


def test_the_average_segment_gets_the_fallback():
    (segment,) = name_segments([_profile(1)])
    assert segment.persona == PLAYBOOK.fallback.key


def test_the_more_extreme_segment_takes_the_top_persona():
    top = _profile(1, {"recency_pct": 0.08, "frequency_pct": 0.97, "monetary_pct": 0.96})
    good = _profile(2, {"recency_pct": 0.17, "frequency_pct": 0.86, "monetary_pct": 0.85})
    named = {s.id: s.persona for s in name_segments([top, good])}
    assert named == {1: "champions", 2: "loyal_regulars"}


def test_two_segments_sharing_a_persona_get_computed_qualifiers():
    low = _profile(1, {"recency_pct": 0.7, "frequency_pct": 0.3, "monetary_pct": 0.3})
    high = _profile(2, {"recency_pct": 0.7, "frequency_pct": 0.3, "monetary_pct": 0.38})
    names = {s.id: s.name for s in name_segments([low, high])}
    assert names == {1: "Hibernating — lower spend", 2: "Hibernating — higher spend"}


def test_three_segments_sharing_a_persona_are_told_apart_in_words():
    same = {"recency_pct": 0.7, "frequency_pct": 0.3}
    profiles = [_profile(i, same | {"monetary_pct": m}) for i, m in [(1, 0.3), (2, 0.35), (3, 0.4)]]
    names = [s.name for s in name_segments(profiles)]
    assert names == ["Hibernating — lowest spend", "Hibernating — middle spend", "Hibernating — highest spend"]
    assert not any(ch.isdigit() for name in names for ch in name)


def test_why_cites_the_segments_own_numbers_through_the_renderer():
    from publishing._format import Formats
    from publishing._playbook import fill

    champions = _profile(1, {"recency_pct": 0.15, "frequency_pct": 0.9, "monetary_pct": 0.9}, size=1234)
    (segment,) = name_segments([champions])
    why = segment.recommendations[0].why
    # The bundle keeps the playbook's template and the numbers it cites; no number is written here.
    assert why.startswith("{size:,} customers ({share_customers:.0%}) bring {share_revenue:.0%} of revenue")
    assert segment.values["size"] == 1234 and segment.values["share_customers"] == pytest.approx(0.1234)
    assert segment.values["mean_frequency"] == pytest.approx(90.0)
    # With share 0.1234 and mean 90, in the report's formats:
    assert fill(why, segment.values, Formats("en_GB", "GBP")).startswith(
        "1,234 customers (12%) bring 12% of revenue, with 90.0 orders each on average;"
    )
    assert fill(why, segment.values, Formats("de_CH", "CHF")).startswith("1'234 customers")
    assert segment.rfm_mix == {}


def test_names_and_actions_follow_the_profile_not_the_segment_number():
    a = {"recency_pct": 0.15, "frequency_pct": 0.9, "monetary_pct": 0.9}
    b = {"recency_pct": 0.85, "frequency_pct": 0.2, "monetary_pct": 0.2}
    first = {s.persona: (s.name, s.recommendations) for s in name_segments([_profile(1, a), _profile(2, b)])}
    swapped = {s.persona: (s.name, s.recommendations) for s in name_segments([_profile(2, a), _profile(1, b)])}
    assert first == swapped


pcts = st.floats(0.0, 1.0, allow_nan=False).map(lambda v: round(v, 3))


@settings(max_examples=60, deadline=None)
@given(
    segments=st.lists(st.fixed_dictionaries({f"{f}_pct": pcts for f in FEATURES}), min_size=1, max_size=10),
    seed=st.integers(0, 2**32 - 1),
)
def test_names_are_unique_and_independent_of_list_order(segments, seed):
    profiles = [_profile(i + 1, pct, size=10 + i) for i, pct in enumerate(segments)]
    named = name_segments(profiles)
    names = [s.name for s in named]
    assert len(set(names)) == len(names)
    assert not any("#" in n for n in names)
    assert all(s.recommendations and s.persona for s in named)
    shuffled = profiles[:]
    random.Random(seed).shuffle(shuffled)
    again = {s.id: (s.name, s.persona, s.recommendations) for s in name_segments(shuffled)}
    assert again == {s.id: (s.name, s.persona, s.recommendations) for s in named}


def test_duplicate_segment_ids_are_refused():
    with pytest.raises(DataError, match="segment ids must be unique"):
        name_segments([_profile(1), _profile(1)])


MINIMAL = """
[[personas]]
key = "vip"
name = "VIP"
description = "Top spenders."
when = { monetary_pct = ">= 0.8" }
ideal = { monetary_pct = 0.9 }
[[personas.actions]]
action = "Thank them."
why = "{size:,} customers spend {mean_monetary:,.0f}."
kpi = "Retention"

[fallback]
key = "others"
name = "Others"
description = "Everyone else."
[[fallback.actions]]
action = "Newsletter."
why = "{share_customers:.0%} of customers."
kpi = "Clicks"
"""


def _write(tmp_path, text):
    path = tmp_path / "playbook.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_custom_playbook_is_used(tmp_path):
    path = _write(tmp_path, MINIMAL)
    named = name_segments([_profile(1, {"monetary_pct": 0.95}), _profile(2)], playbook_path=path)
    assert [s.name for s in named] == ["VIP", "Others"]
    from publishing._format import Formats
    from publishing._playbook import fill

    assert fill(named[0].recommendations[0].why, named[0].values, Formats("en_GB", None)) == "100 customers spend 95."


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ('name = "VIP"', 'name = "VIP"\ncolour = "gold"', r"personas\.0\.colour.*'vip'.*Extra inputs"),
        (
            'monetary_pct = ">= 0.8" }',
            'monetary_pctl = ">= 0.8" }',
            r"personas\.0\.when.*unknown condition key 'monetary_pctl'",
        ),
        ('">= 0.8"', '"=> 0.8"', r"personas\.0\.when.*must look like '>= 0.5'"),
        (
            "{mean_monetary:,.0f}",
            "{mean_revenue:,.0f}",
            r"personas\.0\.actions\.0\.why.*unknown placeholder.*mean_revenue",
        ),
        ("{mean_monetary:,.0f}", "{mean_monetary:,.0q}", r"personas\.0\.actions\.0\.why.*cannot be formatted"),
        ('key = "others"', 'key = "vip"', r"duplicate persona key 'vip'"),
        (
            'name = "Others"',
            'name = "Others"\nwhen = { recency_pct = "<= 0.5" }',
            "fallback persona must have no conditions",
        ),
        (
            "ideal = { monetary_pct = 0.9 }",
            "ideal = { monetary_pct = 0.5 }",
            r"ideal monetary_pct = 0.5 breaks its own condition",
        ),
        ('kpi = "Retention"', "", r"personas\.0\.actions\.0\.kpi.*Field required"),
    ],
    ids=[
        "extra-key",
        "unknown-condition",
        "bad-operator",
        "unknown-placeholder",
        "bad-format",
        "duplicate-key",
        "fallback-conditions",
        "ideal-breaks-condition",
        "missing-kpi",
    ],
)
def test_invalid_playbooks_name_the_file_and_the_key(tmp_path, old, new, match):
    assert old in MINIMAL
    path = _write(tmp_path, MINIMAL.replace(old, new, 1))
    with pytest.raises(ConfigError, match=match) as info:
        load_playbook(path)
    assert str(path) in str(info.value)


def test_missing_or_malformed_playbook_files(tmp_path):
    with pytest.raises(ConfigError, match="playbook file not found"):
        load_playbook(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_playbook(_write(tmp_path, "[[personas]\n"))


def test_a_template_citing_a_feature_the_profile_lacks_is_a_data_error(tmp_path):
    path = _write(tmp_path, MINIMAL.replace('"{share_customers:.0%} of customers."', '"{mean_tenure:.0f} days."'))
    thin = _profile(1, features=("recency", "frequency", "monetary"))
    with pytest.raises(DataError, match="'others' cites 'mean_tenure'"):
        name_segments([thin], playbook_path=path)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_end_to_end_names_follow_customers_not_row_order(seed):
    import numpy as np
    import pandas as pd

    from analysis.cluster import fit_segments
    from analysis.config import ClusterConfig, FeaturesConfig
    from analysis.features import build_features
    from analysis.profiles import profile_segments

    rng = np.random.default_rng(seed)
    n = 300
    customers = pd.DataFrame(
        {
            "recency": rng.uniform(1, 700, n).round(1),
            "frequency": rng.geometric(0.3, n),
            "monetary": rng.lognormal(6, 1.2, n).round(2),
            "avg_unit_cost": rng.lognormal(1, 0.6, n).round(2),
            "avg_order_value": rng.lognormal(5, 0.8, n).round(2),
            "tenure": rng.uniform(1, 730, n).round(1),
        }
    )
    cluster = ClusterConfig(n_init=3)

    def names(frame):
        fm = build_features(frame, config=FeaturesConfig())
        labels = fit_segments(fm.values, 5, config=cluster, spend=frame["monetary"].to_numpy())
        segments = name_segments(profile_segments(frame, labels, features=fm.columns, config=cluster))
        by_id = {s.id: s for s in segments}
        return [(by_id[lab].name, by_id[lab].size, by_id[lab].recommendations) for lab in labels]

    perm = rng.permutation(n)
    base = names(customers)
    assert names(customers.iloc[perm].reset_index(drop=True)) == [base[i] for i in perm]
    assert len({name for name, _, _ in base}) == 5
