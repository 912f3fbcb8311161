"""What the stream needs from a saved model, checked once: roles, columns, date rules, features, the key.

:func:`stream_spec` turns a loaded ``model.json`` into a :class:`StreamSpec`
or refuses it with one line: a customer-level model (there are no purchases to
stream), a model older than schema 1.1.0 (it lacks the date bounds and the
file's columns that the batch computed from the whole file), or features the
stream cannot keep up to date. :func:`stream_key` reads ``SEGMENTATION_KEY``
and checks it against the model's ``fingerprint.key_check``.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from analysis.config import FEATURES, CleaningConfig, PrivacyConfig
from analysis.errors import ConfigError
from analysis.model import SegmentModel
from analysis.privacy import PseudonymKey, key_check, resolve_key
from analysis.stream._errors import StreamError

__all__ = ["StreamSpec", "stream_spec", "stream_key", "TIME_FEATURES"]

# Features that grow by one every day a customer does nothing.
TIME_FEATURES = ("recency", "tenure")


@dataclass(frozen=True)
class StreamSpec:
    """How events are read and cleaned, as the training run read and cleaned its file.

    Attributes
    ----------
    roles
        ``{role: source column}`` (the model's ``input.roles``).
    columns
        Every column of the training file, in order: exact duplicates are judged on all of them.
    date_format
        strptime format of the timestamp text; ``None`` when the training file had a
        typed timestamp column, and events then carry ISO 8601 text.
    low, high
        The implausible-date bounds the run used (``None``: open side).
    cleaning
        The run's ``[cleaning]`` settings.
    dedup
        Whether exact duplicates are dropped (as :func:`analysis.clean.clean_transactions` decides).
    features
        The model's feature columns, in order.
    """

    roles: dict[str, str]
    columns: tuple[str, ...]
    date_format: str | None
    low: dt.datetime | None
    high: dt.datetime | None
    cleaning: CleaningConfig
    dedup: bool
    features: tuple[str, ...]

    @property
    def needs_products(self) -> bool:
        return "distinct_products" in self.features

    @property
    def required(self) -> tuple[str, ...]:
        """The source columns every event must carry (one per mapped role)."""
        return tuple(dict.fromkeys(self.roles.values()))


def _bound(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def stream_spec(model: SegmentModel, *, path: Path | str) -> StreamSpec:
    """Check that ``model`` can drive the stream and return how events are read.

    Raises
    ------
    StreamError
        A customer-level model, a model without ``input.columns`` / ``input.date_bounds``
        (schema older than 1.1.0), or features outside the known per-customer columns.
    """
    inp = model.input
    if inp.level != "transactions":
        raise StreamError(f"{path}: a model fitted on a customer-level table cannot assign purchase events.")
    if inp.columns is None or inp.date_bounds is None:
        raise StreamError(
            f"{path}: model schema {model.schema_version} lacks input.columns and input.date_bounds, which the "
            "stream needs to clean events as the run cleaned its file; re-run the analysis to write a current model."
        )
    features = tuple(t.name for t in model.features.transforms)
    unknown = [f for f in features if f not in FEATURES]
    if unknown:
        raise StreamError(f"{path}: the stream cannot compute feature(s) {unknown!r}; it knows {list(FEATURES)!r}.")
    cleaning = CleaningConfig.model_validate(inp.cleaning)
    dedup = cleaning.drop_duplicates is True or (cleaning.drop_duplicates == "auto" and "invoice" in inp.roles)
    return StreamSpec(
        roles=dict(inp.roles),
        columns=tuple(inp.columns),
        date_format=inp.date_format,
        low=_bound(inp.date_bounds[0]),
        high=_bound(inp.date_bounds[1]),
        cleaning=cleaning,
        dedup=dedup,
        features=features,
    )


def stream_key(model: SegmentModel, *, path: Path | str, key_env: str = "SEGMENTATION_KEY") -> PseudonymKey:
    """The pseudonym key from the environment, checked against the model's ``fingerprint.key_check``.

    Raises
    ------
    StreamError
        The variable is unset, too short, or holds another key than the model was made with.
    """
    if not os.environ.get(key_env):
        raise StreamError(
            f"the stream needs the pseudonym key the model was made with: set {key_env} "
            "(a derived key would give every customer another pseudonym)."
        )
    try:
        key = resolve_key(PrivacyConfig(key_env=key_env), data_path=Path(path))
    except ConfigError as exc:
        raise StreamError(str(exc)) from None
    if key_check(key) != model.fingerprint.key_check:
        raise StreamError(
            f"{path}: {key_env} is not the key this model was made with (key check {key_check(key)} != "
            f"{model.fingerprint.key_check}); use the key of the run that wrote the model."
        )
    return key
