"""imagebridge: one canonical image request for every image-generation provider.

    >>> from imagebridge import ImageClient
    >>> with ImageClient("geeknow") as client:                      # doctest: +SKIP
    ...     result = client.generate("a red cube", model="gpt-image-1", size="1:1")
    ...     result.save("out/")

Providers are plugins (see :mod:`imagebridge.hookspecs` and :mod:`imagebridge.adapter`).
"""

from __future__ import annotations

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
