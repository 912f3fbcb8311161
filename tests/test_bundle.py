"""The bundle contract: committed JSON Schema, atomic writes, no NaN."""

from __future__ import annotations

import json

import pytest

from analysis.bundle import SCHEMA_VERSION, bundle_json_schema, write_bundle
from tests._data import REPO


def test_committed_schema_has_not_drifted():
    committed = json.loads((REPO / "schemas" / "bundle.schema.json").read_text())
    assert committed == bundle_json_schema(), (
        "schemas/bundle.schema.json is out of date: run `uv run python -m analysis schema --out "
        "schemas/bundle.schema.json` and bump SCHEMA_VERSION if the change is not backwards compatible"
    )
    assert committed["$id"].endswith(SCHEMA_VERSION)


def test_schema_requires_the_documented_top_level_sections():
    required = set(bundle_json_schema()["required"])
    assert {"data", "config", "k_selection", "segments", "rfm", "generator"} <= required


def test_write_is_atomic_on_failure(tmp_path, monkeypatch):
    (tmp_path / "bundle.json").write_text("old\n")

    class Boom:
        def model_dump(self, **_):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_bundle(Boom(), tmp_path)  # type: ignore[arg-type]
    assert (tmp_path / "bundle.json").read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["bundle.json"]
