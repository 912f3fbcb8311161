"""The README's reliability and privacy promises say what the code does (issue 7, items 7 and 9)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pandas as pd

from analysis.config import PrivacyConfig
from analysis.export import FORMULA_PREFIXES, spreadsheet_safe
from analysis.privacy import resolve_key

ROOT = Path(__file__).resolve().parents[1]
README = " ".join(ROOT.joinpath("README.md").read_text(encoding="utf-8").split())
PROMISE = "anyone who has the data file can recompute them"
NAMES = {"=": "`=`", "+": "`+`", "-": "`-`", "@": "`@`", "\t": "a tab", "\r": "a carriage return"}


def test_readme_and_warning_say_the_same_about_keyless_pseudonyms(monkeypatch):
    assert "Without `SEGMENTATION_KEY` the pseudonyms can be recomputed by anyone who has the data file" in README
    monkeypatch.delenv("SEGMENTATION_KEY", raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resolve_key(PrivacyConfig(), data_path=ROOT / "tests" / "data" / "tiny_retail.csv")
    assert any(PROMISE in " ".join(str(w.message).split()) for w in caught)


def test_readme_lists_exactly_the_prefixes_the_export_neutralises():
    sentence = re.search(r"any text cell that starts with (.+?) is written with a leading `'`", README)
    assert sentence is not None
    listed = {prefix for prefix, name in NAMES.items() if name in sentence.group(1)}
    assert listed == set(FORMULA_PREFIXES)
    cells = pd.DataFrame({"customer_id": [f"{prefix}HYPERLINK()" for prefix in FORMULA_PREFIXES]})
    assert spreadsheet_safe(cells)["customer_id"].tolist() == [f"'{prefix}HYPERLINK()" for prefix in FORMULA_PREFIXES]
