"""Command line: ``python -m publishing build|publish``.

``build`` runs the analysis and renders the site and the brief into ``_site/``
(all or nothing). ``publish`` checks that ``_site/`` is complete and current,
then delivers it to any of: a directory, a git branch, email recipients.
Targets come from options or from the environment (``PUBLISH_DIR``,
``PUBLISH_GIT_REPO``, ``PUBLISH_GIT_BRANCH``, ``SMTP_TO``/``SMTP_*``).
Errors become one line on stderr and a non-zero exit; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from analysis.errors import PublishError

__all__ = ["main"]

DEFAULT_SITE = Path("_site")
DEFAULT_PRIVATE = Path("build/private")


def _parser() -> argparse.ArgumentParser:
    from analysis.cli import DEFAULT_DATA

    parser = argparse.ArgumentParser(
        prog="python -m publishing", description="Build and publish the segmentation report."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser("build", help="analysis -> bundle -> site -> PDF, swapped into _site/")
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

    pub = sub.add_parser("publish", help="check _site/ and deliver it")
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
    # Imported after the cheap checks: rendering pulls in matplotlib and WeasyPrint.
    from publishing.brief import DEFAULT_SITE_URL
    from publishing.build import build_all

    result = build_all(
        data,
        config=config,
        out=args.out,
        private=args.private,
        site_url=args.site_url or DEFAULT_SITE_URL,
        engine=args.engine,
    )
    times = ", ".join(f"{step} {sec:.1f} s" for step, sec in result.seconds.items())
    print(f"built {args.out}/index.html and {args.out}/brief.pdf ({times})")
    print(f"private analysis output in {args.private} (do not publish)")
    return 0


def _publish(args: argparse.Namespace) -> int:
    from publishing.deliver import (
        SmtpSettings,
        check_site,
        publish_to_dir,
        publish_to_git,
        send_email,
    )

    info = check_site(args.site, bundle_path=args.bundle)
    email = args.email or bool(args.to) or bool(os.environ.get("SMTP_TO"))
    targets = [t for t, on in (("dir", args.to_dir), ("git", args.to_git), ("email", email)) if on]
    if args.check:
        print(f"{args.site}: complete and current (bundle {info.bundle_sha256[:12]})")
        return 0
    if not targets:
        raise PublishError(
            "no publish target: give --to-dir, --to-git or --email (or set PUBLISH_DIR, PUBLISH_GIT_REPO or SMTP_TO)."
        )
    # Read every setting before delivering anything, so a bad SMTP setting sends nothing at all.
    settings = SmtpSettings.from_env(recipients=tuple(args.to)) if email else None
    if args.to_dir is not None:
        print(f"copied to {publish_to_dir(args.site, args.to_dir)}")
    if args.to_git:
        message = f"Publish site from bundle {info.bundle_sha256[:12]} ({info.source_name})"
        sha = publish_to_git(args.site, args.to_git, branch=args.branch, message=message)
        print(
            f"pushed {sha[:12]} to {args.to_git} {args.branch}"
            if sha
            else f"{args.to_git} {args.branch} already holds this site; nothing pushed"
        )
    if settings is not None:
        send_email(args.site / "brief.pdf", settings=settings)
        print(f"emailed brief.pdf to {len(settings.recipients)} recipient(s) via {settings.host}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    from analysis.cli import dispatch

    return dispatch({"build": _build, "publish": _publish}, _parser().parse_args(argv))
