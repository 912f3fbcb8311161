"""The stream processor's error: one line naming the file, column or value, like every error of the package."""

from __future__ import annotations

from analysis.errors import SegmentationError

__all__ = ["StreamError"]


class StreamError(SegmentationError):
    """The stream cannot go on: a model, key, state, input or output that does not fit."""
