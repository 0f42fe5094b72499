"""The diagrams in the docs are checked against the code they draw.

- the journal's states (docs/concepts/reliability.md) are the states ``JournalState`` defines,
  the final ones are those not in ``UNFINISHED``, and the failures drawn as ending a task are
  the errors the job marks ``failed``;
- the life of a job (docs/concepts/architecture.md): its HTTP boxes are the emulator's fault
  phases, its stages the flow's ``Stage`` values, its journal writes every ``JournalState``;
- the plugin diagram (the same page) names only hooks, adapter methods and classes that exist.

Each check returns what is wrong, and each is also run on a broken copy of its diagram, so a
check that could never fail would fail here.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import get_args

import httpx

from imagebridge import ProviderError
from imagebridge._emulator._faults import PHASES
from imagebridge._flow import Stage
from imagebridge._jobs import _task_ended
from imagebridge._journal import UNFINISHED, JournalState
from imagebridge.adapter import Adapter

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```mermaid\n(?P<code>.*?)^```", re.S | re.M)
TRANSITION = re.compile(r"^\s*(?P<a>\S+)\s*-->\s*(?P<b>[^\s:]+)\s*(?::\s*(?P<label>.*))?$", re.M)
NODE = re.compile(r"\b(?P<id>\w+)\s*[\[{(]+\"(?P<label>[^\"]*)\"")


def mermaid_blocks(text: str) -> list[str]:
    """The mermaid diagrams of a Markdown page, in order."""
    return [match["code"] for match in BLOCK.finditer(text)]


def _diagram(page: str, first_line: str) -> str:
    text = (ROOT / page).read_text(encoding="utf-8")
    [block] = [b for b in mermaid_blocks(text) if b.strip().startswith(first_line)]
    return block


def _journal_diagram() -> str:
    return _diagram("docs/concepts/reliability.md", "stateDiagram")


def _job_diagram() -> str:
    return _diagram("docs/concepts/architecture.md", "flowchart TD")


def _plugin_diagram() -> str:
    return _diagram("docs/concepts/architecture.md", "flowchart TB")


def _provider_errors() -> set[type[ProviderError]]:
    found: set[type[ProviderError]] = set()
    todo: list[type[ProviderError]] = [ProviderError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo += cls.__subclasses__()
    return found


# -- the journal's states ----------------------------------------------------------------------
def journal_problems(diagram: str) -> list[str]:
    transitions = [(m["a"], m["b"], m["label"] or "") for m in TRANSITION.finditer(diagram)]
    states = {s for a, b, _ in transitions for s in (a, b)} - {"[*]"}
    problems = []
    if states != set(get_args(JournalState)):
        problems.append(f"states drawn {sorted(states)} != JournalState")
    final = {a for a, b, _ in transitions if b == "[*]"}
    if final != set(get_args(JournalState)) - set(UNFINISHED):
        problems.append(f"final states drawn {sorted(final)} != those not in UNFINISHED")
    leaving = {a for a, b, _ in transitions if a in final and b != "[*]"}
    if leaving:
        problems.append(f"final states with a way out: {sorted(leaving)}")
    starts = {b for a, b, _ in transitions if a == "[*]"}
    if starts != {"accepted"}:
        problems.append(f"a task is journaled as {sorted(starts)}, not accepted")
    labels = " ".join(label for a, b, label in transitions if (a, b) == ("accepted", "failed"))
    drawn = set(re.findall(r"\b\w+Error\b", labels))
    ending = {cls.__name__ for cls in _provider_errors() if _task_ended(cls("x", provider="p"))}
    if drawn != ending:
        problems.append(f"errors drawn as ending a task {sorted(drawn)} != {sorted(ending)}")
    return problems


def test_the_journal_diagram_draws_the_journal_states() -> None:
    assert journal_problems(_journal_diagram()) == []


def test_the_journal_check_fails_on_a_wrong_diagram() -> None:
    diagram = _journal_diagram()
    assert journal_problems(diagram.replace("cancelled", "canceled"))
    assert journal_problems(diagram.replace("    fetched --> saved", "    fetched --> [*]"))
    assert journal_problems(diagram.replace("ContentPolicyError, ", ""))


# -- the life of a job -------------------------------------------------------------------------
def job_problems(diagram: str) -> list[str]:
    labels = {m["id"]: m["label"] for m in NODE.finditer(diagram)}
    problems = []
    wire = set(re.search(r"^\s*class (\S+) wire$", diagram, re.M)[1].split(","))  # type: ignore[index]
    if wire != set(PHASES):
        problems.append(f"HTTP boxes {sorted(wire)} != the emulator's phases {sorted(PHASES)}")
    if not wire <= set(labels):
        problems.append(f"HTTP boxes that are not drawn: {sorted(wire - set(labels))}")
    parts = [part.strip() for label in labels.values() for part in label.split("·")]
    stages = {
        stage.strip()
        for part in parts
        if part.startswith("stage:")
        for stage in part.removeprefix("stage:").split("/")
    }
    if stages != set(get_args(Stage)):
        problems.append(f"stages drawn {sorted(stages)} != Stage {sorted(get_args(Stage))}")
    written = {
        state.strip()
        for part in parts
        if part.startswith("journal:")
        for state in part.removeprefix("journal:").split(",")
    }
    if written != set(get_args(JournalState)):
        problems.append(f"journal writes drawn {sorted(written)} != JournalState")
    return problems


def test_the_job_diagram_matches_the_phases_and_stages() -> None:
    assert job_problems(_job_diagram()) == []


def test_the_job_check_fails_on_a_wrong_diagram() -> None:
    diagram = _job_diagram()
    assert job_problems(diagram.replace("class submit,poll,download,cancel", "class submit,poll"))
    assert job_problems(diagram.replace("stage: downloading", "stage: fetching"))
    assert job_problems(diagram.replace("journal: cancelled", "journal: stopped"))


# -- how a plugin plugs in ---------------------------------------------------------------------
_MODULES = ("imagebridge", "imagebridge.adapter", "imagebridge._driver", "imagebridge._jobs")


def plugin_problems(diagram: str) -> list[str]:
    hookspecs = importlib.import_module("imagebridge.hookspecs")
    modules = [importlib.import_module(name) for name in _MODULES]
    problems = []
    calls = set(re.findall(r"\b(\w+)\(\)", diagram))
    for name in sorted(calls):
        if not hasattr(Adapter, name) and not hasattr(hookspecs, name):
            problems.append(f"{name}() is neither an Adapter method nor a hook")
    for dotted in sorted(set(re.findall(r"\bhttpx\.(\w+)", diagram))):
        if not hasattr(httpx, dotted):
            problems.append(f"httpx.{dotted} does not exist")
    classes = set(re.findall(r"(?<![.\w])([A-Z][a-z]+(?:[A-Z][a-z]+)+)\b", diagram))
    for name in sorted(classes):
        if not any(hasattr(module, name) for module in modules):
            problems.append(f"{name} is not a class of {', '.join(_MODULES)}")
    if not calls or not classes:
        problems.append("the diagram names no hook, method or class")
    return problems


def test_the_plugin_diagram_names_what_exists() -> None:
    assert plugin_problems(_plugin_diagram()) == []


def test_the_plugin_check_fails_on_a_wrong_diagram() -> None:
    diagram = _plugin_diagram()
    assert plugin_problems(diagram.replace("read_task()", "parse_task()"))
    assert plugin_problems(diagram.replace("SyncDriver", "SyncRunner"))
    assert plugin_problems(diagram.replace("imagebridge_adapters()", "imagebridge_plugins()"))


def test_every_diagram_page_is_checked() -> None:
    """A page that gets a diagram gets a check here (or the browser test) too."""
    pages = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "docs").rglob("*.md")
        if mermaid_blocks(path.read_text(encoding="utf-8"))
    }
    assert pages == {"docs/concepts/architecture.md", "docs/concepts/reliability.md"}
