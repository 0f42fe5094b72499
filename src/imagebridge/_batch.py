"""Many requests at once, with bounded concurrency, that resume without paying twice.

:func:`run_batch` runs :class:`BatchItem` s through an :class:`AsyncImageClient` with at most
``concurrency`` in flight (a fixed pool of workers, never one task per item), saves each
item's images and reports a :class:`BatchOutcome` per item. Run again over the same items
and output folder, it resumes:

* an item whose images were saved (in the report, or in the task journal) is skipped;
* an item whose task was accepted but not saved (the process died while polling) is waited
  for with its journaled handle: no new submit;
* an item whose submit went out unanswered (``unknown``: the task may exist) is never
  submitted again by a re-run: check the provider, then delete its report lines to resend;
* only items never accepted, or that failed, are submitted.

Items are journaled under the label ``batch:<key>:<item id>`` where ``key`` names the batch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from ._errors import (
    ImageBridgeError,
    InvalidRequestError,
    Problem,
    ProviderError,
    SubmitOutcomeUnknownError,
)
from ._files import usable_folder
from ._inputs import ImageInput, TextError, check_text
from ._journal import JournalEntry
from ._result import ImageResult
from ._tasks import TaskHandle

if TYPE_CHECKING:
    from ._budget import Budget
    from ._prices import Cost

Status = Literal["saved", "skipped", "failed", "unknown"]


P = TypeVar("P")


def _no_route(task: TaskHandle) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class BatchPort(Generic[P]):
    """What a batch needs of the client that runs it: ``batch_port()`` of
    :mod:`imagebridge._async_client` for one client; the routed client's own for routes.

    ``plan(prompt, fields)`` pre-flights one item (raising :class:`InvalidRequestError`)
    into what ``run(planned, label)`` runs, its task journaled under ``label`` once
    accepted; ``entries(label)`` are the journaled tasks under a label, oldest first;
    ``resume(task)`` waits for a task an earlier run accepted; ``route(task)`` names the
    route that accepted it (None without routes).
    """

    plan: Callable[[str, Mapping[str, Any]], P]
    entries: Callable[[str], list[JournalEntry]]
    run: Callable[[P, str], Awaitable[ImageResult]]
    resume: Callable[[TaskHandle], Awaitable[ImageResult]]
    route: Callable[[TaskHandle], str | None] = _no_route
    #: What a planned item should cost (:func:`imagebridge._costing.estimate`), for a batch
    #: run with a budget; None: the port cannot say (a budget is then refused).
    estimate: Callable[[P], Cost] | None = None


@dataclass(frozen=True)
class BatchItem:
    """One request of a batch: an id unique in the batch, a prompt and canonical fields."""

    id: str
    prompt: str
    fields: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any], index: int, *, folder: Path | None = None
    ) -> BatchItem:
        """From a JSON object: ``prompt``, optional ``id`` (default: the line number) and
        any canonical fields.

        With ``folder`` (the batch file's own folder), strings in ``reference_images`` and
        ``mask`` that are not URLs, data URLs or base64 are local files: a relative path is
        relative to ``folder`` (never the working directory), ``~`` is the home folder and
        an absolute path is taken as written (the batch file is the user's own input). Each
        file must be an image, checked now: otherwise :class:`InvalidRequestError` naming
        the item, its line, the field and the path, before anything is sent. Without
        ``folder`` no string is taken for a file.
        """
        if not isinstance(data, Mapping) or not isinstance(data.get("prompt"), str):
            raise ValueError(f"item {index}: expected an object with a string 'prompt'")
        fields = {k: v for k, v in data.items() if k not in ("id", "prompt")}
        item_id = str(data.get("id", index))
        where = f"batch item {item_id!r} (line {index})"
        problems: list[Problem] = []
        try:
            check_text(item_id)
        except TextError as exc:
            problems.append(Problem("id", item_id, f"{where}: {exc}"))
        if folder is not None:
            for name in ("reference_images", "mask"):
                if fields.get(name) is not None:
                    fields[name] = _local_files(fields[name], name, folder, where, problems)
        if problems:
            raise InvalidRequestError(problems)
        return cls(item_id, data["prompt"], fields)


@dataclass
class BatchOutcome:
    """What happened to one item."""

    id: str
    status: Status
    task_id: str | None = None
    paths: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None
    #: True when the item resumed a task accepted by an earlier run (no new submit).
    resumed: bool = False
    #: The route that served the item (a routed client's batch; None otherwise).
    route: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


_URL_PREFIXES = ("http://", "https://", "data:", "blob:")


def _local_files(value: Any, name: str, folder: Path, where: str, problems: list[Problem]) -> Any:
    """``value`` with each local file name replaced by its checked :class:`~pathlib.Path`."""
    single = not isinstance(value, list)
    values = [value] if single else list(value)
    for index, item in enumerate(values):
        if not isinstance(item, str) or not _is_file_name(item):
            continue  # URLs, data URLs and base64 go as given, and are checked as such
        field_name = name if single else f"{name}[{index}]"
        try:
            check_text(item)
            path = Path(item).expanduser()
            path = path if path.is_absolute() else folder / path
            ImageInput.from_path(path)
        except (ValueError, RuntimeError) as exc:  # RuntimeError: "~user" with no such user
            problems.append(Problem(field_name, item, f"{where}: {exc}"))
            continue
        values[index] = path
    return values[0] if single and name == "mask" else values


def _is_file_name(text: str) -> bool:
    if text.strip()[:8].lower().startswith(_URL_PREFIXES):
        return False
    try:
        return ImageInput.of(text).kind != "base64"
    except ValueError:
        return True


def batch_key(items: Iterable[BatchItem]) -> str:
    """A stable name for a batch: a hash of its items."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(
            json.dumps(
                [item.id, item.prompt, dict(item.fields)], sort_keys=True, default=str
            ).encode()
        )
    return digest.hexdigest()[:16]


def read_report(path: Path) -> dict[str, BatchOutcome]:
    """The outcomes an earlier run wrote (last line per item wins)."""
    outcomes: dict[str, BatchOutcome] = {}
    if not path.exists():
        return outcomes
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            outcomes[str(data["id"])] = BatchOutcome(**data)
    return outcomes


async def run_batch(
    client: BatchPort[Any],
    items: list[BatchItem],
    output: Path,
    *,
    concurrency: int = 4,
    report: Path | None = None,
    key: str | None = None,
    on_outcome: Callable[[BatchOutcome], None] | None = None,
    budget: Budget | None = None,
) -> list[BatchOutcome]:
    """Run ``items``, at most ``concurrency`` at a time; save images under ``output``.

    Each outcome is appended to ``report`` (default ``output/batch-report.jsonl``) as soon
    as it is known, so a crash loses nothing already done. With a ``budget``, the estimates
    of the items that would be sent are checked against it before any request: over it, the
    whole batch is refused (:class:`~imagebridge.BudgetExceededError`); the port's ``run``
    reserves each item's own as it goes.
    """
    import asyncio  # here, not at import time: most programs never run a batch

    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise ValueError("batch item ids must be unique")
    usable_folder(output)  # before any request: a paid image must have somewhere to go
    report = report or output / "batch-report.jsonl"
    done = read_report(report)
    key = key or batch_key(items)
    if budget is not None:
        _check_budget(client, items, done, key, budget)
    queue: asyncio.Queue[BatchItem] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    outcomes: dict[str, BatchOutcome] = {}

    def finish(outcome: BatchOutcome) -> None:
        outcomes[outcome.id] = outcome
        if outcome.status != "skipped" and outcome != done.get(outcome.id):
            with report.open("a", encoding="utf-8") as handle:
                handle.write(outcome.to_json() + "\n")
        if on_outcome is not None:
            on_outcome(outcome)

    async def worker() -> None:
        while True:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            finish(await _run_item(client, item, output, done.get(item.id), key))

    workers = [asyncio.ensure_future(worker()) for _ in range(min(concurrency, len(items)))]
    try:
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return [outcomes[item.id] for item in items if item.id in outcomes]


def _check_budget(
    client: BatchPort[Any],
    items: list[BatchItem],
    done: Mapping[str, BatchOutcome],
    key: str,
    budget: Budget,
) -> None:
    """Refuse the whole batch, before any request, when the items it would send do not fit
    (items saved, unknown or accepted by an earlier run send nothing; an item that fails
    pre-flight sends nothing either, and fails on its own)."""
    from ._prices import Cost

    if client.estimate is None:
        raise InvalidRequestError(
            [Problem("budget", None, "this client cannot estimate its batch items")]
        )
    costs: list[Cost] = []
    for item in items:
        previous = done.get(item.id)
        if previous is not None and previous.status in ("saved", "unknown"):
            continue
        entries = client.entries(f"batch:{key}:{item.id}")
        if any(e.state in ("saved", "accepted", "fetched") for e in entries):
            continue
        try:
            costs.append(client.estimate(client.plan(item.prompt, item.fields)))
        except InvalidRequestError:
            continue
    if costs:
        total = Cost.total(costs)
        unknown = next((cost for cost in costs if cost.usd is None), None)
        basis = unknown.basis if unknown else f"the sum of {len(costs)} item estimates"
        budget.check(Cost(total.usd, basis), what=f"batch of {len(costs)} request(s)")


async def _run_item(
    client: BatchPort[Any],
    item: BatchItem,
    output: Path,
    previous: BatchOutcome | None,
    key: str,
) -> BatchOutcome:
    if previous is not None and previous.status == "saved":
        return BatchOutcome(
            item.id, "skipped", previous.task_id, previous.paths, resumed=True, route=previous.route
        )
    if previous is not None and previous.status == "unknown":
        # Its submit may have created a task: sending it again could pay twice.
        return BatchOutcome(
            item.id, "unknown", previous.task_id, error=previous.error, route=previous.route
        )
    label = f"batch:{key}:{item.id}"
    entries = client.entries(label)
    saved = [e for e in entries if e.state == "saved"]
    if saved:
        entry = saved[-1]
        return BatchOutcome(
            item.id,
            "skipped",
            entry.task.task_id,
            list(entry.paths),
            resumed=True,
            route=client.route(entry.task),
        )
    pending = [e for e in entries if e.state in ("accepted", "fetched")]
    try:
        if pending:
            # On the route that accepted it (its handle names the provider and base URL).
            result = await client.resume(pending[-1].task)
            return await _saved(item, result, output, resumed=True)
        result = await client.run(client.plan(item.prompt, item.fields), label)
        return await _saved(item, result, output)
    except SubmitOutcomeUnknownError as error:
        return BatchOutcome(item.id, "unknown", error.task_id, error=_describe(error))
    except ImageBridgeError as error:
        return BatchOutcome(item.id, "failed", error.task_id, error=_describe(error))


async def _saved(
    item: BatchItem, result: ImageResult, output: Path, *, resumed: bool = False
) -> BatchOutcome:
    paths = await result.asave(output)
    return BatchOutcome(
        item.id,
        "saved",
        result.task_id,
        [str(p) for p in paths],
        [w.message for w in result.warnings],
        resumed=resumed,
        route=result.route,
    )


def _describe(error: ImageBridgeError) -> dict[str, Any]:
    described: dict[str, Any] = {"type": type(error).__name__, "message": error.message}
    if isinstance(error, ProviderError):
        described["code"] = error.code
    if isinstance(error, InvalidRequestError):
        described["field"] = error.field
    return described
