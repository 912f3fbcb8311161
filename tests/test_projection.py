"""Tests for analysis.projection.project_customers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.bundle import Projection
from analysis.errors import DataError
from analysis.projection import project_customers


def test_points_on_a_line_by_hand():
    # Five points on the line y = x, centred at (2, 2): all variance on the first axis, and
    # the first coordinate is the signed distance along the line, (t - 2) * sqrt(2).
    t = np.arange(5.0)
    X = np.column_stack([t, t])
    labels = np.array([1, 1, 2, 2, 2])
    proj = project_customers(X, labels)
    assert isinstance(proj, Projection) and proj.method == "pca"
    assert proj.explained_variance[0] == pytest.approx(1.0)
    assert proj.explained_variance[1] == pytest.approx(0.0, abs=1e-9)
    xs = sorted(abs(p.x) for p in proj.points)
    np.testing.assert_allclose(xs, [0, 1.4142, 1.4142, 2.8284, 2.8284], atol=1e-4)
    # Centroids on all rows: segment 1 is t = 0, 1 (mean t 0.5), segment 2 is t = 2, 3, 4 (mean 3).
    cx = {c.segment: c.x for c in proj.centroids}
    assert abs(cx[1]) == pytest.approx(1.5 * 2**0.5, abs=1e-4)
    assert abs(cx[2]) == pytest.approx(1.0 * 2**0.5, abs=1e-4)
    assert np.sign(cx[1]) == -np.sign(cx[2])


def test_sample_is_capped_and_labelled():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3))
    labels = rng.integers(1, 4, size=500)
    proj = project_customers(X, labels, max_points=50)
    assert len(proj.points) == 50
    assert {p.segment for p in proj.points} <= {1, 2, 3}
    assert [c.segment for c in proj.centroids] == [1, 2, 3]
    assert len(proj.explained_variance) == 2 and sum(proj.explained_variance) <= 1.0 + 1e-9


@pytest.mark.parametrize(
    ("X", "labels", "max_points", "match"),
    [
        (np.zeros((1, 2)), np.array([1]), 10, "at least 2 rows and 2 columns"),
        (np.zeros((3, 1)), np.array([1, 1, 2]), 10, "at least 2 rows and 2 columns"),
        (np.array([[0.0, np.inf], [1.0, 1.0]]), np.array([1, 2]), 10, "finite"),
        (np.zeros((3, 2)), np.array([1, 2]), 10, "one label per row"),
        (np.eye(3), np.array([1, 2, 2]), 0, "'max_points' parameter must be an int >= 1"),
    ],
    ids=["one-row", "one-column", "inf", "label-length", "max-points"],
)
def test_invalid_inputs_raise_data_error(X, labels, max_points, match):
    with pytest.raises(DataError, match=match):
        project_customers(X, labels, max_points=max_points)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(3, 120), cap=st.integers(1, 60), seed=st.integers(0, 2**32 - 1))
def test_row_order_changes_nothing(n, cap, seed):
    rng = np.random.default_rng(seed)
    X = np.round(rng.normal(size=(n, 3)), 2)
    labels = rng.integers(1, 4, size=n)
    # Identical rows must carry identical labels, as a clustering would give them.
    _, first = np.unique(X, axis=0, return_inverse=True)
    labels = labels[np.array([np.flatnonzero(first.ravel() == g)[0] for g in first.ravel()])]
    perm = rng.permutation(n)
    a = project_customers(X, labels, max_points=cap)
    b = project_customers(X[perm], labels[perm], max_points=cap)
    assert a == b
    assert len(a.points) == min(cap, n)
