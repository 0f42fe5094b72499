"""litellm, measured in its own interpreter (``$IMAGEBRIDGE_BENCH_LITELLM_PYTHON``).

Run as ``python -m bench._litellm_worker MODE ARGS_JSON`` from the repository root by an
interpreter that has litellm (and so httpx and the openai SDK) but not imagebridge. It times
raw httpx and litellm interleaved in that same process, so the ratio it reports is as fair
as the main run's. MODE is ``overhead`` (in-process mock transport) or ``loopback`` (ARGS
gives the emulator's geeknow base URL). Only the standard library, httpx, openai and litellm
are imported; the figures go to stdout as one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import httpx

from ._stats import summarize, time_async, time_sync

PROMPT = "a red cube on a white table"
MODEL = "gpt-image-1"
API_KEY = "sk-bench-0123456789"
BODY = {
    "created": 1700000000,
    "data": [{"url": "https://files.bench.invalid/img/abc123.png?sig=0f1e2d"}],
    "usage": {"input_tokens": 7, "output_tokens": 1056, "total_tokens": 1063},
}


def _openai_http_module() -> Any:
    """The httpx flavour this openai version wants for ``http_client`` (httpx or httpx2)."""
    import openai._base_client as base

    return getattr(base, "httpx2", httpx)


def _mock(module: Any) -> Any:
    content = json.dumps(BODY).encode()
    headers = {"content-type": "application/json"}
    return module.MockTransport(
        lambda request: module.Response(200, content=content, headers=headers)
    )


def main() -> None:
    mode, args = sys.argv[1], json.loads(sys.argv[2])
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import
    import litellm  # type: ignore[import-not-found,unused-ignore]
    from openai import AsyncOpenAI, OpenAI

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    base_url: str = args["base_url"]
    mock = mode == "overhead"
    oa_http = _openai_http_module()
    # No response_format: litellm refuses it for gpt-image-1, and the geeknow emulator
    # answers with a URL by default anyway.
    body: dict[str, Any] = {"model": MODEL, "prompt": PROMPT, "n": 1}
    auth = {"Authorization": f"Bearer {API_KEY}"}
    url = f"{base_url}/images/generations"

    raw = httpx.Client(transport=_mock(httpx) if mock else None)
    oa = OpenAI(
        api_key=API_KEY,
        base_url=base_url,
        http_client=oa_http.Client(transport=_mock(oa_http)) if mock else None,
    )

    def raw_call() -> object:
        response = raw.post(url, json=body, headers=auth)
        response.raise_for_status()
        return response.json()["data"][0]["url"]

    def litellm_call() -> object:
        result = litellm.image_generation(
            model=f"openai/{MODEL}",
            prompt=PROMPT,
            api_key=API_KEY,
            api_base=base_url,
            client=oa if mock else None,
        )
        return result.data[0].url

    if str(litellm_call()).split("/files/")[0] != str(raw_call()).split("/files/")[0]:
        raise AssertionError("litellm and raw httpx did not do the same job")
    rounds, batch, warmup = args["rounds"], args["batch"], args["warmup"]
    calls = {"raw-httpx": raw_call, "litellm": litellm_call}
    out: dict[str, Any] = {
        "litellm_version": getattr(litellm, "version", None) or _version("litellm"),
        "sync": summarize(time_sync(calls, rounds=rounds, batch=batch, warmup=warmup), "raw-httpx"),
    }

    araw = httpx.AsyncClient(transport=_mock(httpx) if mock else None)
    aoa = AsyncOpenAI(
        api_key=API_KEY,
        base_url=base_url,
        http_client=oa_http.AsyncClient(transport=_mock(oa_http)) if mock else None,
    )

    async def araw_call() -> object:
        response = await araw.post(url, json=body, headers=auth)
        response.raise_for_status()
        return response.json()["data"][0]["url"]

    async def alitellm_call() -> object:
        result = await litellm.aimage_generation(
            model=f"openai/{MODEL}",
            prompt=PROMPT,
            api_key=API_KEY,
            api_base=base_url,
            client=aoa if mock else None,
        )
        return result.data[0].url

    acalls = {"raw-httpx": araw_call, "litellm": alitellm_call}
    samples = time_async(acalls, rounds=rounds, batch=batch, warmup=warmup)
    out["async"] = summarize(samples, "raw-httpx")
    print(json.dumps(out))


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    main()
