"""Ending a command-line run without tearing the interpreter down.

At the end of a run the interpreter frees every object and module it holds:
with SciPy, scikit-learn, DuckDB, matplotlib and WeasyPrint loaded that took
0.6 to 0.8 s on our 2-core machines, after the last output was written. By
then every output has been written, flushed and renamed into place, so
``python -m analysis`` and ``python -m publishing`` end with :func:`os._exit`
instead, as the last exit handler: the handlers registered after it (temporary
directories, logging, Spark's gateway) still run first, and standard output and
error are flushed.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from collections.abc import Callable
from typing import NoReturn

__all__ = ["run_then_exit"]


def run_then_exit(main: Callable[[], int]) -> NoReturn:
    """Run ``main`` and end the process with its exit code once the other exit handlers have run.

    Call it before importing anything that registers an exit handler, so that those run first.
    An exception that escapes ``main`` (``--debug``) is printed as usual and exits with 1, Ctrl-C
    before the command's own handler is in place (during its imports) with 130, as the CLI's
    handler does; ``SystemExit`` (argparse's usage errors) keeps its code.
    """
    code = [1]

    def end() -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code[0])

    atexit.register(end)
    try:
        code[0] = main()
    except SystemExit as exc:
        code[0] = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        raise
    except KeyboardInterrupt:
        code[0] = 130
        raise
    sys.exit(code[0])
