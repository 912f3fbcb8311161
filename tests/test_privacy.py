"""Keyed pseudonyms: deterministic, keyed, never the raw ID, key never printed."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from analysis.config import PrivacyConfig
from analysis.errors import ConfigError
from analysis.privacy import PseudonymKey, pseudonymize, require_real_key, resolve_key
from tests._data import DATA


def test_key_from_environment_wins(monkeypatch):
    monkeypatch.setenv("SEGMENTATION_KEY", "an environment key of some length")
    key = resolve_key(PrivacyConfig(key="a config key that is long enough"), data_path=DATA / "tiny_retail.csv")
    assert key.origin == "environment"
    assert "environment key" not in repr(key)
    want = "c_" + hmac.new(b"an environment key of some length", b"12345", hashlib.sha256).hexdigest()[:16]
    assert pseudonymize(["12345"], key) == [want]


def test_config_key_and_short_key(monkeypatch):
    monkeypatch.delenv("SEGMENTATION_KEY", raising=False)
    assert (
        resolve_key(PrivacyConfig(key="a config key that is long enough"), data_path=DATA / "tiny_retail.csv").origin
        == "config"
    )
    with pytest.raises(ConfigError, match="at least 16 characters. Got 5"):
        resolve_key(PrivacyConfig(key="short"), data_path=DATA / "tiny_retail.csv")


def test_derived_key_is_deterministic_and_warns(monkeypatch):
    monkeypatch.delenv("SEGMENTATION_KEY", raising=False)
    with pytest.warns(UserWarning, match="derived from the data file"):
        first = resolve_key(PrivacyConfig(), data_path=DATA / "tiny_retail.csv")
    with pytest.warns(UserWarning):
        second = resolve_key(PrivacyConfig(), data_path=DATA / "tiny_retail.csv")
    ids = ["111", "222", "333"]
    assert pseudonymize(ids, first) == pseudonymize(ids, second)
    # Not the plain (published) SHA-256 of the file: that would let anyone rebuild the key.
    assert first.secret != hashlib.sha256((DATA / "tiny_retail.csv").read_bytes()).digest()


def test_pseudonyms_hide_and_separate_ids(monkeypatch):
    monkeypatch.setenv("SEGMENTATION_KEY", "k" * 20)
    key = resolve_key(PrivacyConfig(), data_path=DATA / "tiny_retail.csv")
    ids = [str(i) for i in range(12000, 13000)]
    out = pseudonymize(ids, key)
    assert len(set(out)) == len(ids)
    assert all(i not in p for i, p in zip(ids, out, strict=True))


def test_derived_key_warning_says_who_can_recompute_the_pseudonyms(monkeypatch):
    monkeypatch.delenv("SEGMENTATION_KEY", raising=False)
    with pytest.warns(UserWarning, match="anyone who has the data file can recompute them") as record:
        key = resolve_key(PrivacyConfig(), data_path=DATA / "tiny_retail.csv")
    assert "SEGMENTATION_KEY" in str(record[0].message)
    with pytest.raises(ConfigError, match="needs a real key"):
        require_real_key(key, purpose="Migration")
    require_real_key(resolve_key(PrivacyConfig(key="a config key that is long enough"), data_path=DATA), purpose="x")


@pytest.mark.parametrize("secret", [b"", b"short key", b"k" * 64, "a long key \u00e9 ".encode() * 10])
def test_pseudonyms_are_hmac_sha256_of_the_id(secret):
    key = PseudonymKey(secret=secret, origin="config")
    ids = ["12345", "", "\u00e9l\u00e8ve-7", "x" * 300]
    expected = ["c_" + hmac.new(secret, i.encode("utf-8"), hashlib.sha256).hexdigest()[:16] for i in ids]
    assert pseudonymize(ids, key) == expected
