"""``imagebridge conformance``: replay recorded cassettes against installed adapters."""

from __future__ import annotations

from pathlib import Path

import click

from ._errors import PREFIX, ExitCode
from ._terminal import echo


@click.command("conformance")
@click.option("--provider", "-p", metavar="NAME", help="Only this provider (default: all).")
@click.option(
    "--cassettes",
    type=click.Path(file_okay=False, path_type=Path),
    help="Cassette folder (default: the built-in providers' cassettes, shipped with imagebridge).",
)
def conformance(provider: str | None, cassettes: Path | None) -> None:
    """Run the conformance suite offline and print adapter x scenario (pass, skip with the
    reason, fail).

    Each recorded cassette is replayed through the sync and the async client, with no
    network and no key. Without --cassettes it replays the built-in providers' cassettes
    (shipped as package data, so it works in any folder). Exit code 0 when nothing failed, 1
    otherwise, 2 for a folder that does not exist. Needs the 'testing' extra (respx).

    \b
    Examples:
      imagebridge conformance
      imagebridge conformance --provider myprovider --cassettes tests/cassettes
    """
    try:
        from imagebridge.testing import format_table, run_conformance
    except ImportError as exc:  # respx missing
        echo(
            f"{PREFIX}the conformance kit needs the 'testing' extra:"
            f" pip install 'imagebridge[testing]' ({exc})",
            err=True,
        )
        raise SystemExit(int(ExitCode.INVALID)) from None
    try:
        outcomes = run_conformance(provider, cassettes)
    except FileNotFoundError as exc:
        echo(f"{PREFIX}{exc}", err=True)
        raise SystemExit(int(ExitCode.INVALID)) from None
    echo(format_table(outcomes), keep_lines=True)
    if not all(outcome.ok for outcome in outcomes):
        raise SystemExit(int(ExitCode.ERROR))
