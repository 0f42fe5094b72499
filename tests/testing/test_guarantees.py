"""The task guarantees the kit checks, each shown to fail against a broken copy of the example.

Every copy is the example plugin's adapter.py (examples/imagebridge-pixelforge) with one
deliberate edit, loaded as a plugin of its own and certified against the example's real
cassettes, the way its author's CI does: through ``Suite`` cases and, once, the pytest
plugin. The unmodified example passes every guarantee (the example's own test and the
built-in adapters' conformance test run them too).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

import pytest

from imagebridge import Registry, create_registry
from imagebridge.testing import Outcome, Suite, load_cassette

from .conftest import BUILTIN, ROOT

EXAMPLE = ROOT / "examples" / "imagebridge-pixelforge"
ADAPTER = EXAMPLE / "src" / "imagebridge_pixelforge" / "adapter.py"
CASSETTES = EXAMPLE / "tests" / "cassettes"
GUARANTEES = (
    "task_resumed",
    "task_deadline",
    "task_poll_rate_limited",
    "task_poll_failed",
    "task_download_failed",
)
#: The keys the kit replays with: never in a failure message.
KEYS = ("sk-imagebridge-conformance-replay-key", "sk-imagebridge-conformance-wrong-key")
HOOK = """

from imagebridge import hookimpl


@hookimpl
def imagebridge_adapters():
    return [PixelForgeAdapter]
"""
#: Where a broken copy gets a method of its own.
METHODS = "    # -- responses ----"
#: The example imports Sleep for none of its flows: copies that wait themselves need it.
SLEEP = ("    ServerError,\n", "    ServerError,\n    Sleep,\n")

#: A poll loop of its own, like the shared engine (progress, backoff) but, when refused,
#: tries again at its next interval whatever Retry-After said.
OWN_POLL = '''    def poll(self, task: TaskHandle) -> Flow[TaskState]:
        """Poll at the policy's pace; a refused poll is tried again at the next interval."""
        interval = self.poll_policy.interval
        last = None
        while True:
            yield Sleep(WAIT)
            response = yield self.poll_request(task)
            assert response is not None
            interval = self.poll_policy.next_interval(interval)
            if response.status_code == 429 or response.status_code >= 500:
                continue
            if response.is_error:
                raise self.error(response, task_id=task.task_id)
            state = self.read_task(response, task)
            if state.phase == "failed" and state.error is not None:
                raise state.error
            if (state.status, state.percent) != last:
                last = (state.status, state.percent)
                stage = "done" if state.phase == "succeeded" else state.phase
                yield Progress(stage, state.status, state.percent, task.task_id, self.name)
            if state.phase == "succeeded":
                return state

'''


def broken_copy(
    name: str, edits: Iterable[tuple[str, str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Registry:
    """A registry holding the example adapter with ``edits`` applied (and nothing else)."""
    source = ADAPTER.read_text(encoding="utf-8")
    for old, new in edits:
        assert source.count(old) == 1, f"the example adapter changed: {old!r} is not in it once"
        source = source.replace(old, new)
    path = tmp_path / f"broken_{name}.py"
    path.write_text(source + HOOK, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, path.stem, module)
    spec.loader.exec_module(module)
    return create_registry(entry_points=False, plugins=[module])


def task_of(scenario: str) -> str:
    """The task id the example's cassette of ``scenario`` recorded."""
    expected = load_cassette(CASSETTES / f"{scenario}.json").expected
    assert expected is not None
    assert expected.result is not None
    assert expected.result.task_id is not None
    return expected.result.task_id


def outcomes(registry: Registry | None, *names: str) -> dict[str, list[Outcome]]:
    """The named cases of the example's suite, in both clients."""
    suite = Suite("pixelforge", CASSETTES, registry=registry)
    found: dict[str, list[Outcome]] = {}
    for case in suite.cases():
        if case.name in names:
            found.setdefault(case.name, []).append(case.run())
    assert sorted(found) == sorted(set(names))
    return found


def assert_broken(found: dict[str, list[Outcome]], name: str, *phrases: str) -> str:
    """Case ``name`` failed in both clients, naming the guarantee and the fix; its message."""
    for outcome in found[name]:
        assert outcome.status == "fail", (name, outcome.mode, outcome.status, outcome.reason)
        for phrase in phrases:
            assert phrase in outcome.reason, (name, outcome.mode, outcome.reason)
        assert not any(key in outcome.reason for key in KEYS)
    return found[name][0].reason


def test_the_example_keeps_every_task_guarantee() -> None:
    found = outcomes(None, "task_statuses", "text_to_image", *GUARANTEES)
    failed = {
        (name, o.mode): o.reason
        for name, items in found.items()
        for o in items
        if o.status != "pass"
    }
    assert not failed, failed


def test_a_provider_without_tasks_skips_them_with_the_reason() -> None:
    cases = {case.name: case for case in Suite("openai", BUILTIN).cases()}
    for name in GUARANTEES:
        assert cases[name].skip_reason() == (
            "openai declares no asynchronous tasks for gpt-image-1 (nor does any other model it"
            " lists)"
        )


def test_no_accepted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    registry = broken_copy(
        "no_accepted", [("        yield Accepted(task)\n", "")], monkeypatch, tmp_path
    )
    found = outcomes(
        registry, "text_to_image", "task_statuses", "task_deadline", "task_download_failed"
    )
    for name in ("text_to_image", "task_statuses"):
        reason = assert_broken(
            found,
            name,
            "task guarantee 'accepted before the first poll' broken",
            "was not in the client's task journal",
            "submit() must yield Accepted(task) as soon as the provider returns a task id",
        )
        assert reason.splitlines()[0].startswith(f"cassette {CASSETTES / name}.json: task")
    assert_broken(
        found,
        "task_deadline",
        "task guarantee 'the task journaled' broken: after the timeout, task"
        f" {task_of('task_statuses')} is not in the client's task journal",
    )
    assert_broken(
        found,
        "task_download_failed",
        "task guarantee 'the task id on later errors' broken: the download of an image of task"
        f" {task_of('text_to_image')} was answered HTTP 403 and raised PermissionDeniedError"
        " with no task id. Yield Accepted(task) in submit()",
    )


def test_a_poll_failure_without_the_task_id(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # No Accepted, and error() drops the task id it is given: nothing puts it back.
    edits = [
        ("        yield Accepted(task)\n", ""),
        (
            "            task_id=task_id,\n            body=response.json(),",
            "            body=response.json(),",
        ),
    ]
    registry = broken_copy("poll_error", edits, monkeypatch, tmp_path)
    found = outcomes(registry, "task_poll_failed")
    assert_broken(
        found,
        "task_poll_failed",
        "task guarantee 'the task id on later errors' broken: a poll of task"
        f" {task_of('text_to_image')} was answered HTTP 401 and raised AuthenticationError with no"
        " task id",
        "pass task_id=task.task_id to the errors you raise while polling",
    )


def test_wrong_phase_mapping(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # 'rendering' (a render being made, with progress) read as queued.
    edit = ('QUEUED = frozenset({"queued"})', 'QUEUED = frozenset({"queued", "rendering"})')
    registry = broken_copy("wrong_phase", [edit], monkeypatch, tmp_path)
    found = outcomes(registry, "task_statuses", "text_to_image")
    assert_broken(
        found,
        "task_statuses",
        "task guarantee 'status -> phase mapping' broken: read_task read the recorded status"
        " 'rendering' at 29 % as phase 'queued', but 'rendering' names a task being worked on",
        "Return TaskState('rendering', 'running', ...) for it in read_task",
        "derives the phase from the cassette's recorded statuses",
    )
    assert {o.status for o in found["text_to_image"]} == {"pass"}  # polls 'done' only


def test_retry_after_ignored(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    own_poll = OWN_POLL.replace("Sleep(WAIT)", "Sleep(interval)")
    registry = broken_copy(
        "retry_after_ignored", [(METHODS, own_poll + METHODS), SLEEP], monkeypatch, tmp_path
    )
    found = outcomes(registry, "task_statuses", "task_poll_rate_limited")
    assert {o.status for o in found["task_statuses"]} == {"pass"}  # it polls within the policy
    assert_broken(
        found,
        "task_poll_rate_limited",
        "task guarantee 'Retry-After honoured on polls' broken: poll #2 GET"
        f" https://recorded.imagebridge.test/v2/renders/{task_of('task_statuses')} was answered 429"
        " with Retry-After: 11 and the next poll came 1.5 s later",
        "Wait at least Retry-After before polling again",
    )


def test_key_on_a_foreign_host(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The outputs fetched by the adapter itself, with the key "because the CDN may want it".
    own_wait = """    def wait(self, task: TaskHandle) -> Flow[ImageResult]:
        state = yield from self.poll(task)
        result = self.collect(task, state)
        images = []
        for image in result.images:
            assert image.url is not None
            headers = self.auth_headers(self.key)
            response = yield httpx.Request("GET", image.url, headers=headers)
            assert response is not None
            images.append(GeneratedImage(b64_json=base64.b64encode(response.content).decode()))
        result.images = images
        return result

"""
    edits = [
        (METHODS, own_wait + METHODS),
        ("import uuid\n", "import base64\nimport uuid\n"),
        (
            '        return {"X-PixelForge-Key": api_key}',
            '        self.key = api_key\n        return {"X-PixelForge-Key": api_key}',
        ),
    ]
    registry = broken_copy("key_on_cdn", edits, monkeypatch, tmp_path)
    found = outcomes(registry, "text_to_image", "task_download_failed")
    for name in found:
        assert_broken(
            found,
            name,
            'task guarantee "credentials only on the API\'s origin" broken: the API key was sent'
            " to https://cdn.pixelforge.example (request #3 GET https://cdn.pixelforge.example/o/",
            "in the header x-pixelforge-key), which is not the API's origin"
            " https://recorded.imagebridge.test",
            "Return result links as GeneratedImage(url=...)",
        )


GIVES_UP = '''    def wait(self, task: TaskHandle) -> Flow[ImageResult]:
        """Five polls at most, then give up with an error of its own."""
        for _ in range(5):
            yield Sleep(self.poll_policy.max_interval)
            state = yield from self.check(task)
            if state.phase == "succeeded":
                return self.collect(task, state)
        raise ServerError("the render did not finish", provider=self.name, code="render_timeout")

'''


@pytest.mark.parametrize(
    ("breakage", "edits", "phrase"),
    [
        (
            "gives_up",
            [(METHODS, GIVES_UP + METHODS), SLEEP],
            "raised ServerError (render_timeout) after 20 s, where the client's 40 s timeout"
            " must end it with ImageTimeoutError",
        ),
        (
            "never_waits",
            [
                (
                    "PollPolicy(interval=1.0, backoff=1.5, max_interval=4.0)",
                    "PollPolicy(interval=0.0, max_interval=0.0, min_interval=0.0)",
                )
            ],
            "was polled 106 times while the client's clock advanced 0 s of its 5 s timeout: the"
            " polls do not wait, so the deadline never ends them",
        ),
    ],
)
def test_deadline_ignored(
    breakage: str,
    edits: list[tuple[str, str]],
    phrase: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    registry = broken_copy(breakage, edits, monkeypatch, tmp_path)
    found = outcomes(registry, "task_deadline")
    assert_broken(
        found,
        "task_deadline",
        "task guarantee 'the deadline respected' broken: a task that never finishes (every"
        " poll answered 'rendering')",
        phrase,
    )


def test_resume_needs_nothing_but_the_handle(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # How many images to keep, remembered on the adapter instance instead of the handle.
    remember = "        self.counts[render_id] = plan.n\n"
    init = (
        "    def __init__(self, base_url: str) -> None:\n"
        "        super().__init__(base_url)\n"
        "        self.counts: dict[str, int] = {}\n\n"
    )
    capabilities = "    def capabilities(self, model: str) -> Capabilities:"
    empty = "        if not images:\n"
    edits = [
        ("        yield Accepted(task)\n", remember + "        yield Accepted(task)\n"),
        (capabilities, init + capabilities),
        (empty, "        del images[self.counts[task.task_id] :]\n" + empty),
    ]
    registry = broken_copy("remembers", edits, monkeypatch, tmp_path)
    found = outcomes(registry, "task_statuses", "task_resumed")
    assert {o.status for o in found["task_statuses"]} == {"pass"}
    assert_broken(
        found,
        "task_resumed",
        "task guarantee 'resume from a handle' broken: a new client's wait() on the serialised"
        f" TaskHandle raised KeyError: '{task_of('task_statuses')}'",
        "Keep what polling needs in the TaskHandle (task_id, adapter_state)",
    )


def test_poll_intervals_outside_the_policy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    own_poll = OWN_POLL.replace("Sleep(WAIT)", "Sleep(10.0)")
    registry = broken_copy(
        "slow_polls", [(METHODS, own_poll + METHODS), SLEEP], monkeypatch, tmp_path
    )
    found = outcomes(registry, "task_statuses")
    assert_broken(
        found,
        "task_statuses",
        "task guarantee 'poll intervals within PollPolicy' broken: polls #2 GET"
        f" https://recorded.imagebridge.test/v2/renders/{task_of('task_statuses')} and #3 were 10 s"
        " apart on the client's clock; pixelforge's poll_policy (PollPolicy(interval=1,"
        " backoff=1.5, max_interval=4, min_interval=0.5)) allows 0.5 to 4 s between two polls",
    )


def test_the_pytest_plugin_names_the_missing_guarantee(tmp_path: Path) -> None:
    """The author's one-file test, on a copy whose submit() lost its ``yield Accepted``."""
    source = ADAPTER.read_text(encoding="utf-8").replace("        yield Accepted(task)\n", "")
    (tmp_path / "broken_pixelforge.py").write_text(source + HOOK, encoding="utf-8")
    test = tmp_path / "test_broken_conformance.py"
    test.write_text(
        textwrap.dedent(
            f"""
            from pathlib import Path

            import broken_pixelforge
            from imagebridge import create_registry
            from imagebridge.testing import AdapterConformance


            class TestPixelForge(AdapterConformance):
                provider = "pixelforge"
                cassettes = Path({str(CASSETTES)!r})
                registry = create_registry(entry_points=False, plugins=[broken_pixelforge])
                modes = ("sync",)
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "text_to_image",
         str(test)],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout[-3000:]
    assert "1 failed" in result.stdout.splitlines()[-1]
    assert "task guarantee 'accepted before the first poll' broken" in result.stdout
    assert "submit() must yield Accepted(task)" in result.stdout
