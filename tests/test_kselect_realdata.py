"""The choice of k on the three real logs: stable in k_max, the same on the sample as on all customers.

These read the full files in ``../shared/data`` (skipped where they are absent)
and run with the default configuration, as ``python -m analysis run`` does.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from analysis.bundle import KSelection
from analysis.clean import clean_transactions
from analysis.cluster import fit_segments
from analysis.config import Config
from analysis.customers import customer_table
from analysis.features import build_features
from analysis.kselect import choose_k
from analysis.load import load_transactions
from analysis.profiles import profile_segments
from tests._data import shared_file

pytestmark = pytest.mark.realdata

CONFIG = Config()
FILES = ("online_retail_II.csv.gz", "online_retail.csv.gz", "cdnow_master.csv.gz")


@functools.cache
def _customers(name: str):
    cleaned = clean_transactions(load_transactions(shared_file(name), columns=CONFIG.columns), config=CONFIG.cleaning)
    customers = customer_table(cleaned, config=CONFIG.customers).customers
    return customers, build_features(customers, config=CONFIG.features)


@functools.cache
def _choose(name: str, **changes) -> KSelection:
    config = CONFIG.k_selection.model_copy(update=changes)
    return choose_k(_customers(name)[1].values, config=config, cluster=CONFIG.cluster)


@pytest.mark.parametrize("name", FILES)
def test_the_choice_does_not_depend_on_k_max(name):
    chosen = _choose(name).chosen_k
    assert _choose(name).sample.method == "stratified"  # every file has more customers than the sample
    assert _choose(name, k_max=chosen + 2).chosen_k == chosen
    assert _choose(name, k_max=chosen + 4).chosen_k == chosen


def test_the_sample_chooses_the_k_all_customers_choose_on_online_retail_ii():
    customers = len(_customers(FILES[0])[0])
    everyone = _choose(FILES[0], sample_size=customers + 1)
    assert everyone.sample.method == "all" and everyone.sample.size == customers
    assert _choose(FILES[0]).chosen_k == everyone.chosen_k


@pytest.mark.parametrize("name", FILES)
def test_no_segment_under_the_minimum_share_goes_unexplained(name):
    customers, features = _customers(name)
    k = _choose(name).chosen_k
    labels = fit_segments(features.values, k, config=CONFIG.cluster, spend=customers["monetary"].to_numpy())
    profiles = profile_segments(customers, labels, features=features.columns, config=CONFIG.cluster)
    assert len(profiles) == k
    for profile in profiles:
        assert profile.share_customers == pytest.approx(np.mean(labels == profile.id))
        explained = profile.outlier and profile.outlier_reason
        assert profile.share_customers >= CONFIG.cluster.min_share or explained, (name, profile.share_customers)
