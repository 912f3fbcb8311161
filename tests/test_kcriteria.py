"""Tests for analysis._kcriteria: each criterion's vote, the gap references, the tally."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis._kcriteria import cast_votes, elbow_scores, gap_references, inertia, tally
from analysis.bundle import Candidate, Vote


def _row(k, *, sil=0.3, ch=100.0, db=1.0, gap=1.0, gap_sd=0.01, elbow=1.0, admissible=True) -> Candidate:
    return Candidate(
        k=k,
        inertia=100.0 / k,
        silhouette=sil,
        calinski_harabasz=ch,
        davies_bouldin=db,
        gap=gap,
        gap_sd=gap_sd,
        elbow=elbow,
        stability=0.9 if admissible else 0.5,
        min_share=0.1,
        admissible=admissible,
    )


def _votes(rows) -> dict[str, int | None]:
    return {v.criterion: v.k for v in cast_votes(rows, [r for r in rows if r.admissible] or rows)}


def test_elbow_scores_by_hand():
    # W = 100 (k = 1), 40, 20, 15, 12, 10 for k = 2..6. Log drops: ln 2.5, ln 2, ln 4/3, ln 1.25, ln 1.2.
    scores = elbow_scores([40, 20, 15, 12, 10], base=100)
    expected = [math.log(2.5) / math.log(2), math.log(2) / math.log(4 / 3)]
    expected += [math.log(4 / 3) / math.log(1.25), math.log(1.25) / math.log(1.2), None]
    assert scores[:4] == pytest.approx(expected[:4]) and scores[4] is None
    assert scores.index(max(scores[:4])) == 1  # k = 3: the second segment halved W, the third cut a quarter


def test_elbow_scores_are_the_same_whatever_the_range():
    # The kneedle distance moved with k_max; a local score does not.
    w = [40.0, 20.0, 15.0, 12.0, 10.0, 9.0, 8.5]
    assert elbow_scores(w[:4], base=100)[:3] == elbow_scores(w, base=100)[:3]


def test_elbow_scores_of_degenerate_curves_stay_finite():
    # No gain at all from the 3rd segment, then a perfect fit (W = 0) at k = 4.
    scores = elbow_scores([50.0, 50.0, 0.0, 0.0], base=100)
    assert scores[1] == 0.0  # the 3rd segment removed nothing
    assert all(s is None or math.isfinite(s) for s in scores)
    assert scores[2] > 1e6  # nothing left to remove after k = 4: the sharpest possible bend


def test_each_criterion_votes_for_its_own_optimum():
    rows = [
        _row(2, sil=0.50, ch=300, db=0.9, gap=1.0, elbow=1.5),
        _row(3, sil=0.40, ch=400, db=0.7, gap=1.5, elbow=3.0),
        _row(4, sil=0.45, ch=350, db=0.8, gap=1.505, elbow=1.2),
        _row(5, sil=0.30, ch=200, db=1.2, gap=1.6, elbow=None),
    ]
    # Gap: k = 2 fails (1.0 < 1.5 - 0.01); k = 3 passes (1.5 >= 1.505 - 0.01).
    assert _votes(rows) == {"silhouette": 2, "calinski_harabasz": 3, "davies_bouldin": 3, "gap": 3, "elbow": 3}


def test_only_admissible_k_receive_votes():
    rows = [
        _row(2, sil=0.40, ch=300, db=0.9),
        _row(3, sil=0.60, ch=500, db=0.5, elbow=4.0, admissible=False),
        _row(4, sil=0.45, ch=350, db=0.8, elbow=2.0),
        _row(5, elbow=None),
    ]
    votes = _votes(rows)
    assert 3 not in votes.values()
    assert (votes["silhouette"], votes["calinski_harabasz"], votes["elbow"]) == (4, 4, 4)


def test_gap_rule_counts_a_refused_next_k_as_no_reason_to_go_on():
    # k = 4 splits a noise group off and raises the gap, but is not admissible.
    rows = [_row(2, gap=1.0), _row(3, gap=1.4), _row(4, gap=2.0, admissible=False), _row(5, gap=2.1)]
    assert _votes(rows)["gap"] == 3


def test_gap_abstains_when_one_more_segment_always_helps():
    rows = [_row(k, gap=0.2 * k) for k in range(2, 6)]
    gap = cast_votes(rows, rows)[3]
    assert gap == Vote(criterion="gap", k=None, abstained="gap_rule_not_met")


def test_elbow_abstains_when_the_curve_does_not_bend():
    rows = [_row(k, elbow=0.8) for k in range(2, 5)] + [_row(5, elbow=None)]
    assert cast_votes(rows, rows)[4] == Vote(criterion="elbow", k=None, abstained="no_elbow")


def test_equal_scores_go_to_the_smaller_k():
    rows = [_row(k, sil=0.5, ch=100.0, db=1.0, gap=1.0, elbow=2.0) for k in (2, 3, 4)]
    assert set(_votes(rows).values()) == {2}


def test_tally_counts_votes_and_breaks_ties_towards_the_smaller_k():
    votes = [
        Vote(criterion="silhouette", k=5),
        Vote(criterion="calinski_harabasz", k=3),
        Vote(criterion="davies_bouldin", k=5),
        Vote(criterion="gap", k=3),
        Vote(criterion="elbow", k=None, abstained="no_elbow"),
    ]
    k, decision, rows = tally(votes)
    assert (k, decision) == (3, "tie_smaller_k")
    assert [r.model_dump() for r in rows] == [
        {"k": 3, "votes": 2, "criteria": ["calinski_harabasz", "gap"]},
        {"k": 5, "votes": 2, "criteria": ["silhouette", "davies_bouldin"]},
    ]
    assert tally(votes[:3])[:2] == (5, "most_votes")


def test_inertia_by_hand():
    X = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0]])
    # Segment 0 has mean (1, 0): squared distances 1 + 1; segment 1 is one point.
    assert inertia(X, np.array([0, 0, 1])) == pytest.approx(2.0)


def test_gap_references_fill_the_principal_axes_box():
    # A long thin rectangle rotated by 30 degrees: its principal-axes box is the rectangle itself,
    # while the box of the raw coordinates would be much wider (Tibshirani et al., 2001, section 3b).
    rng = np.random.default_rng(0)
    angle = np.pi / 6
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    X = rng.uniform([-5.0, -0.5], [5.0, 0.5], size=(2000, 2)) @ rotation.T + [3.0, -1.0]
    refs = gap_references(X, 3, np.random.default_rng(1))
    assert len(refs) == 3 and all(Z.shape == X.shape for Z in refs)
    for Z in refs:
        local = (Z - [3.0, -1.0]) @ rotation  # back to the rectangle's own axes
        # Within the rectangle, up to the sample's estimate of its axes (a raw-coordinate box would
        # put points up to 4.7 off the long axis); uniform along both axes, not clumped like data.
        assert np.abs(local[:, 0]).max() <= 5.05 and np.abs(local[:, 1]).max() <= 0.6
        assert local[:, 0].std() == pytest.approx(10 / np.sqrt(12), rel=0.05)
        assert local[:, 1].std() == pytest.approx(1 / np.sqrt(12), rel=0.1)
    again = gap_references(X, 3, np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(refs, again, strict=True))
