"""Rendering: the bundle -> website (Quarto pages rendered by pandoc or Quarto) and PDF brief.

Everything here reads only the bundle (``analysis.bundle.Bundle``); nothing is
computed from raw data.
"""

from __future__ import annotations

__all__: list[str] = []
