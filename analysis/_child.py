"""Starting ``python -m <module>`` of this project as a child process fed through pipes.

The scoring workers of :mod:`analysis._kworker` and the brief worker of
:mod:`publishing._brief_worker` are programs of their own rather than
``multiprocessing`` children: no caller's main module is imported again in
them, and only bytes and JSON cross the pipes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["start_module"]

_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


def start_module(module: str) -> subprocess.Popen:
    """Start ``module`` with this interpreter, standard input and output piped, this project importable.

    Raises
    ------
    OSError
        The process cannot be started (also when Python cannot name its own executable, as in
        some embedded interpreters).
    """
    if not sys.executable:
        raise OSError("no Python executable to start a worker with")
    path = os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, "-m", module],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=path),
    )
