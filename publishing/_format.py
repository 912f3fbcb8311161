"""Money, numbers, shares, day counts and dates for readers, formatted by Babel (CLDR data).

One small immutable object, :class:`Formats`, carries the report's locale and
the data's currency; the Jinja filters (:func:`publishing._env.make_env`), the
chart axes and the charts' alt texts all format through it, so a number reads
the same on the site, in the brief and in a chart.

>>> f = Formats("en_GB", "GBP")
>>> f.money(500_000, compact=True), f.percent(25 / 1_067_371, 2), f.days(1)
('£500k', '< 0.01%', '1 day')

Public API
----------
Formats(locale="en_GB", currency=None)
    .money(value, digits=0, compact=False)   "£1,235", "£4.4m", "£421k", "NT$1,235", "CHF 1'235", "1.235 €"
    .number(value, digits=0, compact=False)  "1,234,568", "45k", "1.2m"
    .percent(value, digits=1)                "12.3%", "< 0.01%" for a tiny non-zero share
    .signed(value, digits=2)                 "+0.50", "−1.00"
    .points(value, digits=1)                 "5.2" (a difference of rates, in percentage points)
    .signed_percent(value, digits=1)         "+10.0%", "−2.4%"
    .days(n)                                 "16 days", "1 day"
    .date(value, style="long")               "10 Dec 2011" (en_GB), "2011年12月10日" (zh_TW); style="iso"
    .symbol, .currency_known
formats_for(bundle) -> Formats
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import math
import re
from dataclasses import dataclass
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as _babel_date
from babel.numbers import (
    NumberPattern,
    format_compact_currency,
    format_compact_decimal,
    format_currency,
    format_decimal,
    get_currency_symbol,
    get_group_symbol,
    list_currencies,
)
from babel.numbers import format_percent as _babel_percent

__all__ = ["DEFAULT_LOCALE", "DASH", "MINUS", "Formats", "formats_for", "parse_locale"]

DEFAULT_LOCALE = "en_GB"
DASH = "\u2014"  # shown for a missing value
MINUS = "\u2212"  # typographic minus, so negative numbers do not wrap or read as hyphens


def parse_locale(value: str) -> Locale:
    """The Babel locale named ``value`` (``"en_GB"``; ``"en-GB"`` is accepted too).

    Raises
    ------
    ValueError
        One line naming the bad value, when Babel does not know the locale.
    """
    try:
        return Locale.parse(str(value).replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(
            f"The 'locale' parameter must be a locale Babel knows, such as 'en_GB', 'de_CH' or 'zh_TW'. "
            f"Got {value!r} instead."
        ) from None


def _check_digits(digits: int) -> None:
    if not isinstance(digits, int) or isinstance(digits, bool) or not 0 <= digits <= 10:
        raise ValueError(f"The 'digits' parameter must be an int in the range [0, 10]. Got {digits!r} instead.")


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def _with_digits(pattern: NumberPattern, digits: int) -> NumberPattern:
    """The locale's pattern with exactly ``digits`` decimals (Babel patterns fix their own)."""
    fixed = copy.copy(pattern)
    fixed.frac_prec = (digits, digits)
    return fixed


@functools.cache
def _english_owner() -> dict[str, str]:
    # Which currency each symbol means in English CLDR data ("$" -> USD); the map is one-to-one.
    return {get_currency_symbol(code, "en"): code for code in list_currencies()}


@functools.cache
def _symbol(currency: str, locale: Locale) -> tuple[str, str]:
    """(the symbol Babel writes, the one shown): a symbol that means another currency elsewhere
    is replaced by its international form, so a Taiwanese "$" reads "NT$", a Canadian one "CA$"."""
    local = get_currency_symbol(currency, locale)
    owner = _english_owner().get(local)
    if owner is not None and owner != currency:
        return local, get_currency_symbol(currency, "en")
    return local, local


def _regroup(text: str, locale: Locale, grouping: tuple[int, int]) -> str:
    """Put the group separator into the first digit run of ``text`` (Babel formatted it without one)."""
    symbol = get_group_symbol(locale)
    match = re.search(r"\d+", text)
    if match is None:
        return text
    digits, size, groups = match.group(0), grouping[0], []
    while len(digits) > size:
        groups.insert(0, digits[-size:])
        digits, size = digits[:-size], grouping[1]
    return text[: match.start()] + symbol.join([digits, *groups]) + text[match.end() :]


def _compact_digits(locale: Locale, value: float, digits: int, *, currency: bool) -> int | None:
    """Decimals of the short form of ``value`` ("4.4m", "421k"), or None when the locale has no
    short form at this magnitude (German abbreviates nothing below a million: "500.000 €").

    ``digits`` 0 means automatic: one decimal when the abbreviated number has one
    integer digit ("£4.4m"), none when it has more ("£421k").
    """
    table = (locale.compact_currency_formats if currency else locale.compact_decimal_formats)["short"]
    patterns = table.get("other") or next(iter(table.values()))
    magnitude = 10 ** int(math.floor(math.log10(abs(value)))) if abs(value) >= 1 else 1
    pattern = patterns.get(str(magnitude))
    if pattern is None or not re.search(r"[^0#¤\s\u00a0.,']", pattern.pattern):
        return None
    return digits or (1 if pattern.pattern.count("0") == 1 else 0)


@dataclass(frozen=True)
class Formats:
    """How numbers read in one report: a locale and the data's currency.

    Parameters
    ----------
    locale
        A locale Babel knows (default ``"en_GB"``): separators, symbol placement, dates.
    currency
        ISO 4217 code of every amount, or ``None`` when unknown: amounts are then
        plain numbers and :attr:`currency_known` is False so pages can say so.
    """

    locale: str = DEFAULT_LOCALE
    currency: str | None = None

    def __post_init__(self) -> None:
        parse_locale(self.locale)  # refuse an unknown locale now, not at the first number
        object.__setattr__(self, "locale", str(self.locale).replace("-", "_"))
        if self.currency is not None and not re.fullmatch(r"[A-Z]{3}", str(self.currency)):
            raise ValueError(
                f"The 'currency' parameter must be an ISO 4217 code such as 'GBP', or None. Got {self.currency!r}."
            )

    @functools.cached_property
    def _locale(self) -> Locale:
        return Locale.parse(self.locale)

    @property
    def currency_known(self) -> bool:
        """False when the data did not say which currency its amounts are in."""
        return self.currency is not None

    @property
    def symbol(self) -> str:
        """The currency's symbol as shown (``"£"``, ``"NT$"``, ``"CHF"``), ``""`` when unknown."""
        return "" if self.currency is None else _symbol(self.currency, self._locale)[1]

    def _finish(self, text: str, grouping: tuple[int, int] | None) -> str:
        # Babel strips quote pairs from its output, which eats the "'" separators of de_CH
        # beyond a million; numbers in such locales are formatted ungrouped and regrouped here.
        if grouping is not None:
            text = _regroup(text, self._locale, grouping)
        return text.replace("-", MINUS)

    def _grouping(self, pattern: NumberPattern) -> tuple[tuple[int, int] | None, bool]:
        broken = get_group_symbol(self._locale) == "'"
        return (pattern.grouping if broken else None), not broken

    def number(self, value: float | int | None, digits: int = 0, *, compact: bool = False) -> str:
        """A number with the locale's separators: ``1234567.8 -> '1,234,568'``; compact ``'1.2m'``.

        With ``compact``, ``digits`` 0 picks the decimals itself: one for a single
        integer digit (``'4.4m'``), none otherwise (``'421k'``).
        """
        _check_digits(digits)
        if _is_missing(value):
            return DASH
        value = 0.0 if round(value, digits) == 0 else value  # no "-0"
        short = _compact_digits(self._locale, value, digits, currency=False) if compact else None
        if short is not None:
            return self._finish(format_compact_decimal(value, locale=self._locale, fraction_digits=short), None)
        pattern = _with_digits(self._locale.decimal_formats[None], digits)
        grouping, group = self._grouping(pattern)
        return self._finish(format_decimal(value, format=pattern, locale=self._locale, group_separator=group), grouping)

    def money(self, value: float | int | None, digits: int = 0, *, compact: bool = False) -> str:
        """An amount with its currency: ``'£1,235'``, ``'−£1,235'``, compact ``'£4.4m'``, ``'£500k'``.

        With an unknown currency the amount is the plain number (see :attr:`currency_known`).
        """
        if self.currency is None:
            return self.number(value, digits, compact=compact)
        _check_digits(digits)
        if _is_missing(value):
            return DASH
        value = 0.0 if round(value, digits) == 0 else value
        local, shown = _symbol(self.currency, self._locale)
        short = _compact_digits(self._locale, value, digits, currency=True) if compact else None
        if short is not None:
            text = format_compact_currency(value, self.currency, locale=self._locale, fraction_digits=short)
            grouping = None
        else:
            pattern = _with_digits(self._locale.currency_formats["standard"], digits)
            grouping, group = self._grouping(pattern)
            text = format_currency(
                value, self.currency, format=pattern, locale=self._locale, currency_digits=False, group_separator=group
            )
        return self._finish(text.replace(local, shown, 1) if local != shown else text, grouping)

    def percent(self, value: float | None, digits: int = 1) -> str:
        """A share in [0, 1] as a percentage: ``0.1234 -> '12.3%'``.

        A share that is not zero never reads as zero: 25 rows of 1,067,371 give
        ``'< 0.01%'`` at two digits (and a share just short of one ``'> 99.99%'``).
        """
        _check_digits(digits)
        if _is_missing(value):
            return DASH
        step = 10.0**-digits / 100.0  # the smallest share shown at this precision
        if value != 0 and abs(value) < step / 2:
            return f"< {self._percent(step, digits)}" if value > 0 else f"> {self._percent(-step, digits)}"
        if value < 1 and value > 1 - step / 2:
            return f"> {self._percent(1 - step, digits)}"
        return self._percent(0.0 if round(value, digits + 2) == 0 else value, digits)

    def _percent(self, value: float, digits: int) -> str:
        pattern = _with_digits(self._locale.percent_formats[None], digits)
        grouping, group = self._grouping(pattern)
        return self._finish(_babel_percent(value, format=pattern, locale=self._locale, group_separator=group), grouping)

    def signed(self, value: float | None, digits: int = 2) -> str:
        """A number with an explicit sign: ``0.5 -> '+0.50'``, ``-1 -> '−1.00'``, ``0 -> '0.00'``."""
        text = self.number(value, digits)
        if text == DASH or text.startswith(MINUS) or round(value, digits) == 0:
            return text
        return f"+{text}"

    def points(self, value: float | None, digits: int = 1) -> str:
        """A difference of rates as percentage points: ``0.052 -> '5.2'`` (the caller writes "points")."""
        return DASH if _is_missing(value) else self.number(value * 100.0, digits)

    def signed_percent(self, value: float | None, digits: int = 1) -> str:
        """A relative change with its sign: ``-0.024 -> '−2.4%'``, ``0.1 -> '+10.0%'``, ``0 -> '0.0%'``."""
        text = self.percent(value, digits)
        if text == DASH or text.startswith((MINUS, "<", ">")) or round(value, digits + 2) == 0:
            return text
        return f"+{text}"

    def times(self, value: float | None) -> str:
        """A ratio as "n times": ``30.25 -> '30×'``, ``2.46 -> '2.5×'``, ``0.05 -> '1/20'``."""
        if _is_missing(value) or value <= 0:
            return DASH
        if value >= 1:
            return f"{self.number(value, 0 if value >= 10 else 1)}\u00d7"
        return f"1/{self.number(1 / value)}" if value <= 0.1 else f"{self.number(value, 2)}\u00d7"

    def days(self, n: float | int | None) -> str:
        """A count of days in words: ``'16 days'``, ``'1 day'`` (the pages' prose is English)."""
        if _is_missing(n):
            return DASH
        return f"{self.number(n)} {'day' if round(n) == 1 else 'days'}"

    def date(self, value: str | dt.date | None, style: str = "long") -> str:
        """An ISO date (or datetime) for reading: ``'10 Dec 2011'`` in en_GB; ``style="iso"``: ``'2011-12-10'``."""
        if style not in ("long", "iso"):
            raise ValueError(f"The 'style' parameter must be one of 'long', 'iso'. Got {style!r} instead.")
        if value is None or value == "":
            return DASH
        if isinstance(value, str):
            try:
                day = dt.datetime.fromisoformat(value.strip()).date()
            except ValueError:
                raise ValueError(
                    f"The 'value' parameter must be an ISO date such as '2011-12-10'. Got {value!r} instead."
                ) from None
        elif isinstance(value, dt.datetime):
            day = value.date()
        elif isinstance(value, dt.date):
            day = value
        else:
            raise TypeError(f"The 'value' parameter must be a str or date. Got {type(value).__name__} instead.")
        # CLDR's "medium" date is the short-month form ("10 Dec 2011", "Dec 10, 2011", "10.12.2011").
        return day.isoformat() if style == "iso" else _babel_date(day, "medium", locale=self._locale)


def formats_for(bundle: Any, locale: str | None = None) -> Formats:
    """The :class:`Formats` of a bundle: its ``[report] locale`` setting (default en_GB) and its currency.

    ``locale`` overrides the bundle's setting. Bundles written before the
    ``[report]`` section existed have no locale and read in en_GB.
    """
    report = bundle.config.get("report") if isinstance(bundle.config, dict) else None
    chosen = locale or (report or {}).get("locale") or DEFAULT_LOCALE
    return Formats(chosen, bundle.data.currency)
