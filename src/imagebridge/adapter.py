"""Everything a provider plugin needs to write an adapter.

    from imagebridge import hookimpl
    from imagebridge.adapter import Adapter, Capabilities, Plan, Flow

    class MyAdapter(Adapter):
        name = "myprovider"
        ...

    @hookimpl
    def imagebridge_adapters():
        return [MyAdapter]

An adapter raises the error classes exported here (the same classes as ``imagebridge.*``),
marks a request that is safe to send twice (say, it carries an idempotency key the provider
honours) with ``request.extensions[IDEMPOTENT] = True`` so that a server error or a lost
answer is retried as for a GET, and may state the contract it was written for with
``api_version = ADAPTER_API_VERSION``: a provider stating a version this imagebridge does
not support is skipped as broken. See ``docs/plugins.md`` for the walk-through and
:mod:`imagebridge.hookspecs` for the hooks.
"""

from __future__ import annotations

from httpx_sse import ServerSentEvent

from ._adapter import ADAPTER_API_VERSION, Adapter
from ._body import InlineImage, json_request
from ._capabilities import ANY, Capabilities, CapabilityChanges
from ._errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ContentPolicyError,
    InsufficientBalanceError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    Problem,
    ProviderError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
    TaskFailedError,
)
from ._flow import (
    NEXT_EVENT,
    Accepted,
    Effect,
    Flow,
    PartialImage,
    Progress,
    Sleep,
    Stream,
    is_event_stream,
    read_event,
)
from ._imageinfo import extension_of, image_size, sniff_media_type
from ._inputs import ImageInput
from ._polling import PollPolicy, TaskPhase, TaskState, poll_task
from ._preflight import Operation, Plan
from ._provider_errors import (
    COMMON_ERROR_CODES,
    ErrorCodes,
    classify,
    error_from_response,
    error_from_task,
    parse_retry_after,
)
from ._redact import cut
from ._result import GeneratedImage, ImageResult, Usage
from ._retry import IDEMPOTENT
from ._sizes import RESOLUTIONS, Size, parse_size, size_table
from ._tasks import TaskHandle
from ._warnings import WARNING_CODES, ImageWarning

#: The version of the adapter contract (this module and :mod:`imagebridge.hookspecs`) this
#: imagebridge supports. An adapter whose ``api_version`` differs is refused: skipped as
#: broken when its plugin is an entry point, a PluginError when a program registers it.

__all__ = [
    "ADAPTER_API_VERSION",
    "ANY",
    "COMMON_ERROR_CODES",
    "IDEMPOTENT",
    "NEXT_EVENT",
    "RESOLUTIONS",
    "WARNING_CODES",
    "Accepted",
    "Adapter",
    "AuthenticationError",
    "BadRequestError",
    "Capabilities",
    "CapabilityChanges",
    "ConfigurationError",
    "ContentPolicyError",
    "Effect",
    "ErrorCodes",
    "Flow",
    "GeneratedImage",
    "ImageInput",
    "ImageResult",
    "ImageWarning",
    "InlineImage",
    "InsufficientBalanceError",
    "InvalidRequestError",
    "NotFoundError",
    "Operation",
    "PartialImage",
    "PermissionDeniedError",
    "Plan",
    "PollPolicy",
    "Problem",
    "Progress",
    "ProviderError",
    "RateLimitError",
    "ServerError",
    "ServerSentEvent",
    "Size",
    "Sleep",
    "Stream",
    "StreamInterruptedError",
    "TaskFailedError",
    "TaskHandle",
    "TaskPhase",
    "TaskState",
    "Usage",
    "classify",
    "cut",
    "error_from_response",
    "error_from_task",
    "extension_of",
    "image_size",
    "is_event_stream",
    "json_request",
    "parse_retry_after",
    "parse_size",
    "poll_task",
    "read_event",
    "size_table",
    "sniff_media_type",
]
