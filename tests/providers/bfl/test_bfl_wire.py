"""The requests imagebridge sends to BFL, against the shapes of BFL's API reference (there is
no maintained official Python SDK, so the reference is the oracle), captured through an
``httpx.MockTransport`` and compared field by field; which hosts get the key; error mapping.

Expected requests are written by hand from these pages:

- https://docs.bfl.ai/api-reference/models/generate-an-image-with-flux-11-pro (``/v1/flux-pro-1.1``:
  ``prompt``, ``image_prompt``, ``width``/``height`` multiples of 32 in 256..1440, ``seed``,
  ``prompt_upsampling``, ``safety_tolerance``, ``output_format`` jpeg|png)
- https://docs.bfl.ai/api-reference/models/generate-an-image-with-flux-11-[pro]-with-ultra-mode-and-optional-raw-mode
  (``/v1/flux-pro-1.1-ultra``: ``aspect_ratio``, ``raw``, ``image_prompt``,
  ``image_prompt_strength``)
- https://docs.bfl.ai/api-reference/models/generate-an-image-with-flux1-[dev]
  (``/v1/flux-dev``: ``width``/``height``, ``steps``, ``guidance``)
- https://docs.bfl.ai/api-reference/models/edit-or-create-an-image-with-flux-kontext-pro and
  ``...-kontext-max`` (``input_image``, ``input_image_2`` .. ``_4``: base64 or URL;
  ``aspect_ratio``; ``output_format`` default png)
- https://docs.bfl.ai/api-reference/models/generate-an-image-with-flux1-fill-[pro]-using-an-input-image-and-mask
  (``/v1/flux-pro-1.0-fill``: ``image``, ``mask``, ``steps`` 15..50, ``guidance`` 1.5..100)
- https://docs.bfl.ai/api-reference/utility/get-result (``GET /v1/get_result?id=``; statuses)
- https://docs.bfl.ai/api_integration/integration_guidelines (global and regional hosts,
  ``polling_url``, ``x-key``)
"""

from __future__ import annotations

import base64
import calendar
import io
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from PIL import Image

from helpers import png
from imagebridge import (
    AuthenticationError,
    BadRequestError,
    ContentPolicyError,
    ImageClient,
    InsufficientBalanceError,
    InvalidRequestError,
    NotFoundError,
    PollPolicy,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TaskFailedError,
)

KEY = "bfl-test-key-0123456789abcdef"
BASE = "https://api.bfl.ai/v1"
TASK = "4cf8004c-2ffb-42ab-afd3-d19d2ecd0a75"
REGIONAL_POLL = f"https://api.eu1.bfl.ai/v1/get_result?id={TASK}"
SAMPLE = (
    "https://delivery-eu1.bfl.ai/results/ab/sample.jpeg"
    "?se=2030-06-06T03%3A54%3A04Z&sp=r&sv=2024-11-04&sr=b&sig=c2lnbmF0dXJl"
)
IMAGE = png(32, 32)
IMAGE_B64 = base64.b64encode(IMAGE).decode("ascii")
MASK = png(32, 32)


class Api:
    """A fake BFL: records every request; answers submit, poll and download."""

    def __init__(
        self,
        *,
        polling_url: str | None = REGIONAL_POLL,
        poll: Callable[[], httpx.Response] | None = None,
        submit: httpx.Response | None = None,
        sample: str = SAMPLE,
    ) -> None:
        self.sent: list[httpx.Request] = []
        #: The headers of each request as it went on the wire (the driver takes the key out
        #: of the request object afterwards).
        self.headers: list[httpx.Headers] = []
        self.polling_url = polling_url
        self.poll = poll or (lambda: httpx.Response(200, json=self.ready()))
        self.submit = submit
        self.sample = sample

    def ready(self) -> dict[str, Any]:
        result = {"sample": self.sample, "prompt": "p", "seed": 1, "duration": 1.0}
        return {"id": TASK, "status": "Ready", "result": result, "progress": None}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        self.headers.append(httpx.Headers(request.headers))
        if request.method == "POST":
            if self.submit is not None:
                return self.submit
            body: dict[str, Any] = {"id": TASK}
            if self.polling_url is not None:
                body["polling_url"] = self.polling_url
            return httpx.Response(200, json=body)
        if request.url.host.startswith("delivery"):
            return httpx.Response(200, content=IMAGE, headers={"content-type": "image/png"})
        return self.poll()


def client(api: Api, base_url: str = BASE) -> ImageClient:
    return ImageClient(
        "bfl",
        api_key=KEY,
        base_url=base_url,
        transport=httpx.MockTransport(api),
        poll_policy=PollPolicy(interval=0.001, max_interval=0.001),
        retry=RetryPolicy(max_retries=0),
        timeout=10,
    )


def json_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


# -- the request oracle ----------------------------------------------------------------------
#: (call, canonical fields, expected path, expected JSON body), from the reference pages above.
CASES: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
    ("generate", {}, "/v1/flux-pro-1.1", {"prompt": "a fox"}),
    (
        "generate",
        {"size": "1024x768", "seed": 42, "output_format": "png"},
        "/v1/flux-pro-1.1",
        {"prompt": "a fox", "width": 1024, "height": 768, "seed": 42, "output_format": "png"},
    ),
    (
        "generate",
        {"size": "16:9"},
        "/v1/flux-pro-1.1",
        {"prompt": "a fox", "width": 1344, "height": 768},
    ),
    (
        "generate",
        {"reference_images": [IMAGE], "provider_options": {"bfl": {"safety_tolerance": 6}}},
        "/v1/flux-pro-1.1",
        {"prompt": "a fox", "image_prompt": IMAGE_B64, "safety_tolerance": 6},
    ),
    (
        "generate",
        {
            "model": "flux-pro-1.1-ultra",
            "size": "21:9",
            "provider_options": {"bfl": {"raw": True, "prompt_upsampling": False}},
        },
        "/v1/flux-pro-1.1-ultra",
        {"prompt": "a fox", "aspect_ratio": "21:9", "raw": True, "prompt_upsampling": False},
    ),
    (
        "generate",
        {
            "model": "flux-pro-1.1-ultra",
            "reference_images": [IMAGE],
            "output_format": "jpeg",
            "provider_options": {"bfl": {"image_prompt_strength": 0.3}},
        },
        "/v1/flux-pro-1.1-ultra",
        {
            "prompt": "a fox",
            "output_format": "jpeg",
            "image_prompt": IMAGE_B64,
            "image_prompt_strength": 0.3,
        },
    ),
    (
        "generate",
        {
            "model": "flux-dev",
            "size": "9:16",
            "seed": 7,
            "provider_options": {"bfl": {"steps": 28, "guidance": 3.0}},
        },
        "/v1/flux-dev",
        {"prompt": "a fox", "width": 768, "height": 1344, "seed": 7, "steps": 28, "guidance": 3.0},
    ),
    (
        "generate",
        {"model": "flux-kontext-pro", "size": "1:1", "output_format": "jpeg"},
        "/v1/flux-kontext-pro",
        {"prompt": "a fox", "aspect_ratio": "1:1", "output_format": "jpeg"},
    ),
    (
        "edit",
        {"model": "flux-kontext-pro", "images": [IMAGE], "seed": 3},
        "/v1/flux-kontext-pro",
        {"prompt": "a fox", "seed": 3, "input_image": IMAGE_B64},
    ),
    (
        "edit",
        {
            "model": "flux-kontext-max",
            "images": [IMAGE, "https://example.com/ref.png", IMAGE],
            "size": "16:9",
        },
        "/v1/flux-kontext-max",
        {
            "prompt": "a fox",
            "aspect_ratio": "16:9",
            "input_image": IMAGE_B64,
            "input_image_2": "https://example.com/ref.png",
            "input_image_3": IMAGE_B64,
        },
    ),
    (
        "edit",
        {
            "model": "flux-pro-1.0-fill",
            "images": [IMAGE],
            "mask": MASK,
            "output_format": "png",
            # A mask already in BFL's form (white: change) goes as it is; mask_mode is not sent.
            "provider_options": {"bfl": {"steps": 50, "guidance": 60.0, "mask_mode": "luminance"}},
        },
        "/v1/flux-pro-1.0-fill",
        {
            "prompt": "a fox",
            "output_format": "png",
            "image": IMAGE_B64,
            "mask": base64.b64encode(MASK).decode("ascii"),
            "steps": 50,
            "guidance": 60.0,
        },
    ),
    (
        "edit",
        {"model": "flux-pro-1.0-fill", "images": [IMAGE], "seed": 0},
        "/v1/flux-pro-1.0-fill",
        {"prompt": "a fox", "seed": 0, "image": IMAGE_B64},
    ),
]


@pytest.mark.parametrize(("call", "fields", "path", "expected"), CASES)
def test_request_matches_the_api_reference(
    call: str, fields: dict[str, Any], path: str, expected: dict[str, Any]
) -> None:
    api = Api()
    with client(api) as bfl:
        if call == "edit":
            images = fields.pop("images")
            bfl.edit("a fox", images, **fields)
        else:
            bfl.generate("a fox", **fields)
    submit = api.sent[0]
    assert submit.method == "POST"
    assert submit.url.scheme == "https"
    assert submit.url.host == "api.bfl.ai"
    assert submit.url.path == path
    assert submit.url.query == b""
    assert api.headers[0]["x-key"] == KEY
    assert "authorization" not in api.headers[0]
    assert api.headers[0]["content-type"] == "application/json"
    body = json_of(submit)
    assert set(body) == set(expected)
    for name, value in expected.items():
        assert body[name] == value, name


def test_a_canonical_mask_is_sent_in_bfl_form_white_where_the_image_may_change() -> None:
    """BFL reads a mask's colours (white: change); the canonical mask is its alpha
    (transparent: change). Sent as it is, the fill would edit the wrong pixels."""
    canonical = Image.new("RGBA", (32, 32), (0, 0, 0, 255))
    canonical.paste((0, 0, 0, 0), (0, 0, 16, 32))  # the left half may change
    data = io.BytesIO()
    canonical.save(data, format="PNG")
    api = Api()
    with client(api) as bfl:
        bfl.edit("a fox", [IMAGE], mask=data.getvalue(), model="flux-pro-1.0-fill")
        with pytest.raises(InvalidRequestError, match="has no transparency") as opaque:
            bfl.edit("a fox", [IMAGE], mask=MASK, model="flux-pro-1.0-fill")
    assert [p.field for p in opaque.value.problems] == ["mask"]
    sent = json_of(api.sent[0])["mask"]
    with Image.open(io.BytesIO(base64.b64decode(sent))) as mask:
        assert mask.getpixel((4, 16)) == 255  # transparent -> white: change
        assert mask.getpixel((28, 16)) == 0  # opaque -> black: keep
    assert [r.method for r in api.sent] == ["POST", "GET"]  # the opaque mask: nothing sent


def test_every_model_takes_one_image_per_task_and_no_negative_prompt() -> None:
    with client(Api()) as bfl:
        for model in ("flux-pro-1.1", "flux-pro-1.1-ultra", "flux-dev", "flux-kontext-pro"):
            with pytest.raises(InvalidRequestError) as caught:
                bfl.plan("a fox", model=model, n=2, negative_prompt="blur", user="u")
            fields = {problem.field for problem in caught.value.problems}
            assert fields == {"n", "negative_prompt", "user"}


def test_fill_only_edits_and_options_belong_to_their_models() -> None:
    api = Api()
    with client(api) as bfl:
        with pytest.raises(InvalidRequestError, match="only edits"):
            bfl.generate("a fox", model="flux-pro-1.0-fill")
        with pytest.raises(InvalidRequestError) as caught:
            bfl.generate("a fox", provider_options={"bfl": {"raw": True, "steps": 10}})
        problems = {p.field: p for p in caught.value.problems}
        assert set(problems) == {"provider_options.bfl.raw", "provider_options.bfl.steps"}
        assert problems["provider_options.bfl.raw"].allowed == ("flux-pro-1.1-ultra",)
        with pytest.raises(InvalidRequestError, match="out of range"):
            bfl.edit(
                "x", [IMAGE], model="flux-pro-1.0-fill", provider_options={"bfl": {"steps": 5}}
            )
        with pytest.raises(InvalidRequestError, match="size"):
            bfl.generate("a fox", size="1000x1000")  # not a multiple of 32
        with pytest.raises(InvalidRequestError, match="size"):
            bfl.generate("a fox", size="2048x2048")  # over 1440
    assert api.sent == []


# -- which hosts get the key -----------------------------------------------------------------
def test_a_regional_polling_url_is_polled_with_the_key() -> None:
    api = Api(polling_url=REGIONAL_POLL)
    with client(api) as bfl:
        result = bfl.generate("a fox")
        result.images[0].read()
    poll, download = api.sent[1], api.sent[-1]
    assert str(poll.url) == REGIONAL_POLL
    assert api.headers[1]["x-key"] == KEY
    assert download.url.host == "delivery-eu1.bfl.ai"
    assert "x-key" not in api.headers[-1]
    assert result.task_id == TASK
    # The signed URL's own expiry (se=2030-06-06T03:54:04Z), in Unix seconds.
    assert result.images[0].expires_at == calendar.timegm((2030, 6, 6, 3, 54, 4, 0, 0, 0))


@pytest.mark.parametrize(
    "polling_url",
    [
        f"https://evil.example/v1/get_result?id={TASK}",
        f"http://api.eu1.bfl.ai/v1/get_result?id={TASK}",  # not https
        f"https://api.eu1.bfl.ai:8443/v1/get_result?id={TASK}",  # another port
        f"https://api.bfl.ai.evil.example/v1/get_result?id={TASK}",
    ],
)
def test_a_foreign_polling_url_is_not_used(polling_url: str) -> None:
    api = Api(polling_url=polling_url)
    with client(api) as bfl:
        handle = bfl.submit("a fox")
        bfl.wait(handle)
    assert handle.adapter_state == {}
    [poll] = [r for r in api.sent if r.method == "GET" and "get_result" in r.url.path]
    assert str(poll.url) == f"{BASE}/get_result?id={TASK}"
    foreign = httpx.URL(polling_url)
    assert not any((r.url.host, r.url.port) == (foreign.host, foreign.port) for r in api.sent[1:])


def test_a_regional_polling_url_is_not_used_when_the_base_is_not_bfl() -> None:
    api = Api(polling_url=REGIONAL_POLL)
    with client(api, base_url="http://127.0.0.1:9/bfl/v1") as bfl:
        bfl.generate("a fox")
    hosts = [r.url.host for r in api.sent]
    assert "api.eu1.bfl.ai" not in hosts
    assert str(api.sent[1].url) == f"http://127.0.0.1:9/bfl/v1/get_result?id={TASK}"


def test_a_journaled_handle_with_a_foreign_polling_url_is_not_trusted() -> None:
    api = Api(polling_url=REGIONAL_POLL)
    with client(api) as bfl:
        handle = bfl.submit("a fox")
        assert handle.adapter_state == {"polling_url": REGIONAL_POLL}
        forged = handle.model_copy(
            update={"adapter_state": {"polling_url": "https://evil.example/x"}}
        )
        bfl.wait(forged)
    assert all(r.url.host != "evil.example" for r in api.sent)


def test_a_sample_url_on_the_metadata_address_is_refused() -> None:
    api = Api(sample="http://169.254.169.254/latest/meta-data/iam")
    with client(api) as bfl, pytest.raises(ServerError) as caught:
        bfl.generate("a fox")
    assert caught.value.code == "invalid_result_url"
    assert all(r.url.host != "169.254.169.254" for r in api.sent)


# -- errors ----------------------------------------------------------------------------------
def _status(status: str, **extra: Any) -> Callable[[], httpx.Response]:
    return lambda: httpx.Response(200, json={"id": TASK, "status": status, **extra})


@pytest.mark.parametrize(
    ("status", "cls", "code"),
    [
        ("Request Moderated", ContentPolicyError, "request_moderated"),
        ("Content Moderated", ContentPolicyError, "content_moderated"),
        ("Error", TaskFailedError, "task_error"),
        ("Task not found", NotFoundError, "task_not_found"),
    ],
)
def test_failed_statuses_keep_the_task_id(status: str, cls: type[Exception], code: str) -> None:
    api = Api(poll=_status(status, details={"Moderation Reasons": ["Derivative Works Filter"]}))
    with client(api) as bfl, pytest.raises(cls) as caught:
        bfl.generate("a fox")
    error: Any = caught.value
    assert error.code == code
    assert error.task_id == TASK
    assert status in str(error)


def test_pending_then_ready_reports_progress() -> None:
    answers = iter(
        [
            httpx.Response(200, json={"id": TASK, "status": "Pending", "progress": None}),
            httpx.Response(200, json={"id": TASK, "status": "Pending", "progress": 0.4}),
        ]
    )
    api = Api()
    api.poll = lambda: next(answers, None) or httpx.Response(200, json=api.ready())
    seen: list[Any] = []
    with client(api) as bfl:
        bfl.generate("a fox", on_progress=seen.append)
    percents = [p.percent for p in seen if getattr(p, "stage", "") not in ("submitting", "done")]
    assert 40.0 in percents


NOT_AUTHENTICATED = "Not authenticated - Invalid Authentication"
WIDTH_ERROR = {"loc": ["body", "width"], "msg": "multiple of 32", "type": "value_error"}


@pytest.mark.parametrize(
    ("status", "body", "headers", "cls", "code"),
    [
        (402, {"detail": "No credits"}, {}, InsufficientBalanceError, "insufficient_credits"),
        (429, {"detail": "Busy"}, {"Retry-After": "3"}, RateLimitError, "too_many_active_tasks"),
        (403, {"detail": NOT_AUTHENTICATED}, {}, AuthenticationError, "not_authenticated"),
        (422, {"detail": [WIDTH_ERROR]}, {}, BadRequestError, "validation_error"),
        (500, {"detail": "Internal Server Error"}, {}, ServerError, "http_500"),
    ],
)
def test_submit_errors_are_mapped(
    status: int, body: Any, headers: dict[str, str], cls: type[Exception], code: str
) -> None:
    api = Api(submit=httpx.Response(status, json=body, headers=headers))
    with client(api) as bfl, pytest.raises(cls) as caught:
        bfl.generate("a fox")
    error: Any = caught.value
    assert error.code == code
    assert error.status_code == status
    assert KEY not in str(error)
    assert KEY not in repr(error.body)
    if status == 429:
        assert error.retry_after == 3.0
    if status == 422:
        assert error.param == "width"
        assert "body.width: multiple of 32" in str(error)


def test_a_submit_answer_without_an_id_is_a_server_error() -> None:
    api = Api(submit=httpx.Response(200, json={"polling_url": REGIONAL_POLL}))
    with client(api) as bfl, pytest.raises(ServerError, match="no task id"):
        bfl.generate("a fox")
