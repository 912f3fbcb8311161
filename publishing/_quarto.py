"""The Quarto engine: ``quarto render`` on the assembled project, used when a ``quarto`` binary is on PATH."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from analysis.errors import PublishError

__all__ = ["quarto_path", "render_with_quarto"]


def quarto_path() -> str | None:
    """Path of the ``quarto`` binary on PATH, or None."""
    return shutil.which("quarto")


def render_with_quarto(project: Path, out_dir: Path) -> list[str]:
    """Run ``quarto render`` on ``project`` with its output in ``out_dir``; return the HTML file names."""
    binary = quarto_path()
    if binary is None:
        raise PublishError("engine='quarto' needs the quarto CLI on PATH; none was found. Use engine='pandoc'.")
    out_dir.mkdir(parents=True, exist_ok=True)
    run = subprocess.run(
        [binary, "render", str(project), "--to", "html", "--output-dir", str(out_dir.resolve()), "--quiet"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise PublishError(f"quarto render failed (exit {run.returncode}): {run.stderr.strip()[-2000:]}")
    return sorted(p.name for p in out_dir.glob("*.html"))
