"""A refresh that knows the previous one: identities kept, refit policy, migration, trend.

Two refreshes are cut from the bundled real sample (Online Retail II): every
transaction up to 9 Dec 2010, then the whole file, the way a retailer's log
grows between two reports.
"""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from analysis.assign import assign_customers
from analysis.config import load_config
from analysis.errors import ConfigError, ModelError
from analysis.migration import migrate
from analysis.model import load_model
from analysis.pipeline import run_pipeline
from analysis.previous import read_previous
from tests._data import SAMPLE, shared_file

FAST = {"k_selection": {"k_max": 6, "stability_resamples": 4}}
KEY = "refresh tests key, long enough"


def _cut(src, target, until: str) -> None:
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * FROM read_parquet('{src}') WHERE CAST(\"InvoiceDate\" AS TIMESTAMP) < TIMESTAMP '{until}') "
        f"TO '{target}' (FORMAT parquet)"
    )


def _run(data, out, previous=None, **sections):
    config = load_config(None, **{**FAST, **sections})
    return run_pipeline(
        data, config=config, out_dir=out, previous=None if previous is None else read_previous(previous)
    )


@pytest.fixture(scope="module")
def refreshes(tmp_path_factory):
    root = tmp_path_factory.mktemp("refresh")
    first = root / "until-2010-12-09.parquet"
    _cut(SAMPLE, first, "2010-12-10")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEGMENTATION_KEY", KEY)
        one = _run(first, root / "one")
        two = _run(SAMPLE, root / "two", previous=root / "one")
        never = _run(SAMPLE, root / "never", previous=root / "one", history={"refit": "never"})
    return root, one, two, never


def test_transitions_cover_every_customer_once(refreshes):
    _, one, two, _ = refreshes
    m = two.bundle.migration
    assert m.previous_customers == one.bundle.data.customers
    assert m.current_customers == two.bundle.data.customers
    into_now = sum(t.customers for t in m.transitions if t.to is not None)
    assert into_now == m.in_both + m.new == m.current_customers
    assert sum(t.customers for t in m.transitions if t.from_ is None) == m.new
    assert m.gone == 0 and m.in_both == one.bundle.data.customers  # a growing log loses nobody
    revenue = sum(t.revenue for t in m.transitions)
    assert revenue == pytest.approx(two.bundle.data.revenue, abs=0.05)
    payload = json.loads(two.bundle_path.read_text())["migration"]["transitions"][0]
    assert set(payload) == {"from", "to", "customers", "revenue", "predicted_value"}


def test_segments_with_the_same_persona_keep_their_ids_and_names(refreshes):
    _, one, two, _ = refreshes
    before = {s.persona: (s.id, s.name) for s in one.bundle.segments}
    history = two.bundle.history
    for s in two.bundle.segments:
        match = next(m for m in history.matches if m.segment == s.id)
        if match.previous is not None:
            assert before_by_id(one)[match.previous] == (s.id, s.name)
        elif s.persona in before:
            pytest.fail(f"{s.name} has the persona of previous segment {before[s.persona]} but was not matched")
    assert set(history.retired) == {sid for sid, _ in before.values()} - {m.previous for m in history.matches}
    new_ids = [m.segment for m in history.matches if m.previous is None]
    assert all(i > max(s.id for s in one.bundle.segments) for i in new_ids)


def before_by_id(run):
    return {s.id: (s.id, s.name) for s in run.bundle.segments}


def test_refit_decision_and_trend_are_recorded(refreshes):
    _, one, two, never = refreshes
    decision = two.bundle.history.decision
    assert decision.policy == "auto" and decision.previous_k == len(one.bundle.segments)
    assert 0.0 <= decision.agreement <= 1.0
    assert decision.refitted == (decision.reason != "previous_fits")
    trend = two.bundle.history.trend
    assert [p.snapshot for p in trend] == [one.bundle.data.snapshot_date, two.bundle.data.snapshot_date]
    assert trend[-1].customers == two.bundle.data.customers
    assert never.bundle.history.decision.reason == "policy_never" and not never.bundle.history.decision.refitted


def test_never_keeps_the_previous_model(refreshes):
    root, one, _, never = refreshes
    previous = load_model(root / "one" / "model.json")
    kept = load_model(never.model_path)
    assert kept.clusters == previous.clusters and kept.features == previous.features
    stages = never.stages
    got = assign_customers(stages.customers, previous, tiebreak=list(stages.pseudonyms))
    np.testing.assert_array_equal(got["segment"].to_numpy(), stages.segmentation.labels)
    assert all((s.id, s.name) == before_by_id(one)[s.id] for s in never.bundle.segments)


def test_a_refresh_without_a_real_key_is_refused(refreshes, monkeypatch):
    root = refreshes[0]
    monkeypatch.delenv("SEGMENTATION_KEY", raising=False)
    with pytest.raises(ConfigError, match="needs a real key"):
        _run(SAMPLE, root / "nokey", previous=root / "one")
    assert not (root / "nokey").exists()


def test_a_refresh_with_another_key_is_refused(refreshes, monkeypatch):
    root = refreshes[0]
    monkeypatch.setenv("SEGMENTATION_KEY", "a different key, also long enough")
    with pytest.raises(ConfigError, match="made with another pseudonym key"):
        _run(SAMPLE, root / "otherkey", previous=root / "one")


def test_previous_directory_problems_are_one_line(tmp_path, refreshes):
    with pytest.raises(ModelError, match="does not exist"):
        read_previous(tmp_path / "missing")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "model.json").write_bytes((refreshes[0] / "one" / "model.json").read_bytes())
    with pytest.raises(ModelError, match="neither segments.csv nor assignments.csv"):
        read_previous(tmp_path / "half")


def test_migrate_by_hand():
    previous = pd.Series([1, 1, 2, 3], index=["a", "b", "c", "gone"])
    m = migrate(
        previous,
        pseudonyms=np.array(["a", "b", "c", "new"], dtype=object),
        labels=np.array([1, 2, 2, 2]),
        revenue=np.array([10.0, 20.0, 30.0, 40.0]),
        predicted_value=np.array([1.0, 2.0, 3.0, 4.0]),
        previous_snapshot="2011-01-01",
        current_snapshot="2011-02-01",
    )
    got = {(t.from_, t.to): (t.customers, t.revenue, t.predicted_value) for t in m.transitions}
    assert got == {
        (1, 1): (1, 10.0, 1.0),
        (1, 2): (1, 20.0, 2.0),
        (2, 2): (1, 30.0, 3.0),
        (3, None): (1, 0.0, 0.0),
        (None, 2): (1, 40.0, 4.0),
    }
    assert (m.in_both, m.new, m.gone, m.moved) == (3, 1, 1, 1)


@pytest.mark.realdata
def test_two_refreshes_of_online_retail_ii(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGMENTATION_KEY", KEY)
    full = shared_file("online_retail_II.csv.gz")
    first = tmp_path / "until-2010-12-09.parquet"
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * FROM read_csv('{full}', all_varchar=true) WHERE strptime(\"InvoiceDate\", "
        f"'%Y-%m-%d %H:%M:%S') < TIMESTAMP '2010-12-10') TO '{first}' (FORMAT parquet)"
    )
    one = _run(first, tmp_path / "one", clv={"enabled": False})
    two = _run(full, tmp_path / "two", previous=tmp_path / "one", clv={"enabled": False})
    m = two.bundle.migration
    assert sum(t.customers for t in m.transitions if t.to is not None) == m.in_both + m.new == 5852
    previous = {s.persona: (s.id, s.name) for s in one.bundle.segments}
    for s in two.bundle.segments:
        if s.persona in previous:
            assert previous[s.persona] == (s.id, s.name)
