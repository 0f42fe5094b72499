"""The fault matrix: every adapter x phase x fault, what must happen, and its Markdown table.

:func:`expected` states the rules (the retry rules of ``imagebridge._retry`` applied to each
emulated fault); ``test_fault_matrix.py`` checks every row over real HTTP with both clients and
keeps ``fault_matrix.md`` equal to :func:`render`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from imagebridge._emulator._faults import KINDS

from .support import INLINE_PROVIDERS, TASK_PROVIDERS

TABLE = Path(__file__).with_name("fault_matrix.md")
ADAPTERS = (
    "openai",
    "geeknow",
    "dimilinks",
    "apimart",
    "fal",
    "replicate",
    "google",
    "stability",
    "bfl",
)
#: Each fault kind as the matrix injects it: once (COUNT 1) unless it is about duration or
#: a hostile answer (every matching request gets those, so retries do not hide them).
SPECS = {
    "429": "429:1",  # Retry-After: 1
    "503": "503:1",
    "502": "502:1",
    "500": "500:1",
    "html502": "html502:1",
    "drop": "drop:1",
    "drop-before": "drop-before:1",
    "slow": "slow:1:0.1",
    "timeout-after-accept": "timeout-after-accept:1",
    "never": "never",
    "fail": "fail:1",
    "expired": "expired:1",
    "trickle": "trickle:*:0.25",
    "endless": "endless",
    "oversize": "oversize",
    "deepjson": "deepjson",
    "retry-after-zero": "retry-after-zero",
    "redirect-foreign": "redirect-foreign",
    "link-local": "link-local",
}
NONE = "-"
#: The job deadline of the kinds that run into it (a held or trickling task), in seconds.
DEADLINES = {"never": 0.6, "trickle": 1.0, "retry-after-zero": 1.0}
#: How far past its deadline a job may end (the issue's goal).
OVERSHOOT = 1.0
#: The most polls a job may send in its 1 s under ``Retry-After: 0`` (the policy's interval
#: is 0.05 s: ~20 polls; a client that obeys the header polls hundreds of times).
MAX_POLLS = 25
#: The reply and download caps of the ``endless`` and ``oversize`` runs: small, so that an
#: endless reply costs little to read up to its cap.
BODY_CAP = 1024 * 1024

#: Known library bugs, by number (listed in the table's notes and the xfail reasons).
BUGS: dict[int, str] = {}


@dataclass(frozen=True)
class Case:
    adapter: str
    phase: str
    kind: str

    @property
    def spec(self) -> str:
        return f"{self.phase}:{SPECS[self.kind]}"

    @property
    def id(self) -> str:
        return f"{self.adapter}-{self.spec}"


@dataclass(frozen=True)
class Row:
    """One outcome: the error class (or ``ok``), what the emulator received and accepted,
    whether the error names the accepted task, and the task's journal state."""

    outcome: str
    submits: int
    accepted: int
    task_on_error: str
    journal: str


@dataclass(frozen=True)
class Expected:
    row: Row
    note: str = ""
    bug: int | None = None
    #: The error's ``code``, and a text its message must hold (when they are pinned).
    code: str | None = None
    says: str | None = None


def phases(adapter: str) -> tuple[str, ...]:
    if adapter in INLINE_PROVIDERS:
        return ("submit",)
    return ("submit", "poll", "download") if adapter in TASK_PROVIDERS else ("submit", "download")


def applies(adapter: str, phase: str, kind: str) -> bool:
    if phase not in KINDS[kind]:
        return False
    if kind == "link-local":
        if adapter in INLINE_PROVIDERS:
            return False  # no result URL to point anywhere
        # Where the result URLs come: in the submit answer, or in the finished task's poll.
        return (phase == "poll") == (adapter in TASK_PROVIDERS)
    return True


def cases() -> list[Case]:
    return [
        Case(adapter, phase, kind)
        for adapter in ADAPTERS
        for phase in phases(adapter)
        for kind in SPECS
        if applies(adapter, phase, kind)
    ]


def _hostile(case: Case) -> Expected | None:
    """The rows of the hostile kinds: what the client must do with each, per phase."""
    kind, phase = case.kind, case.phase
    tasks = case.adapter in TASK_PROVIDERS
    # After the submit: the task (if any) is named, and resumable from the journal.
    named, state = ("yes", "accepted" if phase == "poll" else "fetched") if tasks else (NONE, NONE)
    if phase == "submit":
        named, state = NONE, NONE  # the job was done, its answer never got through
    if kind == "redirect-foreign":
        return Expected(
            Row("ok", 1, 1, NONE, "saved" if tasks else NONE),
            "followed; no credential header reaches the other origin",
        )
    if kind == "trickle" and phase == "submit":
        return Expected(
            Row("SubmitOutcomeUnknownError", 1, 1, NONE, NONE),
            "1 byte / 0.25 s: the job exists, its id never arrived by the 1 s deadline",
        )
    if kind in ("trickle", "retry-after-zero"):
        what = "1 byte / 0.25 s" if kind == "trickle" else f"at most {MAX_POLLS} polls"
        return Expected(
            Row("ImageTimeoutError", 1, 1, named, state),
            f"{what}; ends at the 1 s job deadline (+{OVERSHOOT:g} s at most)",
        )
    if kind in ("endless", "oversize"):
        setting = "max_download_bytes" if phase == "download" else "max_response_bytes"
        code = "download_too_large" if phase == "download" else "response_too_large"
        cap = f"`{setting}` ({BODY_CAP // 1024**2} MiB here)"
        if kind == "endless":
            note = f"longer than {cap}: dropped at the cap"
        else:
            note = f"announces more than {cap}: not read"
        return Expected(
            Row("ServerError", 1, 1, named, state),
            note,
            code=code,
            says=setting,
        )
    if kind == "deepjson":
        return Expected(Row("ServerError HTTP 200", 1, 1, named, state), "undecodable reply")
    if kind == "link-local":
        return Expected(
            Row("ServerError", 1, 1, named, state),
            "result URL on 169.254.169.254: refused (`invalid_result_url`), not fetched",
            code="invalid_result_url",
        )
    return None


def expected(case: Case) -> Expected:
    tasks = case.adapter in TASK_PROVIDERS
    saved = "saved" if tasks else NONE
    ok = Row("ok", 1, 1, NONE, saved)
    kind = case.kind
    hostile = _hostile(case)
    if hostile is not None:
        return hostile
    if case.phase == "submit":
        if kind in ("429", "503"):
            return Expected(Row("ok", 2, 1, NONE, saved), "refused, so re-sent by design")
        if kind in ("500", "502", "html502"):
            status = "500" if kind == "500" else "502"
            return Expected(
                Row(f"ServerError HTTP {status}", 1, 0, NONE, NONE), "a POST is not re-sent"
            )
        if kind == "drop-before":
            return Expected(
                Row("SubmitOutcomeUnknownError", 1, 0, NONE, NONE), "no answer: not re-sent"
            )
        if kind in ("drop", "timeout-after-accept"):
            return Expected(
                Row("SubmitOutcomeUnknownError", 1, 1, NONE, NONE),
                "the job exists, its id never reached the client: not re-sent",
            )
        return Expected(ok)
    if case.phase == "poll":
        if kind == "never":
            return Expected(Row("ImageTimeoutError", 1, 1, "yes", "accepted"), "resumable")
        if kind == "fail":
            return Expected(Row("TaskFailedError", 1, 1, "yes", "failed"))
        return Expected(ok, "poll retried" if kind != "slow" else "")
    if kind == "expired":
        if not tasks:
            return Expected(Row("PermissionDeniedError HTTP 403", 1, 1, NONE, NONE))
        return Expected(
            Row("BadRequestError HTTP 410", 1, 1, "yes", "fetched"),
            "resumable from the journal (`imagebridge task ID`)",
        )
    return Expected(ok, "download retried" if kind != "slow" else "")


HEADER = """\
# Fault matrix

Generated from `tests/reliability/matrix.py` and checked by
`tests/reliability/test_fault_matrix.py`: every row runs with `ImageClient` and with
`AsyncImageClient`, over loopback HTTP against the emulator (`imagebridge._emulator`) with the
fault injected in that phase, the default retry rules (`RetryPolicy(backoff=0.01)`: at most 2
retries, `Retry-After` honoured) and `PollPolicy(interval=0.05, max_interval=0.1)`. A test fails
when this file differs from what the rules say; `IMAGEBRIDGE_WRITE_FAULT_MATRIX=1` rewrites it.

- **fault**: the emulator's fault spec `PHASE:KIND[:COUNT][:ARG]` (COUNT 1: only the first
  matching request; no COUNT: all of them). `never` holds the task for the whole run, with a
  0.6 s job deadline; `trickle` and `retry-after-zero` run with a 1 s one, and must end
  within 1 s of it; `endless` and `oversize` with 1 MiB reply and download caps.
- **outcome**: `ok` (the image was saved) or the error class raised.
- **sent / accepted**: submits the emulator received / answered with success (each accepted one
  is a paid job). Never more than one accepted; a submit is re-sent only after a refusal.
- **task id on error**: whether the error names the accepted task (`-`: no task was known to
  the client).
- **journal**: the task's state in the task journal afterwards (`-`: not journaled).
"""


def render() -> str:
    lines = [
        HEADER,
        "| adapter | fault | outcome | sent | accepted | task id on error | journal | note |",
        "|---|---|---|---:|---:|---|---|---|",
    ]
    for case in cases():
        want = expected(case)
        row = want.row
        named = row.task_on_error
        if want.bug is not None:  # what must be, and what is today (a strict xfail)
            named = f"must be {named}; today no (BUG {want.bug})"
        lines.append(
            f"| {case.adapter} | `{case.spec}` | {row.outcome} | {row.submits} | {row.accepted}"
            f" | {named} | {row.journal} | {want.note} |"
        )
    table = "\n".join(lines) + "\n"
    if not BUGS:
        return table
    bugs = "".join(f"\n- BUG {n}: {text}." for n, text in BUGS.items())
    return table + "\nKnown library bugs (strict xfails):\n" + bugs + "\n"
