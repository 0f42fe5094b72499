"""``python -m imagebridge.testing``: the conformance kit's command line (run the suite, record
cassettes, list the scenarios, print the cassette schema).

    python -m imagebridge.testing run [--provider NAME] [--cassettes DIR] [--delays]
    python -m imagebridge.testing record [--config FILE] [--provider NAME] [--base-url URL]
        [--out DIR] [--api-key-env VAR] [--scenario NAME ...] [--marker SCENARIO=MARKER ...]
        [--not-applicable SCENARIO=REASON ...] [--model MODEL] [--secret-env VAR ...]
        [--ignore-json-path PATH ...] [--recorded-from TEXT] [--no-timing]
    python -m imagebridge.testing scenarios [--markdown]
    python -m imagebridge.testing schema

``run`` replays the built-in providers' cassettes when no ``--cassettes`` folder is given.
``run --delays`` serves recorded event streams at the pace they were recorded.
``record`` takes the inputs of ``imagebridge.testing.record()`` from
``tests/imagebridge-record.toml`` (under the current directory; ``--config`` names another
file) and from flags, which win (see :mod:`._record_config`). It reads the key from the
variable ``--api-key-env`` names (default: the one the clients read, ``<PROVIDER>_API_KEY``
with ``-`` and ``.`` as ``_``), never from the command line or a file, so it stays out of
shell history. ``scenarios`` prints every scenario: its call, marker, expected outcome and
what a fake server must answer. Exit status: 0 when everything passed (or was recorded), 1
otherwise, 2 for a cassette folder that does not exist or a record configuration that
cannot be used.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from .._errors import ConfigurationError
from .._plugins import default_registry
from ._cassette import cassette_schema
from ._record import RecordReport, record
from ._record_config import (
    DEFAULT_CONFIG,
    RecordConfigError,
    RecordInputs,
    find_config,
    load_config,
    pair,
    resolve,
)
from ._report import format_table
from ._runner import run_conformance
from ._scenario_table import scenarios_markdown, scenarios_text

PROG = "python -m imagebridge.testing"
_PASSED = ("recorded", "skipped", "not_applicable")


def _pair(text: str) -> tuple[str, str]:
    try:
        return pair(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _record_arguments(rec: argparse.ArgumentParser) -> None:
    rec.add_argument(
        "--config", type=Path, metavar="FILE", help=f"the record file (default: {DEFAULT_CONFIG})"
    )
    rec.add_argument("--provider", metavar="NAME")
    rec.add_argument("--base-url", metavar="URL")
    rec.add_argument(
        "--out", type=Path, metavar="DIR", help="the cassettes folder (file: out, beside it)"
    )
    rec.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="the variable holding the key (default: <PROVIDER>_API_KEY)",
    )
    rec.add_argument(
        "--scenario", action="append", dest="scenarios", metavar="NAME", help="default: all"
    )
    rec.add_argument(
        "--marker",
        action="append",
        dest="markers",
        type=_pair,
        metavar="SCENARIO=MARKER",
        help="the prompt marker to record a scenario with (#error=402:<code>, #fail=<code>)",
    )
    rec.add_argument(
        "--not-applicable",
        action="append",
        type=_pair,
        metavar="SCENARIO=REASON",
        help="a scenario the provider cannot have: a stub cassette that replays as a skip",
    )
    rec.add_argument("--model")
    rec.add_argument("--secret-env", action="append", metavar="VAR", help="more secrets to refuse")
    rec.add_argument(
        "--ignore-json-path",
        action="append",
        dest="ignore_json_paths",
        metavar="PATH",
        help="a volatile request field left out of replayed comparisons",
    )
    rec.add_argument(
        "--recorded-from", metavar="TEXT", help="where the cassettes say they come from"
    )
    rec.add_argument("--no-timing", action="store_true", help="no event times in streams")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="replay the cassettes and print the table")
    run.add_argument("--provider")
    run.add_argument("--cassettes", type=Path, help="default: the built-in providers' cassettes")
    run.add_argument(
        "--delays",
        action="store_true",
        help="replay recorded event streams at their recorded pace (default: at once)",
    )
    _record_arguments(
        commands.add_parser(
            "record",
            help="record cassettes from a live endpoint or a fake server",
            description=f"Flags override {DEFAULT_CONFIG} (or the --config file).",
        )
    )
    scenarios = commands.add_parser(
        "scenarios", help="what each scenario calls, expects and needs a fake to answer"
    )
    scenarios.add_argument("--markdown", action="store_true", help="as a Markdown table")
    commands.add_parser("schema", help="print the cassette JSON Schema")
    return parser


def _inputs(args: argparse.Namespace) -> tuple[RecordInputs, str | None]:
    path = find_config(args.config)
    config = load_config(path) if path is not None else None
    inputs = resolve(config, vars(args), source=str(path) if path else "the config")
    if path is not None:
        print(f"config: {path}")
    adapter_cls = default_registry().adapter(inputs.provider)
    return inputs, inputs.api_key(adapter_cls)


def _summary(reports: list[RecordReport], out: Path) -> str:
    counts: Counter[str] = Counter(report.status for report in reports)
    order = ("recorded", "not_applicable", "skipped", "refused", "failed")
    parts = [f"{counts[status]} {status.replace('_', ' ')}" for status in order]
    return f"{', '.join(parts)}: {out}"


def _record(args: argparse.Namespace) -> int:
    try:
        inputs, api_key = _inputs(args)
    except (RecordConfigError, ConfigurationError) as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    reports = record(
        inputs.provider,
        base_url=inputs.base_url,
        api_key=api_key,
        out=inputs.out,
        scenarios=inputs.scenarios,
        hints=inputs.hints,
        not_applicable=inputs.not_applicable,
        secrets=inputs.secrets(),
        model=inputs.model,
        recorded_from=inputs.recorded_from,
        ignore_json_paths=inputs.ignore_json_paths,
        timing=inputs.timing,
    )
    for report in reports:
        print(f"{report.scenario:32} {report.status:15} {report.detail}".rstrip())
    print(_summary(reports, inputs.out))
    return 0 if all(report.status in _PASSED for report in reports) else 1


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "schema":
        print(json.dumps(cassette_schema(), indent=2))
        return 0
    if args.command == "scenarios":
        print(scenarios_markdown() if args.markdown else scenarios_text(), end="")
        return 0
    if args.command == "run":
        try:
            outcomes = run_conformance(args.provider, args.cassettes, delays=args.delays)
        except FileNotFoundError as exc:
            print(f"{PROG}: {exc}", file=sys.stderr)
            return 2
        print(format_table(outcomes))
        return 0 if all(outcome.ok for outcome in outcomes) else 1
    return _record(args)


if __name__ == "__main__":
    sys.exit(main())
