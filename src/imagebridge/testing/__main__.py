"""``python -m imagebridge.testing``: the conformance kit's command line (run the suite, record
cassettes, print the cassette schema).

    python -m imagebridge.testing run [--provider NAME] [--cassettes DIR]
    python -m imagebridge.testing record --provider NAME --base-url URL --out DIR
        [--api-key-env VAR] [--scenario NAME ...] [--secret-env VAR ...] [--model MODEL]
    python -m imagebridge.testing schema

``run`` replays the built-in providers' cassettes when no ``--cassettes`` folder is given.
``record`` reads the key from the variable ``--api-key-env`` names (default: the one the
clients read, ``<PROVIDER>_API_KEY`` with ``-`` and ``.`` as ``_``), never from the command
line, so it stays out of shell history. Exit status: 0 when everything passed (or was
recorded), 1 otherwise, 2 for a cassette folder that does not exist.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ._cassette import cassette_schema
from ._record import record
from ._report import format_table
from ._runner import run_conformance

PROG = "python -m imagebridge.testing"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="replay the cassettes and print the table")
    run.add_argument("--provider")
    run.add_argument("--cassettes", type=Path, help="default: the built-in providers' cassettes")
    rec = commands.add_parser("record", help="record cassettes from a live endpoint")
    rec.add_argument("--provider", required=True)
    rec.add_argument("--base-url", required=True)
    rec.add_argument("--out", type=Path, required=True)
    rec.add_argument(
        "--api-key-env", help="the variable holding the key (default: <PROVIDER>_API_KEY)"
    )
    rec.add_argument("--scenario", action="append", dest="scenarios")
    rec.add_argument("--secret-env", action="append", default=[], help="more secrets to refuse")
    rec.add_argument("--model")
    commands.add_parser("schema", help="print the cassette JSON Schema")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "schema":
        print(json.dumps(cassette_schema(), indent=2))
        return 0
    if args.command == "run":
        try:
            outcomes = run_conformance(args.provider, args.cassettes)
        except FileNotFoundError as exc:
            print(f"{PROG}: {exc}", file=sys.stderr)
            return 2
        print(format_table(outcomes))
        return 0 if all(outcome.ok for outcome in outcomes) else 1
    # None: record() reads the provider's <PROVIDER>_API_KEY (named by Adapter.env_prefix()).
    api_key = os.environ.get(args.api_key_env) if args.api_key_env else None
    reports = record(
        args.provider,
        base_url=args.base_url,
        api_key=api_key,
        out=args.out,
        scenarios=args.scenarios,
        secrets=[os.environ[name] for name in args.secret_env if os.environ.get(name)],
        model=args.model,
        recorded_from=f"live endpoint ({args.provider})",
    )
    for report in reports:
        print(f"{report.scenario:32} {report.status:15} {report.detail}".rstrip())
    return 0 if all(r.status in ("recorded", "skipped", "not_applicable") for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
