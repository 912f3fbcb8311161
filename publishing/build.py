"""The whole build: data -> bundle -> site -> PDF brief, swapped into place only when all succeeded.

Everything is written into staging directories beside the targets first: the
private analysis output (``bundle.json``, ``model.json``, ``assignments.csv``)
beside ``build/private/`` and the site beside ``_site/``. When both are
complete, a journal is written and both are swapped in (an atomic exchange
each), so the pair always comes from one build: a run killed half-way is
finished by the next build or publish (:func:`checkout_lock`). A failed build
leaves the previous pair untouched and no staging directory behind.

The brief is rendered beside the site in a second process started with the build, which
then draws a share of the site's charts (:mod:`publishing._brief_worker`); else here: the same bytes.

Only directories the build wrote are ever replaced: ``--out`` and
``--private`` are refused, before the analysis starts, when they hold anything
else. The site is world-readable (0644/0755), the private output owner-only
(0600/0700). ``build/.build.lock`` lets one build or publish run at a time.

A build first computes the fingerprint of everything that shapes its output
(:mod:`publishing._fingerprint`); when it equals the one signed into the
current site's ``build-info.json``, the build stops there (``up_to_date``).
With a real pseudonym key the build also keeps the refresh history
(:mod:`publishing.history`): the newest stored refresh of other data is the
previous refresh the analysis compares with, earlier briefs are archived in
the site, and this refresh is recorded once the site is in place.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.errors import PublishError
from publishing._brief_worker import BriefWorker
from publishing._fingerprint import BuildInputs, build_inputs, pseudonym_secret
from publishing._history_records import snapshot_label
from publishing._incremental import HistoryResult, current_receipt, kept_history, repair_leftovers, up_to_date
from publishing.deliver._fs import PRIVATE_MODES, PUBLIC_MODES, set_modes
from publishing.deliver._journal import recover, swap_all
from publishing.deliver._lock import LOCK_NAME, hold_lock
from publishing.deliver._owned import write_private_marker
from publishing.deliver._signing import SigningKey, load_key
from publishing.deliver._site import BuildInfo, write_build_info
from publishing.deliver._staging import check_no_private, prepare_targets, staging
from publishing.history import (
    HistoryView,
    archive_links,
    no_key_note,
    read_history,
    record_refresh,
    staged_refresh,
    write_archive,
)

if TYPE_CHECKING:  # both pull in the whole analysis stack; the lock, recovery and up-to-date check must start fast
    from analysis.bundle import Bundle
    from analysis.config import Config

__all__ = ["JOURNAL_NAME", "BuildResult", "HistoryResult", "build_all", "checkout_lock"]

JOURNAL_NAME = ".build-journal.json"


@dataclass(frozen=True)
class BuildResult:
    """What a successful build produced (or found up to date).

    Attributes
    ----------
    site_dir
        The published-to-be site (``index.html``, ``brief.pdf``, ``build-info.json``, ...).
    bundle_path
        The bundle the site was built from (under ``private_dir``).
    private_dir
        Analysis output that must never be published (``assignments.csv``).
    info
        The site's signed receipt (checksums of the bundle, the input and every site file, the fingerprint).
    seconds
        Wall time of each step (for reporting only; never written into any output).
    key_source
        Where the signing key came from (``$SEGMENTATION_KEY`` or the key file's path).
    key_created
        Whether this build created the key file.
    up_to_date
        True when nothing that shapes the output changed, so nothing was rebuilt.
    changed
        The fingerprint components that differed from the previous build's (empty when up to date).
    history
        What happened to the refresh history; None when none is kept (no real pseudonym key).
    note
        A warning for the user (why no history is kept), or None.
    """

    site_dir: Path
    bundle_path: Path
    private_dir: Path
    info: BuildInfo
    seconds: dict[str, float]
    key_source: str
    key_created: bool
    up_to_date: bool = False
    changed: tuple[str, ...] = ()
    history: HistoryResult | None = None
    note: str | None = None


@dataclass(frozen=True)
class _Plan:
    """Everything one build was asked to do, and what it depends on."""

    data: Path
    config: Config
    site_url: str | None
    engine: str
    key: SigningKey
    inputs: BuildInputs
    view: HistoryView | None  # None: no history is kept

    @property
    def data_sha256(self) -> str:
        return self.inputs.components["data"]


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


def _analyse(data: Path, *, config: Config, out_dir: Path, previous: Path | None) -> Bundle:
    from analysis.pipeline import run_pipeline
    from analysis.previous import read_previous

    earlier = None if previous is None else read_previous(previous)
    return run_pipeline(data, config=config, out_dir=out_dir, previous=earlier).bundle


def _render_site(bundle_path: Path, out_dir: Path, *, engine: str, archive: tuple, helper: BriefWorker) -> None:
    try:
        from publishing.site import build_site
    except ImportError as exc:
        raise PublishError(f"the website renderer is not available ({exc}).") from None
    build_site(bundle_path, out_dir, engine=engine, brief_href="brief.pdf", archive=archive, helper=helper)


def _render_brief(bundle_path: Path, out_pdf: Path, *, site_url: str | None) -> None:
    from publishing.brief import DEFAULT_SITE_URL, build_brief

    build_brief(bundle_path, out_pdf, site_url=site_url or DEFAULT_SITE_URL)


def _brief_worker() -> BriefWorker:  # tests that replace the renderers replace this too
    return BriefWorker()


def _brief_from(worker: BriefWorker, bundle_path: Path, out_pdf: Path, *, site_url: str | None) -> float:
    """Write the brief the worker rendered, or render it here when it did not; return its seconds."""
    from publishing.brief import write_pdf

    clock = time.perf_counter()
    done = worker.result()
    if done is not None:
        write_pdf(done[0], out_pdf)
        return done[1]
    _render_brief(bundle_path, out_pdf, site_url=site_url)
    return time.perf_counter() - clock


def _stage(plan: _Plan, *, stage_private: Path, stage_site: Path) -> tuple[BuildInfo, dict[str, float], tuple]:
    """Write the complete private output and site into the staging directories, flushed to disk."""
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    previous = None if plan.view is None else plan.view.previous(plan.data_sha256)
    if previous is not None:
        previous.verify()
    with _brief_worker() as worker:  # imports while the analysis runs, renders (and draws) while the site does
        bundle = _analyse(
            plan.data, config=plan.config, out_dir=stage_private, previous=None if previous is None else previous.path
        )
        seconds["analysis"] = time.perf_counter() - clock
        bundle_path = stage_private / "bundle.json"
        worker.render(bundle_path, plan.site_url)

        clock = time.perf_counter()
        archive = ()
        if plan.view is not None:  # this refresh's own snapshot is the current brief, not an archived one
            current = snapshot_label(bundle.data.snapshot_date)
            archive = tuple(r for r in plan.view.archive(plan.data_sha256) if r.label != current)
        _render_site(bundle_path, stage_site, engine=plan.engine, archive=archive_links(archive), helper=worker)
        write_archive(archive, stage_site)
        seconds["site"] = time.perf_counter() - clock
        seconds["brief"] = _brief_from(worker, bundle_path, stage_site / "brief.pdf", site_url=plan.site_url)

    check_no_private(stage_site, stage_private)
    write_private_marker(stage_private)
    set_modes(stage_private, PRIVATE_MODES, fsync=True)
    info = write_build_info(
        stage_site,
        bundle_path=bundle_path,
        source_name=bundle.data.source.name,
        source_sha256=bundle.data.source.sha256,
        key=plan.key,
        inputs=plan.inputs.components,
        fingerprint=plan.inputs.digest,
    )
    set_modes(stage_site, PUBLIC_MODES, fsync=True)
    return info, seconds, tuple(r.label for r in archive)


def _replan(plan: _Plan, view: HistoryView | None) -> _Plan:
    inputs = plan.inputs if view is None else plan.inputs.with_history(view.digest(plan.data_sha256))
    return _Plan(plan.data, plan.config, plan.site_url, plan.engine, plan.key, inputs, view)


@contextmanager
def _kept_history(plan: _Plan) -> Iterator[tuple[_Plan, tuple[str, ...]]]:
    if plan.view is None:
        yield plan, ()
        return
    check, key_env = plan.inputs.components["pseudonym_key"], plan.config.privacy.key_env
    with kept_history(plan.view.root, key_check=check, key_env=key_env) as (view, repaired):
        yield _replan(plan, view), repaired


def _build(plan: _Plan, *, out: Path, private: Path, journal: Path) -> tuple[BuildInfo, dict, HistoryResult | None]:
    with _kept_history(plan) as (plan, repaired):
        with staging(private, out, journal) as (private_swap, site_swap):
            info, seconds, archived = _stage(plan, stage_private=private_swap.stage, stage_site=site_swap.stage)
            recording = (
                nullcontext(None)
                if plan.view is None
                else staged_refresh(plan.view, private_dir=private_swap.stage, brief=site_swap.stage / "brief.pdf")
            )
            with recording as prepared:
                swap_all(journal, [private_swap, site_swap])
                # Recorded only now that the site is in place: the history never holds a refresh that was not built.
                recorded = prepared is not None and record_refresh(prepared)
    if plan.view is None:
        return info, seconds, None
    previous = plan.view.previous(plan.data_sha256)
    history = HistoryResult(plan.view.root, previous and previous.name, recorded, archived, repaired)
    return info, seconds, history


def _apart(**paths: Path) -> None:
    items = list(paths.items())
    for i, (name_a, a) in enumerate(items):
        for name_b, b in items[i + 1 :]:
            if a == b or a in b.parents or b in a.parents:
                raise PublishError(f"--{name_a} {a} and --{name_b} {b} must lie outside each other.")


def build_all(
    data: Path,
    *,
    config: Config,
    out: Path = Path("_site"),
    private: Path = Path("build/private"),
    site_url: str | None = None,
    engine: str = "auto",
    history: Path | None = None,
    force: bool = False,
) -> BuildResult:
    """Run the analysis and render the site and the brief, all or nothing; nothing when nothing changed.

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
        Where ``bundle.json``, ``model.json`` and the private ``assignments.csv`` go
        (default ``build/private``); same rule. Its parent holds the lock, the swap
        journal and, without ``SEGMENTATION_KEY``, the signing key.
    site_url
        Where the site will live, printed in the brief (default: the brief's own).
    engine
        Site engine: ``"auto"``, ``"pandoc"`` or ``"quarto"``.
    history
        The refresh history directory (default: ``history`` beside ``private``);
        read and written only with a real pseudonym key.
    force
        Rebuild even when the fingerprint says the site is up to date.

    Returns
    -------
    BuildResult
        Paths, the build receipt, step timings, where the signing key came from,
        whether it was up to date and what happened to the history.

    Raises
    ------
    SegmentationError
        Whatever step failed; nothing was replaced and nothing recorded.
    """
    if not Path(data).is_file():
        raise PublishError(f"{data}: data file not found.")
    out, private = Path(out).absolute(), Path(private).absolute()
    root = private.parent / "history" if history is None else Path(history).absolute()
    _apart(out=out, private=private, history=root)
    state = private.parent
    out.parent.mkdir(parents=True, exist_ok=True)
    state.mkdir(parents=True, exist_ok=True)
    keep = pseudonym_secret(config) is not None
    with checkout_lock(state, purpose="build"):
        clock = time.perf_counter()
        key = load_key(state, create=True)
        inputs = build_inputs(Path(data), config=config, site_url=site_url, engine=engine, signing=key)
        view = read_history(root) if keep else None
        plan = _replan(_Plan(Path(data), config, site_url, engine, key, inputs, None), view)
        receipt = current_receipt(out, private, key)
        done = dict(
            site_dir=out,
            bundle_path=private / "bundle.json",
            private_dir=private,
            key_source=key.source,
            key_created=key.created,
            note=None if keep else no_key_note(root, key_env=config.privacy.key_env),
        )
        if not force and up_to_date(receipt, fingerprint=plan.inputs.digest, view=view):
            repaired = repair_leftovers(view)
            kept = None if view is None else HistoryResult(root, repaired=repaired)
            seconds = {"check": time.perf_counter() - clock}
            return BuildResult(info=receipt, seconds=seconds, up_to_date=True, history=kept, **done)
        prepare_targets(out, private)
        info, seconds, history_result = _build(plan, out=out, private=private, journal=state / JOURNAL_NAME)
    changed = plan.inputs.changed_since(None if receipt is None else receipt.inputs)
    return BuildResult(info=info, seconds=seconds, changed=changed, history=history_result, **done)
