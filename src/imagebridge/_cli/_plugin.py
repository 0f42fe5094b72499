"""``imagebridge plugin new``: a provider plugin package that passes the conformance kit as
it is written.

The files come from :mod:`._scaffold`. The cassettes are recorded right away, the way an
author records them: the package's fake API (``tests/fake_server.py``) serves on 127.0.0.1
(a free port) and the kit records every scenario from it with the package's own record
file (``tests/imagebridge-record.toml``), as ``python -m imagebridge.testing record
--base-url ...`` does, on the kit's fake clock so that polling takes no time.
"""

from __future__ import annotations

import importlib.util
import secrets
import shlex
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import click

from imagebridge import create_registry, default_registry

from ._errors import CliError, ExitCode
from ._scaffold import KINDS, Kind, PluginNames, ScaffoldError, plan_package, write_package
from ._terminal import echo

if TYPE_CHECKING:
    from imagebridge.testing import RecordReport

#: What the recorded cassettes say they come from.
RECORDED_FROM = "tests/fake_server.py (imagebridge plugin new)"
#: The extras recording needs: the fake API (starlette, uvicorn) and the kit (respx).
RECORDING_MODULES = {"starlette": "server", "uvicorn": "server", "respx": "testing"}
_UNSAVED = ("failed", "refused")


@click.group("plugin")
def plugin() -> None:
    """Write provider plugins (see docs/plugins.md)."""


@plugin.command("new")
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default="sync",
    show_default=True,
    help="sync: one request, images in the answer; task: submit, poll, collect.",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="The package's folder, new or empty (default: ./imagebridge-NAME).",
)
@click.option(
    "--no-record",
    is_flag=True,
    help="Write the package without its cassettes (record them later, as its README says).",
)
def new(name: str, kind: Kind, directory: Path | None, no_record: bool) -> None:
    """Write a plugin package for the provider NAME that passes the conformance kit as it is.

    The package has a pyproject with the 'imagebridge' entry point, an adapter for a sync
    or a task dialect, a fake of its API (starlette, on 127.0.0.1), the record file
    tests/imagebridge-record.toml, the cassettes recorded from the fake, the one-file
    conformance test and a CI workflow. Then make the adapter and the fake speak your
    provider's API and record again (the package's README says how).

    \b
    Examples:
      imagebridge plugin new acme
      imagebridge plugin new acme --kind task --dir plugins/acme
      cd imagebridge-acme && pip install -e '.[test]' && pytest
    """
    try:
        names = PluginNames.of(name)
    except ScaffoldError as error:
        raise CliError(str(error), ExitCode.INVALID) from None
    _check_free(names)
    if not no_record:
        _check_recording_extras()
    root = directory if directory is not None else Path(names.dist)
    files = plan_package(names, kind)
    try:
        write_package(root, files)
    except ScaffoldError as error:
        raise CliError(str(error), ExitCode.INVALID) from None
    except OSError as error:
        raise CliError(f"cannot write {root}: {error.strerror or error}", ExitCode.ERROR) from None
    echo(f"wrote {root}: the {kind} plugin for provider {name!r} ({len(files)} files)")
    if not no_record:
        _report(record_cassettes(root, names), root)
    echo("next:")
    echo(f"  cd {shlex.quote(str(root))}")
    echo("  pip install -e '.[test]'")
    if no_record:
        echo("  record the cassettes, as tests/imagebridge-record.toml says")
    echo("  pytest")


def _check_free(names: PluginNames) -> None:
    if names.name in default_registry().adapters:
        raise CliError(
            f"provider {names.name!r} is already installed ('imagebridge providers' shows its"
            " package): an entry point of that name would be skipped; choose another name",
            ExitCode.INVALID,
        )


def _check_recording_extras() -> None:
    missing = sorted({extra for name, extra in RECORDING_MODULES.items() if not find_spec(name)})
    if missing:
        extras = ",".join(missing)
        raise CliError(
            f"recording the package's cassettes needs imagebridge[{extras}]: pip install"
            f" 'imagebridge[{extras}]', or pass --no-record to write the package without"
            " them; nothing was written",
            ExitCode.INVALID,
        )


def _report(reports: list[RecordReport], root: Path) -> None:
    counts = Counter(report.status for report in reports)
    unsaved = [report for report in reports if report.status in _UNSAVED]
    for report in unsaved:
        echo(f"  {report.scenario}: {report.status}: {report.detail}", err=True)
    if unsaved:
        scenarios = "1 scenario" if len(unsaved) == 1 else f"{len(unsaved)} scenarios"
        raise CliError(
            f"{scenarios} could not be recorded from the fake (above); the package is in"
            f" {root}: fix the adapter, tests/fake_server.py or tests/imagebridge-record.toml,"
            " then record again as its README says",
            ExitCode.ERROR,
        )
    echo(
        f"recorded the cassettes from the fake API: {counts['recorded']} recorded,"
        f" {counts['not_applicable']} not applicable, {counts['skipped']} skipped (needs"
        f" what the adapter does not declare) -> {root / 'tests' / 'cassettes'}"
    )


def _load(path: Path, module: str) -> ModuleType:
    search = [str(path.parent)] if path.name == "__init__.py" else None
    spec = importlib.util.spec_from_file_location(module, path, submodule_search_locations=search)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py path always has one
        raise ImportError(f"cannot import {path}")
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[module] = loaded
    spec.loader.exec_module(loaded)
    return loaded


@contextmanager
def _imported(root: Path, names: PluginNames) -> Iterator[tuple[ModuleType, ModuleType]]:
    """The new package's plugin module and its fake server, imported from ``root`` and
    forgotten afterwards (the package is not installed yet)."""
    fake_name = f"_imagebridge_new_fake_{names.module}"
    try:
        plugin_module = _load(root / "src" / names.module / "__init__.py", names.module)
        yield plugin_module, _load(root / "tests" / "fake_server.py", fake_name)
    finally:
        for module in list(sys.modules):
            if module in (names.module, fake_name) or module.startswith(f"{names.module}."):
                del sys.modules[module]


def record_cassettes(root: Path, names: PluginNames) -> list[RecordReport]:
    """Record the package's cassettes from its fake API, with its record file."""
    from imagebridge._emulator._server import BackgroundServer
    from imagebridge.testing import FakeClock, record
    from imagebridge.testing._record_config import CONFIG_NAME, load_config, resolve

    config = load_config(root / "tests" / CONFIG_NAME)
    key = secrets.token_urlsafe(18)  # the fake's key for this run only
    with _imported(root, names) as (plugin_module, fake):
        registry = create_registry(entry_points=False, plugins=[plugin_module])
        with BackgroundServer(fake.create_app(key), name=f"fake {names.name} API") as server:
            flags = {"base_url": f"{server.origin}/v1", "recorded_from": RECORDED_FROM}
            inputs = resolve(config, flags, source=CONFIG_NAME)
            return record(
                inputs.provider,
                base_url=inputs.base_url,
                api_key=key,
                out=inputs.out,
                scenarios=inputs.scenarios,
                hints=inputs.hints,
                not_applicable=inputs.not_applicable,
                registry=registry,
                clock=FakeClock(),
                model=inputs.model,
                recorded_from=inputs.recorded_from,
                ignore_json_paths=inputs.ignore_json_paths,
                timing=inputs.timing,
            )
