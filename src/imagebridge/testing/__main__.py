"""``python -m imagebridge.testing``: run the suite, record cassettes, print the schema.

    python -m imagebridge.testing run [--provider NAME] [--cassettes DIR]
    python -m imagebridge.testing record --provider NAME --base-url URL --out DIR
        [--api-key-env VAR] [--scenario NAME ...] [--secret-env VAR ...] [--model MODEL]
    python -m imagebridge.testing schema

``record`` reads the key from ``--api-key-env`` (default ``<PROVIDER>_API_KEY``), never from
the command line, so it stays out of shell history. Exit status: 0 when everything passed
(or was recorded), 1 otherwise.
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m imagebridge.testing", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="replay the cassettes and print the table")
    run.add_argument("--provider")
    run.add_argument("--cassettes", type=Path)
    rec = commands.add_parser("record", help="record cassettes from a live endpoint")
    rec.add_argument("--provider", required=True)
    rec.add_argument("--base-url", required=True)
    rec.add_argument("--out", type=Path, required=True)
    rec.add_argument("--api-key-env", help="the variable holding the key")
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
        outcomes = run_conformance(args.provider, args.cassettes)
        print(format_table(outcomes))
        return 0 if all(outcome.ok for outcome in outcomes) else 1
    variable = args.api_key_env or f"{args.provider.upper().replace('-', '_')}_API_KEY"
    reports = record(
        args.provider,
        base_url=args.base_url,
        api_key=os.environ.get(variable),
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
