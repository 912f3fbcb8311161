"""Command line: ``python -m analysis run [DATA] [--config FILE] [--out DIR] [--k N] [--engine NAME]``,
``schema`` and ``stream``.

``stream`` (real-time segmentation) lives in :mod:`analysis.stream.cli`.

Errors become one line on stderr and a non-zero exit; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from analysis.errors import SegmentationError
from analysis.stream.cli import add_stream_parser, run_stream

__all__ = ["main", "dispatch", "DEFAULT_DATA"]

DEFAULT_DATA = Path(__file__).resolve().parent.parent / "data" / "online_retail_II_sample.parquet"


class _RichProgress:
    """Draws the pipeline's progress on stderr (only when it is a terminal, or forced)."""

    def __init__(self, enabled: bool) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._console = Console(stderr=True)
        self._bar = Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=self._console,
            disable=not enabled,
            transient=False,
        )
        self._task = None

    def __enter__(self) -> _RichProgress:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish()
        self._bar.__exit__(*exc)

    def _finish(self) -> None:
        if self._task is not None:
            task = self._bar.tasks[self._task]
            self._bar.update(self._task, completed=task.total)

    def stage(self, name: str) -> None:
        self._finish()
        self._task = self._bar.add_task(name, total=1)

    def steps(self, name: str, total: int) -> Callable[[], None]:
        self._finish()
        task = self._bar.add_task(name, total=total)
        self._task = task
        return lambda: self._bar.advance(task)


def debug_flag() -> argparse.ArgumentParser:
    """A parent parser with ``--debug``, for the main parser and every subcommand.

    On a subcommand its default is SUPPRESS, so ``--debug`` works before or after
    the subcommand's name without one overriding the other.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors")
    return common


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis", description="Customer segmentation from a transaction log.", parents=[debug_flag()]
    )
    parser.set_defaults(debug=False)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="analyse a transactions file and write bundle.json, model.json and assignments.csv",
        parents=[debug_flag()],
    )
    run.add_argument(
        "data",
        nargs="?",
        type=Path,
        default=DEFAULT_DATA,
        help="CSV, CSV.gz or Parquet file (default: the bundled Online Retail II sample)",
    )
    run.add_argument("--config", type=Path, default=None, help="TOML configuration file")
    run.add_argument("--out", type=Path, default=Path("out"), help="output directory (default: out)")
    run.add_argument("--k", type=int, default=None, help="fix the number of segments")
    run.add_argument(
        "--previous",
        type=Path,
        default=None,
        metavar="DIR",
        help="a previous run's output directory: keep its segment identities and count who moved "
        "(needs SEGMENTATION_KEY, the same as then)",
    )
    run.add_argument(
        "--results",
        type=Path,
        default=None,
        help="experiment results CSV (customer, arm, converted, revenue) to measure lift per segment",
    )
    run.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        default=None,
        help="where the log stage runs (load, clean, customer table): DuckDB in-process or a Spark session "
        "(overrides [engine] name; Spark needs the 'spark' extra)",
    )
    run.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="progress bars on stderr (auto: only on a terminal)",
    )
    schema = sub.add_parser(
        "schema", help="print the JSON Schema of the bundle (or of model.json)", parents=[debug_flag()]
    )
    schema.add_argument("--out", type=Path, default=None, help="write it to this file instead")
    schema.add_argument("--model", action="store_true", help="the schema of model.json instead of bundle.json")
    add_stream_parser(sub, [debug_flag()])
    return parser


def _run(args: argparse.Namespace) -> int:
    from analysis.config import load_config
    from analysis.pipeline import run_pipeline
    from analysis.previous import read_previous

    overrides: dict[str, dict] = {}
    if args.k is not None:
        overrides["cluster"] = {"k": args.k}
    if args.results is not None:
        overrides["experiments"] = {"results": args.results}
    if args.engine is not None:
        overrides["engine"] = {"name": args.engine}
    config = load_config(args.config, **overrides)
    enabled = {"auto": sys.stderr.isatty(), "always": True, "never": False}[args.progress]
    with _RichProgress(enabled) as progress:
        previous = None if args.previous is None else read_previous(args.previous)
        try:
            result = run_pipeline(args.data, config=config, out_dir=args.out, progress=progress, previous=previous)
        except ImportError as exc:
            if config.engine.name != "spark" or args.debug:
                raise
            # The optional extra is missing: the message says how to install it.
            print(f"error: {exc}", file=sys.stderr)
            return 2
    for message in result.warnings:
        print(f"warning: {message}", file=sys.stderr)
    bundle = result.bundle
    sizes = ", ".join(f"{s.name} ({s.share_customers:.0%})" for s in bundle.segments)
    print(
        f"{bundle.data.rows_in:,} rows in, {bundle.data.rows_kept:,} kept; "
        f"{bundle.data.customers:,} customers in {len(bundle.segments)} segments: {sizes}"
    )
    print(
        f"wrote {result.bundle_path}, {result.model_path} and {result.assignments_path} "
        "(model.json and assignments.csv are private: do not publish)"
    )
    return 0


def _schema(args: argparse.Namespace) -> int:
    import json

    from analysis.bundle import bundle_json_schema
    from analysis.model import model_json_schema

    schema = model_json_schema() if args.model else bundle_json_schema()
    text = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    if args.out is None:
        sys.stdout.write(text)
        return 0
    import os
    import tempfile

    # Through a temporary file and a rename: an interrupted write never leaves half a schema.
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=args.out.parent, prefix=f".{args.out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, args.out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return 0


def dispatch(handlers: dict[str, Callable[[argparse.Namespace], int]], args: argparse.Namespace) -> int:
    """Run ``handlers[args.command]``, turning every failure into one stderr line and an exit code.

    Shared by ``python -m analysis`` and ``python -m publishing``; ``args.debug``
    re-raises instead, to show the traceback.
    """
    # With the optional 'spark' extra installed, pandera imports pyspark.pandas,
    # which warns about pandas 3 on every run; it concerns no code path used here.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    try:
        return handlers[args.command](args)
    except SegmentationError as exc:
        if args.debug:
            raise
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a file system failure the code did not map: still one line naming the path
        if args.debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # an internal bug: still one line, with a way to see more
        if args.debug:
            raise
        text = " ".join(f"{type(exc).__name__}: {exc}".split())
        print(f"internal error: {text} (run with --debug for the traceback)", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    return dispatch({"run": _run, "schema": _schema, "stream": run_stream}, _parser().parse_args(argv))
