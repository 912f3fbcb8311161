"""The run configuration: one TOML file, validated once at the boundary.

The input sections (``[columns]``, ``[cleaning]``, ``[engine]``) live in
:mod:`analysis._config_input` and are re-exported here.

Each stage is handed its own section; nothing reads a global setting. Unknown
keys are refused (``extra="forbid"``) so that a typo never passes silently.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Literal

from babel import Locale, UnknownLocaleError
from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator

from analysis._config_input import CleaningConfig, ColumnsConfig, EngineConfig, _Section
from analysis.errors import ConfigError

__all__ = [
    "ColumnsConfig",
    "CleaningConfig",
    "EngineConfig",
    "CustomersConfig",
    "FeaturesConfig",
    "KSelectionConfig",
    "ClusterConfig",
    "NamingConfig",
    "RfmConfig",
    "PrivacyConfig",
    "ClvConfig",
    "ExperimentsConfig",
    "ReportConfig",
    "HistoryConfig",
    "Config",
    "load_config",
    "read_toml",
]

FEATURES = (
    "recency",
    "frequency",
    "monetary",
    "avg_unit_cost",
    "avg_order_value",
    "tenure",
    "distinct_products",
    "total_quantity",
)


class CustomersConfig(_Section):
    """How the per-customer table is built."""

    currency: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 code of the amounts; default: known for the recognised layouts, else none",
    )

    snapshot_date: dt.date | None = Field(
        default=None, description="reference date for recency; default: last date in the data + 1 day"
    )


class FeaturesConfig(_Section):
    """Which per-customer columns feed the clustering, and how they are transformed."""

    columns: tuple[str, ...] = ("recency", "frequency", "monetary", "avg_unit_cost")
    log1p: tuple[str, ...] | Literal["auto"] = "auto"
    skew_threshold: float = Field(default=1.0, ge=0.0)
    scaler: Literal["standard", "robust"] = "standard"
    winsorize: tuple[float, float] | None = Field(
        default=None, description="lower and upper quantiles to clip each feature to, e.g. [0.01, 0.99]"
    )

    @model_validator(mode="after")
    def _known_columns(self) -> FeaturesConfig:
        bad = [c for c in self.columns if c not in FEATURES]
        if bad:
            raise ValueError(f"unknown feature(s) {bad!r}; allowed: {list(FEATURES)!r}")
        if len(set(self.columns)) != len(self.columns) or len(self.columns) < 2:
            raise ValueError(f"needs at least two distinct features, got {list(self.columns)!r}")
        if self.winsorize is not None:
            lo, hi = self.winsorize
            if not 0.0 <= lo < hi <= 1.0:
                raise ValueError(f"winsorize must be [lo, hi] with 0 <= lo < hi <= 1, got {self.winsorize!r}")
        return self


class KSelectionConfig(_Section):
    """The range of k tried, the sample it is tried on, and the evidence computed for each k."""

    k_min: int = Field(default=2, ge=2, le=30)
    k_max: int = Field(default=10, ge=2, le=30)
    sample_size: int = Field(
        default=3000,
        ge=100,
        le=1_000_000,
        description="k is chosen on a stratified sample of at most this many customers; the final fit uses all",
    )
    silhouette_sample: int = Field(
        default=4000, ge=100, description="silhouette on a fixed-seed subsample of the sample when it is larger"
    )
    stability_resamples: int = Field(default=10, ge=2, le=200)
    stability_sample: float = Field(default=0.8, gt=0.0, le=1.0)
    min_stability: float = Field(default=0.75, ge=0.0, le=1.0)
    gap_references: int = Field(
        default=10, ge=2, le=200, description="B, the uniform reference sets of the gap statistic (NbClust uses 10)"
    )
    processes: int = Field(
        default=0,
        ge=0,
        le=64,
        description="processes that score the candidate k (the same numbers with any count); 0: one per CPU",
    )

    @model_validator(mode="after")
    def _ordered(self) -> KSelectionConfig:
        if self.k_min > self.k_max:
            raise ValueError(f"k_min ({self.k_min}) must not exceed k_max ({self.k_max})")
        return self


class ClusterConfig(_Section):
    """The clustering algorithm and its reproducibility settings."""

    method: Literal["kmeans", "gmm"] = "kmeans"
    k: int | None = Field(default=None, ge=2, le=30, description="fixed k; skips the automatic choice")
    random_state: int = 42
    n_init: int = Field(default=10, ge=1)
    subsample_above: int = Field(
        default=200_000,
        ge=1000,
        validation_alias=AliasChoices("subsample_above", "minibatch_above"),  # and under its former name
        description="above this many customers, the k-means restarts run on an evenly spaced subsample of this size",
    )
    min_share: float = Field(default=0.02, ge=0.0, lt=0.5)


class NamingConfig(_Section):
    """Where the persona playbook lives (rules as data)."""

    playbook: Path | None = Field(default=None, description="TOML playbook; default: the packaged one")


class RfmConfig(_Section):
    """Classic RFM quintile scoring."""

    bins: Literal[5] = 5


class PrivacyConfig(_Section):
    """Keyed pseudonyms: the key comes from the environment or from here."""

    key_env: str = "SEGMENTATION_KEY"
    key: str | None = None


class ClvConfig(_Section):
    """BG/NBD + Gamma-Gamma customer lifetime value."""

    enabled: bool = True
    time_unit: Literal["day", "week", "month"] = "week"
    calibration_end: dt.date | None = Field(
        default=None, description="end of the calibration period; default: a holdout of holdout_share of the span"
    )
    holdout_share: float = Field(default=0.25, gt=0.0, lt=0.9)
    horizon: float = Field(default=52.0, gt=0.0, description="prediction horizon, in time_unit")
    annual_discount_rate: float = Field(default=0.10, ge=0.0, lt=1.0)
    min_repeat_buyers: int = Field(default=100, ge=10)
    min_calibration_units: float = Field(default=8.0, gt=0.0)
    refit_on_full: bool = Field(
        default=True, description="forecast with a refit on the whole observation period (else the calibration fit)"
    )
    interval_level: float = Field(default=0.90, gt=0.0, lt=1.0, description="two-sided level of CLV intervals")
    frequency_bins: int = Field(
        default=7, ge=2, le=50, description="holdout table rows: calibration frequency 0 .. n-1 and an open 'n+' row"
    )
    max_spend_frequency_correlation: float = Field(
        default=0.3,
        gt=0.0,
        le=1.0,
        description="above this |correlation| the Gamma-Gamma independence warning is raised",
    )


class ExperimentsConfig(_Section):
    """Per-segment A/B test design."""

    metric: Literal["conversion", "revenue"] = "conversion"
    window_days: int = Field(default=90, ge=1, le=730)
    mde: float = Field(default=0.10, gt=0.0, le=5.0, description="relative minimum detectable effect")
    alpha: float = Field(default=0.05, gt=0.0, lt=0.5)
    power: float = Field(default=0.80, ge=0.5, lt=1.0)
    control_share: float = Field(default=0.5, gt=0.0, lt=1.0)
    seed: str = "segmentation-ab-v1"
    results: Path | None = None
    max_bad_result_share: float = Field(
        default=0.05, ge=0.0, le=1.0, description="above this share of unparseable rows a results file is refused"
    )
    min_baseline_customers: int = Field(
        default=30, ge=1, description="fewest segment members with history before the window to estimate a baseline"
    )


class ReportConfig(_Section):
    """How the site and the brief write numbers, money and dates."""

    locale: str = Field(
        default="en_GB",
        description="a locale Babel (CLDR) knows, e.g. 'en_GB', 'en_US', 'de_CH', 'zh_TW'; sets separators and dates",
    )
    site_url: str | None = Field(
        default=None,
        pattern=r"^https?://\S+$",
        description="the website's public address, printed in the brief ('--site-url' overrides it)",
    )

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        try:
            Locale.parse(value.replace("-", "_"))
        except (UnknownLocaleError, ValueError, TypeError):
            allowed = "a CLDR locale such as 'en_GB', 'de_CH' or 'zh_TW'"
            raise ValueError(f"unknown locale {value!r}; use {allowed}") from None
        return value.replace("-", "_")  # as written ("zh_TW", not Babel's "zh_Hant_TW")


class HistoryConfig(_Section):
    """How a refresh relates to the previous one (``--previous`` or the build's history)."""

    refit: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="'auto' refits only when the previous segmentation no longer fits the new data",
    )
    min_agreement: float = Field(
        default=0.75,
        ge=0.0,
        le=1.0,
        description="'auto' refits when a refit and the previous model agree less than this (adjusted Rand index)",
    )
    max_match_distance: float = Field(
        default=1.0,
        gt=0.0,
        description="segment centres farther apart than this (previous model's scaled units) are not the same segment",
    )


class Config(_Section):
    """The whole run configuration."""

    columns: ColumnsConfig = ColumnsConfig()
    cleaning: CleaningConfig = CleaningConfig()
    engine: EngineConfig = EngineConfig()
    customers: CustomersConfig = CustomersConfig()
    features: FeaturesConfig = FeaturesConfig()
    k_selection: KSelectionConfig = KSelectionConfig()
    cluster: ClusterConfig = ClusterConfig()
    naming: NamingConfig = NamingConfig()
    rfm: RfmConfig = RfmConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    clv: ClvConfig = ClvConfig()
    experiments: ExperimentsConfig = ExperimentsConfig()
    report: ReportConfig = ReportConfig()
    history: HistoryConfig = HistoryConfig()


def _describe(err: ValidationError, source: str) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = len(err.errors()) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    got = first.get("input")
    got_text = "" if isinstance(got, dict) else f" Got {got!r}."
    return f"{source}: setting {where!r}: {first['msg']}.{got_text}{tail}"


def read_toml(path: Path, *, what: str) -> dict:
    """Parse a TOML file; a missing or malformed one is a :class:`ConfigError` naming it.

    ``what`` names the kind of file in the message ("config", "playbook", "RFM rules").
    """
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} file not found.") from None
    except UnicodeDecodeError as exc:
        # TOML is UTF-8 by definition; a Latin-1 or UTF-16 file would otherwise end as an internal error.
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}: {what} file is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} on line {line}); "
            "save it as UTF-8."
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: {what} file cannot be read: {exc.strerror or exc}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {what} file is not valid TOML: {exc}.") from None


def load_config(path: Path | None = None, **overrides: dict) -> Config:
    """Read and validate a TOML configuration file.

    Parameters
    ----------
    path
        The TOML file; ``None`` gives the defaults.
    overrides
        Section dictionaries merged over the file (used by the CLI, e.g. ``cluster={"k": 4}``).

    Raises
    ------
    ConfigError
        When the file is missing, is not TOML, or breaks a declared constraint.
    """
    raw: dict = {}
    source = "config"
    if path is not None:
        source = str(path)
        raw = read_toml(Path(path), what="config")
    for section, values in overrides.items():
        if values:
            raw.setdefault(section, {})
            if not isinstance(raw[section], dict):
                raise ConfigError(f"{source}: [{section}] must be a table.")
            raw[section] = {**raw[section], **values}
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None
