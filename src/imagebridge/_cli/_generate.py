"""``imagebridge generate`` and ``imagebridge edit``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from imagebridge import DryRun, ImageBridgeError, ImageStream
from imagebridge._files import usable_folder
from imagebridge._preflight import Operation

from ._connect import Client, open_client, resolve, run_secrets
from ._errors import CliError, ErrorContext, ExitCode, report_errors
from ._events import EventFollower
from ._options import (
    Connection,
    RunSettings,
    connection_options,
    image_input,
    request_options,
    run_options,
    split_params,
    variation_options,
)
from ._output import emit_dry_run, emit_result, emit_task, save_images, verbose_logging
from ._progress import ProgressDisplay
from ._terminal import echo


@click.command()
@click.argument("prompt")
@connection_options
@request_options
@click.option(
    "--reference",
    "-r",
    "references",
    multiple=True,
    metavar="PATH_OR_URL",
    help="Reference image (repeatable): a local file, an http(s) URL or a data: URL.",
)
@run_options
def generate(prompt: str, references: tuple[str, ...], **params: Any) -> None:
    """Generate images from PROMPT and save them.

    Prints the path of each saved image, one per line (or, with --json, one JSON object with
    "images": [{"path": ...}, ...], "task_id" and "warnings"; with --json-lines, one JSON
    object per event as it happens, the last "completed" or "error"). Options left out take
    the provider's defaults; a request the model cannot honour (e.g. dall-e-3 with --size
    512x512, or --partials where the model streams none) is refused before anything is sent.
    On a terminal, stderr shows the job's status, percent and time while it runs.

    With --partials N (GPT image models on openai), each partial image is saved into
    --output as it arrives (<provider>-partial-<k>-<image>.<ext>) and its path printed.

    \b
    Examples:
      imagebridge generate "a red cube" --provider geeknow --model gpt-image-1 --size 1:1
      imagebridge generate "a poster" -p dimilinks --size 16:9 --resolution 2k -o out/
      imagebridge generate "a fox" -p openai --model gpt-image-1 --partials 2 -o out/
      imagebridge generate "a logo" -p geeknow --option watermark=false --json
      imagebridge generate "a cat" -p dimilinks --json-lines   # one JSON line per event
      imagebridge generate "a cat" -p dimilinks --no-wait      # print the task id
      imagebridge generate "a poster" -p openai,dimilinks --size 16:9   # the first that can
      imagebridge generate "a cat" --profile default --json    # a profile's routes

    With a list of providers or a profile, the job runs on the first route that can honour
    it (see 'imagebridge routes'); the result names its provider and route.
    """
    connection, fields, settings = split_params(params)
    if references:
        fields["reference_images"] = [image_input(value) for value in references]
    execute(connection, settings, prompt, fields)


@click.command()
@click.argument("prompt")
@click.option(
    "--image",
    "-i",
    "images",
    multiple=True,
    required=True,
    metavar="PATH",
    help="Image to edit (repeatable; a local file or a URL).",
)
@click.option("--mask", metavar="PATH", help="Mask image: transparent areas are edited.")
@connection_options
@request_options
@run_options
def edit(prompt: str, images: tuple[str, ...], mask: str | None, **params: Any) -> None:
    """Edit one or more images by PROMPT and save the results.

    Output is the same as for 'generate' (--partials and --json-lines too). An edit is
    always waited for, so --no-wait is refused, though a provider may run it as a task of its
    own (dimilinks does: the task's id is the "task_id" of the --json output).

    \b
    Examples:
      imagebridge edit "add a hat" --provider openai --image cat.png
      imagebridge edit "add a hat" -p openai -i cat.png --partials 1 -o out/
      imagebridge edit "merge them" -p openai -i a.png -i b.png --mask mask.png --json
    """
    connection, fields, settings = split_params(params)
    if settings.no_wait:
        raise click.UsageError("--no-wait is only for 'generate': an edit is always waited for")
    execute(
        connection,
        settings,
        prompt,
        fields,
        images=[image_input(value) for value in images],
        mask=image_input(mask) if mask else None,
    )


@click.command()
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@connection_options
@variation_options
@run_options
def vary(image: Path, **params: Any) -> None:
    """Make variations of IMAGE (a local file; no prompt) and save them.

    Output is the same as for 'generate'. Only models that declare variations make them
    (on openai: dall-e-2); any other is refused before anything is sent.

    \b
    Examples:
      imagebridge vary cat.png --provider openai --model dall-e-2 -n 3 --size 512x512
    """
    connection, fields, settings = split_params(params)
    if settings.no_wait:
        raise click.UsageError("--no-wait is only for 'generate': a variation is always waited for")
    execute(connection, settings, "", fields, images=[image], operation="vary")


def execute(
    connection: Connection,
    settings: RunSettings,
    prompt: str,
    fields: dict[str, Any],
    *,
    images: list[str | Path] | None = None,
    mask: str | Path | None = None,
    operation: Operation | None = None,
) -> None:
    """Run one job through its stream of events, save its images and print them; failures
    become one-line errors. On routes (``--provider a,b``, ``--profile``) the job runs on
    the first route that can honour it; the result names the provider and route."""
    context = ErrorContext(
        json_mode=settings.mode != "human",
        json_lines=settings.mode == "lines",
        verbose=settings.verbose,
        provider=connection.provider,
    )
    with report_errors(context):  # unknown providers, a bad profile: nothing sent yet
        target = resolve(connection)
    context = ErrorContext(
        json_mode=context.json_mode,
        json_lines=context.json_lines,
        verbose=context.verbose,
        provider=target.provider,
        secrets=run_secrets(target),
    )
    fields = target.request_fields(fields)
    with (
        verbose_logging(settings.verbose),
        report_errors(context),
        open_client(target, settings.timeout, **settings.costs) as client,
    ):
        operation = operation or ("generate" if images is None else "edit")
        call = _Call(prompt, fields, images, mask, operation)
        if settings.dry_run:
            emit_dry_run(call.dry_run(client), settings.mode)
            return
        if settings.no_wait:
            emit_task(client.submit(prompt, **fields), settings.mode)
            return
        # Checked here, before anything is sent (or any folder made): a refused request
        # (e.g. --partials where the model streams none) exits 2 at once.
        with call.open(client) as stream:
            usable_folder(settings.output)  # before paying for an image it could not save
            _run(client, stream, settings, context)


@dataclass(frozen=True)
class _Call:
    """What one command asks for."""

    prompt: str
    fields: dict[str, Any]
    images: list[str | Path] | None
    mask: str | Path | None
    operation: Operation

    def open(self, client: Client) -> ImageStream:
        """The job's stream (generate(), edit() and vary() are the same flow, drained)."""
        return client.stream(self.prompt, operation=self.operation, **self._fields())

    def dry_run(self, client: Client) -> DryRun:
        """What the job would send, nothing sent (streamed as :meth:`open` would stream)."""
        return client.dry_run(self.prompt, operation=self.operation, stream=True, **self._fields())

    def _fields(self) -> dict[str, Any]:
        fields = dict(self.fields)
        if self.operation == "edit":
            fields.update(reference_images=self.images, mask=self.mask)
        elif self.operation == "vary":
            fields["reference_images"] = self.images
        return fields


def _run(client: Client, stream: ImageStream, settings: RunSettings, context: ErrorContext) -> None:
    """Follow the stream with progress shown and partial images saved, then save the images
    and print the result."""
    began = time.monotonic()
    quiet = settings.mode == "lines"  # its events are the progress
    with ProgressDisplay(settings.progress, verbose=settings.verbose, quiet=quiet) as display:
        follower = EventFollower(settings.mode, settings.output, display)
        try:
            result = follower.follow(stream)
            display.note("saving")
            entries = save_images(result, settings.output, began=began, timeout=client.timeout)
        except ImageBridgeError as error:
            _name_accepting_provider(context, follower)
            _keep_paid_work(error, settings, context, follower)
            raise
        except KeyboardInterrupt:
            _name_accepting_provider(context, follower)
            if follower.partials and settings.mode != "human":
                context.extra["partial_images"] = list(follower.partials)
            raise _interrupted(display.task_id, context) from None
    emit_result(result, entries, settings.mode, follower.extra())


def _name_accepting_provider(context: ErrorContext, follower: EventFollower) -> None:
    """On routes, a resume hint names the provider that accepted the task (not the list)."""
    if follower.task is not None:
        context.provider = follower.task.provider


def _keep_paid_work(
    error: ImageBridgeError, settings: RunSettings, context: ErrorContext, follower: EventFollower
) -> None:
    """Keep the images a split request made before it failed (they are paid for) and say
    where the partial images saved so far are."""
    if follower.partials and settings.mode != "human":
        context.extra["partial_images"] = list(follower.partials)
    if error.partial is None:
        return
    try:
        entries = save_images(error.partial, settings.output)
    except (ImageBridgeError, OSError) as exc:
        echo(f"warning: could not save the images made before the error: {exc}", err=True)
        return
    if settings.mode != "human":
        context.extra["partial"] = {**error.partial.to_dict(), "images": entries}
    else:
        for entry in entries:
            follower.display.say(entry["path"])


def _interrupted(task_id: str | None, context: ErrorContext) -> CliError:
    """Ctrl-C: the stream is closed (nothing more is sent). After the provider accepted a
    task, name it: it is in the journal and may still finish."""
    message = "interrupted"
    if task_id is not None:
        message = (
            f"interrupted; task {task_id} was accepted and may still finish; resume it with:"
            f" imagebridge task {task_id} --provider {context.provider}"
        )
    payload: dict[str, Any] | None = None
    if context.json_mode:
        payload = {
            "type": "KeyboardInterrupt",
            "message": message,
            "code": None,
            "task_id": task_id,
            "exit_code": int(ExitCode.INTERRUPTED),
            **context.extra,
        }
    return CliError(message, ExitCode.INTERRUPTED, payload=payload, event=context.json_lines)
