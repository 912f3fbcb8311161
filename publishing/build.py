"""The whole build: data -> bundle -> site -> PDF brief, swapped into place only when all succeeded.

Everything is written into staging directories beside the targets first: the
private analysis output (``bundle.json``, ``assignments.csv``) beside
``build/private/`` and the site beside ``_site/``. When both are complete, a
journal is written and both are swapped in (an atomic exchange each), so the
pair always comes from one build: a run killed half-way is finished by the
next build or publish (:func:`checkout_lock`). A failed build leaves the
previous pair untouched and no staging directory behind.

Only directories the build wrote are ever replaced: ``--out`` and
``--private`` are refused, before the analysis starts, when they hold anything
else. The site is world-readable (0644/0755), the private output owner-only
(0600/0700). ``build/.build.lock`` lets one build or publish run at a time.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.errors import PublishError
from publishing.deliver._fs import PRIVATE_MODES, PUBLIC_MODES, read_nofollow, set_modes, walk_files
from publishing.deliver._journal import Naming, Swap, clean_leftovers, new_stage, recover, swap_all
from publishing.deliver._lock import LOCK_NAME, hold_lock
from publishing.deliver._owned import ensure_replaceable, private_manifest, site_manifest, write_private_marker
from publishing.deliver._privacy import private_lookalikes
from publishing.deliver._signing import SigningKey, load_key
from publishing.deliver._site import BuildInfo, write_build_info

if TYPE_CHECKING:  # both pull in the whole analysis stack; the lock and recovery must start fast
    from analysis.bundle import Bundle
    from analysis.config import Config

__all__ = ["JOURNAL_NAME", "BuildResult", "build_all", "checkout_lock"]

JOURNAL_NAME = ".build-journal.json"


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
        The site's signed receipt (checksums of the bundle, the input and every site file).
    seconds
        Wall time of each step (for reporting only; never written into any output).
    key_source
        Where the signing key came from (``$SEGMENTATION_KEY`` or the key file's path).
    key_created
        Whether this build created the key file.
    """

    site_dir: Path
    bundle_path: Path
    private_dir: Path
    info: BuildInfo
    seconds: dict[str, float]
    key_source: str
    key_created: bool


@contextmanager
def checkout_lock(state_dir: Path, *, purpose: str) -> Iterator[None]:
    """Hold ``state_dir/.build.lock`` and finish any interrupted swap before the block runs.

    Parameters
    ----------
    state_dir
        The private directory's parent (``build/``).
    purpose
        ``"build"`` or ``"publish"``, named to a second run that is refused.

    Raises
    ------
    PublishError
        Another build or publish holds the lock, or the interrupted swap cannot be finished.
    """
    with hold_lock(Path(state_dir) / LOCK_NAME, purpose=purpose):
        recover(Path(state_dir) / JOURNAL_NAME)
        yield


def _analyse(data: Path, *, config: Config, out_dir: Path) -> Bundle:
    from analysis.pipeline import run_pipeline

    return run_pipeline(data, config=config, out_dir=out_dir).bundle


def _render_site(bundle_path: Path, out_dir: Path, *, engine: str) -> None:
    try:
        from publishing.site import build_site
    except ImportError as exc:
        raise PublishError(f"the website renderer is not available ({exc}).") from None
    build_site(bundle_path, out_dir, engine=engine, brief_href="brief.pdf")


def _render_brief(bundle_path: Path, out_pdf: Path, *, site_url: str | None) -> None:
    from publishing.brief import DEFAULT_SITE_URL, build_brief

    build_brief(bundle_path, out_pdf, site_url=site_url or DEFAULT_SITE_URL)


def _check_no_private(site_dir: Path, private_dir: Path) -> None:
    files = {name: read_nofollow(site_dir, name) for name in walk_files(site_dir, what="site")}
    suspects = private_lookalikes(files, private_dir)
    if suspects:
        raise PublishError(f"{site_dir}: private output found in the site: {', '.join(suspects)}; refusing to build.")


def _prepare(out: Path, private: Path) -> None:
    """Refuse foreign targets and remove staging directories a killed build left (the lock is held)."""
    ensure_replaceable(out, what="--out", manifest=site_manifest)
    ensure_replaceable(private, what="--private", manifest=lambda p: private_manifest(p, site=out))
    # Earlier versions staged the private side as ".private-new-*" and "private.old-*": both styles are ours.
    for naming in (Naming(out, hidden=False), Naming(private, hidden=True), Naming(private, hidden=False)):
        clean_leftovers(naming)


def _stage(
    data: Path,
    *,
    config: Config,
    stage_private: Path,
    stage_site: Path,
    site_url: str | None,
    engine: str,
    key: SigningKey,
) -> tuple[BuildInfo, dict[str, float]]:
    """Write the complete private output and site into the staging directories, flushed to disk."""
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    bundle = _analyse(data, config=config, out_dir=stage_private)
    seconds["analysis"] = time.perf_counter() - clock
    bundle_path = stage_private / "bundle.json"

    clock = time.perf_counter()
    _render_site(bundle_path, stage_site, engine=engine)
    seconds["site"] = time.perf_counter() - clock

    clock = time.perf_counter()
    _render_brief(bundle_path, stage_site / "brief.pdf", site_url=site_url)
    seconds["brief"] = time.perf_counter() - clock

    _check_no_private(stage_site, stage_private)
    write_private_marker(stage_private)
    set_modes(stage_private, PRIVATE_MODES, fsync=True)
    info = write_build_info(
        stage_site,
        bundle_path=bundle_path,
        source_name=bundle.data.source.name,
        source_sha256=bundle.data.source.sha256,
        key=key,
    )
    set_modes(stage_site, PUBLIC_MODES, fsync=True)
    return info, seconds


@contextmanager
def _staging(private: Path, out: Path, journal: Path) -> Iterator[tuple[Swap, Swap]]:
    """Staging directories for the private side and the site; removed unless the journal still needs them."""
    swaps = new_stage(Naming(private, hidden=True)), new_stage(Naming(out, hidden=False))
    try:
        yield swaps
    except OSError as exc:
        if journal.exists():
            raise PublishError(
                f"{journal}: could not put the new build in place ({exc.strerror or exc}); "
                "the next build or publish finishes the swap."
            ) from None
        raise
    finally:
        if not journal.exists():  # the swap never started, or is complete: the staged copies are spare
            for swap in swaps:
                shutil.rmtree(swap.stage, ignore_errors=True)


def build_all(
    data: Path,
    *,
    config: Config,
    out: Path = Path("_site"),
    private: Path = Path("build/private"),
    site_url: str | None = None,
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
        The site directory, replaced as a whole on success (default ``_site``). It
        must be missing, empty or a site an earlier build wrote.
    private
        Where ``bundle.json`` and the private ``assignments.csv`` go (default
        ``build/private``); same rule. Its parent holds the lock, the swap
        journal and, without ``SEGMENTATION_KEY``, the signing key.
    site_url
        Where the site will live, printed in the brief (default: the brief's own).
    engine
        Site engine: ``"auto"``, ``"pandoc"`` or ``"quarto"``.

    Returns
    -------
    BuildResult
        Paths, the build receipt, step timings and where the signing key came from.

    Raises
    ------
    SegmentationError
        Whatever step failed; nothing was replaced.
    """
    out, private = Path(out).absolute(), Path(private).absolute()
    if out == private or out in private.parents or private in out.parents:
        raise PublishError(f"--private {private} and the site directory {out} must lie outside each other.")
    state = private.parent
    out.parent.mkdir(parents=True, exist_ok=True)
    state.mkdir(parents=True, exist_ok=True)
    journal = state / JOURNAL_NAME
    with checkout_lock(state, purpose="build"):
        _prepare(out, private)
        key = load_key(state, create=True)
        with _staging(private, out, journal) as (private_swap, site_swap):
            info, seconds = _stage(
                Path(data),
                config=config,
                stage_private=private_swap.stage,
                stage_site=site_swap.stage,
                site_url=site_url,
                engine=engine,
                key=key,
            )
            swap_all(journal, [private_swap, site_swap])
    return BuildResult(
        site_dir=out,
        bundle_path=private / "bundle.json",
        private_dir=private,
        info=info,
        seconds=seconds,
        key_source=key.source,
        key_created=key.created,
    )
