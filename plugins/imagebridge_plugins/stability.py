"""The ``stability`` provider: Stability AI's stable-image v2beta REST API
(wire facts and sources: docs/dialects/stability.md).

One request per image, no tasks: ``POST {base}/stable-image/generate/{ultra,core,sd3}`` and
``POST {base}/stable-image/edit/inpaint``, every field a multipart/form-data part (the
reference requires multipart even without files). The reply is the image itself: by default
asked for as JSON (``accept: application/json``: ``{"image": base64, "finish_reason",
"seed"}``), or as the bytes (``accept: image/*``, ``finish-reason`` and ``seed`` headers)
with ``provider_options={"stability": {"accept": "image"}}``. A ``CONTENT_FILTERED`` finish
reason (the image is blurred) is a ContentPolicyError unless ``on_filtered="warn"``. Errors
are ``{"id", "name", "errors": [...]}``.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import httpx
from pydantic import ValidationError

from imagebridge import ImageRequest, hookimpl
from imagebridge.adapter import (
    ADAPTER_API_VERSION,
    Adapter,
    AuthenticationError,
    BadRequestError,
    Capabilities,
    ContentPolicyError,
    ErrorCodes,
    Flow,
    GeneratedImage,
    ImageInput,
    ImageResult,
    ImageWarning,
    InsufficientBalanceError,
    Operation,
    Plan,
    Problem,
    Progress,
    ProviderError,
    RateLimitError,
    ServerError,
    classify,
    cut,
    extension_of,
    parse_retry_after,
    sniff_media_type,
)

from ._masks import luminance_mask, mask_problems
from ._stability_models import (
    ASPECT_RATIOS,
    INPAINT,
    MODELS,
    PATHS,
    SD35,
    StabilityOptions,
    capabilities,
    input_problems,
    request_problems,
)

_DEFAULT_OPTIONS = StabilityOptions()
_ACCEPT = {"json": "application/json", "image": "image/*"}
_CLIENT_HEADERS = {
    "client_id": "stability-client-id",
    "client_user_id": "stability-client-user-id",
    "client_version": "stability-client-version",
}


class StabilityAdapter(Adapter):
    name = "stability"
    description = "Stability AI stable-image v2beta (Ultra, Core, SD 3.5, inpaint)"
    default_base_url = "https://api.stability.ai/v2beta"
    default_model = "stable-image-ultra"
    models = MODELS
    options_model = StabilityOptions
    api_version = ADAPTER_API_VERSION
    #: The error ``name`` values of the reference, and the finish reason of a filtered image.
    error_codes: ClassVar[ErrorCodes] = {
        "bad_request": BadRequestError,
        "invalid_language": BadRequestError,
        "payload_too_large": BadRequestError,
        "unauthorized": AuthenticationError,
        "content_moderation": ContentPolicyError,
        "content_filtered": ContentPolicyError,
        "payment_required": InsufficientBalanceError,
        "rate_limit_exceeded": RateLimitError,
        "internal_error": ServerError,
    }
    wire_fields: ClassVar[Mapping[str, str]] = {
        "prompt": "`prompt` (form part)",
        "model": "the path (`generate/ultra`, `generate/core`, `generate/sd3`,"
        " `edit/inpaint`); sd3.5 models also as the `model` part",
        "n": "not sent: one image per request (n is split into n requests)",
        "size": "`aspect_ratio` (one of the nine ratios, in lowest terms)",
        "output_format": "`output_format`",
        "style": "`style_preset` (stable-image-core)",
        "seed": "`seed` (1..4294967294; 0 is Stability's 'random' and refused)",
        "negative_prompt": "`negative_prompt`",
        "reference_images": "image-to-image: the `image` file part (sd3.5: with"
        " `mode=image-to-image`), with `strength`; edits: the `image` file part",
        "mask": "edits: the `mask` file part (the canonical alpha mask converted to"
        " Stability's black-and-white one unless mask_mode='luminance')",
        "provider_options.stability.accept": "the `accept` header: `application/json`"
        " (default) or `image/*`",
        "provider_options.stability.on_filtered": "not sent: what a CONTENT_FILTERED reply"
        " becomes (`error` or `warn`)",
        "provider_options.stability.strength": "`strength` (image-to-image)",
        "provider_options.stability.cfg_scale": "`cfg_scale` (sd3.5)",
        "provider_options.stability.grow_mask": "`grow_mask` (inpaint)",
        "provider_options.stability.mask_mode": "not sent: how the mask is read"
        " (`alpha` converted, `luminance` as it is)",
        "provider_options.stability.client_id": "the `stability-client-id` header",
        "provider_options.stability.client_user_id": "the `stability-client-user-id` header",
        "provider_options.stability.client_version": "the `stability-client-version` header",
    }

    def request_problems(
        self,
        model: str,
        operation: Operation,
        request: ImageRequest,
        capabilities: Capabilities,
    ) -> Iterable[Problem]:
        options = _parsed_options(request)
        problems = request_problems(model, operation, request, options)
        if operation == "edit" and model != INPAINT:
            reason = "Stability edits with inpaint: model='inpaint'"
            problems.append(Problem("model", model, reason))
        problems += input_problems(request, operation)
        mask = request.mask
        if (
            mask is not None
            and operation == "edit"
            and (options is None or options.mask_mode == "alpha")
        ):
            problems += mask_problems(mask, "stability")
        return problems

    def capabilities(self, model: str) -> Capabilities:
        return capabilities(model)

    # -- flows --------------------------------------------------------------------------------
    def generate(self, plan: Plan) -> Flow[ImageResult]:
        return (yield from self._call(plan))

    def edit(self, plan: Plan) -> Flow[ImageResult]:
        return (yield from self._call(plan))

    def _call(self, plan: Plan) -> Flow[ImageResult]:
        outgoing = self.request(plan)
        yield Progress("submitting", provider=self.name)
        response = yield outgoing
        assert response is not None
        return self.result(response, plan)

    # -- the request --------------------------------------------------------------------------
    def request(self, plan: Plan) -> httpx.Request:
        """The multipart request of one call (one image)."""
        options = _options(plan)
        request = plan.request
        model = plan.model
        text: list[tuple[str, str]] = [("prompt", request.prompt)]
        files: list[tuple[str, tuple[str, bytes, str]]] = []
        path = PATHS.get(model, PATHS[SD35[0]])
        image = request.reference_images[0] if request.reference_images else None
        if path == PATHS[SD35[0]]:
            text.append(("model", model))
            if image is not None:
                text.append(("mode", "image-to-image"))
        if request.size is not None and model != INPAINT:
            size = request.size
            text.append(
                ("aspect_ratio", str(size) if str(size) in ASPECT_RATIOS else size.ratio_key)
            )
        if request.negative_prompt is not None:
            text.append(("negative_prompt", request.negative_prompt))
        if request.seed is not None:
            text.append(("seed", str(request.seed)))
        if request.style is not None:
            text.append(("style_preset", request.style))
        if request.output_format is not None:
            text.append(("output_format", request.output_format))
        if image is not None:
            files.append(("image", _file(image, "image")))
            if options.strength is not None:
                text.append(("strength", _number(options.strength)))
        if request.mask is not None:
            if options.mask_mode == "alpha":
                files.append(
                    ("mask", ("mask.png", luminance_mask(request.mask.read()), "image/png"))
                )
            else:
                files.append(("mask", _file(request.mask, "mask")))
        if options.cfg_scale is not None:
            text.append(("cfg_scale", _number(options.cfg_scale)))
        if options.grow_mask is not None:
            text.append(("grow_mask", str(options.grow_mask)))
        headers = {"accept": _ACCEPT[options.accept]}
        for option, header in _CLIENT_HEADERS.items():
            value = getattr(options, option)
            if value is not None:
                headers[header] = value
        # Text parts as files without a filename: plain form fields, and multipart even when
        # no image is sent (httpx encodes data= alone as urlencoded).
        parts: list[tuple[str, Any]] = [(key, (None, value.encode())) for key, value in text]
        return httpx.Request("POST", self.url(path), headers=headers, files=[*parts, *files])

    # -- the reply ----------------------------------------------------------------------------
    def result(self, response: httpx.Response, plan: Plan) -> ImageResult:
        if response.is_error:
            raise self.error(response)
        options = _options(plan)
        if options.accept == "json":
            body = self.mapping(response)
            b64 = body.get("image")
            if not isinstance(b64, str) or not b64:
                raise self.unexpected(response, "the answer has no image (base64 string)")
            try:
                head = binascii.a2b_base64(b64[:24])
            except (binascii.Error, ValueError):
                head = b""
            if sniff_media_type(head) is None:
                raise self.unexpected(response, "the image is not base64 PNG, JPEG or WebP")
            image = GeneratedImage(b64_json=b64)
            finish, seed = body.get("finish_reason"), body.get("seed")
        else:
            content = response.content
            if sniff_media_type(content[:16]) is None:
                raise self.unexpected(response, "the body is not a PNG, JPEG or WebP image")
            image = GeneratedImage(data=content)
            finish, seed = response.headers.get("finish-reason"), response.headers.get("seed")
        raw = {"finish_reason": finish, "seed": _seed(seed)}
        warnings = self._finish(response, finish, options, raw)
        return ImageResult(
            images=[image], provider=self.name, model=plan.model, warnings=warnings, raw=[raw]
        )

    def _finish(
        self,
        response: httpx.Response,
        finish: Any,
        options: StabilityOptions,
        raw: dict[str, Any],
    ) -> list[ImageWarning]:
        if finish == "SUCCESS":
            return []
        if finish is None:
            return [
                ImageWarning(
                    "content_filtered",
                    "Stability's reply has no finish reason: whether the content filter"
                    " blurred the image could not be checked",
                )
            ]
        if finish != "CONTENT_FILTERED":
            raise self.unexpected(response, f"unknown finish reason {cut(str(finish), 60)!r}")
        message = (
            "Stability's content filter flagged the output (finish_reason CONTENT_FILTERED):"
            " the image it returned is blurred"
        )
        if options.on_filtered == "error":
            raise ContentPolicyError(
                f"{message}; provider_options={{'stability': {{'on_filtered': 'warn'}}}}"
                " returns it with a warning",
                provider=self.name,
                status_code=response.status_code,
                code="CONTENT_FILTERED",
                request_id=response.headers.get("x-request-id"),
                body=raw,
            )
        return [ImageWarning("content_filtered", message)]

    def error(self, response: httpx.Response, *, task_id: str | None = None) -> ProviderError:
        """Stability's ``{"id", "name", "errors": [...]}``; anything else (an HTML page from a
        proxy, another JSON shape) goes to the shared parser."""
        try:
            body = response.json()
        except (ValueError, RecursionError):
            body = None
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(body, dict) or not isinstance(name, str) or not name:
            return super().error(response, task_id=task_id)
        errors = body.get("errors")
        if isinstance(errors, list):
            message = "; ".join(str(item) for item in errors if isinstance(item, str | int))
        else:
            message = str(body.get("message") or "")
        error_id = body.get("id")
        cls = classify(response.status_code, name, "", self.error_codes)
        error = cls(
            cut(message, 500) or name,
            provider=self.name,
            status_code=response.status_code,
            code=cut(name, 100),
            request_id=str(error_id) if isinstance(error_id, str | int) else None,
            task_id=task_id,
            body=body,
        )
        if isinstance(error, RateLimitError):
            error.retry_after = parse_retry_after(response.headers)
        return error


def _options(plan: Plan) -> StabilityOptions:
    return plan.options if isinstance(plan.options, StabilityOptions) else _DEFAULT_OPTIONS


def _file(image: ImageInput, stem: str) -> tuple[str, bytes, str]:
    """A file part: the file's own name for a path, else ``<stem>.<ext>``."""
    data = image.read()
    media_type = sniff_media_type(data[:16]) or "application/octet-stream"
    name = image.filename(0) if image.kind == "path" else f"{stem}.{extension_of(media_type)}"
    return (name, data, media_type)


def _number(value: float) -> str:
    """``0.5`` -> ``0.5``, ``1.0`` -> ``1``: the shortest text of a form number."""
    return format(value, "g")


def _seed(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) <= 12:
        return int(value)
    return None


def _parsed_options(request: ImageRequest) -> StabilityOptions | None:
    given = request.provider_options.get("stability")
    if not given:
        return _DEFAULT_OPTIONS
    try:
        return StabilityOptions.model_validate(given)
    except ValidationError:
        return None  # pre-flight reports it


@hookimpl
def imagebridge_adapters() -> list[type[Adapter]]:
    return [StabilityAdapter]
