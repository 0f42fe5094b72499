"""The ``google`` provider: the Gemini API's image models (docs/dialects/google.md).

Two endpoints, both one request with the images inline in the answer:

- Gemini image models (``gemini-2.5-flash-image``, ``gemini-3-pro-image-preview``,
  ``gemini-3.1-flash-image-preview``): ``POST /models/{model}:generateContent`` with the prompt
  and any reference images as ``parts`` (``inlineData``), ``generationConfig.responseModalities``
  and ``imageConfig {aspectRatio, imageSize}``; edits are the same request with the images to
  edit. One image per call (no ``candidateCount``).
- Imagen 4 (``imagen-4.0-*-generate-001``): ``POST /models/{model}:predict`` with
  ``{"instances": [{"prompt"}], "parameters": {"sampleCount", "aspectRatio", ...}}``. Google
  shut Imagen down on the Gemini API on 2026-08-17 and google-genai 3.x no longer sends it;
  the models are kept for accounts and proxies that still serve them. No edits (Vertex only).

The key goes in ``x-goog-api-key``, never in the URL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field

from imagebridge import ImageRequest, hookimpl
from imagebridge.adapter import (
    Adapter,
    Capabilities,
    Flow,
    GeneratedImage,
    ImageResult,
    ImageWarning,
    InlineImage,
    Operation,
    Plan,
    Problem,
    Progress,
    ProviderError,
    Usage,
    error_from_response,
    json_request,
    size_table,
)

from ._google_wire import (
    BLOCK_CODES,
    ERROR_CODES,
    blocked,
    decoded_image,
    google_error,
    without_base64,
)

IMAGEN_MODELS = (
    "imagen-4.0-generate-001",
    "imagen-4.0-ultra-generate-001",
    "imagen-4.0-fast-generate-001",
)
GEMINI_MODELS = (
    "gemini-2.5-flash-image",
    "gemini-3-pro-image-preview",
    "gemini-3.1-flash-image-preview",
)
#: ai.google.dev/gemini-api/docs/image-generation, 'Aspect ratios and image size'.
GEMINI_25_SIZES = size_table(
    {
        "1:1": {"1k": "1024x1024"},
        "3:2": {"1k": "1248x832"},
        "4:3": {"1k": "1184x864"},
        "5:4": {"1k": "1152x896"},
        "16:9": {"1k": "1344x768"},
        "21:9": {"1k": "1536x672"},
    }
)
GEMINI_3_SIZES = size_table(
    {
        "1:1": {"1k": "1024x1024", "2k": "2048x2048", "4k": "4096x4096"},
        "3:2": {"1k": "1264x848", "2k": "2528x1696", "4k": "5056x3392"},
        "4:3": {"1k": "1200x896", "2k": "2400x1792", "4k": "4800x3584"},
        "5:4": {"1k": "1152x928", "2k": "2304x1856", "4k": "4608x3712"},
        "16:9": {"1k": "1376x768", "2k": "2752x1536", "4k": "5504x3072"},
        "21:9": {"1k": "1584x672", "2k": "3168x1344", "4k": "6336x2688"},
    }
)
#: ai.google.dev/gemini-api/docs/imagen: five ratios, 1K (and 2K on Standard and Ultra).
IMAGEN_SIZES = size_table(
    {
        "1:1": {"1k": "1024x1024", "2k": "2048x2048"},
        "4:3": {"1k": "1280x896", "2k": "2560x1792"},
        "16:9": {"1k": "1408x768", "2k": "2816x1536"},
    }
)
# 21:9 has no portrait twin on the Gemini API.
del GEMINI_25_SIZES["9:21"], GEMINI_3_SIZES["9:21"]
#: The inline data of a request is at most 20 MB, and base64 adds a third.
MAX_INLINE_BYTES = 15 * 1024 * 1024
_TIERS = {"1k": "1K", "2k": "2K", "4k": "4K"}
_MIME = {"png": "image/png", "jpeg": "image/jpeg"}


class GoogleOptions(BaseModel):
    """``provider_options["google"]``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    #: Imagen ``personGeneration``; the Gemini API refuses ``allow_all`` in some regions.
    person_generation: Literal["dont_allow", "allow_adult", "allow_all"] | None = None
    #: Imagen ``includeRaiReason``: filtered images say why instead of vanishing.
    include_rai_reason: bool | None = None
    #: Gemini ``responseModalities``: ``["TEXT", "IMAGE"]`` (the default) or ``["IMAGE"]``.
    response_modalities: tuple[Literal["TEXT", "IMAGE"], ...] = Field(
        ("TEXT", "IMAGE"), min_length=1, strict=False
    )


_DEFAULT_OPTIONS = GoogleOptions()
#: Which options each endpoint takes (the others are refused before sending).
_IMAGEN_OPTIONS = frozenset({"person_generation", "include_rai_reason"})
_GEMINI_OPTIONS = frozenset({"response_modalities"})


def is_imagen(model: str) -> bool:
    return model.startswith("imagen-")


class GoogleAdapter(Adapter):
    name = "google"
    description = "Google Gemini API (Gemini image models; Imagen 4 :predict)"
    default_base_url = "https://generativelanguage.googleapis.com/v1beta"
    default_model = "gemini-2.5-flash-image"
    models = (*GEMINI_MODELS, *IMAGEN_MODELS)
    options_model = GoogleOptions
    error_codes = ERROR_CODES
    wire_fields: ClassVar[Mapping[str, str]] = {
        "prompt": "Gemini: the first `contents[0].parts[].text`; Imagen: `instances[0].prompt`",
        "model": "the URL path `/models/{model}:generateContent` or `:predict`",
        "n": "Imagen: `parameters.sampleCount`; Gemini: one image per call (not sent)",
        "size": "`generationConfig.imageConfig.aspectRatio` or `parameters.aspectRatio` (W:H;"
        " `auto` sends none: the model's default, 1:1 or the edited image's ratio)",
        "resolution": "`imageConfig.imageSize` or `parameters.sampleImageSize` (`1K`, `2K`, `4K`)",
        "output_format": "Imagen only: `parameters.outputOptions.mimeType`",
        "output_compression": "Imagen only: `parameters.outputOptions.compressionQuality`",
        "seed": "Gemini only: `generationConfig.seed`",
        "reference_images": "Gemini: `contents[0].parts[].inlineData {mimeType, data}` after"
        " the text (generate and edit)",
        "provider_options.google.person_generation": "Imagen:"
        " `parameters.personGeneration` (`DONT_ALLOW`, `ALLOW_ADULT`, `ALLOW_ALL`)",
        "provider_options.google.include_rai_reason": "Imagen: `parameters.includeRaiReason`",
        "provider_options.google.response_modalities": "Gemini:"
        " `generationConfig.responseModalities`",
    }

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"x-goog-api-key": api_key}

    def request_problems(
        self,
        model: str,
        operation: Operation,
        request: ImageRequest,
        capabilities: Capabilities,
    ) -> Iterable[Problem]:
        return _option_problems(model, request) + _input_problems(request, operation)

    def capabilities(self, model: str) -> Capabilities:
        if is_imagen(model):
            return Capabilities(
                model=model,
                known=model in IMAGEN_MODELS,
                native_ratio=True,
                size_presets=IMAGEN_SIZES,
                resolutions=("1k",) if "fast" in model else ("1k", "2k"),
                max_n=4,
                max_images_per_call=4,
                output_formats=("png", "jpeg"),
                output_compression=True,
                user=False,
            )
        three = model != "gemini-2.5-flash-image"
        inputs = 14 if three else 3
        return Capabilities(
            model=model,
            known=model in GEMINI_MODELS,
            native_ratio=True,
            size_presets=GEMINI_3_SIZES if three else GEMINI_25_SIZES,
            resolutions=("1k", "2k", "4k") if three else ("1k",),
            max_n=1,
            max_images_per_call=1,
            user=False,
            seed=True,
            max_reference_images=inputs,
            max_input_image_bytes=MAX_INLINE_BYTES,
            edits=True,
            max_edit_images=inputs,
        )

    # -- requests -----------------------------------------------------------------------------
    def _url(self, model: str, method: str) -> str:
        return self.url(f"/models/{quote(model, safe='')}:{method}")

    def predict_request(self, plan: Plan) -> httpx.Request:
        request = plan.request
        options = _options(plan)
        parameters: dict[str, Any] = {"sampleCount": plan.n}
        if plan.wire_size not in (None, "auto"):
            parameters["aspectRatio"] = plan.wire_size
        if plan.wire_resolution is not None:
            parameters["sampleImageSize"] = _TIERS[plan.wire_resolution]
        if options.person_generation is not None:
            # The SDK's PersonGeneration enum values (the docs also show lower case).
            parameters["personGeneration"] = options.person_generation.upper()
        if options.include_rai_reason is not None:
            parameters["includeRaiReason"] = options.include_rai_reason
        output: dict[str, Any] = {}
        if request.output_format is not None:
            output["mimeType"] = _MIME[request.output_format]
        if request.output_compression is not None:
            output["compressionQuality"] = request.output_compression
        if output:
            parameters["outputOptions"] = output
        body = {"instances": [{"prompt": request.prompt}], "parameters": parameters}
        return httpx.Request("POST", self._url(plan.model, "predict"), json=body)

    def content_request(self, plan: Plan) -> httpx.Request:
        request = plan.request
        parts: list[dict[str, Any]] = [{"text": request.prompt}]
        for image in request.reference_images:
            data = InlineImage(image, "base64")
            parts.append({"inlineData": {"mimeType": image.media_type(), "data": data}})
        config: dict[str, Any] = {"responseModalities": list(_options(plan).response_modalities)}
        image_config: dict[str, Any] = {}
        if plan.wire_size not in (None, "auto"):
            image_config["aspectRatio"] = plan.wire_size
        if plan.wire_resolution is not None:
            image_config["imageSize"] = _TIERS[plan.wire_resolution]
        if image_config:
            config["imageConfig"] = image_config
        if request.seed is not None:
            config["seed"] = request.seed
        body = {"contents": [{"role": "user", "parts": parts}], "generationConfig": config}
        return json_request("POST", self._url(plan.model, "generateContent"), body)

    # -- flows --------------------------------------------------------------------------------
    def generate(self, plan: Plan) -> Flow[ImageResult]:
        yield Progress("submitting", provider=self.name)
        if is_imagen(plan.model):
            response = yield self.predict_request(plan)
            assert response is not None
            return self.predictions(response, plan)
        response = yield self.content_request(plan)
        assert response is not None
        return self.candidates(response, plan)

    def edit(self, plan: Plan) -> Flow[ImageResult]:
        # Pre-flight refuses edits on Imagen (Capabilities.edits is False there).
        return (yield from self.generate(plan))

    # -- answers ------------------------------------------------------------------------------
    def error(self, response: httpx.Response, *, task_id: str | None = None) -> ProviderError:
        generic = error_from_response(response, provider=self.name, task_id=task_id)
        body = generic.body
        fields = {
            "body": body,
            "message": generic.message,
            "code": generic.code,
            "request_id": generic.request_id,
        }
        return google_error(response, self.name, fields, task_id)

    def predictions(self, response: httpx.Response, plan: Plan) -> ImageResult:
        body = self.mapping(response)
        items = body.get("predictions", [])
        if not isinstance(items, list):
            raise self.unexpected(response, "predictions is not a list")
        images: list[GeneratedImage] = []
        reasons: list[str] = []
        for item in items:
            if not isinstance(item, Mapping):
                raise self.unexpected(response, "an entry of predictions is not an object")
            reason = item.get("raiFilteredReason")
            image = decoded_image(item.get("bytesBase64Encoded"))
            if image is not None:
                images.append(image)
            elif isinstance(reason, str) and reason:
                reasons.append(reason)
            elif "bytesBase64Encoded" in item:
                raise self.unexpected(response, "an image is not base64")
        raw = without_base64(body)
        if not images:
            message = (
                "; ".join(reasons)
                if reasons
                else "every image was filtered out (set provider_options.google"
                ".include_rai_reason=True to be told why)"
            )
            raise blocked(self.name, "RAI_FILTERED", message, raw)
        warnings = []
        if len(images) < plan.n:
            # The client adds its own fewer_images count; this one says why.
            why = f": {'; '.join(reasons)}" if reasons else " by Google's safety filters"
            warnings.append(
                ImageWarning(
                    "content_filtered",
                    f"{plan.n - len(images)} of {plan.n} images were filtered out{why}",
                )
            )
        return ImageResult(
            images=images, provider=self.name, model=plan.model, warnings=warnings, raw=[raw]
        )

    def candidates(self, response: httpx.Response, plan: Plan) -> ImageResult:
        body = self.mapping(response)
        raw = without_base64(body)
        feedback = body.get("promptFeedback")
        if isinstance(feedback, Mapping) and isinstance(feedback.get("blockReason"), str):
            code = feedback["blockReason"]
            message = feedback.get("blockReasonMessage")
            text = message if isinstance(message, str) and message else f"prompt blocked: {code}"
            raise blocked(self.name, code, text, raw)
        candidates = body.get("candidates")
        if not isinstance(candidates, list) or not candidates:
            raise self.unexpected(response, "the answer has no candidates")
        images: list[GeneratedImage] = []
        texts: list[str] = []
        reasons: list[str] = []
        for candidate in candidates:
            if not isinstance(candidate, Mapping):
                raise self.unexpected(response, "a candidate is not an object")
            finish = candidate.get("finishReason")
            if isinstance(finish, str) and finish not in ("STOP", "MAX_TOKENS"):
                reasons.append(finish)
            content = candidate.get("content")
            parts = content.get("parts") if isinstance(content, Mapping) else None
            for part in parts if isinstance(parts, list) else ():
                if not isinstance(part, Mapping) or part.get("thought") is True:
                    continue  # thoughts (gemini 3) hold interim images, not results
                inline = part.get("inlineData")
                if isinstance(inline, Mapping):
                    image = decoded_image(inline.get("data"))
                    if image is None:
                        raise self.unexpected(response, "an inlineData part is not base64")
                    images.append(image)
                elif isinstance(part.get("text"), str):
                    texts.append(part["text"])
        if not images:
            code = next((r for r in reasons if r in BLOCK_CODES), reasons[0] if reasons else "")
            said = f": {cut_text(' '.join(texts))}" if texts else ""
            if code in BLOCK_CODES:
                raise blocked(self.name, code, f"the image was blocked ({code}){said}", raw)
            raise self.unexpected(
                response, f"the answer holds no image (finishReason {code or 'missing'}){said}"
            )
        usage = body.get("usageMetadata")
        return ImageResult(
            images=images,
            provider=self.name,
            model=plan.model,
            usage=_usage(usage) if isinstance(usage, Mapping) else None,
            raw=[raw],
        )


def cut_text(text: str) -> str:
    return text if len(text) <= 200 else text[:199] + "…"


def _usage(data: Mapping[str, Any]) -> Usage | None:
    return Usage.from_dict(
        {
            "input_tokens": data.get("promptTokenCount"),
            "output_tokens": data.get("candidatesTokenCount"),
            "total_tokens": data.get("totalTokenCount"),
        }
    )


def _options(plan: Plan) -> GoogleOptions:
    return plan.options if isinstance(plan.options, GoogleOptions) else _DEFAULT_OPTIONS


def _option_problems(model: str, request: ImageRequest) -> list[Problem]:
    given = request.provider_options.get("google", {})
    taken = _IMAGEN_OPTIONS if is_imagen(model) else _GEMINI_OPTIONS
    where = "Imagen (:predict)" if is_imagen(model) else "Gemini image models (:generateContent)"
    return [
        Problem(
            f"provider_options.google.{name}",
            value,
            f"{where} take no {name}; it applies to"
            f" {'Gemini image models' if is_imagen(model) else 'Imagen'} only",
        )
        for name, value in given.items()
        if name in GoogleOptions.model_fields and name not in taken
    ]


def _input_problems(request: ImageRequest, operation: Operation) -> list[Problem]:
    field = "images" if operation == "edit" else "reference_images"
    problems = []
    for index, image in enumerate(request.reference_images):
        if image.is_remote:
            problems.append(
                Problem(
                    f"{field}[{index}]",
                    image.describe(),
                    "the Gemini API takes images inline (inlineData), not by URL: pass a path,"
                    " bytes or a data URL",
                )
            )
    return problems


@hookimpl
def imagebridge_adapters() -> list[type[Adapter]]:
    return [GoogleAdapter]
