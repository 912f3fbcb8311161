"""The whole build: data -> bundle -> site -> PDF brief, swapped into place only when all succeeded.

Everything is written into temporary directories beside the targets first:
the private analysis output (``bundle.json``, ``assignments.csv``) beside
``build/private/`` and the site beside ``_site/``. Only when every step has
succeeded are they renamed into place, so a failed build leaves the previous
``_site/`` untouched and no temporary directory behind. The private
``assignments.csv`` never goes under the site.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from analysis.bundle import Bundle
from analysis.config import Config
from analysis.errors import PublishError
from publishing.brief import DEFAULT_SITE_URL, build_brief
from publishing.deliver._site import BuildInfo, write_build_info

__all__ = ["BuildResult", "build_all"]

PRIVATE_FILES = ("assignments.csv",)


@dataclass(frozen=True)
class BuildResult:
    """What a successful build produced.

    Attributes
    ----------
    site_dir
        The published-to-be site (``index.html``, ``brief.pdf``, ``build-info.json``, ...).
    bundle_path
        The bundle the site was built from (under ``private_dir``).
    private_dir
        Analysis output that must never be published (``assignments.csv``).
    info
        The site's receipt (checksums of the bundle, the input and the key files).
    seconds
        Wall time of each step (for reporting only; never written into any output).
    """

    site_dir: Path
    bundle_path: Path
    private_dir: Path
    info: BuildInfo
    seconds: dict[str, float]


def _analyse(data: Path, *, config: Config, out_dir: Path) -> Bundle:
    from analysis.pipeline import run_pipeline

    return run_pipeline(data, config=config, out_dir=out_dir).bundle


def _render_site(bundle_path: Path, out_dir: Path, *, engine: str) -> None:
    try:
        from publishing.site import build_site
    except ImportError as exc:
        raise PublishError(f"the website renderer is not available ({exc}).") from None
    build_site(bundle_path, out_dir, engine=engine, brief_href="brief.pdf")


def _render_brief(bundle_path: Path, out_pdf: Path, *, site_url: str) -> None:
    build_brief(bundle_path, out_pdf, site_url=site_url)


def _swap(new: Path, target: Path) -> None:
    """Put ``new`` at ``target``; the old ``target`` is restored if the second rename fails."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f"{target.name}.old-"))
        old.rmdir()
        target.rename(old)
    try:
        new.rename(target)
    except OSError:
        if old is not None:
            old.rename(target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _check_no_private(site_dir: Path) -> None:
    leaked = sorted(str(p.relative_to(site_dir)) for name in PRIVATE_FILES for p in site_dir.rglob(name))
    if leaked:
        raise PublishError(f"{site_dir}: private files found in the site: {leaked}; refusing to publish them.")


def build_all(
    data: Path,
    *,
    config: Config,
    out: Path = Path("_site"),
    private: Path = Path("build/private"),
    site_url: str = DEFAULT_SITE_URL,
    engine: str = "auto",
) -> BuildResult:
    """Run the analysis and render the site and the brief, all or nothing.

    Parameters
    ----------
    data
        The transactions file (CSV, CSV.gz or Parquet).
    config
        The validated run configuration.
    out
        The site directory, replaced as a whole on success (default ``_site``).
    private
        Where ``bundle.json`` and the private ``assignments.csv`` go (default ``build/private``).
    site_url
        Where the site will live, printed in the brief.
    engine
        Site engine: ``"auto"``, ``"pandoc"`` or ``"quarto"``.

    Returns
    -------
    BuildResult
        Paths, the build receipt and step timings.

    Raises
    ------
    SegmentationError
        Whatever step failed; nothing was replaced.
    """
    out, private = Path(out).absolute(), Path(private).absolute()
    if out == private or out in private.parents:
        raise PublishError(f"--private {private} must lie outside the site directory {out}.")
    out.parent.mkdir(parents=True, exist_ok=True)
    private.parent.mkdir(parents=True, exist_ok=True)
    stage_private = Path(tempfile.mkdtemp(dir=private.parent, prefix=f".{private.name}-new-"))
    stage_site = Path(tempfile.mkdtemp(dir=out.parent, prefix=f"{out.name}.new-"))
    seconds: dict[str, float] = {}
    try:
        clock = time.perf_counter()
        bundle = _analyse(Path(data), config=config, out_dir=stage_private)
        seconds["analysis"] = time.perf_counter() - clock
        bundle_path = stage_private / "bundle.json"

        clock = time.perf_counter()
        _render_site(bundle_path, stage_site, engine=engine)
        seconds["site"] = time.perf_counter() - clock

        clock = time.perf_counter()
        _render_brief(bundle_path, stage_site / "brief.pdf", site_url=site_url)
        seconds["brief"] = time.perf_counter() - clock

        _check_no_private(stage_site)
        info = write_build_info(
            stage_site,
            bundle_path=bundle_path,
            source_name=bundle.data.source.name,
            source_sha256=bundle.data.source.sha256,
        )
        # The private side first: if the site swap then fails, publish sees a stale site
        # and refuses.
        _swap(stage_private, private)
        _swap(stage_site, out)
    finally:
        shutil.rmtree(stage_private, ignore_errors=True)
        shutil.rmtree(stage_site, ignore_errors=True)
    return BuildResult(
        site_dir=out,
        bundle_path=private / "bundle.json",
        private_dir=private,
        info=info,
        seconds=seconds,
    )
