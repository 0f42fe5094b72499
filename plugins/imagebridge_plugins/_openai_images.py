"""The OpenAI Images dialect, shared by every adapter that speaks it (openai, geeknow).

``POST {base}/images/generations`` takes JSON; ``POST {base}/images/edits`` takes
multipart/form-data with ``image`` (one file) or repeated ``image[]`` (several) and an
optional ``mask``. Both answer ``{"created", "data": [{"url"|"b64_json", "revised_prompt"?}],
"usage"?}``. Subclasses add their own fields through :meth:`OpenAIImagesAdapter.extra_fields`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from imagebridge.adapter import (
    Adapter,
    Flow,
    GeneratedImage,
    ImageInput,
    ImageResult,
    Plan,
    Progress,
    Usage,
    extension_of,
    sniff_media_type,
)


class OpenAIImagesAdapter(Adapter):
    """Generations and multipart edits in the OpenAI Images shape."""

    wire_fields: ClassVar[Mapping[str, str]] = {
        "prompt": "`prompt`",
        "model": "`model` (always sent)",
        "n": "`n` (per call, after any split)",
        "size": "`size` as pixels `WxH` or `auto` (ratios are mapped to the model's preset)",
        "resolution": "not sent: selects the preset pixel size with a ratio",
        "quality": "`quality`",
        "style": "`style`",
        "output_format": "`output_format`",
        "output_compression": "`output_compression`",
        "background": "`background`",
        "moderation": "`moderation`",
        "user": "`user`",
        "reference_images": "edits only: multipart `image` (one) or repeated `image[]`",
        "mask": "edits only: multipart `mask`",
    }

    def extra_fields(self, plan: Plan) -> dict[str, Any]:
        """Provider-specific JSON fields of a generation (from ``plan.options``); none here."""
        return {}

    def edit_extra_fields(self, plan: Plan) -> dict[str, Any]:
        """Provider-specific text fields of an edit; the generation's by default."""
        return self.extra_fields(plan)

    def body(self, plan: Plan) -> dict[str, Any]:
        """The JSON body of a generation request."""
        request = plan.request
        body: dict[str, Any] = {"model": plan.model, "prompt": request.prompt, "n": plan.n}
        if plan.wire_size is not None:
            body["size"] = plan.wire_size
        # The plain options pre-flight let through, under their own names.
        body.update(request.option_values())
        body.update(self.extra_fields(plan))
        return body

    def generate(self, plan: Plan) -> Flow[ImageResult]:
        yield Progress("submitting", provider=self.name)
        response = yield httpx.Request(
            "POST", self.url("/images/generations"), json=self.body(plan)
        )
        assert response is not None
        return self.result(response, plan)

    def edit(self, plan: Plan) -> Flow[ImageResult]:
        request = plan.request
        data: dict[str, Any] = {"model": plan.model, "prompt": request.prompt, "n": str(plan.n)}
        if plan.wire_size is not None:
            data["size"] = plan.wire_size
        # Multipart text fields are strings on the wire.
        for key, value in request.option_values().items():
            data[key] = _form_value(value)
        for key, value in self.edit_extra_fields(plan).items():
            data[key] = _form_value(value)
        images = request.reference_images
        field = "image" if len(images) == 1 else "image[]"
        files: list[tuple[str, tuple[str, bytes, str]]] = [
            (field, _file(image, index)) for index, image in enumerate(images)
        ]
        if request.mask is not None:
            files.append(("mask", _file(request.mask, 0, "mask")))
        yield Progress("submitting", provider=self.name)
        response = yield httpx.Request("POST", self.url("/images/edits"), data=data, files=files)
        assert response is not None
        return self.result(response, plan)

    def result(self, response: httpx.Response, plan: Plan) -> ImageResult:
        body = self.mapping(response)
        items = body.get("data")
        if not isinstance(items, list):
            raise self.error(response)
        if not all(has_image(item) for item in items):
            raise self.unexpected(response, "an entry of data has no url or b64_json string")
        images = [self.image(item) for item in items]
        created = body.get("created")
        return ImageResult(
            images=images,
            provider=self.name,
            model=plan.model,
            created=created if isinstance(created, int) else None,
            usage=Usage.from_dict(body.get("usage")),
            raw=[_without_base64(body, items)],
        )

    def image(self, item: Mapping[str, Any]) -> GeneratedImage:
        url = item.get("url")
        b64 = item.get("b64_json")
        revised = item.get("revised_prompt")
        file_id = item.get("file_id")
        return GeneratedImage(
            url=self.resolve_url(url) if isinstance(url, str) and url else None,
            b64_json=b64 if isinstance(b64, str) and b64 else None,
            revised_prompt=revised if isinstance(revised, str) and revised else None,
            file_id=str(file_id) if file_id else None,
        )


def _file(image: ImageInput, index: int, stem: str = "image") -> tuple[str, bytes, str]:
    """A multipart file part: the file's own name for a path, else ``<stem>-<i>.<ext>``."""
    data = image.read()
    media_type = sniff_media_type(data[:16]) or "application/octet-stream"
    if image.kind == "path":
        name = image.filename(index)
    else:
        name = f"{stem}-{index}.{extension_of(media_type)}"
    return (name, data, media_type)


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _without_base64(body: Mapping[str, Any], items: list[Any]) -> Mapping[str, Any]:
    """The body kept in ``result.raw``, with base64 payloads elided (the images hold them)."""
    if not any("b64_json" in item for item in items):
        return body
    data = [
        {**item, "b64_json": "<base64 elided>"} if "b64_json" in item else item for item in items
    ]
    return {**body, "data": data}


def has_image(item: Any) -> bool:
    """A result entry with a usable ``url`` or ``b64_json`` (a non-empty string)."""
    return isinstance(item, Mapping) and any(
        isinstance(item.get(key), str) and item.get(key) for key in ("url", "b64_json")
    )
