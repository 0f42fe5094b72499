"""The scenario table: what each scenario calls, with which marker, what it expects and what
a fake server must answer to record it; generated from :data:`SCENARIOS`, so it is never
stale. ``python -m imagebridge.testing scenarios`` prints it (``--markdown``: the table of
the documentation's scenario page, written by ``docs/gen_pages.py``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._execute import WRONG_KEY
from ._scenarios import SCENARIOS, Scenario

__all__ = ["ScenarioRow", "scenario_rows", "scenarios_markdown", "scenarios_text"]

_ERROR = re.compile(r"#error=(\d{3}):(\S+)")
_FAIL = re.compile(r"#fail=(\S+)")


@dataclass(frozen=True)
class ScenarioRow:
    """One scenario, in words."""

    name: str
    needs: str
    call: str
    marker: str
    expects: str
    answer: str
    checks: str


def _call(scenario: Scenario) -> str:
    method = scenario.method
    if scenario.stream:
        operation = "" if method == "generate" else f'operation="{method}"'
        text = f"stream({operation})"
    elif method == "submit":
        text = "submit() then wait()"
    elif method == "wait":
        text = f'wait("{scenario.task_id}")'
    else:
        text = f"{method}()"
    inputs = []
    if scenario.images:
        inputs.append(f"{scenario.images} image{'s' if scenario.images > 1 else ''}")
    if scenario.reference_images:
        inputs.append(f"{scenario.reference_images} reference image")
    if scenario.mask:
        inputs.append("a mask")
    fields = [f"{key}={value!r}" for key, value in scenario.fields.items()]
    if scenario.dynamic is not None:
        fields.append("fields from the model's capabilities")
    if scenario.invalid_key:
        fields.append("a wrong key")
    extra = ", ".join([*inputs, *fields])
    return f"{text}: {extra}" if extra else text


def _marker(scenario: Scenario) -> str:
    if scenario.fault:
        return f"header X-Emulator-Fault: {scenario.fault}"
    return scenario.marker or "-"


def _expects(scenario: Scenario) -> str:
    if scenario.expect != "success":
        return scenario.expect
    if scenario.sources == "url":
        return "success, images as URLs"
    if scenario.sources == "inline":
        return "success, images inline"
    return "success"


def _error_answer(scenario: Scenario) -> str | None:
    expect, marker = scenario.expect, scenario.marker
    error, fail = _ERROR.search(marker), _FAIL.search(marker)
    if error is not None:
        status, code = error.groups()
        retry = ", with a Retry-After header" if status == "429" else ""
        return (
            f"HTTP {status}{retry} to the request whose prompt has the marker, with the"
            f" provider's own code for {expect} (the marker's default: {code}; give yours:"
            f" --marker {scenario.name}='#error={status}:<code>')"
        )
    if fail is not None:
        return (
            f"the provider's own {expect} for the prompt with the marker (default code:"
            f" {fail.group(1)}; give yours: --marker {scenario.name}='#fail=<code>'): a task"
            " API accepts the task, then reports it failed with that code; a synchronous API"
            " answers its error"
        )
    if scenario.invalid_key:
        return (
            f"the provider's authentication error (HTTP 401, its own code) to the key {WRONG_KEY}"
        )
    if scenario.task_id:
        return f"HTTP 404 (its own code) to the poll of {scenario.task_id}, a task it never made"
    return None


def _answer(scenario: Scenario) -> str:
    answer = _error_answer(scenario)
    if answer is None and scenario.fault:
        answer = (
            "the event stream, with the connection closed after the partial images (the"
            " recorder sends the header; a live API ignores it, so record from a fake or"
            " list the scenario as not applicable)"
        )
    elif answer is None and scenario.stream:
        answer = (
            "a text/event-stream answer: per image its partial images (index 0 up, each at"
            " the final size and format), then the completed event"
        )
    elif answer is None and scenario.sources == "url":
        answer = "the images as URLs, and the images at those URLs"
    elif answer is None and scenario.sources == "inline":
        answer = "the images inline (base64 or data: URLs)"
    elif answer is None and scenario.check_progress:
        answer = (
            "the task, with at least one status before the finished one (queued, running):"
            " each poll may move it on"
        )
    elif answer is None:
        answer = "the images of the call (a task API: accepts, then finishes the task)"
    if scenario.edit is not None:
        answer += "; the kit then edits the recording (see the cassette's description)"
    return answer


def scenario_rows(scenarios: tuple[Scenario, ...] = SCENARIOS) -> list[ScenarioRow]:
    """One row per scenario, in catalogue order."""
    return [
        ScenarioRow(
            name=scenario.name,
            needs=", ".join(scenario.requires) or "-",
            call=_call(scenario),
            marker=_marker(scenario),
            expects=_expects(scenario),
            answer=_answer(scenario),
            checks=scenario.description,
        )
        for scenario in scenarios
    ]


def _cell(text: str, code: bool = False) -> str:
    text = text.replace("|", "\\|")
    return f"`{text}`" if code and text != "-" else text


def scenarios_markdown(scenarios: tuple[Scenario, ...] = SCENARIOS) -> str:
    """The table as Markdown (one row per scenario)."""
    lines = [
        "| scenario | needs | call | marker | expects | the fake must answer |",
        "|---|---|---|---|---|---|",
    ]
    for row in scenario_rows(scenarios):
        cells = [
            _cell(row.name, code=True),
            row.needs,
            _cell(row.call, code=True),
            _cell(row.marker, code=True),
            row.expects,
            row.answer,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def scenarios_text(scenarios: tuple[Scenario, ...] = SCENARIOS) -> str:
    """The table for a terminal: one block per scenario."""
    blocks = []
    for row in scenario_rows(scenarios):
        blocks.append(
            "\n".join(
                [
                    f"{row.name}  ->  {row.expects}",
                    f"  checks   {row.checks}",
                    f"  needs    {row.needs}",
                    f"  call     {row.call}",
                    f"  marker   {row.marker}",
                    f"  answer   {row.answer}",
                ]
            )
        )
    return "\n\n".join(blocks) + "\n"
