"""Configuration: defaults, TOML parsing, constraint messages in the sklearn shape."""

from __future__ import annotations

import pytest

from analysis.config import Config, load_config
from analysis.errors import ConfigError


def test_defaults_are_the_classic_four_features():
    cfg = load_config()
    assert cfg == Config()
    assert cfg.features.columns == ("recency", "frequency", "monetary", "avg_unit_cost")
    assert (cfg.k_selection.k_min, cfg.k_selection.k_max) == (2, 10)


def test_toml_sections_and_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[columns]\ncustomer = "client"\n[clv]\ncalibration_end = "1997-09-30"\ntime_unit = "week"\n')
    cfg = load_config(path, cluster={"k": 5})
    assert cfg.columns.customer == "client"
    assert cfg.clv.calibration_end.isoformat() == "1997-09-30"
    assert cfg.cluster.k == 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[cluster]\nk = 1\n", "setting 'cluster.k': Input should be greater than or equal to 2. Got 1."),
        ("[features]\ncolumns = ['recency', 'shoe_size']\n", "unknown feature(s) ['shoe_size']"),
        ("[k_selection]\nk_min = 8\nk_max = 3\n", "k_min (8) must not exceed k_max (3)"),
        ("[clustr]\nk = 3\n", "setting 'clustr': Extra inputs are not permitted"),
        ("[cluster\n", "not valid TOML"),
    ],
    ids=["k-too-small", "unknown-feature", "k-range-reversed", "typo-section", "bad-toml"],
)
def test_bad_settings_give_one_clear_line(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value).strip()


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")
