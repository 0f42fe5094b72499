"""Counting a job's images: one result from a job's calls, and no more images than asked for.

A server that answers ten thousand images for one is not trusted: the images beyond what was
asked for are dropped before anything is downloaded, with a warning that says how many; fewer
than asked for is warned about too.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._budget import merged_cost
from ._flow import Flow
from ._result import ImageResult, Usage
from ._warnings import ImageWarning


def merge(results: Sequence[ImageResult]) -> ImageResult:
    first = results[0]
    if len(results) == 1:
        return first
    usage: Usage | None = None
    for result in results:
        if result.usage is not None:
            usage = result.usage if usage is None else usage + result.usage
    return ImageResult(
        images=[image for result in results for image in result.images],
        provider=first.provider,
        model=first.model,
        task_ids=[t for result in results for t in result.task_ids],
        tasks=[t for result in results for t in result.tasks],
        created=first.created,
        usage=usage,
        warnings=[w for result in results for w in result.warnings],
        raw=[raw for result in results for raw in result.raw],
        route=first.route,
        cost=merged_cost(results),
    )


def at_most(flow: Flow[ImageResult], n: int) -> Flow[ImageResult]:
    """The flow of one call, keeping no more than the ``n`` images that call asked for."""
    result = yield from flow
    keep_requested(result, n)
    return result


def keep_requested(result: ImageResult, n: int, why: str | None = None) -> None:
    """Drop the images beyond ``n`` (a server answering 10,000 for one is not trusted:
    they would all be downloaded), with a warning that says how many."""
    extra = len(result.images) - n
    if extra > 0:
        del result.images[n:]
        reason = why or f"{n} image(s) were requested"
        result.warnings.append(
            ImageWarning(
                "extra_images",
                f"{reason} and {n + extra} came back: the {extra} extra were dropped",
                "n",
            )
        )


def check_count(result: ImageResult, requested: int) -> None:
    if len(result.images) < requested:
        result.warnings.append(
            ImageWarning(
                "fewer_images",
                f"{requested} image(s) were requested and {len(result.images)} came back",
                "n",
            )
        )
