"""analysis._align: a positional join when the ids line up, the merge otherwise, same result either way."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis._align import join_by_id, same_ids


def _frames(order):
    left = pd.DataFrame({"customer_id": ["a", "b", "c"], "x": [1, 2, 3]}, index=[7, 8, 9])
    right = pd.DataFrame({"customer_id": order, "y": [10.0 * ord(i) for i in order]})
    return left, right


@pytest.mark.parametrize("how", ["inner", "left"])
@pytest.mark.parametrize("order", [["a", "b", "c"], ["c", "a", "b"]], ids=["aligned", "shuffled"])
def test_join_equals_the_merge(order, how):
    left, right = _frames(order)
    expected = left.merge(right, on="customer_id", how=how, validate="one_to_one")
    pd.testing.assert_frame_equal(join_by_id(left, right, how=how), expected)


def test_missing_ids_fall_back_to_the_merge():
    left, _ = _frames(["a"])
    right = pd.DataFrame({"customer_id": ["a", "c"], "y": [1.0, 3.0]})
    inner = join_by_id(left, right, how="inner")
    assert inner["customer_id"].tolist() == ["a", "c"] and inner["y"].tolist() == [1.0, 3.0]
    assert join_by_id(left, right, how="left")["y"].isna().tolist() == [False, True, False]


def test_same_ids_compares_text_in_order():
    assert same_ids(pd.Series(["1", "2"]), pd.Series([1, 2]))
    assert not same_ids(pd.Series(["1", "2"]), pd.Series(["2", "1"]))
    assert not same_ids(pd.Series(["1"]), pd.Series(["1", "2"]))


def test_repeated_ids_are_left_to_the_merge_and_its_check():
    left = pd.DataFrame({"customer_id": ["b", "a", "b"], "x": [1, 2, 3]})
    with pytest.raises(pd.errors.MergeError):
        join_by_id(left, left.rename(columns={"x": "y"}), how="inner")


@pytest.mark.parametrize(
    ("ids", "unique"),
    [
        (["a", "b", "c"], True),
        (["c", "a", "b"], True),
        (["a", "b", "b"], False),
        (["b", "a", "b"], False),
        ([None, "a", None], False),
        ([None, "a"], True),
        ([], True),
    ],
)
def test_ids_unique(ids, unique):
    from analysis._align import ids_unique

    assert ids_unique(pd.Series(ids, dtype="str")) is unique
    assert ids_unique(pd.Series(ids, dtype=object)) is unique
