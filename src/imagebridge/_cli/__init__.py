"""The ``imagebridge`` command-line interface (the ``cli`` extra: click and rich).

``main()`` is the console script. The commands live in small modules: :mod:`._app` (the
group, error handling and exit codes), :mod:`._generate` (``generate``, ``edit`` and
``vary``, each through ``client.stream()``, followed by :mod:`._events`),
:mod:`._providers`, :mod:`._serve`, :mod:`._plugin` (``plugin new``, whose package
files come from :mod:`._scaffold` and ``templates/``), with shared options in
:mod:`._options`, output helpers in :mod:`._output` and the progress display in
:mod:`._progress`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]

MISSING_EXTRA = (
    "imagebridge: the command-line interface needs the 'cli' extra: pip install 'imagebridge[cli]'"
)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line (``argv`` defaults to ``sys.argv[1:]``) and exit with its code."""
    try:
        import click  # noqa: F401
    except ImportError:
        print(MISSING_EXTRA, file=sys.stderr)
        sys.exit(2)
    from ._app import cli

    cli.main(args=list(argv) if argv is not None else None, prog_name="imagebridge")
