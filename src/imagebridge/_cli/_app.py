"""The ``imagebridge`` click group: the commands, and how every failure is reported."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from imagebridge import __version__

from ._batch import batch
from ._conformance import conformance
from ._errors import (
    PREFIX,
    CliError,
    ExitCode,
    error_object,
    exit_codes_epilog,
    json_lines_requested,
    json_requested,
    usage_payload,
)
from ._generate import edit, generate, vary
from ._plugin import plugin
from ._providers import providers
from ._routes import routes
from ._serve import serve
from ._shared import batch_status_command
from ._spend import spend
from ._tasks import task, tasks
from ._terminal import echo


class ImageBridgeGroup(click.Group):
    """A group whose errors are one line on stderr, with the documented exit codes."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        try:
            result = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except CliError as error:
            error.show()
            return _finish(error.exit_code, standalone_mode)
        except click.UsageError as error:
            _show_usage_error(error, argv)
            return _finish(ExitCode.INVALID, standalone_mode)
        except click.ClickException as error:
            echo(PREFIX + error.format_message(), err=True)
            return _finish(error.exit_code, standalone_mode)
        except click.Abort:
            echo(PREFIX + "interrupted", err=True)
            return _finish(ExitCode.INTERRUPTED, standalone_mode)
        except BrokenPipeError:
            # The reader went away (``imagebridge providers | head``): stop quietly.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return _finish(ExitCode.ERROR, standalone_mode)
        except Exception as error:  # a bug: still one line, never a traceback
            echo(f"{PREFIX}unexpected {type(error).__name__}: {error}", err=True)
            return _finish(ExitCode.ERROR, standalone_mode)
        return _finish(result if isinstance(result, int) else ExitCode.OK, standalone_mode)


def _show_usage_error(error: click.UsageError, argv: list[str]) -> None:
    message = " ".join(error.format_message().split())
    if error.ctx is not None:
        message += f" (see '{error.ctx.command_path} --help')"
    echo(PREFIX + message, err=True)
    if json_requested(argv):
        payload = usage_payload(error, message)
        click.echo(json.dumps(error_object(payload, json_lines_requested(argv))))


def _finish(code: int, standalone_mode: bool) -> int:
    """Exit with ``code``, or return it when the caller handles exits itself."""
    if standalone_mode:
        sys.exit(int(code))
    return int(code)


@click.group(
    "imagebridge",
    cls=ImageBridgeGroup,
    epilog=exit_codes_epilog(),
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "-V", "--version", prog_name="imagebridge")
def cli() -> None:
    """Generate and edit images through any provider with one canonical request.

    \b
    Examples:
      imagebridge providers
      imagebridge generate "a red cube" --provider geeknow --size 1:1 --output out/
      imagebridge edit "add a hat" --provider openai --image cat.png --mask mask.png

    The API key comes from --api-key or <PROVIDER>_API_KEY (e.g. GEEKNOW_API_KEY), the base
    URL from --base-url or <PROVIDER>_BASE_URL; the provider from --provider or
    IMAGEBRIDGE_PROVIDER. --provider a,b (or --profile NAME, from the config file) runs on
    routes: each request on the first that can honour it (see 'imagebridge routes').
    """


cli.add_command(generate)
cli.add_command(edit)
cli.add_command(vary)
cli.add_command(providers)
cli.add_command(routes)
cli.add_command(serve)
cli.add_command(task)
cli.add_command(tasks)
cli.add_command(spend)
cli.add_command(batch)
cli.add_command(batch_status_command)
cli.add_command(conformance)
cli.add_command(plugin)
