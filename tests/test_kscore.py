"""The silhouette from the kept distance matrix is the silhouette scikit-learn computes, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import silhouette_score

from analysis._kscore import PRECOMPUTED_ROWS, Scorer
from analysis.config import ClusterConfig, KSelectionConfig


@pytest.mark.parametrize("rows", [50, 999, 3000])
def test_the_kept_distances_give_the_same_silhouette_to_the_last_bit(rows):
    rng = np.random.default_rng(rows)
    S = np.concatenate([rng.normal(c, 1.0, size=(rows // 3, 6)) for c in (0.0, 1.5, 4.0)])
    scorer = Scorer(S, KSelectionConfig(), ClusterConfig(), lambda: None)
    assert scorer.distances is not None and scorer.distances.shape == (S.shape[0], S.shape[0])
    for k in (2, 3, 7):
        labels = rng.integers(0, k, S.shape[0])
        direct = float(silhouette_score(S, labels))
        assert scorer._separation(labels)[0] == direct


def test_more_rows_than_kept_are_scored_directly():
    rng = np.random.default_rng(0)
    S = rng.normal(size=(PRECOMPUTED_ROWS + 10, 3))
    config = KSelectionConfig(sample_size=PRECOMPUTED_ROWS + 10, silhouette_sample=PRECOMPUTED_ROWS + 10)
    scorer = Scorer(S, config, ClusterConfig(), lambda: None)
    labels = rng.integers(0, 3, S.shape[0])
    assert scorer.distances is None
    assert scorer._separation(labels)[0] == float(silhouette_score(S, labels))
