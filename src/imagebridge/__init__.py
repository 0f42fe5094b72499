"""imagebridge: one canonical image request for every image-generation provider.

    >>> from imagebridge import ImageClient
    >>> with ImageClient("geeknow") as client:                      # doctest: +SKIP
    ...     result = client.generate("a red cube", model="gpt-image-1", size="1:1")
    ...     result.save("out/")

Providers are plugins (see :mod:`imagebridge.hookspecs` and :mod:`imagebridge.adapter`).
"""

from __future__ import annotations

import importlib
import typing

if typing.TYPE_CHECKING:
    from ._async_client import AsyncImageClient
    from ._async_routed_client import AsyncRoutedImageClient
    from ._batch import BatchItem, BatchOutcome
    from ._budget import Budget, BudgetExceededError
    from ._capabilities import Capabilities
    from ._client import ImageClient
    from ._dryrun import DryRun, PlannedRequest
    from ._errors import (
        APIConnectionError,
        AuthenticationError,
        BadRequestError,
        ConfigurationError,
        ContentPolicyError,
        ImageBridgeError,
        ImageTimeoutError,
        InsufficientBalanceError,
        InvalidRequestError,
        NotFoundError,
        PermissionDeniedError,
        PluginError,
        Problem,
        ProviderError,
        RateLimitError,
        RoutesExhaustedError,
        ServerError,
        StreamInterruptedError,
        SubmitOutcomeUnknownError,
        TaskFailedError,
    )
    from ._flow import Accepted, PartialImage, Progress
    from ._inputs import ImageInput
    from ._journal import JournalEntry, TaskJournal
    from ._ledger import SpendRow, SpendSummary
    from ._limits import RateLimit
    from ._plugins import PluginInfo, Registry, create_registry, default_registry
    from ._polling import PollPolicy, TaskState
    from ._prices import Cost, PerImage, PerToken, PriceBook, load_prices
    from ._request import ImageRequest
    from ._result import GeneratedImage, ImageResult, Usage
    from ._retry import RetryPolicy
    from ._routed_client import RoutedImageClient
    from ._routes import Route, RouteCheck
    from ._shared_batch import SharedBatch
    from ._stream import AsyncImageStream, Completed, ImageStream, StreamEvent
    from ._tasks import TaskHandle
    from ._warnings import ImageWarning, WarningCode
    from .hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "APIConnectionError",
    "Accepted",
    "AsyncImageClient",
    "AsyncImageStream",
    "AsyncRoutedImageClient",
    "AuthenticationError",
    "BadRequestError",
    "BatchItem",
    "BatchOutcome",
    "Budget",
    "BudgetExceededError",
    "Capabilities",
    "Completed",
    "ConfigurationError",
    "ContentPolicyError",
    "Cost",
    "DryRun",
    "GeneratedImage",
    "ImageBridgeError",
    "ImageClient",
    "ImageInput",
    "ImageRequest",
    "ImageResult",
    "ImageStream",
    "ImageTimeoutError",
    "ImageWarning",
    "InsufficientBalanceError",
    "InvalidRequestError",
    "JournalEntry",
    "NotFoundError",
    "PartialImage",
    "PerImage",
    "PerToken",
    "PermissionDeniedError",
    "PlannedRequest",
    "PluginError",
    "PluginInfo",
    "PollPolicy",
    "PriceBook",
    "Problem",
    "Progress",
    "ProviderError",
    "RateLimit",
    "RateLimitError",
    "Registry",
    "RetryPolicy",
    "Route",
    "RouteCheck",
    "RoutedImageClient",
    "RoutesExhaustedError",
    "ServerError",
    "SharedBatch",
    "SpendRow",
    "SpendSummary",
    "StreamEvent",
    "StreamInterruptedError",
    "SubmitOutcomeUnknownError",
    "TaskFailedError",
    "TaskHandle",
    "TaskJournal",
    "TaskState",
    "Usage",
    "WarningCode",
    "__version__",
    "create_registry",
    "default_registry",
    "hookimpl",
    "load_prices",
]

# Each public name and the private module that defines it. ``import imagebridge`` binds none
# of them: PEP 562's module ``__getattr__`` imports a module the first time one of its names
# is asked for, so a program that only makes images never imports routing, shared batches,
# the spend ledger's summaries or the PostgreSQL journal.
_WHERE: dict[str, str] = {
    "APIConnectionError": "._errors",
    "Accepted": "._flow",
    "AsyncImageClient": "._async_client",
    "AsyncImageStream": "._stream",
    "AsyncRoutedImageClient": "._async_routed_client",
    "AuthenticationError": "._errors",
    "BadRequestError": "._errors",
    "BatchItem": "._batch",
    "BatchOutcome": "._batch",
    "Budget": "._budget",
    "BudgetExceededError": "._budget",
    "Capabilities": "._capabilities",
    "Completed": "._stream",
    "ConfigurationError": "._errors",
    "ContentPolicyError": "._errors",
    "Cost": "._prices",
    "DryRun": "._dryrun",
    "GeneratedImage": "._result",
    "ImageBridgeError": "._errors",
    "ImageClient": "._client",
    "ImageInput": "._inputs",
    "ImageRequest": "._request",
    "ImageResult": "._result",
    "ImageStream": "._stream",
    "ImageTimeoutError": "._errors",
    "ImageWarning": "._warnings",
    "InsufficientBalanceError": "._errors",
    "InvalidRequestError": "._errors",
    "JournalEntry": "._journal",
    "NotFoundError": "._errors",
    "PartialImage": "._flow",
    "PerImage": "._prices",
    "PerToken": "._prices",
    "PermissionDeniedError": "._errors",
    "PlannedRequest": "._dryrun",
    "PluginError": "._errors",
    "PluginInfo": "._plugins",
    "PollPolicy": "._polling",
    "PriceBook": "._prices",
    "Problem": "._errors",
    "Progress": "._flow",
    "ProviderError": "._errors",
    "RateLimit": "._limits",
    "RateLimitError": "._errors",
    "Registry": "._plugins",
    "RetryPolicy": "._retry",
    "Route": "._routes",
    "RouteCheck": "._routes",
    "RoutedImageClient": "._routed_client",
    "RoutesExhaustedError": "._errors",
    "ServerError": "._errors",
    "SharedBatch": "._shared_batch",
    "SpendRow": "._ledger",
    "SpendSummary": "._ledger",
    "StreamEvent": "._stream",
    "StreamInterruptedError": "._errors",
    "SubmitOutcomeUnknownError": "._errors",
    "TaskFailedError": "._errors",
    "TaskHandle": "._tasks",
    "TaskJournal": "._journal",
    "TaskState": "._polling",
    "Usage": "._result",
    "WarningCode": "._warnings",
    "create_registry": "._plugins",
    "default_registry": "._plugins",
    "hookimpl": ".hookspecs",
    "load_prices": "._prices",
}


def __getattr__(name: str) -> typing.Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # bound now: the next lookup is an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
