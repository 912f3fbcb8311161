"""Tests for analysis.kselect.choose_k."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.bundle import KSelection
from analysis.config import ClusterConfig, KSelectionConfig
from analysis.errors import DataError
from analysis.kselect import _elbow, choose_k, choose_k_steps

QUICK = KSelectionConfig(k_min=2, k_max=7, stability_resamples=3, silhouette_sample=300)
CLUSTER = ClusterConfig(n_init=3)


def _blobs(n_per=60, centres=((0, 0), (8, 0), (0, 8), (8, 8)), seed=0):
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(c, 0.6, size=(n_per, 2)) for c in centres])


@pytest.fixture(scope="module")
def four_blobs() -> KSelection:
    return choose_k(_blobs(), config=QUICK, cluster=CLUSTER)


def test_four_well_separated_blobs_give_k_4(four_blobs):
    assert four_blobs.chosen_k == 4
    assert four_blobs.overridden is False
    assert four_blobs.elbow_k == 4
    assert "k = 4" in four_blobs.rationale and "silhouette" in four_blobs.rationale


def test_candidate_table_is_complete_and_in_range(four_blobs):
    assert [c.k for c in four_blobs.candidates] == list(range(2, 8))
    for c in four_blobs.candidates:
        assert -1.0 <= c.silhouette <= 1.0
        assert c.stability <= 1.0 + 1e-9
        assert 0.0 < c.min_share <= 1.0 / c.k + 1e-9
        assert c.inertia > 0 and c.calinski_harabasz > 0 and c.davies_bouldin > 0
    inertia = [c.inertia for c in four_blobs.candidates]
    assert inertia == sorted(inertia, reverse=True)
    assert "stability" in four_blobs.rule and "elbow" in four_blobs.rule


def test_elbow_by_hand():
    # x scaled: 0, .2, .4, .6, .8, 1; inertia scaled: 1, 1/3, 1/9, 1/18, 1/45, 0.
    # Gap to the chord y = 1 - x: 0, .467, .489, .344, .178, 0 -> third point, k = 4.
    assert _elbow([2, 3, 4, 5, 6, 7], [100, 40, 20, 15, 12, 10]) == 4
    assert _elbow([2, 3], [10, 5]) is None
    assert _elbow([2, 3, 4], [5, 5, 5]) is None


def test_on_step_is_called_exactly_choose_k_steps_times():
    calls = []
    config = KSelectionConfig(k_min=2, k_max=3, stability_resamples=2)
    choose_k(_blobs(n_per=20), config=config, cluster=CLUSTER, on_step=lambda: calls.append(1))
    assert len(calls) == choose_k_steps(config) == 2 * 3


def test_override_keeps_the_table_and_says_so():
    cluster = ClusterConfig(n_init=2, k=9)
    config = KSelectionConfig(k_min=2, k_max=4, stability_resamples=2)
    calls = []
    result = choose_k(_blobs(n_per=20), config=config, cluster=cluster, on_step=lambda: calls.append(1))
    assert result.chosen_k == 9 and result.overridden
    assert [c.k for c in result.candidates] == [2, 3, 4, 9]  # the fixed k is added to the table
    assert len(calls) == choose_k_steps(config, cluster=cluster)
    assert "fixed by the configuration" in result.rationale
    assert "would have chosen k = 4" in result.rationale


def test_no_admissible_k_falls_back_to_the_elbow_and_says_so():
    # Uniform noise is never stable at the 0.999 level.
    X = np.random.default_rng(5).uniform(size=(150, 2))
    config = KSelectionConfig(k_min=2, k_max=6, stability_resamples=2, min_stability=0.999)
    result = choose_k(X, config=config, cluster=CLUSTER)
    assert result.rationale.startswith("No k met both thresholds")
    assert result.elbow_k is not None and result.chosen_k == result.elbow_k


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
    assert result.chosen_k == 3


def test_result_does_not_depend_on_row_order():
    X = _blobs(n_per=25, seed=4)
    config = KSelectionConfig(k_min=2, k_max=5, stability_resamples=2)
    perm = np.random.default_rng(9).permutation(len(X))
    assert choose_k(X, config=config, cluster=CLUSTER) == choose_k(X[perm], config=config, cluster=CLUSTER)


def test_too_few_rows_is_an_error():
    with pytest.raises(DataError, match="more than k_min"):
        choose_k(np.zeros((2, 2)) + [[0, 0], [1, 1]], config=KSelectionConfig(), cluster=CLUSTER)
