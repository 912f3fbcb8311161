"""The saved segment model: written by every run, round-trips, refuses what it cannot read."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _tiny_log import RAW_IDS, write_transactions

from analysis.assign import assign_customers
from analysis.config import load_config
from analysis.errors import ModelError
from analysis.model import MODEL_SCHEMA_VERSION, load_model, model_json_schema
from analysis.pipeline import run_pipeline
from tests._data import REPO


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("model")
    data = root / "tiny.csv"
    write_transactions(data)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEGMENTATION_KEY", "model tests key, long enough")
        config = load_config(None, cluster={"k": 4}, k_selection={"k_max": 5, "stability_resamples": 2})
        return run_pipeline(data, config=config, out_dir=root / "out")


def test_committed_model_schema_has_not_drifted():
    committed = json.loads((REPO / "schemas" / "model.schema.json").read_text())
    assert committed == model_json_schema(), (
        "schemas/model.schema.json is out of date: run `uv run python -m analysis schema --model --out "
        "schemas/model.schema.json` (and bump MODEL_SCHEMA_VERSION if it is not backwards compatible)"
    )
    assert committed["$id"].endswith(MODEL_SCHEMA_VERSION)


def test_every_run_writes_a_model_with_what_assignment_needs(tiny_run):
    model = load_model(tiny_run.model_path)
    assert model == tiny_run.model
    assert [t.name for t in model.features.transforms] == list(tiny_run.stages.features.columns)
    assert model.clusters.segment_ids == sorted(s.id for s in tiny_run.bundle.segments)
    assert {s.persona for s in model.segments} == {s.persona for s in tiny_run.bundle.segments}
    assert len(model.rfm.cells) == 125 and all(len(e) == 4 for e in model.rfm.edges.values())
    assert model.fingerprint.data_sha256 == tiny_run.bundle.data.source.sha256
    assert model.snapshot_date == tiny_run.bundle.data.snapshot_date
    assert model.input.roles["customer"] == "Customer ID"


def test_model_holds_no_raw_customer_id(tiny_run):
    text = tiny_run.model_path.read_text()
    assert not any(cid in text for cid in RAW_IDS)


def test_assigning_the_training_customers_reproduces_the_run(tiny_run):
    stages = tiny_run.stages
    model = load_model(tiny_run.model_path)
    got = assign_customers(stages.customers, model, tiebreak=list(stages.pseudonyms))
    np.testing.assert_array_equal(got["segment"].to_numpy(), stages.segmentation.labels)
    scored = stages.rfm.scored
    for col in ("r_score", "f_score", "m_score", "rfm_cell", "rfm_segment"):
        assert got[col].tolist() == scored[col].tolist(), col


def _edit(path, tmp_path, change):
    raw = json.loads(path.read_text())
    change(raw)
    target = tmp_path / "model.json"
    target.write_text(json.dumps(raw))
    return target


def test_unknown_schema_version_is_refused_in_one_line(tiny_run, tmp_path):
    bad = _edit(tiny_run.model_path, tmp_path, lambda raw: raw.update(schema_version="9.0.0"))
    with pytest.raises(ModelError, match=r"unknown model schema_version '9\.0\.0'") as info:
        load_model(bad)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(lambda raw: raw.update(kind="bundle"), "not a segmentation model", id="other-kind"),
        pytest.param(lambda raw: raw["clusters"].update(segment_ids=[1]), "invalid model", id="bad-shape"),
        pytest.param(lambda raw: raw.update(pickle="x"), "invalid model", id="extra-field"),
    ],
)
def test_invalid_models_are_refused(tiny_run, tmp_path, change, expected):
    with pytest.raises(ModelError, match=expected):
        load_model(_edit(tiny_run.model_path, tmp_path, change))


def test_missing_and_non_json_models_are_refused(tmp_path):
    with pytest.raises(ModelError, match="model file not found"):
        load_model(tmp_path / "nope.json")
    junk = tmp_path / "model.json"
    junk.write_bytes(b"\x80\x04\x95 a pickle, not JSON")
    with pytest.raises(ModelError, match="not a readable model file"):
        load_model(junk)
