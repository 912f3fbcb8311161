"""The next-change day: never later than the first day a customer's segment or RFM cell really changes.

Checked by brute force: each customer of a real batch run is assigned again
with ``assign_customers`` for every one of the next 1,000 days with nothing
bought (recency and tenure one day older each day), and the first day that
changes anything is compared with :func:`next_change`. For a nearest-centroid
model the closed form is exact, so the two days are equal (up to an exact tie
on a whole day, where the day before is scheduled); for a Gaussian mixture and
a winsorized recency it must still never be late.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.assign import assign_customers
from analysis.customers import customer_table
from analysis.model import ClusterModel, FeatureSpec
from analysis.stream._aggregates import NEVER
from analysis.stream._timeline import Calendar, next_change
from tests._stream import SMALL_UNTIL, batch_clean, batch_run, config, sample_slice

HORIZON = 1000


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("timeline")
    data = sample_slice(root / "small.parquet", until=SMALL_UNTIL)
    result = batch_run(data, root / "out")
    table = customer_table(batch_clean(data), config=config().customers)
    return result.model, table.customers, list(result.stages.pseudonyms)


def _gmm(model):
    """The model's centroids as a Gaussian mixture with unequal, correlated covariances."""
    rng = np.random.default_rng(3)
    k, p = len(model.clusters.centroids), len(model.features.transforms)
    covariances = []
    for _ in range(k):
        a = rng.normal(size=(p, p))
        covariances.append((a @ a.T / p + 0.3 * np.eye(p)).tolist())
    weights = (rng.dirichlet(np.ones(k))).tolist()
    clusters = ClusterModel(
        method="gmm",
        rule="max_posterior",
        segment_ids=model.clusters.segment_ids,
        centroids=model.clusters.centroids,
        weights=weights,
        covariances=covariances,
    )
    return model.model_copy(update={"clusters": clusters})


def _winsorized(model, customers):
    """Recency clipped at its 80th percentile (beyond it, time no longer moves the segment)."""
    specs = list(model.features.transforms)
    hi = float(np.quantile(customers["recency"], 0.8))
    specs[0] = FeatureSpec(**{**specs[0].model_dump(), "winsorize": (0.0, hi)})
    others = [FeatureSpec(**{**s.model_dump(), "winsorize": (-1e300, 1e300)}) for s in specs[1:]]
    features = model.features.model_copy(update={"transforms": [specs[0], *others]})
    return model.model_copy(update={"features": features})


def _first_change(model, customers, pseudonyms) -> np.ndarray:
    """Brute force: days until each customer's (segment, RFM cell) first differs, HORIZON + 1 when never."""
    n = len(customers)
    days = np.repeat(np.arange(HORIZON + 1), n)
    frame = pd.concat([customers] * (HORIZON + 1), ignore_index=True)
    frame["recency"] = frame["recency"] + days
    frame["tenure"] = frame["tenure"] + days
    got = assign_customers(frame, model, tiebreak=pseudonyms * (HORIZON + 1))
    state = (got["segment"].astype(str) + "/" + got["rfm_cell"]).to_numpy().reshape(HORIZON + 1, n)
    differs = state[1:] != state[0]
    return np.where(differs.any(axis=0), differs.argmax(axis=0) + 1, HORIZON + 1)


def _predicted(model, customers, pseudonyms) -> np.ndarray:
    now = assign_customers(customers, model, tiebreak=pseudonyms)
    last_day = -customers["recency"].to_numpy().astype(np.int64)  # as of day 0: recency = 0 - last day
    got = next_change(
        model, customers, segments=now["segment"].to_numpy(), pseudonyms=pseudonyms, last_day=last_day, as_of=0
    )
    return np.where(got >= NEVER, HORIZON + 1, np.minimum(got, HORIZON + 1))


@pytest.mark.parametrize("variant", ["kmeans", "gmm", "winsorized"])
def test_next_change_is_never_late(fitted, variant):
    model, customers, pseudonyms = fitted
    model = {"kmeans": model, "gmm": _gmm(model), "winsorized": _winsorized(model, customers)}[variant]
    truth = _first_change(model, customers, pseudonyms)
    predicted = _predicted(model, customers, pseudonyms)
    assert (predicted >= 1).all()
    late = np.flatnonzero(predicted > truth)
    assert not len(late), f"{len(late)} customer(s) scheduled after their change, e.g. {late[:5]}"
    if variant == "kmeans":
        assert np.mean(predicted == truth) >= 0.99  # the closed form is exact, not merely early


def test_time_changes_are_found_for_most_customers(fitted):
    """Not a vacuous check: within 1,000 days most customers' segment or RFM cell moves by time alone.

    (The rest already have the oldest R score and sit in the segment time pushes towards.)
    """
    model, customers, pseudonyms = fitted
    assert np.mean(_first_change(model, customers, pseudonyms) <= HORIZON) > 0.75


def test_a_model_with_tenure_is_rescored_every_day(fitted):
    model, customers, pseudonyms = fitted
    tenure = FeatureSpec(name="tenure", winsorize=None, log1p=False, center=100.0, scale=50.0)
    features = model.features.model_copy(update={"transforms": [*model.features.transforms, tenure]})
    clusters = model.clusters.model_copy(update={"centroids": [[*c, 0.0] for c in model.clusters.centroids]})
    model = model.model_copy(update={"features": features, "clusters": clusters})
    predicted = _predicted(model, customers, pseudonyms)
    assert (predicted == 1).all()


def test_the_calendar_gives_each_due_customer_once_and_skips_stale_entries():
    calendar = Calendar()
    next_day = np.array([5, 7, 5, NEVER, 9], dtype=np.int64)
    calendar.rebuild(next_day)
    assert calendar.due(4, next_day).tolist() == []
    next_day[2] = 8  # customer 2 re-filed for day 8: its entry under day 5 is stale
    calendar.schedule(np.array([2]), np.array([8]), next_day=next_day)
    assert calendar.due(6, next_day).tolist() == [0]
    assert calendar.due(8, next_day).tolist() == [1, 2]
    assert calendar.due(100, next_day).tolist() == [4]
    assert calendar.due(10**9, next_day).tolist() == []
