"""Provider error responses: parsed liberally, classified by status and code."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx
import pytest

import imagebridge
from helpers import open_client
from imagebridge import (
    AuthenticationError,
    BadRequestError,
    ContentPolicyError,
    InsufficientBalanceError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitError,
    ServerError,
)

pytestmark = pytest.mark.anyio


def error_body(message: str, code: Any = "", **extra: Any) -> dict[str, Any]:
    return {"error": {"message": message, "code": code, **extra}}


async def failure(mode: str, response: httpx.Response, provider: str = "openai") -> ProviderError:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return response

    async with open_client(mode, provider, handler) as client:
        with pytest.raises(ProviderError) as info:
            await client.generate("a red cube")
    assert len(requests) == 1
    error = info.value
    assert error.provider == provider
    assert error.status_code == response.status_code
    assert isinstance(error.code, str)
    assert error.message
    return error


# status, body, expected class, code, message
SHAPES = [
    pytest.param(
        400,
        error_body("Invalid size", "invalid_size", type="invalid_request_error", param="size"),
        BadRequestError,
        "invalid_size",
        "Invalid size",
        id="openai-shape",
    ),
    pytest.param(400, error_body("boom", 1234), BadRequestError, "1234", "boom", id="int-code"),
    pytest.param(400, error_body("boom", ""), BadRequestError, "", "boom", id="empty-code"),
    pytest.param(400, {"error": {"message": "boom"}}, BadRequestError, "", "boom", id="no-code"),
    pytest.param(400, {"error": "plain words"}, BadRequestError, "", "plain words", id="str-error"),
    pytest.param(404, {"message": "no such thing"}, NotFoundError, "", "no such thing", id="flat"),
    pytest.param(
        400,
        error_body("Your request was rejected", "content_policy_violation"),
        ContentPolicyError,
        "content_policy_violation",
        "Your request was rejected",
        id="content-policy",
    ),
    pytest.param(
        400,
        error_body("blocked", "moderation_blocked", type="image_generation_user_error"),
        ContentPolicyError,
        "moderation_blocked",
        "blocked",
        id="moderation",
    ),
    pytest.param(
        429,
        error_body("You exceeded your quota", "insufficient_quota", type="insufficient_quota"),
        InsufficientBalanceError,
        "insufficient_quota",
        "You exceeded your quota",
        id="429-quota",
    ),
    pytest.param(
        500,
        error_body(
            "field n is invalid (request id: 202501)", "invalid_request", type="new_api_error"
        ),
        BadRequestError,
        "invalid_request",
        "field n is invalid",
        id="new-api-500-validation",
    ),
    pytest.param(
        401,
        error_body("bad key", "invalid_api_key"),
        AuthenticationError,
        "invalid_api_key",
        "bad key",
        id="401",
    ),
    pytest.param(401, None, AuthenticationError, "", "Unauthorized", id="401-empty"),
    pytest.param(402, error_body("pay up"), InsufficientBalanceError, "", "pay up", id="402"),
    pytest.param(403, error_body("no"), PermissionDeniedError, "", "no", id="403"),
    pytest.param(503, error_body("down", 503), ServerError, "503", "down", id="503"),
    pytest.param(
        400,
        error_body("billing limit", "billing_hard_limit_reached"),
        InsufficientBalanceError,
        "billing_hard_limit_reached",
        "billing limit",
        id="billing-400",
    ),
]


@pytest.mark.parametrize(("status", "body", "cls", "code", "message"), SHAPES)
async def test_error_shapes_and_classes(
    mode: str, status: int, body: Any, cls: type[ProviderError], code: str, message: str
) -> None:
    response = httpx.Response(status, json=body) if body is not None else httpx.Response(status)
    error = await failure(mode, response)
    assert type(error) is cls
    assert (error.code, error.message) == (code, message)
    assert error.body == body
    assert str(error).startswith(f"[openai HTTP {status}")
    assert message in str(error)
    assert repr(error) == (
        f"{cls.__name__}(provider='openai', status_code={status}, code={code!r},"
        f" message={message!r})"
    )


async def test_new_api_request_id_is_stripped_from_the_message(mode: str) -> None:
    body = {
        "error": {
            "message": "invalid size 12x12 (request id: 20250101-ab-9)",
            "type": "new_api_error",
            "param": "",
            "code": "invalid_size",
        }
    }
    error = await failure(mode, httpx.Response(400, json=body), provider="geeknow")
    assert error.message == "invalid size 12x12"
    assert error.request_id == "20250101-ab-9"
    assert error.param is None
    assert error.error_type == "new_api_error"
    assert error.provider == "geeknow"


MISSING = object()


@pytest.mark.parametrize(
    ("param", "expected"),
    [("size", "size"), ("", None), (None, None), (MISSING, None)],
    ids=["given", "empty", "null", "missing"],
)
async def test_param_given_empty_null_or_missing(mode: str, param: Any, expected: Any) -> None:
    body = error_body("bad") if param is MISSING else error_body("bad", param=param)
    error = await failure(mode, httpx.Response(400, json=body))
    assert error.param == expected
    assert error.message == "bad"


async def test_request_id_header_is_kept(mode: str) -> None:
    response = httpx.Response(400, json=error_body("bad"), headers={"x-request-id": "req_42"})
    error = await failure(mode, response)
    assert error.request_id == "req_42"


async def test_an_html_error_page_is_a_server_error(mode: str) -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"
    response = httpx.Response(502, text=page, headers={"content-type": "text/html"})
    error = await failure(mode, response)
    assert type(error) is ServerError
    assert error.message == "HTML error page: 502 Bad Gateway"
    assert "<html>" not in str(error)


async def test_a_text_body_is_the_message(mode: str) -> None:
    error = await failure(mode, httpx.Response(500, text="upstream   exploded\n"))
    assert type(error) is ServerError
    assert error.message == "upstream exploded"


async def test_a_success_status_with_a_body_that_is_not_json(mode: str) -> None:
    error = await failure(mode, httpx.Response(200, text="<html>maintenance</html>"))
    assert isinstance(error, ServerError)
    assert error.code == "unexpected_response"


async def test_rate_limit_with_retry_after_seconds(mode: str) -> None:
    response = httpx.Response(
        429, json=error_body("slow down", "rate_limit_exceeded"), headers={"Retry-After": "7"}
    )
    error = await failure(mode, response)
    assert type(error) is RateLimitError
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 7
    assert error.code == "rate_limit_exceeded"


async def test_rate_limit_with_retry_after_as_an_http_date(mode: str) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    response = httpx.Response(429, json=error_body("slow"), headers={"Retry-After": when})
    error = await failure(mode, response)
    assert isinstance(error, RateLimitError)
    assert error.retry_after is not None
    assert 27 <= error.retry_after <= 31


async def test_rate_limit_without_retry_after(mode: str) -> None:
    error = await failure(mode, httpx.Response(429, json=error_body("slow")))
    assert isinstance(error, RateLimitError)
    assert error.retry_after is None


def test_the_error_hierarchy() -> None:
    for cls in (
        AuthenticationError,
        BadRequestError,
        ContentPolicyError,
        InsufficientBalanceError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        ServerError,
        imagebridge.TaskFailedError,
    ):
        assert issubclass(cls, ProviderError)
    for cls in (
        ProviderError,
        imagebridge.InvalidRequestError,
        imagebridge.ConfigurationError,
        imagebridge.APIConnectionError,
        imagebridge.ImageTimeoutError,
    ):
        assert issubclass(cls, imagebridge.ImageBridgeError)
    assert issubclass(imagebridge.PluginError, imagebridge.ConfigurationError)
    assert issubclass(imagebridge.InvalidRequestError, ValueError)
    assert issubclass(imagebridge.ImageTimeoutError, TimeoutError)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"provider": "nope"}, "unknown provider 'nope' (installed providers: "),
        ({"base_url": "ftp://x"}, "must start with http:// or https://"),
        ({"api_key": None}, "no API key for openai: pass api_key= or set OPENAI_API_KEY"),
    ],
)
def test_configuration_errors(
    options: dict[str, Any], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    options = {"provider": "openai", "api_key": "k", **options}
    with pytest.raises(imagebridge.ConfigurationError) as info:
        imagebridge.ImageClient(options.pop("provider"), **options)
    assert message in str(info.value)
    if "installed providers" in message:
        assert "geeknow" in str(info.value)
        assert "openai" in str(info.value)
