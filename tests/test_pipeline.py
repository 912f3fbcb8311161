"""End to end through run_pipeline: determinism, invariance, schema validity, real data."""

from __future__ import annotations

import json

import jsonschema
import pandas as pd
import pytest

from analysis.config import load_config
from analysis.pipeline import run_pipeline
from tests._data import REPO, shared_file

SCHEMA = json.loads((REPO / "schemas" / "bundle.schema.json").read_text())
FAST = {"k_selection": {"k_max": 6, "stability_resamples": 4}}


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("SEGMENTATION_KEY", "pipeline tests key, long enough")


def _run(path, out, **sections):
    config = load_config(None, **{**FAST, **sections})
    return run_pipeline(path, config=config, out_dir=out)


@pytest.fixture(scope="module")
def cdnow_runs(tmp_path_factory):
    """The CDNOW sample run twice as is, and once with rows shuffled and IDs renamed."""
    import os

    os.environ.setdefault("SEGMENTATION_KEY", "pipeline tests key, long enough")
    src = shared_file("cdnow_sample.csv.gz")
    base = tmp_path_factory.mktemp("cdnow")
    clv = {"calibration_end": "1997-09-30", "time_unit": "week"}
    first = _run(src, base / "a", clv=clv)
    second = _run(src, base / "b", clv=clv)
    frame = pd.read_csv(src, dtype=str)
    ids = sorted(frame["customer_id"].unique())
    renamed = dict(zip(ids, reversed(ids), strict=True))  # a bijection that reorders every ID
    shuffled = frame.sample(frac=1.0, random_state=7).assign(customer_id=lambda f: f["customer_id"].map(renamed))
    path = base / "shuffled.csv"
    shuffled.to_csv(path, index=False)
    third = _run(path, base / "c", clv=clv)
    return first, second, third


def test_paper_parameters_through_the_pipeline(cdnow_runs):
    # Fader, Hardie & Lee (2005) BG/NBD and Fader & Hardie's Gamma-Gamma note, CDNOW 1/10 sample,
    # 39-week calibration ending 1997-09-30, weeks.
    paper = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "p": 6.25, "q": 3.74, "gamma": 15.44}
    params = cdnow_runs[0].bundle.clv.params
    for name, value in paper.items():
        assert params[name] == pytest.approx(value, rel=0.005), name


def test_same_input_gives_the_same_bytes(cdnow_runs):
    first, second, _ = cdnow_runs
    assert first.bundle_path.read_bytes() == second.bundle_path.read_bytes()
    assert first.assignments_path.read_bytes() == second.assignments_path.read_bytes()


def test_row_order_and_id_renaming_change_no_segment(cdnow_runs):
    first, _, third = cdnow_runs

    def view(bundle):
        return [(s.id, s.name, s.size, [r.model_dump() for r in s.recommendations]) for s in bundle.segments]

    assert view(first.bundle) == view(third.bundle)
    assert first.bundle.k_selection == third.bundle.k_selection


def test_bundle_is_schema_valid_and_private(cdnow_runs):
    run = cdnow_runs[0]
    payload = json.loads(run.bundle_path.read_text())
    jsonschema.validate(payload, SCHEMA)
    assert payload["schema_version"] == SCHEMA["$id"].rsplit("-", 1)[1]
    text = run.bundle_path.read_text()
    raw_ids = pd.read_csv(run.assignments_path, dtype=str)["customer_id"]
    assert not any(f'"{i}"' in text for i in raw_ids)
    data = run.bundle.data
    assert data.rows_in == data.rows_kept + sum(data.dropped.values())


def test_every_customer_is_assigned_once(cdnow_runs):
    run = cdnow_runs[0]
    assigned = pd.read_csv(run.assignments_path, dtype={"customer_id": str})
    assert assigned["customer_id"].is_unique
    assert len(assigned) == run.bundle.data.customers == 2357
    assert set(assigned["segment"]) == {s.id for s in run.bundle.segments}
    assert sum(s.size for s in run.bundle.segments) == len(assigned)
    assert set(assigned["arm"]) == {"control", "treatment"}


@pytest.mark.realdata
def test_online_retail_ii_full_run(tmp_path):
    run = _run(shared_file("online_retail_II.csv.gz"), tmp_path, clv={"enabled": False})
    data = run.bundle.data
    assert data.rows_in == 1_067_371
    assert data.rows_kept + sum(data.dropped.values()) == data.rows_in
    for segment in run.bundle.segments:
        assert segment.share_customers >= 0.02 or (segment.outlier and segment.outlier_reason)
    assert len({s.name for s in run.bundle.segments}) == len(run.bundle.segments)
    jsonschema.validate(json.loads(run.bundle_path.read_text()), SCHEMA)


def test_experiment_results_read_through_the_pipeline(cdnow_runs, tmp_path):
    first = cdnow_runs[0]
    assigned = pd.read_csv(first.assignments_path, dtype={"customer_id": str})
    rows = assigned[["pseudonym", "arm"]].rename(columns={"pseudonym": "customer"}).copy()
    # Treatment converts on every third customer, control on every fifth: a real lift to find.
    order = range(len(rows))
    rows["converted"] = [
        int(i % (3 if arm == "treatment" else 5) == 0) for i, arm in zip(order, rows["arm"], strict=True)
    ]
    rows["revenue"] = rows["converted"] * 20.0
    bad = pd.DataFrame(
        {
            "customer": ["c_unknown000000000", rows["customer"].iloc[0], rows["customer"].iloc[1]],
            "arm": ["treatment", "control" if rows["arm"].iloc[0] == "treatment" else "treatment", rows["arm"].iloc[1]],
            "converted": ["1", "1", "maybe"],
            "revenue": ["5", "5", "5"],
        }
    )
    flip = {"treatment": "control", "control": "treatment"}
    rows.loc[rows.index[2], "arm"] = flip[rows["arm"].iloc[2]]  # reported in the wrong arm
    results = tmp_path / "results.csv"
    pd.concat([rows.astype(str), bad]).to_csv(results, index=False)
    k = first.bundle.k_selection.chosen_k
    run = _run(
        shared_file("cdnow_sample.csv.gz"),
        tmp_path / "out",
        cluster={"k": k},
        clv={"enabled": False},
        experiments={"results": str(results)},
    )
    read = run.bundle.experiment_results
    assert read.rows == len(rows) + 3
    # One unknown customer, one unreadable 'maybe', a second row for customer 0 (first kept)
    # and customer 2 reported in the other arm: counted, never silently dropped.
    assert (read.unknown_customers, read.unparseable, read.duplicates, read.arm_mismatches) == (1, 1, 1, 1)
    assert read.used == len(rows) - 1
    assert [(q.row, q.column, q.value) for q in read.problems] == [(len(rows) + 4, "converted", "maybe")]  # line
    overall = read.primary.overall
    assert overall.treatment_value > overall.control_value
    assert overall.p_value < 0.05
    assert {r.segment for r in read.primary.segments} == {s.id for s in run.bundle.segments}


def test_customer_level_input_runs_without_clv(tmp_path):
    """The classic customer_data.csv shape: segments and RFM, no CLV or test plan (no transactions)."""
    from analysis.clean import clean_transactions
    from analysis.config import CleaningConfig, ColumnsConfig, CustomersConfig
    from analysis.customers import customer_table
    from analysis.load import load_transactions
    from tests._data import SAMPLE

    cleaned = clean_transactions(load_transactions(SAMPLE, columns=ColumnsConfig()), config=CleaningConfig())
    customers = customer_table(cleaned, config=CustomersConfig()).customers
    path = tmp_path / "customer_data.csv"
    pd.DataFrame(
        {
            "CustomerID": customers["customer_id"],
            "PurchaseAmount": customers["monetary"],
            "PurchaseFrequency": customers["frequency"],
            "Recency": customers["recency"],
            "AvgUnitCost": customers["avg_unit_cost"],
        }
    ).to_csv(path, index=False)
    run = _run(path, tmp_path / "out")
    bundle = run.bundle
    assert bundle.data.source.level == "customers"
    assert bundle.data.customers == len(customers)
    assert bundle.clv is None and bundle.experiments is None
    assert sum(s.size for s in bundle.segments) == len(customers)
    # Personas whose second action cites tenure (unknown without dates) keep their other actions.
    assert all(s.recommendations for s in bundle.segments)
    jsonschema.validate(json.loads(run.bundle_path.read_text()), SCHEMA)


def test_loaded_model_reproduces_the_run_on_its_training_customers(cdnow_runs):
    from analysis.assign import assign_customers
    from analysis.model import load_model

    run = cdnow_runs[0]
    got = assign_customers(run.stages.customers, load_model(run.model_path), tiebreak=list(run.stages.pseudonyms))
    assigned = pd.read_csv(run.assignments_path, dtype={"customer_id": str, "rfm_cell": str})
    assert got["customer_id"].tolist() == assigned["customer_id"].tolist()
    assert got["segment"].tolist() == assigned["segment"].tolist()
    assert got["rfm_cell"].tolist() == assigned["rfm_cell"].tolist()
    assert got["rfm_segment"].tolist() == assigned["rfm_segment"].tolist()
