"""The OpenAI Images dialect and geeknow (new-api gateway) on top of it: routes and responses.

``POST /images/generations`` (JSON) and ``POST /images/edits`` (multipart: ``image`` once or
repeated, or ``image[]``; optional ``mask``) answer synchronously with
``{"created", "data": [{"url"|"b64_json", "revised_prompt"?}]}``. URL results point at
``<origin>/files/<name>`` (no key needed). dall-e-3 adds a ``revised_prompt``; gpt-image models
add ``usage`` (``input_tokens``, ``output_tokens``, ``total_tokens``,
``input_tokens_details``) and echo ``background``, ``output_format``, ``quality`` and ``size``.
Validation lives in :mod:`._openai_rules`. A ``#fail=<code>`` prompt answers the matching HTTP
error (400 for moderation codes, else 502).
"""

from __future__ import annotations

import math
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._errors import ApiError
from ._http import Auth, Handler, StyleFor, endpoint, origin, read_form, read_json
from ._images import ImageSpec, colour_for
from ._openai_rules import Flavor, Job, build_job
from ._store import EmulatorState

OUTPUT_TOKENS = {"low": 272, "medium": 1056, "high": 4160}
IMAGE_INPUT_TOKENS = 194


class OpenAIDialect:
    """Routes of the ``openai`` dialect, or of ``geeknow`` when ``gateway`` is true."""

    def __init__(self, state: EmulatorState, *, gateway: bool = False) -> None:
        self.state = state
        self.flavor = Flavor(name="geeknow" if gateway else "openai", gateway=gateway)
        self.style: str | StyleFor = self.flavor.name
        self.auth = Auth(type_="new_api_error") if gateway else Auth()

    def routes(self) -> list[Route]:
        def wrap(handler: Handler) -> Handler:
            return endpoint(self.state, self.style, handler, self.auth)

        return [
            Route("/images/generations", wrap(self.generations), methods=["POST"]),
            Route("/images/edits", wrap(self.edits), methods=["POST"]),
        ]

    async def generations(self, request: Request) -> Response:
        body = await read_json(request)
        job = build_job(body, self.flavor)
        return await self._respond(request, job, image_count=0)

    async def edits(self, request: Request) -> Response:
        form = await read_form(request)
        try:
            images: list[UploadFile] = []
            for key in ("image", "image[]"):
                for value in form.getlist(key):
                    if not isinstance(value, UploadFile):
                        raise ApiError(
                            400, "invalid_type", f"'{key}' must be an uploaded file.", param=key
                        )
                    images.append(value)
            mask = form.get("mask")
            if mask is not None and not isinstance(mask, UploadFile):
                raise ApiError(
                    400, "invalid_type", "'mask' must be an uploaded file.", param="mask"
                )
            fields = {key: value for key, value in form.items() if isinstance(value, str)}
            job = build_job(fields, self.flavor, edit=True, image_count=len(images))
            if not images:
                raise ApiError(
                    400,
                    "missing_required_parameter",
                    "Missing required parameter: 'image'.",
                    param="image",
                )
            return await self._respond(request, job, image_count=len(images))
        finally:
            await form.close()

    async def _respond(self, request: Request, job: Job, *, image_count: int) -> Response:
        failure = job.scenario.sync_failure()
        if failure is not None:
            if self.flavor.name == "openai" and failure.status == 400:
                failure.type_ = "image_generation_user_error"
            raise failure
        transparent = job.background == "transparent"
        base = origin(request)
        data: list[dict[str, Any]] = []
        for index in range(job.n):
            spec = ImageSpec(
                job.width, job.height, job.fmt, colour_for(job.prompt, index), transparent
            )
            item: dict[str, Any] = {}
            if job.response_format == "url":
                item["url"] = f"{base}/files/{self.state.add_file(spec, self.flavor.name)}"
            else:
                item["b64_json"] = await run_in_threadpool(spec.b64)
            if job.family == "dall-e-3":
                item["revised_prompt"] = revise(job.prompt)
            data.append(item)
        body: dict[str, Any] = {"created": int(time.time()), "data": data}
        if job.gpt_image:
            body.update(
                background=job.background,
                output_format=job.fmt,
                quality=job.quality,
                size=f"{job.width}x{job.height}",
                usage=usage(job, image_count),
            )
        return JSONResponse(body)


def revise(prompt: str) -> str:
    """dall-e-3's rewritten prompt (deterministic)."""
    return f"A detailed, high-quality image of: {prompt.strip()}"


def usage(job: Job, image_count: int) -> dict[str, Any]:
    """Token usage in the gpt-image shape, derived from the prompt, inputs and output size."""
    text_tokens = max(1, math.ceil(len(job.prompt) / 4))
    image_tokens = IMAGE_INPUT_TOKENS * image_count
    per_image = OUTPUT_TOKENS.get(job.quality, OUTPUT_TOKENS["medium"])
    scale = job.width * job.height / (1024 * 1024)
    output_tokens = job.n * max(1, math.ceil(per_image * scale))
    input_tokens = text_tokens + image_tokens
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
        "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
    }
