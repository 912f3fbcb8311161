"""``python -m analysis stream``: run the processor, tick the clock, export the table, or serve lookups.

::

    python -m analysis stream --model out/model.json --state seg.db < events.jsonl      # standard input
    python -m analysis stream --model out/model.json --state seg.db --watch inbox/      # a watched directory
    python -m analysis stream --state seg.db --tick 2011-12-31                          # time passes
    python -m analysis stream --state seg.db --export segments.csv                      # private CSV
    python -m analysis stream --state seg.db --serve --port 8765                        # lookup service

Change events go to standard output, or to ``--changes FILE`` (exactly once).
Progress and warnings go to standard error. Errors are one line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import sys
import time
from pathlib import Path

__all__ = ["add_stream_parser", "run_stream"]


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an ISO date such as 2011-12-31. Got {text!r}.") from None


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1. Got {value}.")
    return value


def add_stream_parser(sub, parents) -> None:
    """Add the ``stream`` subcommand to ``sub`` (the subparsers of ``python -m analysis``)."""
    p = sub.add_parser(
        "stream",
        help="real-time segmentation: apply purchase events to a durable state, export it, or serve lookups",
        parents=parents,
    )
    p.add_argument("--state", type=Path, required=True, help="the state file (SQLite; created with --model)")
    p.add_argument("--model", type=Path, default=None, help="model.json of a batch run (a new one re-assigns all)")
    p.add_argument("--watch", type=Path, default=None, metavar="DIR", help="apply files dropped into DIR")
    p.add_argument("--once", action="store_true", help="with --watch: apply what is there, then stop")
    p.add_argument("--poll", type=float, default=1.0, help="with --watch: seconds between looks (default 1)")
    p.add_argument("--changes", type=Path, default=None, help="append change events to FILE (default: stdout)")
    p.add_argument("--format", choices=("auto", "jsonl", "csv"), default="auto", help="standard input's format")
    p.add_argument("--source", default="stdin", help="name of the standard-input stream, for resuming it")
    p.add_argument("--batch-size", type=_positive, default=20_000, help="events per micro-batch (default 20000)")
    p.add_argument("--flush-ms", type=float, default=50.0, help="flush a partial batch after this idle time")
    p.add_argument(
        "--tick", "--as-of", dest="tick", type=_date, default=None, help="move the as-of date to DATE (no events read)"
    )
    p.add_argument("--export", type=Path, default=None, metavar="FILE.csv", help="write the segment table, exit")
    p.add_argument("--serve", action="store_true", help="serve lookups over HTTP (read-only)")
    p.add_argument("--host", default="127.0.0.1", help="with --serve: address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="with --serve: port (0: any free port)")
    p.add_argument("--allow-id-lookup", action="store_true", help="with --serve: also answer by raw customer id")
    p.add_argument("--stats", action="store_true", help="print one JSON line of timings per batch on stderr")


def _stored_model(state_path: Path):
    from analysis.model import SegmentModel
    from analysis.stream._errors import StreamError
    from analysis.stream._state import connect_readonly

    con = connect_readonly(state_path)
    try:
        row = con.execute(
            "SELECT m.model FROM meta JOIN models m ON m.sha256 = json_extract(meta.value, '$') "
            "WHERE meta.key = 'model'"
        ).fetchone()
    finally:
        con.close()
    if row is None:
        raise StreamError(f"{state_path}: the state holds no model; give --model.")
    return SegmentModel.model_validate_json(row[0])


class _Run:
    """One processing run: the processor, the sink and the totals; stops after the current batch on SIGTERM."""

    def __init__(self, args: argparse.Namespace) -> None:
        from analysis.model import load_model
        from analysis.stream._output import ChangeSink
        from analysis.stream._processor import Processor
        from analysis.stream._spec import stream_key
        from analysis.stream._state import StateStore

        model_path = str(args.model) if args.model is not None else f"{args.state} (its model)"
        model = load_model(args.model) if args.model is not None else _stored_model(args.state)
        key = stream_key(model, path=model_path)
        self.args = args
        self.state = StateStore(args.state, create=args.model is not None)
        try:
            self.sink = ChangeSink(args.changes)
            self.sink.flush(self.state)  # change events a killed run committed but did not write
            self.processor = Processor(self.state, model, key=key, model_path=model_path)
            self.sink.flush(self.state)  # those of a model change
        except BaseException:
            self.state.close()
            raise
        self.stopping = False
        self.written: tuple[str, int, int] | None = None  # output position not yet recorded in the state
        self.totals = dict.fromkeys(("batches", "lines", "kept", "dropped", "malformed", "changes"), 0)

    def apply(self, chunk) -> None:
        started = time.perf_counter()
        report = self.processor.apply(chunk, sink=self.written)
        committed = time.perf_counter()
        position = self.sink.write(self.state, recent=report.lines_out)
        self.written = self.written if position is None else position[:3]
        for name in ("lines", "kept", "dropped", "malformed", "changes"):
            self.totals[name] += getattr(report, name)
        self.totals["batches"] += 1
        if report.first_bad is not None:
            line, reason = report.first_bad
            where = chunk.source.split(":", 1)[-1]
            print(
                f"warning: {where}: {report.malformed:,} event(s) not readable (first at line {line:,}: {reason}); "
                "counted in the state.",
                file=sys.stderr,
            )
        if self.args.stats:
            done = time.perf_counter()
            timing = {"batch": report.seq, "lines": report.lines, "changes": report.changes}
            timing.update(apply_s=round(committed - started, 6), total_s=round(done - started, 6), at=done)
            print(json.dumps(timing), file=sys.stderr, flush=True)

    def summary(self) -> str:
        from analysis.stream._output import day_iso

        t, p = self.totals, self.processor
        return (
            f"applied {t['lines']:,} line(s) in {t['batches']:,} batch(es): {t['kept']:,} kept, "
            f"{t['dropped']:,} dropped, {t['malformed']:,} not readable; {len(p.customers):,} customers "
            f"as of {day_iso(p.as_of) or '-'}; {t['changes']:,} change event(s)"
        )

    def stop(self, *_args) -> None:
        self.stopping = True

    def close(self) -> None:
        """Record how far the output was written, and close the state."""
        if self.written is not None:
            self.state.record_sink(*self.written)
        self.state.close()


def _watch(run: _Run) -> None:
    from analysis.stream._errors import StreamError
    from analysis.stream._sources import file_chunks, watched_files

    args, state = run.args, run.state
    if not args.watch.is_dir():
        raise StreamError(f"{args.watch}: --watch must be a directory.")
    while not run.stopping:
        for path in watched_files(args.watch, lambda source: state.position(source)[2]):
            start = state.position(f"file:{path.name}")[:2]
            for chunk in file_chunks(path, spec=run.processor.spec, batch_size=args.batch_size, start=start):
                run.apply(chunk)
                if run.stopping:
                    return
        if args.once:
            return
        time.sleep(args.poll)


def _stdin(run: _Run) -> None:
    from analysis.stream._sources import stdin_chunks

    args = run.args
    fd = sys.stdin.fileno()
    kind = args.format
    source = f"stdin:{args.source}"
    skip = run.state.position(source)[0]
    if skip:
        print(f"resuming {source}: its first {skip:,} line(s) were applied before; skipping them", file=sys.stderr)
    spec = run.processor.spec
    size, flush = args.batch_size, args.flush_ms
    for chunk in stdin_chunks(fd, spec=spec, kind=kind, batch_size=size, flush_ms=flush, source=source, skip=skip):
        run.apply(chunk)
        if run.stopping:
            return


def run_stream(args: argparse.Namespace) -> int:
    """The ``stream`` subcommand."""
    from analysis.stream._errors import StreamError

    if args.export is not None:
        from analysis.stream._output import export_segments

        count = export_segments(args.state, args.export)
        print(f"wrote {count:,} customers to {args.export} (private: raw customer ids)")
        return 0
    if args.serve:
        from analysis.stream._service import serve

        serve(args.state, host=args.host, port=args.port, allow_customer_id=args.allow_id_lookup)
        return 0
    if args.watch is not None and args.tick is not None:
        raise StreamError("--tick moves the clock without reading events; give it without --watch.")
    from analysis.stream._processor import tick_chunk

    run = _Run(args)
    previous = signal.signal(signal.SIGTERM, run.stop)
    try:
        if args.tick is not None:
            run.apply(tick_chunk(args.tick))
        elif args.watch is not None:
            _watch(run)
        else:
            _stdin(run)
    finally:
        signal.signal(signal.SIGTERM, previous)
        run.close()
    print(run.summary(), file=sys.stderr)
    return 0
