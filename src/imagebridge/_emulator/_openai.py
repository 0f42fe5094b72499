"""The OpenAI Images dialect and geeknow (new-api gateway) on top of it: routes and responses.

- ``POST /images/generations`` (JSON).
- ``POST /images/edits``: multipart (``image`` once or repeated, or ``image[]``; optional
  ``mask``), or JSON (``images: [{"image_url"|"file_id"}]``, optional ``mask``; GPT image
  models only). An ``image_url`` is never fetched: the result is made from the prompt.
- ``POST /images/variations`` (multipart: one square PNG ``image``; dall-e-2 only), in the
  ``openai`` dialect; geeknow does not document variations, so it has no such route.

Every answer is synchronous: ``{"created", "data": [{"url"|"b64_json", "revised_prompt"?}]}``,
except a GPT image model's ``stream: true`` generation or edit, which answers server-sent
events (:mod:`._openai_stream`).
URL results point at ``<origin>/files/<name>`` (no key needed). dall-e-3 adds a
``revised_prompt``; the GPT image models add ``usage`` (``input_tokens``, ``output_tokens``,
``total_tokens``, ``input_tokens_details``) and echo ``background``, ``output_format``,
``quality`` and ``size`` with every ``auto`` resolved (``ImagesResponse`` allows no
``auto``). Validation lives in :mod:`._openai_rules` and :mod:`._openai_inputs`. A
``#fail=<code>`` prompt answers the matching HTTP error (400 for moderation codes, else 502).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._errors import ApiError
from ._http import Auth, Handler, StyleFor, endpoint, origin, read_form, read_json
from ._images import ImageSpec, colour_for
from ._openai_inputs import check_edit_uploads, check_references, check_square_png
from ._openai_models import EDIT, EDIT_JSON, GENERATE, VARY
from ._openai_rules import Flavor, Job, build_job, check_known
from ._openai_stream import stream_response
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

        routes = [
            Route("/images/generations", wrap(self.generations), methods=["POST"]),
            Route("/images/edits", wrap(self.edits), methods=["POST"]),
        ]
        if not self.flavor.gateway:
            routes.append(Route("/images/variations", wrap(self.variations), methods=["POST"]))
        return routes

    def _known(self, names: Iterable[str], operation: str) -> None:
        if not self.flavor.gateway:  # a gateway passes unknown fields to the upstream
            check_known(names, operation)

    async def generations(self, request: Request) -> Response:
        body = await read_json(request)
        self._known(body, GENERATE)
        job = build_job(body, self.flavor, GENERATE)
        return await self._respond(request, job)

    async def edits(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "").lower()
        if content_type.startswith("application/json"):
            body = await read_json(request)
            self._known(body, EDIT_JSON)
            count = check_references(body)
            job = build_job(body, self.flavor, EDIT_JSON, image_count=count)
            return await self._respond(request, job)
        if "multipart/form-data" not in content_type:
            raise ApiError(
                400,
                "unsupported_content_type",
                "Image edits take multipart/form-data (uploaded files) or application/json "
                f"(image references); got '{content_type or 'no content type'}'.",
            )
        form = await read_form(request)
        try:
            self._known(form.keys(), EDIT)
            images = _uploads(form, "image", "image[]")
            mask = _uploads(form, "mask")
            job = build_job(_text(form), self.flavor, EDIT, image_count=len(images))
            if not images:
                raise ApiError(
                    400,
                    "missing_required_parameter",
                    "Missing required parameter: 'image'.",
                    param="image",
                )
            check_edit_uploads(images, mask[0] if mask else None, job.rules)
            return await self._respond(request, job)
        finally:
            await form.close()

    async def variations(self, request: Request) -> Response:
        form = await read_form(request)
        try:
            self._known(form.keys(), VARY)
            images = _uploads(form, "image")
            job = build_job(_text(form), self.flavor, VARY, image_count=len(images))
            if len(images) != 1:
                raise ApiError(
                    400,
                    "missing_required_parameter" if not images else "invalid_value",
                    "Missing required parameter: 'image'."
                    if not images
                    else f"Invalid 'image': a variation takes one image, got {len(images)}.",
                    param="image",
                )
            picture = check_square_png(images[0], "dall-e-2 variations")
            seed = hashlib.sha256(images[0].file.read(65536)).hexdigest()
            images[0].file.seek(0)
            return await self._respond(request, job, seed=f"{seed}:{picture.width}")
        finally:
            await form.close()

    async def _respond(self, request: Request, job: Job, *, seed: str | None = None) -> Response:
        failure = job.scenario.sync_failure()
        if failure is not None:
            if self.flavor.name == "openai" and failure.status == 400:
                failure.type_ = "image_generation_user_error"
            raise failure
        transparent = job.background == "transparent"
        if job.stream:
            specs = [
                ImageSpec(job.width, job.height, job.fmt, colour_for(job.prompt, i), transparent)
                for i in range(job.n)
            ]
            each = usage(replace(job, n=1))
            delay = self.state.config.stream_delay
            return stream_response(job, specs, [each] * job.n, delay)
        base = origin(request)
        data: list[dict[str, Any]] = []
        for index in range(job.n):
            colour = colour_for(seed if seed is not None else job.prompt, index)
            spec = ImageSpec(job.width, job.height, job.fmt, colour, transparent)
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
                # The spec's enum lists the standard sizes only; gpt-image-2 makes others, and
                # the SDK types the field as any WIDTHxHEIGHT string: the size made is echoed.
                size=f"{job.width}x{job.height}",
                usage=usage(job),
            )
        return JSONResponse(body)


def _uploads(form: FormData, *keys: str) -> list[UploadFile]:
    """The uploaded files under ``keys``; a text value there is a 400."""
    files: list[UploadFile] = []
    for key in keys:
        for value in form.getlist(key):
            if not isinstance(value, UploadFile):
                raise ApiError(400, "invalid_type", f"'{key}' must be an uploaded file.", param=key)
            files.append(value)
    return files


def _text(form: FormData) -> dict[str, str]:
    return {key: value for key, value in form.items() if isinstance(value, str)}


def revise(prompt: str) -> str:
    """dall-e-3's rewritten prompt (deterministic)."""
    return f"A detailed, high-quality image of: {prompt.strip()}"


def usage(job: Job) -> dict[str, Any]:
    """Token usage in the gpt-image shape, derived from the prompt, inputs and output size."""
    text_tokens = max(1, math.ceil(len(job.prompt) / 4))
    image_tokens = IMAGE_INPUT_TOKENS * job.image_count
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
