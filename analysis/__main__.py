"""``python -m analysis``: see :mod:`analysis.cli`."""

from analysis._exit import run_then_exit


def _main() -> int:
    from analysis.cli import main

    return main()


run_then_exit(_main)
