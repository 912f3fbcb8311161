"""The input side of the configuration: ``[columns]``, ``[cleaning]`` and ``[engine]``.

What the log stage needs to read a file and clean it, on either engine. The
sections are re-exported by :mod:`analysis.config`, which is where callers
import them from.
"""

from __future__ import annotations

import codecs
import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["ColumnsConfig", "CleaningConfig", "EngineConfig", "DEFAULT_NON_PRODUCT_CODES"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnsConfig(_Section):
    """Maps the roles the pipeline needs onto the columns of an unknown file, and says how to read it.

    Leave it empty for the shapes recognised without configuration (Online
    Retail II, Online Retail, CDNOW, ``customer_data.csv``).
    """

    customer: str | None = None
    timestamp: str | None = None
    invoice: str | None = None
    quantity: str | None = None
    unit_price: str | None = None
    amount: str | None = None
    product: str | None = None
    description: str | None = None
    country: str | None = None
    currency: str | None = Field(
        default=None, description="a column holding each line's ISO 4217 currency code (one code per file)"
    )
    date_format: str | None = Field(
        default=None,
        description="strptime format of a text timestamp column, e.g. '%d/%m/%Y %H:%M'; detected when unset",
    )
    encoding: str | None = Field(
        default=None,
        description="text encoding of a CSV file, e.g. 'latin-1', 'cp1252', 'utf-16'; default UTF-8 (or the BOM's)",
    )

    @field_validator("date_format")
    @classmethod
    def _valid_date_format(cls, value: str | None) -> str | None:
        if value is None:
            return value
        import duckdb  # the format is applied by DuckDB's strptime, so DuckDB judges it

        try:
            duckdb.execute("SELECT try_strptime('2000-01-01', ?)", [value])
        except duckdb.Error:
            raise ValueError(f"{value!r} is not a strptime format DuckDB accepts (e.g. '%d/%m/%Y %H:%M')") from None
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            return codecs.lookup(value).name
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}; e.g. 'utf-8', 'latin-1', 'cp1252', 'utf-16'") from None

    def mapping(self) -> dict[str, str]:
        """Return the configured ``{role: column}`` pairs."""
        dumped = self.model_dump(exclude={"date_format", "encoding"})
        return {role: col for role, col in dumped.items() if col is not None}


DEFAULT_NON_PRODUCT_CODES = (
    "POST",
    "DOT",
    "M",
    "m",
    "C2",
    "D",
    "S",
    "B",
    "BANK CHARGES",
    "ADJUST",
    "ADJUST2",
    "AMAZONFEE",
    "CRUK",
    "PADS",
    "TEST001",
    "TEST002",
)


class CleaningConfig(_Section):
    """Row rules; every dropped row is counted under the first rule it breaks."""

    non_product_codes: tuple[str, ...] = DEFAULT_NON_PRODUCT_CODES
    non_product_prefixes: tuple[str, ...] = ("gift_0001_", "DCGS")
    drop_duplicates: bool | Literal["auto"] = Field(
        default="auto",
        description=(
            "drop exact duplicate rows; 'auto' does so only when the file has an invoice column, "
            "since without one two identical lines can be two real purchases (CDNOW)"
        ),
    )
    max_unparseable_share: float = Field(
        default=0.001,
        ge=0.0,
        le=1.0,
        description="above this share of unparseable or out-of-range values in a column the run stops with an error",
    )
    max_abs_number: float = Field(
        default=1e12,
        gt=0.0,
        le=1e15,
        description=(
            "largest |quantity|, |unit price| or |line amount| accepted; larger or infinite values are out_of_range "
            "(at most 1e15, so that amounts stay exact to 6 decimals)"
        ),
    )
    min_date: dt.date | None = Field(
        default=None, description="earliest plausible date; replaces the lower date fence when set"
    )
    max_date: dt.date | None = Field(
        default=None, description="latest plausible date (inclusive); replaces the upper date fence when set"
    )
    date_fence: float = Field(
        default=3.0,
        ge=0.0,
        description=(
            "dates more than this many times max(IQR, 365 days) below the first or above the third quartile of "
            "the file's dates are implausible_date; 0 turns the fence off"
        ),
    )

    @model_validator(mode="after")
    def _ordered_dates(self) -> CleaningConfig:
        if self.min_date and self.max_date and self.min_date > self.max_date:
            raise ValueError(f"min_date ({self.min_date}) must not be after max_date ({self.max_date})")
        return self


class EngineConfig(_Section):
    """Where the log stage runs (DuckDB in-process, or Spark) and how it may use the machine.

    ``memory_limit`` and ``temp_directory`` are DuckDB's; ``master`` and
    ``spark`` are Spark's. Everything after the customer table runs in-process
    whatever the engine.
    """

    name: Literal["duckdb", "spark"] = Field(
        default="duckdb",
        description="'duckdb' (in-process, the default) or 'spark' (a local or cluster session; extra 'spark')",
    )
    memory_limit: str = Field(
        default="3GB",
        pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="DuckDB memory_limit, e.g. '3GB'; larger work spills to temp_directory",
    )
    temp_directory: Path | None = Field(
        default=None,
        description="where DuckDB spills; default: a fresh directory under the system temp dir, removed afterwards",
    )
    master: str = Field(
        default="local[*]",
        min_length=1,
        description="Spark master URL: 'local[*]', 'local[4]', 'spark://host:7077', 'yarn', ...",
    )
    spark: dict[str, str] = Field(
        default_factory=dict,
        description="Spark settings for the session, e.g. {'spark.driver.memory' = '4g'} (keys start with 'spark.')",
    )

    @field_validator("spark", mode="before")
    @classmethod
    def _spark_settings(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        bad = [key for key in value if not str(key).startswith("spark.")]
        if bad:
            raise ValueError(f"Spark setting names start with 'spark.'; got {bad!r}")
        # TOML writes numbers and booleans unquoted; Spark takes every setting as text.
        return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}
