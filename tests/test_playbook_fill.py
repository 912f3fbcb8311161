"""Playbook templates filled with the report's formats (publishing/_playbook.py)."""

from __future__ import annotations

import pytest

from publishing._format import Formats
from publishing._playbook import fill

VALUES = {"size": 1234.0, "share_customers": 0.1234, "mean_monetary": 1234.5678, "mean_recency": 16.4, "z_tenure": -0.5}


@pytest.mark.parametrize(
    ("template", "locale", "currency", "expected"),
    [
        ("{size:,} customers ({share_customers:.0%})", "en_GB", "GBP", "1,234 customers (12%)"),
        ("{cur}{mean_monetary:,.0f} each", "en_GB", "GBP", "£1,235 each"),
        ("{cur}{mean_monetary:,.0f} each", "de_CH", "CHF", "CHF\u00a01'235 each"),
        ("{cur}{mean_monetary:,.2f}", "en_US", "USD", "$1,234.57"),
        ("{cur}{mean_monetary:,.0f}", "en_GB", None, "1,235"),
        ("{mean_recency:.0f} days ago", "en_GB", "GBP", "16 days ago"),
        ("about {mean_recency:.1f}", "de_DE", "EUR", "about 16,4"),
        ("prices in {cur}", "en_GB", "GBP", "prices in £"),
        ("{z_tenure:.2f}", "en_GB", "GBP", "\u22120.50"),
        ("no fields at all", "en_GB", "GBP", "no fields at all"),
    ],
)
def test_fields_follow_their_spec_in_the_reports_locale(template, locale, currency, expected):
    assert fill(template, VALUES, Formats(locale, currency)) == expected


def test_a_field_the_segment_lacks_is_an_error_not_a_blank():
    with pytest.raises(KeyError):
        fill("{mean_tenure:.0f}", VALUES, Formats("en_GB", "GBP"))
