"""Money, numbers, shares, days and dates for readers (publishing/_format.py).

Expected strings follow the CLDR conventions of each locale, worked out by
hand: en_GB "£1,234,568", en_US "$1,234,568", zh_TW "NT$1,234,568" (CLDR's
local "$" disambiguated), de_CH "CHF 1'234'568" (apostrophe groups, a space
after the code), de_DE "1.234.568 €" (dot groups, symbol after). Babel writes
a no-break space (U+00A0) between a code or symbol and the number; negatives
get a typographic minus (U+2212). Babel rounds half to even, as Python does.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from analysis.config import load_config
from analysis.errors import ConfigError
from publishing._format import DASH, MINUS, Formats, formats_for

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("locale", "currency", "plain", "negative", "cents", "compact"),
    [
        ("en_GB", "GBP", "£1,234,568", f"{MINUS}£1,234,568", "£12.50", "£500k"),
        ("en_US", "USD", "$1,234,568", f"{MINUS}$1,234,568", "$12.50", "$500K"),
        ("zh_TW", "TWD", "NT$1,234,568", f"{MINUS}NT$1,234,568", "NT$12.50", "NT$50萬"),
        ("de_CH", "CHF", f"CHF{NBSP}1'234'568", f"CHF{MINUS}1'234'568", f"CHF{NBSP}12.50", f"CHF{NBSP}500'000"),
        ("de_DE", "EUR", f"1.234.568{NBSP}€", f"{MINUS}1.234.568{NBSP}€", f"12,50{NBSP}€", f"500.000{NBSP}€"),
        ("en_GB", None, "1,234,568", f"{MINUS}1,234,568", "12.50", "500k"),
    ],
    ids=["gbp-en-gb", "usd-en-us", "twd-zh-tw", "chf-de-ch", "eur-de-de", "unknown-currency"],
)
def test_money_in_each_locale(locale, currency, plain, negative, cents, compact):
    fmt = Formats(locale, currency)
    assert fmt.money(1_234_567.8) == plain
    assert fmt.money(-1_234_567.8) == negative
    assert fmt.money(12.5, 2) == cents
    # German and Swiss German have no short form below a million: the full amount, grouped.
    assert fmt.money(500_000, compact=True) == compact


def test_unknown_currency_is_a_plain_number_and_says_so():
    fmt = Formats("en_GB", None)
    assert not fmt.currency_known and fmt.symbol == ""
    assert fmt.money(2_999_670.1, compact=True) == fmt.number(2_999_670.1, compact=True) == "3m"
    assert Formats("en_GB", "GBP").currency_known


@pytest.mark.parametrize(
    ("value", "expected"),
    [(500_000, "£500k"), (4_446_110, "£4.4m"), (420_642, "£421k"), (1_500, "£1.5k"), (999, "£999"), (0, "£0")],
    ids=["thousands", "millions-one-decimal", "three-digits-no-decimal", "one-digit-thousands", "below", "zero"],
)
def test_compact_money_always_carries_the_currency(value, expected):
    assert Formats("en_GB", "GBP").money(value, compact=True) == expected


def test_compact_money_in_other_locales():
    assert Formats("de_CH", "CHF").money(4_446_110, compact=True) == f"CHF{NBSP}4.4{NBSP}Mio."
    assert Formats("de_DE", "EUR").money(4_446_110, compact=True) == f"4,4{NBSP}Mio.{NBSP}€"
    assert Formats("zh_TW", "TWD").money(4_446_110, compact=True) == "NT$445萬"


def test_swiss_groups_survive_past_a_million():
    # Babel strips quote pairs from its output, which once turned 1'234'567 into 1234567.
    fmt = Formats("de_CH", "CHF")
    assert fmt.number(1_234_567) == "1'234'567"
    assert fmt.number(12_345_678.25, 2) == "12'345'678.25"
    assert fmt.percent(12_345.6, 0) == "1'234'560%"


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        (0.1234, 1, "12.3%"),
        (1.0, 0, "100%"),
        (0.00049, 2, "0.05%"),
        (25 / 1_067_371, 2, "< 0.01%"),
        (25 / 1_067_371, 1, "< 0.1%"),
        (1 - 25 / 1_067_371, 2, "> 99.99%"),
        (0.0, 2, "0.00%"),
        (-0.00001, 1, f"> {MINUS}0.1%"),
        (None, 1, DASH),
    ],
    ids=["one-digit", "whole", "small", "tiny-two-digits", "tiny-one-digit", "almost-all", "zero", "tiny-neg", "none"],
)
def test_percent_never_shows_a_nonzero_share_as_zero(value, digits, expected):
    assert Formats().percent(value, digits) == expected


def test_percent_follows_the_locale():
    assert Formats("de_DE").percent(0.1234) == f"12,3{NBSP}%"


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (1234567.8, {}, "1,234,568"),
        (1234.5678, {"digits": 2}, "1,234.57"),
        (-1234.0, {}, f"{MINUS}1,234"),
        (-0.001, {"digits": 2}, "0.00"),
        (45_300, {"compact": True}, "45k"),
        (1_500_000, {"compact": True}, "1.5m"),
        (float("nan"), {}, DASH),
    ],
    ids=["thousands", "two-digits", "negative", "negative-zero", "compact-k", "compact-m", "nan"],
)
def test_number(value, kwargs, expected):
    assert Formats().number(value, **kwargs) == expected


def test_signed():
    fmt = Formats()
    assert fmt.signed(0.5) == "+0.50"
    assert fmt.signed(-1) == f"{MINUS}1.00"
    assert fmt.signed(0.001) == "0.00"
    assert Formats("de_DE").signed(1.5, 1) == "+1,5"


def test_points_and_signed_percent():
    fmt = Formats()
    assert fmt.points(0.052) == "5.2" and fmt.points(None) == DASH
    assert fmt.signed_percent(0.1) == "+10.0%" and fmt.signed_percent(-0.024) == f"{MINUS}2.4%"
    assert fmt.signed_percent(0.0) == "0.0%"
    assert Formats("de_DE").signed_percent(0.1) == f"+10,0{NBSP}%"


@pytest.mark.parametrize(("n", "expected"), [(16, "16 days"), (1, "1 day"), (0, "0 days"), (1234, "1,234 days")])
def test_days(n, expected):
    assert Formats().days(n) == expected


def test_dates_follow_the_locale():
    assert Formats("en_GB").date("2011-12-10") == "10 Dec 2011"
    assert Formats("en_GB").date("2011-12-09 12:50:00") == "9 Dec 2011"
    assert Formats("en_US").date("2011-12-10") == "Dec 10, 2011"
    assert Formats("de_CH").date(dt.date(2011, 12, 10)) == "10.12.2011"
    assert Formats("zh_TW").date("2011-12-10") == "2011年12月10日"
    assert Formats().date(dt.date(2010, 1, 5), "iso") == "2010-01-05"
    assert Formats().date(None) == DASH


def test_bad_arguments_say_what_is_allowed_and_what_was_got():
    with pytest.raises(ValueError, match=r"'digits' parameter must be an int in the range \[0, 10\]. Got 11"):
        Formats().number(1.0, 11)
    with pytest.raises(ValueError, match=r"ISO date such as '2011-12-10'. Got '10/12/2011'"):
        Formats().date("10/12/2011")
    with pytest.raises(ValueError, match=r"one of 'long', 'iso'. Got 'short'"):
        Formats().date("2011-12-10", "short")
    with pytest.raises(ValueError, match=r"'locale' parameter must be a locale Babel knows.*Got 'xx_QQ'"):
        Formats("xx_QQ")
    with pytest.raises(ValueError, match=r"ISO 4217 code such as 'GBP', or None. Got 'pounds'"):
        Formats("en_GB", "pounds")


def test_locale_comes_from_the_report_section_of_the_config(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[report]\nlocale = "de-CH"\n', encoding="utf-8")
    config = load_config(path)
    assert config.report.locale == "de_CH"
    bundle = SimpleNamespace(config=config.model_dump(mode="json"), data=SimpleNamespace(currency="CHF"))
    assert formats_for(bundle) == Formats("de_CH", "CHF")
    assert load_config().report.locale == "en_GB"


def test_a_bundle_without_a_report_section_reads_in_en_gb():
    bundle = SimpleNamespace(config={"cluster": {"k": 4}}, data=SimpleNamespace(currency=None))
    assert formats_for(bundle) == Formats("en_GB", None)
    assert formats_for(bundle, locale="zh_TW").locale == "zh_TW"


def test_unknown_locale_in_the_config_is_one_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[report]\nlocale = "xx_QQ"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "setting 'report.locale'" in message and "unknown locale 'xx_QQ'" in message and str(path) in message
    assert "\n" not in message.strip()


def test_the_site_url_is_a_web_address_or_nothing(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[report]\nsite_url = "https://example.org/segments/"\n', encoding="utf-8")
    assert load_config(path).report.site_url == "https://example.org/segments/"
    assert load_config().report.site_url is None
    path.write_text('[report]\nsite_url = "_site/index.html"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="setting 'report.site_url'"):
        load_config(path)
