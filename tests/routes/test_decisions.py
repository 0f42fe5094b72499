"""Each row of the fallback table (``imagebridge._routes.FALLBACK_RULES``), over real HTTP
against two emulators: the failure on route A, and whether route B is then asked."""

from __future__ import annotations

import socket

import pytest

from imagebridge import (
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
    Problem,
    RateLimitError,
    Route,
    RoutesExhaustedError,
    ServerError,
    StreamInterruptedError,
    SubmitOutcomeUnknownError,
    TaskFailedError,
)
from imagebridge._routes import FALLBACK_RULES, may_fall_back

from .support import KEY_A, KEY_B, PROMPT, Pair, routed

pytestmark = pytest.mark.anyio


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _route_b(pair: Pair, provider: str = "openai") -> Route:
    return Route(name="b", provider=provider, base_url=pair.b.url(provider), api_key=KEY_B)


def _route_a(pair: Pair, provider: str = "openai", **fields: object) -> Route:
    options = {"base_url": pair.a.url(provider), "api_key": KEY_A, **fields}
    return Route(name="a", provider=provider, **options)  # type: ignore[arg-type]


# -- failures that leave no task: route B serves the job ------------------------------------
async def _served_by_b_after(mode: str, pair: Pair, first: Route, error: type) -> None:
    async with routed(mode, [first, _route_b(pair)]) as client:
        result = await client.generate()
    assert result.route == "b"
    assert pair.accepted()[1] == 1
    (failed,) = [w for w in result.warnings if w.code == "route_failed"]
    assert failed.message.startswith(f"route 'a' failed: {error.__name__}: ")
    for key in (KEY_A, KEY_B):  # never a key in what the result says
        assert key not in repr(result.warnings)
        assert key not in repr(result.to_dict())


async def test_connection_refused_before_sending_moves_on(mode: str, pair: Pair) -> None:
    first = Route(
        name="a", provider="openai", base_url=f"http://127.0.0.1:{_closed_port()}/v1", api_key=KEY_A
    )
    await _served_by_b_after(mode, pair, first, APIConnectionError)


async def test_a_429_moves_on(mode: str, pair: Pair) -> None:
    pair.a.app_state.faults.replace(["submit:429:*"])
    await _served_by_b_after(mode, pair, _route_a(pair), RateLimitError)
    assert pair.accepted()[0] == 0


async def test_a_5xx_on_the_submit_moves_on(mode: str, pair: Pair) -> None:
    pair.a.app_state.faults.replace(["submit:502:*"])
    await _served_by_b_after(mode, pair, _route_a(pair), ServerError)


async def test_a_refused_key_moves_on(mode: str, pair: Pair) -> None:
    wrong = _route_a(pair, api_key=KEY_B)  # emulator A takes only KEY_A
    await _served_by_b_after(mode, pair, wrong, AuthenticationError)


async def test_a_missing_endpoint_moves_on(mode: str, pair: Pair) -> None:
    nowhere = _route_a(pair, base_url=pair.a.url("openai") + "/nowhere")
    await _served_by_b_after(mode, pair, nowhere, NotFoundError)


@pytest.mark.parametrize(
    ("marker", "error"),
    [
        ("402:insufficient_balance", InsufficientBalanceError),
        ("403:permission_denied", PermissionDeniedError),
    ],
)
async def test_balance_and_permission_errors_move_on(
    mode: str, pair: Pair, marker: str, error: type
) -> None:
    # The marker is in the prompt, so both routes refuse: both were tried, one error says so.
    async with routed(mode, [_route_a(pair), _route_b(pair)]) as client:
        with pytest.raises(RoutesExhaustedError) as info:
            await client.generate(f"{PROMPT} #error={marker}")
    assert pair.submits() == (1, 1)
    assert list(info.value.outcomes) == ["a", "b"]
    for outcome in info.value.outcomes.values():
        assert outcome.startswith(f"failed: {error.__name__}: ")
    assert isinstance(info.value.__cause__, error)
    assert KEY_A not in str(info.value)
    assert KEY_B not in str(info.value)


# -- failures after which a task may exist, or that refuse the request: the job stops --------
async def _stopped(mode: str, pair: Pair, first: Route, error: type, **call: object) -> None:
    prompt = str(call.pop("prompt", PROMPT))
    async with routed(mode, [first, _route_b(pair, first.provider)], timeout=1.0) as client:
        with pytest.raises(error):
            await client.generate(prompt, **call)
    assert pair.submits()[1] == 0


async def test_an_unanswered_submit_stops(mode: str, pair: Pair) -> None:
    pair.a.app_state.faults.replace(["submit:drop:1"])
    await _stopped(mode, pair, _route_a(pair), SubmitOutcomeUnknownError)


async def test_a_broken_stream_stops(mode: str, pair: Pair) -> None:
    pair.a.app_state.faults.replace(["submit:cut:1:2"])
    async with routed(mode, [_route_a(pair), _route_b(pair)]) as client:
        with pytest.raises(StreamInterruptedError):
            await client.stream(model="gpt-image-1", partial_images=2)
    assert pair.submits() == (1, 0)


async def test_a_deadline_after_acceptance_stops_with_the_task(mode: str, pair: Pair) -> None:
    pair.a.app_state.faults.replace(["poll:never"])
    async with routed(
        mode, [_route_a(pair, "dimilinks"), _route_b(pair, "dimilinks")], timeout=0.5
    ) as client:
        with pytest.raises(ImageTimeoutError) as info:
            await client.generate()
    assert info.value.task_id is not None
    assert pair.submits() == (1, 0)


async def test_a_failed_task_stops(mode: str, pair: Pair) -> None:
    first = _route_a(pair, "dimilinks")
    await _stopped(mode, pair, first, TaskFailedError, prompt=f"{PROMPT} #fail=upstream_error")


async def test_a_200_that_cannot_be_read_stops(mode: str, pair: Pair) -> None:
    pair.a.app_state.faults.replace(["submit:deepjson"])
    await _stopped(mode, pair, _route_a(pair), ServerError)


async def test_a_refused_request_stops(mode: str, pair: Pair) -> None:
    prompt = f"{PROMPT} #error=400:invalid_value"
    await _stopped(mode, pair, _route_a(pair), BadRequestError, prompt=prompt)


async def test_a_moderation_refusal_stops(mode: str, pair: Pair) -> None:
    prompt = f"{PROMPT} #error=400:content_policy_violation"
    await _stopped(mode, pair, _route_a(pair), ContentPolicyError, prompt=prompt)


async def test_a_split_request_stops(mode: str, pair: Pair) -> None:
    # dall-e-3 makes one image per call: n=2 is two calls; once one was sent, never moved.
    pair.a.app_state.faults.replace(["submit:500:*"])
    await _stopped(mode, pair, _route_a(pair), ServerError, model="dall-e-3", n=2)


# -- the rows no emulator fault produces -------------------------------------------------------
def test_errors_of_the_request_or_the_setup_never_move_on() -> None:
    invalid = InvalidRequestError([Problem("size", "7:1", "no such ratio")])
    for error in (invalid, ConfigurationError("no key"), ImageBridgeError("anything")):
        assert not may_fall_back(error)


def test_a_known_task_or_partial_result_never_moves_on() -> None:
    error = RateLimitError("slow down", provider="openai", status_code=429, task_id="t-1")
    assert not may_fall_back(error)
    assert may_fall_back(RateLimitError("slow down", provider="openai", status_code=429))
    sent = APIConnectionError("reset", provider="openai", sent=True)
    assert not may_fall_back(sent)


def test_every_class_has_one_row_and_a_reason() -> None:
    classes = [rule.error for rule in FALLBACK_RULES]
    assert len(set(classes)) == len(classes)
    assert all(rule.reason for rule in FALLBACK_RULES)
    # Subclasses come before their bases (the first match decides).
    for i, rule in enumerate(FALLBACK_RULES):
        assert not any(issubclass(later.error, rule.error) for later in FALLBACK_RULES[i + 1 :])


def test_the_docs_table_is_the_fallback_table() -> None:
    import re
    from pathlib import Path

    page = Path(__file__).resolve().parents[2] / "docs" / "concepts" / "routes.md"
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \| ([^|]+) \|$", page.read_text(), re.MULTILINE)
    when = {
        "always": "yes",
        "never": "no",
        "not_sent": "when `sent` is False",
        "http_5xx": "when the status is 5xx",
    }
    expected = [(r.error.__name__, when[r.when], r.reason) for r in FALLBACK_RULES]
    assert [(name, move.strip(), why.strip()) for name, move, why in rows] == expected
