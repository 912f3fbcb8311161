"""``python -m publishing``: see :mod:`publishing.cli`."""

from analysis._exit import run_then_exit


def _main() -> int:
    from publishing.cli import main

    return main()


run_then_exit(_main)
