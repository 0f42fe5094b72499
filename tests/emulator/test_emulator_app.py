"""App-level behaviour: routing, the request log, auth configuration, images, config checks."""

from __future__ import annotations

import httpx
import pytest

from imagebridge._emulator import (
    DIALECTS,
    EmulatorConfig,
    EmulatorServer,
    EmulatorState,
    create_app,
    get_state,
)
from imagebridge._emulator._images import ImageSpec

from .conftest import AUTH, image_size


def test_public_names() -> None:
    assert DIALECTS[:4] == ("openai", "geeknow", "dimilinks", "apimart")
    assert set(DIALECTS[4:]) == {"fal", "replicate", "google", "stability", "bfl"}
    assert isinstance(get_state(create_app()), EmulatorState)


def test_urls(server: EmulatorServer) -> None:
    assert server.origin.startswith("http://127.0.0.1:")
    assert server.url("dimilinks") == server.origin + "/dimilinks/v1"
    assert server.url() == server.origin + "/v1"


def test_default_dialect_is_also_served_at_v1() -> None:
    config = EmulatorConfig(task_duration=0, default_dialect="dimilinks")
    with EmulatorServer(config) as server, httpx.Client(headers=AUTH) as client:
        response = client.post(
            server.url() + "/images/generations?async=true", json={"prompt": "x"}
        )
        task_id = response.json()["task_id"]
        task = client.get(server.url() + f"/tasks/{task_id}").json()
        assert task["status"] == "succeeded"
        same = client.get(server.url("dimilinks") + f"/tasks/{task_id}").json()
        assert same["id"] == task_id
        missing = httpx.post(server.url() + "/images/generations", json={"prompt": "x"})
        assert missing.json()["error"]["code"] == "missing_api_key"


def test_unknown_route_in_each_dialect_shape(client: httpx.Client, server: EmulatorServer) -> None:
    assert client.get(server.url("openai") + "/nope").json()["error"]["param"] is None
    assert "(request id:" in client.get(server.url("geeknow") + "/nope").json()["error"]["message"]
    assert client.get(server.url("dimilinks") + "/nope").json()["error"]["code"] == "not_found"
    apimart = client.get(server.url("apimart") + "/nope")
    assert apimart.status_code == 404
    assert apimart.json()["code"] == 404


def test_request_log_and_reset(anon: httpx.Client, server: EmulatorServer) -> None:
    assert anon.post(server.origin + "/_emulator/reset").json() == {"ok": True}
    anon.post(
        server.url("openai") + "/images/generations?trace=1",
        json={"prompt": "logged", "size": "256x256"},
        headers={"Authorization": "Bearer sk-secret", "X-Custom": "yes"},
    )
    anon.post(
        server.url("dimilinks") + "/images/edits",
        data={"prompt": "x"},
        headers={"Authorization": "Bearer sk-secret"},
        files={"image": ("a.png", b"12345", "image/png")},
    )
    log = anon.get(server.origin + "/_emulator/requests").json()
    assert [entry["path"] for entry in log] == [
        "/openai/v1/images/generations",
        "/dimilinks/v1/images/edits",
    ]
    first, second = log
    assert first["method"] == "POST"
    assert first["query"] == {"trace": "1"}
    assert first["headers"]["authorization"] == "[redacted]"
    assert first["headers"]["x-custom"] == "yes"
    assert first["json"] == {"prompt": "logged", "size": "256x256"}
    assert first["status"] == 200
    assert second["form"]["image"] == {"filename": "a.png", "content_type": "image/png", "size": 5}
    assert "sk-secret" not in str(log)
    assert server.app_state.requests == log
    anon.post(server.origin + "/_emulator/reset")
    assert anon.get(server.origin + "/_emulator/requests").json() == []
    assert server.app_state.requests == []


def test_long_strings_are_clipped_in_the_log(client: httpx.Client, server: EmulatorServer) -> None:
    client.post(server.url("openai") + "/images/generations", json={"prompt": "y" * 100_000})
    logged = server.app_state.requests[-1]["json"]["prompt"]
    assert logged.endswith("[clipped, 100000 chars]")


def test_configured_api_key() -> None:
    with EmulatorServer(EmulatorConfig(api_key="sk-right")) as server, httpx.Client() as http:
        target = server.url("openai") + "/images/generations"
        body = {"prompt": "x", "size": "256x256"}
        ok = http.post(target, json=body, headers={"Authorization": "Bearer sk-right"})
        assert ok.status_code == 200
        wrong = http.post(target, json=body, headers={"Authorization": "Bearer sk-wrong"})
        assert wrong.status_code == 401
        assert wrong.json()["error"]["code"] == "invalid_api_key"


def test_missing_file_is_404(anon: httpx.Client, server: EmulatorServer) -> None:
    response = anon.get(server.origin + "/files/img-nope.png")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(("fmt", "pil"), [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")])
def test_images_have_the_exact_size_and_are_cached(fmt: str, pil: str) -> None:
    spec = ImageSpec(1234, 567, fmt, (1, 2, 3))
    first = spec.render()
    assert image_size(first, pil) == (1234, 567)
    assert ImageSpec(1234, 567, fmt, (1, 2, 3)).render() is first


@pytest.mark.parametrize(
    "kwargs",
    [{"default_dialect": "midjourney"}, {"result_url_style": "signed"}, {"task_duration": -1}],
)
def test_config_is_checked(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        EmulatorConfig(**kwargs)  # type: ignore[arg-type]
