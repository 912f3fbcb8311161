"""Tests for analysis.kselect.choose_k: the vote, its inputs and its guarantees."""

from __future__ import annotations

import numpy as np
import pytest

from analysis._kcriteria import cast_votes, tally
from analysis.bundle import CRITERIA, KSelection
from analysis.config import ClusterConfig, KSelectionConfig
from analysis.errors import DataError
from analysis.kselect import choose_k, choose_k_steps

QUICK = KSelectionConfig(k_min=2, k_max=7, stability_resamples=3, gap_references=4, silhouette_sample=300)
CLUSTER = ClusterConfig(n_init=3)


def _blobs(n_per=60, centres=((0, 0), (8, 0), (0, 8), (8, 8)), seed=0):
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(c, 0.6, size=(n_per, 2)) for c in centres])


def _quick(**changes) -> KSelectionConfig:
    return QUICK.model_copy(update=changes)


@pytest.fixture(scope="module")
def four_blobs() -> KSelection:
    return choose_k(_blobs(), config=QUICK, cluster=CLUSTER)


def test_four_well_separated_blobs_get_every_vote(four_blobs):
    assert four_blobs.chosen_k == four_blobs.rule_k == 4
    assert [v.criterion for v in four_blobs.votes] == list(CRITERIA)
    assert {v.criterion: v.k for v in four_blobs.votes} == dict.fromkeys(CRITERIA, 4)
    assert four_blobs.decision == "most_votes" and four_blobs.fallback is None
    assert four_blobs.tally[0].model_dump() == {"k": 4, "votes": 5, "criteria": list(CRITERIA)}
    assert four_blobs.overridden is False


def test_candidate_table_is_complete_and_consistent(four_blobs):
    assert [c.k for c in four_blobs.candidates] == list(range(2, 8))
    for c in four_blobs.candidates:
        assert -1.0 <= c.silhouette <= 1.0
        assert c.stability <= 1.0 + 1e-9
        assert 0.0 < c.min_share <= 1.0 / c.k + 1e-9
        assert c.inertia > 0 and c.calinski_harabasz > 0 and c.davies_bouldin > 0 and c.gap_sd > 0
        assert c.admissible == (c.stability >= QUICK.min_stability and c.min_share >= CLUSTER.min_share)
    assert four_blobs.admissible == [c.k for c in four_blobs.candidates if c.admissible]
    # The elbow score needs W at k + 1, so only k_max lacks one.
    assert [c.elbow is None for c in four_blobs.candidates] == [False] * 5 + [True]
    inertia = [four_blobs.base_inertia] + [c.inertia for c in four_blobs.candidates]
    assert inertia == sorted(inertia, reverse=True)
    # Gap rises steeply up to the four planted blobs and flattens after (Tibshirani et al., 2001, fig. 1).
    gaps = {c.k: c.gap for c in four_blobs.candidates}
    assert gaps[4] - gaps[3] > 10 * (gaps[5] - gaps[4])
    assert four_blobs.sample.model_dump() == {
        "customers": 240,
        "size": 240,
        "method": "all",
        "bins": None,
        "cells": None,
    }


def test_the_votes_can_be_recounted_from_the_table(four_blobs):
    in_range = four_blobs.candidates
    voters = [c for c in in_range if c.admissible]
    assert cast_votes(in_range, voters) == four_blobs.votes
    rule_k, decision, rows = tally(four_blobs.votes)
    assert (rule_k, decision, rows) == (four_blobs.rule_k, four_blobs.decision, four_blobs.tally)


@pytest.mark.parametrize(
    ("k_min", "k_max", "fixed", "expected"),
    [(2, 3, None, 2 * (1 + 2 + 3)), (3, 5, None, 3 * (1 + 2 + 3) + 1), (2, 4, 9, 4 * (1 + 2 + 3))],
    ids=["k_min-2", "k_min-3-adds-the-base-fit", "fixed-k-outside-the-range"],
)
def test_on_step_is_called_exactly_choose_k_steps_times(k_min, k_max, fixed, expected):
    config = KSelectionConfig(k_min=k_min, k_max=k_max, stability_resamples=2, gap_references=3)
    cluster = ClusterConfig(n_init=2, k=fixed)
    calls = []
    choose_k(_blobs(n_per=20), config=config, cluster=cluster, on_step=lambda: calls.append(1))
    assert len(calls) == choose_k_steps(config, cluster=cluster) == expected


def test_override_keeps_the_table_and_records_what_the_rule_chose():
    cluster = ClusterConfig(n_init=2, k=9)
    config = KSelectionConfig(k_min=2, k_max=5, stability_resamples=2, gap_references=3)
    result = choose_k(_blobs(n_per=20), config=config, cluster=cluster)
    assert result.chosen_k == 9 and result.overridden
    assert result.rule_k == 4  # the vote still runs, over the configured range only
    assert [c.k for c in result.candidates] == [2, 3, 4, 5, 9]  # the fixed k is added to the table
    assert next(c for c in result.candidates if c.k == 9).elbow is None
    assert all(v.k is None or v.k <= 5 for v in result.votes)


def test_no_admissible_k_lets_every_k_vote_and_says_so():
    # Uniform noise is never stable at the 0.999 level.
    X = np.random.default_rng(5).uniform(size=(150, 2))
    config = _quick(k_max=6, min_stability=0.999)
    result = choose_k(X, config=config, cluster=CLUSTER)
    assert result.admissible == [] and result.fallback == "no_admissible_k"
    assert not any(c.admissible for c in result.candidates)
    assert result.votes == cast_votes(result.candidates, result.candidates)
    assert result.chosen_k == tally(result.votes)[0]


def test_small_segments_make_a_k_inadmissible():
    # Three big blobs and a tiny one between them (3 of 183 rows, 1.6%): k = 4 separates the
    # tiny one with a silhouette as good as k = 3's, but is not admissible at min_share = 2%.
    rng = np.random.default_rng(2)
    blobs = [((0, 0), 60), ((9, 0), 60), ((0, 9), 60), ((4.5, 4.5), 3)]
    X = np.vstack([rng.normal(c, 0.5, size=(n, 2)) for c, n in blobs])
    result = choose_k(X, config=QUICK, cluster=CLUSTER)
    by_k = {c.k: c for c in result.candidates}
    assert by_k[4].min_share == pytest.approx(3 / 183, abs=1e-6)
    assert by_k[4].silhouette >= 0.9 * by_k[3].silhouette
    assert not by_k[4].admissible and 4 not in result.admissible
    assert result.chosen_k == 3 and 4 not in [v.k for v in result.votes]


@pytest.mark.parametrize("sample_size", [100, 4000], ids=["sampled", "all-rows"])
def test_result_does_not_depend_on_row_order(sample_size):
    X = _blobs(n_per=40, seed=4)
    config = _quick(k_max=5, sample_size=sample_size)
    perm = np.random.default_rng(9).permutation(len(X))
    first = choose_k(X, config=config, cluster=CLUSTER)
    assert first.sample.method == ("stratified" if sample_size < len(X) else "all")
    assert first == choose_k(X[perm], config=config, cluster=CLUSTER)


def test_raising_k_max_adds_rows_and_changes_no_existing_one():
    X = _blobs(n_per=30, seed=1)
    short = choose_k(X, config=_quick(k_max=6), cluster=CLUSTER)
    long = choose_k(X, config=_quick(k_max=10), cluster=CLUSTER)
    # Every score of a k depends on its own fits; only the elbow score of the old k_max appears.
    strip = {"elbow"}
    assert [c.model_dump(exclude=strip) for c in short.candidates] == [
        c.model_dump(exclude=strip) for c in long.candidates[:5]
    ]
    assert [c.elbow for c in short.candidates[:-1]] == [c.elbow for c in long.candidates[:4]]
    assert short.chosen_k == long.chosen_k == 4


def test_k_is_chosen_on_a_stratified_sample_of_the_given_size():
    X = _blobs(n_per=150, seed=3)
    sampled = choose_k(X, config=_quick(sample_size=200), cluster=CLUSTER)
    assert (sampled.sample.customers, sampled.sample.size, sampled.sample.method) == (600, 200, "stratified")
    assert sampled.sample.bins == 4 and 0 < sampled.sample.cells <= 16  # 4 bins on each of 2 features
    assert sampled.chosen_k == choose_k(X, config=_quick(sample_size=1000), cluster=CLUSTER).chosen_k == 4


def test_same_input_gives_the_same_selection():
    X = _blobs(n_per=30, seed=6)
    assert choose_k(X, config=QUICK, cluster=CLUSTER) == choose_k(X.copy(), config=QUICK, cluster=CLUSTER)


def test_too_few_rows_is_an_error():
    with pytest.raises(DataError, match="more than k_min"):
        choose_k(np.zeros((2, 2)) + [[0, 0], [1, 1]], config=KSelectionConfig(), cluster=CLUSTER)


def test_a_fixed_k_needs_more_rows_than_k():
    with pytest.raises(DataError, match="cannot form k = 9"):
        choose_k(_blobs(n_per=2), config=QUICK, cluster=ClusterConfig(k=9))
