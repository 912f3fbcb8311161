"""One small hierarchy of errors that the CLI turns into a single stderr line.

Every message says what was wrong, what is allowed and what was got, and names
the file, the column and the offending value where there is one.
"""

from __future__ import annotations

__all__ = [
    "SegmentationError",
    "ConfigError",
    "DataError",
    "SchemaMappingError",
    "EmptyDataError",
    "PublishError",
    "OutputError",
    "ModelError",
]


class SegmentationError(Exception):
    """Base class of every error this package raises on purpose."""

    exit_code = 2


class ConfigError(SegmentationError):
    """The configuration file or a command-line option is invalid."""


class DataError(SegmentationError):
    """The input data cannot be used as it is.

    Parameters
    ----------
    message
        What is wrong, in one sentence.
    path, column, value, row
        Where it is wrong; each is added to the message when given.
    """

    def __init__(
        self,
        message: str,
        *,
        path: object | None = None,
        column: str | None = None,
        value: object | None = None,
        row: int | None = None,
    ) -> None:
        self.path = path
        self.column = column
        self.value = value
        self.row = row
        where = []
        if path is not None:
            where.append(f"{path}")
        if column is not None:
            where.append(f"column {column!r}")
        if row is not None:
            where.append(f"row {row}")
        text = message if not where else f"{': '.join([', '.join(where), message])}"
        if value is not None:
            text = f"{text} Got {value!r}."
        super().__init__(text)


class SchemaMappingError(DataError):
    """The columns of a file cannot be mapped onto the roles the pipeline needs."""


class EmptyDataError(DataError):
    """No usable rows remain (empty file, header only, or every row dropped)."""


class PublishError(SegmentationError):
    """A build or publish step refused to run or failed."""


class OutputError(SegmentationError):
    """An output cannot be written where it was asked for (path, permissions, disk)."""


class ModelError(SegmentationError):
    """A saved segment model (``model.json``) cannot be used."""
