"""Small helpers shared by the analysis tests (paths and real-data slices)."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
REPO = HERE.parent
SHARED = REPO.parent / "shared" / "data"
SAMPLE = REPO / "data" / "online_retail_II_sample.parquet"


def shared_file(name: str) -> Path:
    """Return ``../shared/data/<name>``, skipping the test where it is absent."""
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"{path} is not available on this machine")
    return path
