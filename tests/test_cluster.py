"""Tests for analysis.cluster.fit_segments."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.cluster import fit_segments
from analysis.config import ClusterConfig
from analysis.errors import DataError

FAST = ClusterConfig(n_init=2)


def _blobs(centres, sizes, seed=0, spread=0.05):
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(c, spread, size=(n, len(c))) for c, n in zip(centres, sizes, strict=True)])
    truth = np.repeat(np.arange(len(sizes)), sizes)
    return X, truth


def test_segments_are_numbered_by_descending_mean_spend():
    X, truth = _blobs([(0, 0), (5, 5), (10, 0)], [10, 12, 8])
    spend = np.array([100.0, 900.0, 500.0])[truth]  # blob 1 spends most, then blob 2, then blob 0
    labels = fit_segments(X, 3, config=FAST, spend=spend)
    assert set(labels[truth == 1]) == {1}
    assert set(labels[truth == 2]) == {2}
    assert set(labels[truth == 0]) == {3}


def test_equal_spend_ties_go_to_the_larger_segment_then_the_centroid():
    X, truth = _blobs([(0, 0), (5, 5), (10, 0)], [10, 12, 10])
    labels = fit_segments(X, 3, config=FAST, spend=np.ones(len(X)))
    assert set(labels[truth == 1]) == {1}  # largest
    assert set(labels[truth == 0]) == {2}  # same size as blob 2, smaller first centroid coordinate
    assert set(labels[truth == 2]) == {3}


@pytest.mark.parametrize("method", ["kmeans", "gmm"])
def test_methods_recover_well_separated_blobs(method):
    X, truth = _blobs([(0, 0, 0), (4, 0, 4), (0, 4, 4)], [30, 30, 30], seed=3)
    labels = fit_segments(X, 3, config=ClusterConfig(method=method, n_init=2), spend=truth.astype(float))
    # Each true blob gets one label and the highest-spending blob (truth 2) is segment 1.
    assert all(len(set(labels[truth == t])) == 1 for t in range(3))
    assert set(labels[truth == 2]) == {1}


def test_above_the_subsample_threshold_every_row_is_labelled_and_blobs_recovered():
    X, truth = _blobs([(0, 0), (6, 6), (0, 6)], [700, 600, 500], seed=1)
    config = ClusterConfig(n_init=2, subsample_above=1000)
    labels = fit_segments(X, 3, config=config, spend=truth.astype(float))
    assert labels.shape == truth.shape
    assert [set(labels[truth == t]) for t in (2, 1, 0)] == [{1}, {2}, {3}]
    # The subsample is taken in canonical order, so shuffling the rows changes no one's segment.
    perm = np.random.default_rng(5).permutation(len(X))
    assert np.array_equal(fit_segments(X[perm], 3, config=config, spend=truth[perm].astype(float)), labels[perm])


def test_the_old_name_of_the_subsample_threshold_is_still_read():
    assert ClusterConfig.model_validate({"minibatch_above": 5000}).subsample_above == 5000


@pytest.mark.parametrize(
    ("X", "k", "spend", "match"),
    [
        (np.zeros((5, 2)), 1, np.ones(5), "must be an int >= 2"),
        (np.zeros((2, 2)), 3, np.ones(2), "cannot form 3 segments from 2"),
        (np.array([[0.0, np.nan], [1.0, 1.0], [2.0, 2.0]]), 2, np.ones(3), "finite"),
        (np.zeros((4, 2)), 2, np.ones(3), "'spend' must hold one finite value per row"),
    ],
    ids=["k-too-small", "fewer-rows-than-k", "nan-in-X", "spend-length"],
)
def test_invalid_inputs_raise_data_error(X, k, spend, match):
    with pytest.raises(DataError, match=match):
        fit_segments(X, k, config=FAST, spend=spend)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(6, 60),
    k=st.integers(2, 5),
    seed=st.integers(0, 2**32 - 1),
    method=st.sampled_from(["kmeans", "gmm"]),
)
def test_labels_in_range_and_independent_of_row_order(n, k, seed, method):
    rng = np.random.default_rng(seed)
    X = np.round(rng.normal(size=(n, 3)), 3)
    spend = np.round(rng.gamma(2.0, 100.0, size=n), 2)
    config = ClusterConfig(method=method, n_init=2)
    labels = fit_segments(X, k, config=config, spend=spend)
    assert labels.shape == (n,)
    assert labels.min() == 1 and labels.max() <= k
    # Labels are consecutive and numbered by descending mean spend.
    present = np.unique(labels)
    assert list(present) == list(range(1, len(present) + 1))
    means = [spend[labels == s].mean() for s in present]
    assert all(a >= b - 1e-9 for a, b in zip(means, means[1:], strict=False))
    perm = rng.permutation(n)
    assert np.array_equal(fit_segments(X[perm], k, config=config, spend=spend[perm]), labels[perm])


def test_a_given_canonical_order_gives_the_labels_made_without_it():
    from analysis.cluster import canonical_order

    X, truth = _blobs([(0, 0), (6, 6), (0, 6)], [40, 30, 20], seed=2)
    spend = truth.astype(float)
    order = canonical_order(X)
    assert np.array_equal(X[order], X[np.lexsort(X.T[::-1])])
    assert np.array_equal(
        fit_segments(X, 3, config=FAST, spend=spend, order=order), fit_segments(X, 3, config=FAST, spend=spend)
    )
