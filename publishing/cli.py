"""Command line: ``python -m publishing build|publish``.

``build`` runs the analysis and renders the site and the brief into ``_site/``
(all or nothing), unless nothing that shapes them changed since the last build
(it then prints ``... is up to date`` and exits 0; ``--force`` rebuilds). With
``SEGMENTATION_KEY`` it keeps the refresh history (``--history``, env
``SEGMENTATION_HISTORY``). ``publish`` checks that ``_site/`` is complete and current,
then delivers it to any of: a directory, a git branch, email recipients.
Targets come from options or from the environment (``PUBLISH_DIR``,
``PUBLISH_GIT_REPO``, ``PUBLISH_GIT_BRANCH``, ``SMTP_TO``/``SMTP_*``).
Errors become one line on stderr and a non-zero exit; ``--debug`` shows the traceback.

``publish`` tries every target even after one fails and prints one line per
target; it exits 0 when every target was delivered, 3 when only some were
(partial) and 2 when none was or the site was refused. No message shows the
credentials of a git URL.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.errors import PublishError, SegmentationError

if TYPE_CHECKING:
    from publishing.build import BuildResult
    from publishing.deliver import CheckedSite, SmtpSettings

__all__ = ["EXIT_NONE", "EXIT_PARTIAL", "main"]

EXIT_PARTIAL = 3  # some targets delivered, some failed
EXIT_NONE = 2  # nothing delivered (also every refused check: SegmentationError.exit_code)

DEFAULT_SITE = Path("_site")
DEFAULT_PRIVATE = Path("build/private")
DEFAULT_HISTORY = Path("build/history")
_PUBLISH_EPILOG = (
    "Every target is tried, even after one fails; each reports one line. Exit status: 0 every target "
    f"delivered; {EXIT_PARTIAL} some delivered and some failed (partial); {EXIT_NONE} nothing delivered, "
    "or the site was refused before anything was delivered."
)


@dataclass(frozen=True)
class _Target:
    """One delivery: its name in messages, and the call that delivers and returns the success line."""

    name: str
    run: Callable[[], str]


def _parser() -> argparse.ArgumentParser:
    from analysis.cli import DEFAULT_DATA, debug_flag

    parser = argparse.ArgumentParser(
        prog="python -m publishing", description="Build and publish the segmentation report.", parents=[debug_flag()]
    )
    parser.set_defaults(debug=False)
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser(
        "build", help="analysis -> bundle -> site -> PDF, swapped into _site/", parents=[debug_flag()]
    )
    build.add_argument("data", nargs="?", type=Path, default=None, help="transactions file")
    build.add_argument(
        "--data",
        dest="data_opt",
        type=Path,
        default=None,
        help=f"transactions file (default: {DEFAULT_DATA.name}, the bundled sample)",
    )
    build.add_argument("--config", type=Path, default=None, help="TOML configuration file")
    build.add_argument("--k", type=int, default=None, help="fix the number of segments")
    build.add_argument("--out", type=Path, default=DEFAULT_SITE, help="site directory (default: _site)")
    build.add_argument(
        "--private",
        type=Path,
        default=DEFAULT_PRIVATE,
        help="bundle and private assignments (default: build/private)",
    )
    build.add_argument(
        "--site-url",
        default=os.environ.get("SITE_URL"),
        help="where the site will live, printed in the brief (env SITE_URL)",
    )
    build.add_argument(
        "--engine",
        choices=("auto", "pandoc", "quarto"),
        default="auto",
        help="site engine (default: auto)",
    )
    build.add_argument(
        "--history",
        type=Path,
        default=_env_path("SEGMENTATION_HISTORY") or DEFAULT_HISTORY,
        help="the refresh history, kept with SEGMENTATION_KEY (env SEGMENTATION_HISTORY; default: build/history)",
    )
    build.add_argument(
        "--force", action="store_true", help="rebuild even when nothing that shapes the site has changed"
    )

    pub = sub.add_parser("publish", help="check _site/ and deliver it", epilog=_PUBLISH_EPILOG, parents=[debug_flag()])
    pub.add_argument("--site", type=Path, default=DEFAULT_SITE, help="built site (default: _site)")
    pub.add_argument(
        "--bundle",
        type=Path,
        default=DEFAULT_PRIVATE / "bundle.json",
        help="bundle the site must match (default: build/private/bundle.json)",
    )
    pub.add_argument(
        "--to-dir",
        type=Path,
        default=_env_path("PUBLISH_DIR"),
        help="copy the site to this directory (env PUBLISH_DIR)",
    )
    pub.add_argument(
        "--to-git",
        default=os.environ.get("PUBLISH_GIT_REPO") or None,
        help="push the site to a branch of this repository (env PUBLISH_GIT_REPO)",
    )
    pub.add_argument(
        "--branch",
        default=os.environ.get("PUBLISH_GIT_BRANCH") or "gh-pages",
        help="branch for --to-git (env PUBLISH_GIT_BRANCH; default gh-pages)",
    )
    pub.add_argument(
        "--email",
        action="store_true",
        help="email the brief (settings from SMTP_*; on by default when SMTP_TO is set)",
    )
    pub.add_argument(
        "--to",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="an email recipient (repeatable; added to SMTP_TO)",
    )
    pub.add_argument("--check", action="store_true", help="only check the site; deliver nothing")
    return parser


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def _build(args: argparse.Namespace) -> int:
    from analysis.cli import DEFAULT_DATA
    from analysis.config import load_config

    if args.data is not None and args.data_opt is not None:
        raise PublishError(f"give the data file once, got {args.data} and --data {args.data_opt}.")
    data = args.data or args.data_opt or DEFAULT_DATA
    if not Path(data).is_file():
        raise PublishError(f"{data}: data file not found.")
    overrides = {"cluster": {"k": args.k}} if args.k is not None else {}
    config = load_config(args.config, **overrides)
    # Imported after the cheap checks; the build imports the analysis and the renderers only when it rebuilds.
    from publishing.build import build_all

    result = build_all(
        data,
        config=config,
        out=args.out,
        private=args.private,
        site_url=args.site_url,
        engine=args.engine,
        history=args.history,
        force=args.force,
    )
    _report_build(args, result)
    _step_outputs(result)
    return 0


def _report_build(args: argparse.Namespace, result: BuildResult) -> None:
    """What the build did, one line each: warnings on stderr, the rest on stdout."""
    if result.note:
        print(f"warning: {result.note}", file=sys.stderr)
    history = result.history
    if history is not None and history.repaired:
        print(f"history: finished recording {', '.join(history.repaired)} (a build was interrupted)")
    if result.up_to_date:
        print(
            f"{args.out} is up to date: nothing that shapes it changed since its build "
            f"(checked in {result.seconds['check']:.2f} s); --force rebuilds"
        )
        return
    if result.key_created:
        print(f"created the signing key {result.key_source} (SEGMENTATION_KEY is not set); publish reads it there")
    if result.changed:
        print(f"rebuilt because {', '.join(result.changed)} changed")
    times = ", ".join(f"{step} {sec:.1f} s" for step, sec in result.seconds.items())
    print(f"built {args.out}/index.html and {args.out}/brief.pdf ({times})")
    print(f"private analysis output in {args.private} (do not publish)")
    if history is not None:
        compared = f"compared with {history.previous}" if history.previous else "the first refresh"
        archived = f"; {len(history.archive)} earlier brief(s) in {args.out}/archive/" if history.archive else ""
        what = "recorded this refresh" if history.recorded else "this refresh was already recorded"
        print(f"history: {compared}; {what} in {history.root}{archived}")


def _step_outputs(result: BuildResult) -> None:
    """Under GitHub Actions, tell later steps whether anything was rebuilt or recorded (``$GITHUB_OUTPUT``)."""
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    recorded = result.history is not None and result.history.recorded
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"rebuilt={str(not result.up_to_date).lower()}\nrecorded={str(recorded).lower()}\n")


def _targets(args: argparse.Namespace, site: CheckedSite, settings: SmtpSettings | None) -> list[_Target]:
    from publishing.deliver import publish_to_dir, publish_to_git, redact, send_email, url_secrets

    targets = []
    if args.to_dir is not None:
        targets.append(_Target("dir", lambda: f"copied to {publish_to_dir(site, args.to_dir)}"))
    if args.to_git:
        shown = redact(args.to_git, *url_secrets(args.to_git))

        def push() -> str:
            message = f"Publish site from bundle {site.info.bundle_sha256[:12]} ({site.info.source_name})"
            sha = publish_to_git(site, args.to_git, branch=args.branch, message=message)
            if sha is None:
                return f"{shown} {args.branch} already holds this site; nothing pushed"
            return f"pushed {sha[:12]} to {shown} {args.branch}"

        targets.append(_Target("git", push))
    if settings is not None:

        def mail() -> str:
            send_email(site.files["brief.pdf"], settings=settings)
            return f"emailed brief.pdf to {len(settings.recipients)} recipient(s) via {settings.host}"

        targets.append(_Target("email", mail))
    return targets


def _deliver(targets: list[_Target], *, debug: bool, secrets: tuple[str, ...]) -> int:
    """Try every target even after one fails; one line per target; exit 0 all, 3 partial, 2 none."""
    from publishing.deliver import redact

    done, failed = [], []
    for target in targets:
        try:
            print(f"{target.name}: {redact(target.run(), *secrets)}", flush=True)
            done.append(target.name)
        except Exception as exc:  # one target's failure, a bug included, must not stop the others
            if debug:
                raise
            kind = "" if isinstance(exc, SegmentationError) else f"internal error: {type(exc).__name__}: "
            text = " ".join(redact(f"{kind}{exc}", *secrets).split())
            print(f"error: {target.name}: {text}", file=sys.stderr, flush=True)
            failed.append(target.name)
    if not failed:
        return 0
    if done:
        print(
            f"error: partial publish: delivered to {', '.join(done)}; not delivered to {', '.join(failed)}",
            file=sys.stderr,
        )
        return EXIT_PARTIAL
    return EXIT_NONE


def _publish(args: argparse.Namespace) -> int:
    from publishing.build import checkout_lock
    from publishing.deliver import SmtpSettings, check_site, url_secrets

    email = args.email or bool(args.to) or bool(os.environ.get("SMTP_TO"))
    state = Path(args.bundle).absolute().parent.parent
    # Without a build directory there is nothing to lock or recover, and check_site says what is missing.
    lock = checkout_lock(state, purpose="publish") if state.is_dir() else contextlib.nullcontext()
    with lock:
        site = check_site(args.site, bundle_path=args.bundle)
        if args.check:
            print(f"{args.site}: complete and current (bundle {site.info.bundle_sha256[:12]})")
            return 0
        if not (args.to_dir is not None or args.to_git or email):
            raise PublishError(
                "no publish target: give --to-dir, --to-git or --email "
                "(or set PUBLISH_DIR, PUBLISH_GIT_REPO or SMTP_TO)."
            )
        # Read every setting before delivering anything, so a bad SMTP setting sends nothing at all.
        settings = SmtpSettings.from_env(recipients=tuple(args.to)) if email else None
        secrets = url_secrets(args.to_git) if args.to_git else ()
        return _deliver(_targets(args, site, settings), debug=args.debug, secrets=secrets)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    from analysis.cli import dispatch

    return dispatch({"build": _build, "publish": _publish}, _parser().parse_args(argv))
