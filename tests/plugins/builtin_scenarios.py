"""Dialect-specific scenarios of the built-in adapters, and how to record the shared ones.

The shared scenarios live in the kit (``imagebridge.testing.SCENARIOS``). These add what only
one dialect has: dimilinks' signed relative, absolute and data result URLs, its
APIMart-compatible mode, ``pending`` status, sync mode and ``Prefer`` header; new-api's
``(request id: X)`` error suffix and status-independent codes on geeknow; the dall-e rules on
openai and geeknow; and APIMart's shape variants. Their cassettes describe themselves, so
replay needs none of this module: only ``record_cassettes.py`` imports it.

Shapes the emulator cannot produce are made by an ``edit`` of the recording, stated in the
cassette's description.
"""

from __future__ import annotations

from typing import Any

import scenarios_bfl
import scenarios_fal
import scenarios_google
import scenarios_replicate
import scenarios_stability

from imagebridge.testing import Cassette, Hint, Scenario
from imagebridge.testing._cassette import JsonBody

OPENAI_URLS = {"provider_options": {"openai": {"response_format": "url"}}}


def _json(cassette: Cassette, method: str, path_part: str, last: bool = False) -> Any:
    """The JSON response body of the first (or last) interaction to a URL containing
    ``path_part``."""
    matches = [
        item
        for item in cassette.interactions
        if item.request.method == method and path_part in item.request.url
    ]
    body = matches[-1 if last else 0].response.body
    assert isinstance(body, JsonBody)
    return body.value


def _legacy_object_data(cassette: Cassette) -> None:
    body = _json(cassette, "POST", "/images/generations")
    task_id = body["data"][0]["task_id"]
    body["data"] = {"id": task_id, "status": "pending", "progress": 0}


def _url_as_string(cassette: Cassette) -> None:
    body = _json(cassette, "GET", "/tasks/", last=True)
    for image in body["data"]["result"]["images"]:
        image["url"] = image["url"][0]


def _error_as_string(cassette: Cassette) -> None:
    body = _json(cassette, "GET", "/tasks/", last=True)
    body["data"]["error"] = body["data"]["error"]["message"]


def _cancelled(cassette: Cassette) -> None:
    body = _json(cassette, "GET", "/tasks/", last=True)
    body["data"]["status"] = "cancelled"


def _error_under_http_200(cassette: Cassette) -> None:
    cassette.interactions[0].response.status = 200


DIMILINKS = (
    Scenario(
        "dimilinks_relative_signed_urls",
        "Relative signed result URLs (/p/img/...?exp=&sig=) are resolved against the API"
        " origin with their query kept, and downloaded without the API key.",
        requires=("async_tasks",),
        sources="url",
    ),
    Scenario(
        "dimilinks_absolute_urls",
        "Absolute signed result URLs (emulator result_url_style='absolute').",
        requires=("async_tasks",),
        sources="url",
    ),
    Scenario(
        "dimilinks_data_urls",
        "data: URL results are the images themselves (emulator result_url_style='data').",
        requires=("async_tasks",),
        sources="inline",
    ),
    Scenario(
        "dimilinks_compat_mode",
        "APIMart-compatible mode (?compat=apimart): the APIMart submit envelope, then the"
        " dimilinks task shape.",
        requires=("async_tasks",),
        fields={"provider_options": {"dimilinks": {"compat": "apimart"}}},
    ),
    Scenario(
        "dimilinks_compat_error",
        "An error in APIMart-compatible mode carries the HTTP status as an integer error.code.",
        expect="InsufficientBalanceError",
        marker="#error=402:insufficient_balance",
        fields={"provider_options": {"dimilinks": {"compat": "apimart"}}},
    ),
    Scenario(
        "dimilinks_pending",
        "The undocumented 'pending' status is treated as not finished.",
        requires=("async_tasks",),
        method="submit",
        marker="#pending",
        check_progress=True,
    ),
    Scenario(
        "dimilinks_sync_mode",
        "Sync mode: one request answers with the image URLs and the task id.",
        fields={"provider_options": {"dimilinks": {"mode": "sync"}}},
    ),
    Scenario(
        "dimilinks_prefer_header",
        "Async mode asked for with the 'Prefer: respond-async' header (matched on replay).",
        requires=("async_tasks",),
        fields={"provider_options": {"dimilinks": {"async_trigger": "prefer_header"}}},
        match_headers=("prefer",),
    ),
)

GEEKNOW = (
    Scenario(
        "geeknow_request_id_suffix",
        "new-api errors end in '(request id: X)': the id is kept apart, the message without it.",
        expect="BadRequestError",
        marker="#error=400:invalid_request",
        check_message=True,
    ),
    Scenario(
        "geeknow_unknown_model_503",
        "new-api answers an unknown model with HTTP 503 model_not_found: classified by its"
        " code, not its status.",
        expect="BadRequestError",
        fields={"model": "no-such-image-model"},
    ),
    Scenario(
        "geeknow_validation_500",
        "Some new-api versions answer a failed validation with HTTP 500: the code"
        " (invalid_request) makes it a BadRequestError, and it is not retried.",
        expect="BadRequestError",
        marker="#error=500:invalid_request",
    ),
    Scenario(
        "geeknow_watermark_off",
        "watermark=False is sent explicitly (it differs from leaving it out).",
        fields={"provider_options": {"geeknow": {"watermark": False}}},
    ),
    Scenario(
        "geeknow_dalle3_size_rejected",
        "dall-e-3 with 512x512 never reaches the network: InvalidRequestError.",
        expect="InvalidRequestError",
        fields={"model": "dall-e-3", "size": "512x512"},
    ),
    Scenario(
        "geeknow_dalle2_size_rejected",
        "dall-e-2 with 1792x1024 never reaches the network: InvalidRequestError.",
        expect="InvalidRequestError",
        fields={"model": "dall-e-2", "size": "1792x1024"},
    ),
)

OPENAI = (
    Scenario(
        "openai_dalle3_size_rejected",
        "dall-e-3 with 512x512 never reaches the network: InvalidRequestError.",
        expect="InvalidRequestError",
        fields={"model": "dall-e-3", "size": "512x512"},
    ),
    Scenario(
        "openai_dalle2_size_rejected",
        "dall-e-2 with 1792x1024 never reaches the network: InvalidRequestError.",
        expect="InvalidRequestError",
        fields={"model": "dall-e-2", "size": "1792x1024"},
    ),
    Scenario(
        "openai_dalle3_n_split",
        "dall-e-3 makes one image per call: n=2 becomes two calls (warning n_split), each"
        " answering a URL and a revised prompt.",
        fields={"model": "dall-e-3", "n": 2},
    ),
    Scenario(
        "openai_dalle3_ratio_mapped",
        "dall-e-3 with the ratio 7:4 is sent as 1792x1024 (warning size_mapped).",
        fields={"model": "dall-e-3", "size": "7:4", **OPENAI_URLS},
    ),
    Scenario(
        "openai_response_format_rejected",
        "response_format is a dall-e option: with gpt-image-1 it is refused before sending.",
        expect="InvalidRequestError",
        fields=OPENAI_URLS,
    ),
)

APIMART = (
    Scenario(
        "apimart_legacy_object_data",
        "Older models answer the submit with data as one object {id, status}.",
        edit=_legacy_object_data,
        edit_note="Hand-edited: the submit answer's data list became the older object shape.",
    ),
    Scenario(
        "apimart_url_string",
        "An image url given as a string instead of a list (one documentation example).",
        edit=_url_as_string,
        edit_note="Hand-edited: result.images[].url lists became strings.",
    ),
    Scenario(
        "apimart_error_string",
        "A failed task whose error is a plain string.",
        expect="TaskFailedError",
        marker="#fail=upstream_error",
        edit=_error_as_string,
        edit_note="Hand-edited: the failed task's error object became its message string.",
    ),
    Scenario(
        "apimart_cancelled",
        "A cancelled task is a failure: TaskFailedError.",
        expect="TaskFailedError",
        marker="#fail=upstream_error",
        edit=_cancelled,
        edit_note="Hand-edited: the failed task's status became 'cancelled'.",
    ),
    Scenario(
        "apimart_error_under_http_200",
        "An error envelope ({code: 402, error}) under HTTP 200 is still an error.",
        expect="InsufficientBalanceError",
        marker="#error=402:insufficient_balance",
        edit=_error_under_http_200,
        edit_note="Hand-edited: the HTTP status of the error answer became 200.",
    ),
)

DIALECT_SCENARIOS: dict[str, tuple[Scenario, ...]] = {
    "openai": OPENAI,
    "geeknow": GEEKNOW,
    "dimilinks": DIMILINKS,
    "apimart": APIMART,
}
#: The providers added later keep their scenarios in their own module (scenarios_NAME.py).
ADDED = {
    module.__name__.removeprefix("scenarios_"): module
    for module in (
        scenarios_fal,
        scenarios_replicate,
        scenarios_google,
        scenarios_stability,
        scenarios_bfl,
    )
}
DIALECT_SCENARIOS.update({name: module.SCENARIOS for name, module in ADDED.items()})

#: How the shared scenarios are recorded from each dialect of the emulator.
HINTS: dict[str, dict[str, Hint]] = {
    "openai": {
        "result_url": Hint(model="dall-e-2", fields={"size": "256x256", **OPENAI_URLS}),
        "insufficient_balance": Hint(marker="#error=429:insufficient_quota"),
        "content_policy": Hint(marker="#fail=moderation_blocked"),
    },
    "geeknow": {
        "result_url": Hint(fields={"provider_options": {"geeknow": {"response_format": "url"}}}),
        "result_b64": Hint(
            fields={"provider_options": {"geeknow": {"response_format": "b64_json"}}}
        ),
    },
    "dimilinks": {
        "rate_limited": Hint(marker="#error=429:rate_limit_rpm"),
        "server_error": Hint(marker="#error=503:no_available_account"),
        "content_policy": Hint(marker="#fail=content_moderation"),
    },
    "apimart": {
        "content_policy": Hint(marker="#fail=content_moderation"),
    },
}

NOT_APPLICABLE: dict[str, dict[str, str]] = {
    "apimart": {
        "result_b64": (
            "APIMart always answers with image URLs (docs/dialects/apimart.md, 'Task statuses')"
        )
    },
}

#: Emulator settings a scenario needs (the default: relative URLs, tasks done at once).
SETUPS: dict[tuple[str, str], dict[str, Any]] = {
    ("dimilinks", "result_b64"): {"result_url_style": "data"},
    ("dimilinks", "dimilinks_data_urls"): {"result_url_style": "data"},
    ("dimilinks", "dimilinks_absolute_urls"): {"result_url_style": "absolute"},
    ("dimilinks", "task_statuses"): {"task_duration": 12.0},
    ("dimilinks", "dimilinks_pending"): {"task_duration": 12.0},
    ("apimart", "task_statuses"): {"task_duration": 12.0},
}

for _name, _module in ADDED.items():
    HINTS[_name] = _module.HINTS
    NOT_APPLICABLE[_name] = _module.NOT_APPLICABLE
    SETUPS.update({(_name, scenario): setup for scenario, setup in _module.SETUPS.items()})
