"""Everything a provider plugin needs to write an adapter.

    from imagebridge import hookimpl
    from imagebridge.adapter import Adapter, Capabilities, Plan, Flow

    class MyAdapter(Adapter):
        name = "myprovider"
        ...

    @hookimpl
    def imagebridge_adapters():
        return [MyAdapter]

See ``docs/plugins.md`` for the walk-through and :mod:`imagebridge.hookspecs` for the hooks.
"""

from __future__ import annotations

from ._adapter import Adapter
from ._body import InlineImage, json_request
from ._capabilities import ANY, Capabilities
from ._errors import Problem
from ._flow import Accepted, Effect, Flow, Progress, Sleep
from ._imageinfo import image_size, sniff_media_type
from ._inputs import ImageInput
from ._polling import PollPolicy, TaskPhase, TaskState, poll_task
from ._preflight import ImageWarning, Operation, Plan
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
from ._sizes import RESOLUTIONS, Size, parse_size, size_table
from ._tasks import TaskHandle

__all__ = [
    "ANY",
    "COMMON_ERROR_CODES",
    "RESOLUTIONS",
    "Accepted",
    "Adapter",
    "Capabilities",
    "Effect",
    "ErrorCodes",
    "Flow",
    "GeneratedImage",
    "ImageInput",
    "ImageResult",
    "ImageWarning",
    "InlineImage",
    "Operation",
    "Plan",
    "PollPolicy",
    "Problem",
    "Progress",
    "Size",
    "Sleep",
    "TaskHandle",
    "TaskPhase",
    "TaskState",
    "Usage",
    "classify",
    "cut",
    "error_from_response",
    "error_from_task",
    "image_size",
    "json_request",
    "parse_retry_after",
    "parse_size",
    "poll_task",
    "size_table",
    "sniff_media_type",
]
