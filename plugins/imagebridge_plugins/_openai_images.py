"""The OpenAI Images dialect, shared by every adapter that speaks it (openai, geeknow).

``POST {base}/images/generations`` takes JSON. ``POST {base}/images/edits`` takes
multipart/form-data with ``image`` (one file) or repeated ``image[]`` (several) and an
optional ``mask``, or JSON with ``images: [{"image_url"}]`` and ``mask: {"image_url"}`` where
the model takes URL references (``Capabilities.edit_image_urls``) and an input is an http(s)
URL. ``POST {base}/images/variations`` takes multipart with one ``image``. All answer
``{"created", "data": [{"url"|"b64_json", "revised_prompt"?}], "usage"?}``. Which request
takes which field is declared once here (docs/dialects/openai.md, 'Which request takes which
field'): the bodies are built from it and :func:`wire_problems` refuses, before sending,
what a request does not take, so nothing is dropped. Subclasses add their own fields through
:meth:`OpenAIImagesAdapter.extra_fields`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from imagebridge import ImageRequest
from imagebridge.adapter import (
    Adapter,
    Capabilities,
    ConfigurationError,
    Flow,
    GeneratedImage,
    ImageInput,
    ImageResult,
    InlineImage,
    Operation,
    Plan,
    Problem,
    Progress,
    Stream,
    Usage,
    extension_of,
    is_event_stream,
    json_request,
    sniff_media_type,
)

from ._openai_stream import read_stream

#: The canonical options each request of the dialect takes, by the spec's schema.
#: CreateImageRequest: all of them (``partial_images`` with ``stream``, as in edits).
GENERATION_FIELDS = frozenset(
    {
        "quality",
        "style",
        "output_format",
        "output_compression",
        "background",
        "moderation",
        "user",
        "partial_images",
    }
)
#: EditImageBodyJsonParam (JSON edits) has ``moderation`` but no ``style``.
JSON_EDIT_FIELDS = GENERATION_FIELDS - {"style"}
#: CreateImageEditRequest (multipart) has no ``moderation`` and no ``style``.
MULTIPART_EDIT_FIELDS = JSON_EDIT_FIELDS - {"moderation"}
#: CreateImageVariationRequest: ``user`` only (the core refuses the rest for every provider).
VARIATION_FIELDS = frozenset({"user"})
#: EditImageBodyJsonParam.size: JSON edits take these sizes only.
JSON_EDIT_SIZES = ("auto", "1024x1024", "1536x1024", "1024x1536")
#: ImageRefParam.image_url: "a fully qualified URL or base64-encoded data URL", this long at most.
MAX_IMAGE_URL_CHARS = 20971520
#: CreateImageEditRequest.mask: "a valid PNG file, less than 4MB", the size of the image.
MAX_MASK_BYTES = 4 * 1024 * 1024


class OpenAIImagesAdapter(Adapter):
    """Generations, edits (multipart, or JSON with URL references) and variations in the
    OpenAI Images shape."""

    wire_fields: ClassVar[Mapping[str, str]] = {
        "prompt": "`prompt` (not in variations)",
        "model": "`model` (always sent)",
        "n": "`n` (per call, after any split)",
        "size": "`size` as pixels `WxH` or `auto` (ratios are mapped to the model's preset)",
        "resolution": "not sent: selects the preset pixel size with a ratio",
        "quality": "`quality`",
        "style": "`style` (generations only)",
        "output_format": "`output_format`",
        "output_compression": "`output_compression`",
        "background": "`background`",
        "moderation": "`moderation` (generations and JSON edits; multipart edits take none)",
        "user": "`user`",
        "reference_images": "edits: multipart `image` (one) or repeated `image[]`, or JSON"
        " `images: [{image_url}]` when one is an http(s) URL; variations: multipart `image`",
        "mask": "edits only: multipart `mask`, or JSON `mask: {image_url}`",
        "partial_images": "`partial_images`, with `stream: true` (stream() on a model that"
        " streams; not in variations)",
    }
    #: The canonical options each request takes (see the module docstring); a subclass
    #: whose gateway forwards more says so here, and :func:`wire_problems` follows it.
    generation_fields: ClassVar[frozenset[str]] = GENERATION_FIELDS
    multipart_edit_fields: ClassVar[frozenset[str]] = MULTIPART_EDIT_FIELDS
    json_edit_fields: ClassVar[frozenset[str]] = JSON_EDIT_FIELDS
    variation_fields: ClassVar[frozenset[str]] = VARIATION_FIELDS

    def extra_fields(self, plan: Plan) -> dict[str, Any]:
        """Provider-specific fields of a request (from ``plan.options``); none here.
        ``plan.operation`` says which request it is."""
        return {}

    def edit_extra_fields(self, plan: Plan) -> dict[str, Any]:
        """Provider-specific fields of an edit; :meth:`extra_fields` by default."""
        return self.extra_fields(plan)

    def options(self, request: ImageRequest, taken: frozenset[str]) -> dict[str, Any]:
        """The plain options that were set, all of which this request must take: pre-flight
        refuses the others (:func:`wire_problems`, from the adapter's validate hook). An
        option that got this far and cannot be sent is an error, raised before anything is
        sent, never silently dropped."""
        values = request.option_values()
        left_out = sorted(set(values) - taken)
        if left_out:
            raise ConfigurationError(
                f"{self.name} cannot send {', '.join(left_out)} with this request, and nothing"
                " refused it before sending (the adapter's validate hook does not call"
                " wire_problems): nothing was sent"
            )
        return values

    def body(self, plan: Plan) -> dict[str, Any]:
        """The JSON body of a generation request."""
        request = plan.request
        body: dict[str, Any] = {"model": plan.model, "prompt": request.prompt, "n": plan.n}
        if plan.wire_size is not None:
            body["size"] = plan.wire_size
        body.update(self.options(request, self.generation_fields))
        body.update(self.extra_fields(plan))
        if self.streams(plan):
            body["stream"] = True
        return body

    def generate(self, plan: Plan) -> Flow[ImageResult]:
        yield Progress("submitting", provider=self.name)
        request = httpx.Request("POST", self.url("/images/generations"), json=self.body(plan))
        return (yield from self.reply(request, plan))

    def edit(self, plan: Plan) -> Flow[ImageResult]:
        if is_json_edit(plan.request, plan.capabilities):
            outgoing = self.json_edit_request(plan)
        else:
            outgoing = self.multipart_edit_request(plan)
        yield Progress("submitting", provider=self.name)
        return (yield from self.reply(outgoing, plan))

    @staticmethod
    def streams(plan: Plan) -> bool:
        """Whether this call asks for server-sent events: the caller streams (``stream()``)
        and the model does (``Capabilities.streaming``)."""
        return plan.stream and plan.capabilities.streaming

    def reply(self, request: httpx.Request, plan: Plan) -> Flow[ImageResult]:
        """The result of a generation or an edit: read at once, or event by event."""
        if not self.streams(plan):
            response = yield request
            assert response is not None
            return self.result(response, plan)
        response = yield Stream(request)
        assert response is not None
        if not is_event_stream(response):
            # An error, or a server that answered the whole reply at once.
            return self.result(response, plan)
        return (yield from read_stream(self, self.image, response, plan))

    def multipart_edit_request(self, plan: Plan) -> httpx.Request:
        """An edit of uploaded files: ``image`` or ``image[]``, and ``mask``."""
        request = plan.request
        data: dict[str, Any] = {"model": plan.model, "prompt": request.prompt, "n": str(plan.n)}
        if plan.wire_size is not None:
            data["size"] = plan.wire_size
        fields = {
            **self.options(request, self.multipart_edit_fields),
            **self.edit_extra_fields(plan),
        }
        if self.streams(plan):
            fields["stream"] = True
        # Multipart text fields are strings on the wire.
        data.update({key: _form_value(value) for key, value in fields.items()})
        images = request.reference_images
        field = "image" if len(images) == 1 else "image[]"
        files: list[tuple[str, tuple[str, bytes, str]]] = [
            (field, _file(image, index)) for index, image in enumerate(images)
        ]
        if request.mask is not None:
            files.append(("mask", _file(request.mask, 0, "mask")))
        return httpx.Request("POST", self.url("/images/edits"), data=data, files=files)

    def json_edit_request(self, plan: Plan) -> httpx.Request:
        """An edit by reference (EditImageBodyJsonParam): http(s) URLs as given, files and
        bytes as data URLs, encoded while the body is sent."""
        request = plan.request
        body: dict[str, Any] = {"model": plan.model, "prompt": request.prompt, "n": plan.n}
        if plan.wire_size is not None:
            body["size"] = plan.wire_size
        body.update(self.options(request, self.json_edit_fields))
        body.update(self.edit_extra_fields(plan))
        if self.streams(plan):
            body["stream"] = True
        body["images"] = [{"image_url": InlineImage(image)} for image in request.reference_images]
        if request.mask is not None:
            body["mask"] = {"image_url": InlineImage(request.mask)}
        return json_request("POST", self.url("/images/edits"), body)

    def vary(self, plan: Plan) -> Flow[ImageResult]:
        """Variations of one uploaded image (CreateImageVariationRequest): no prompt."""
        request = plan.request
        data: dict[str, Any] = {"model": plan.model, "n": str(plan.n)}
        if plan.wire_size is not None:
            data["size"] = plan.wire_size
        fields = {**self.options(request, self.variation_fields), **self.extra_fields(plan)}
        data.update({key: _form_value(value) for key, value in fields.items()})
        files = [("image", _file(request.reference_images[0], 0))]
        yield Progress("submitting", provider=self.name)
        response = yield httpx.Request(
            "POST", self.url("/images/variations"), data=data, files=files
        )
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


def is_json_edit(request: ImageRequest, capabilities: Capabilities) -> bool:
    """Whether an edit goes as JSON: the model takes URL references and an input is one.
    Files, bytes, data URLs and base64 alone are uploaded (multipart)."""
    inputs = [*request.reference_images, *([request.mask] if request.mask else [])]
    return capabilities.edit_image_urls and any(item.is_remote for item in inputs)


def wire_problems(
    adapter: type[OpenAIImagesAdapter],
    operation: Operation,
    request: ImageRequest,
    capabilities: Capabilities,
) -> list[Problem]:
    """What the dialect's request for ``operation`` cannot carry, found before sending
    (the ``request_problems`` of each adapter that speaks it)."""
    if operation == "vary":
        return []  # the core refuses every option but user in a variation
    problems = _compression_problems(request, capabilities)
    if operation == "generate":
        taken, wire = adapter.generation_fields, "generations (CreateImageRequest)"
    elif is_json_edit(request, capabilities):
        taken = adapter.json_edit_fields
        wire = "JSON edits (an http(s) URL among the images; EditImageBodyJsonParam)"
        problems += _json_edit_problems(request, capabilities)
    else:
        taken, wire = adapter.multipart_edit_fields, "multipart edits (CreateImageEditRequest)"
    for name, value in request.option_values().items():
        if name not in taken:
            hint = ""
            if name == "moderation" and "moderation" in adapter.json_edit_fields:
                hint = "; it is sent with generations and with JSON edits (image URLs)"
            problems.append(Problem(name, value, f"{wire} take no {name}{hint}"))
    if operation == "edit" and request.mask is not None:
        problems += _mask_problems(request)
    return problems


def _compression_problems(request: ImageRequest, capabilities: Capabilities) -> list[Problem]:
    # CreateImageRequest.output_compression: "only ... with the webp or jpeg output formats";
    # output_format "defaults to png". (An explicit png is the core's own rule.)
    if not capabilities.known or request.output_compression is None:
        return []
    if request.output_format is not None or not capabilities.output_compression:
        return []
    return [
        Problem(
            "output_compression",
            request.output_compression,
            "applies to jpeg and webp only, and output_format defaults to png: set output_format",
            ("jpeg", "webp"),
        )
    ]


def _json_edit_problems(request: ImageRequest, capabilities: Capabilities) -> list[Problem]:
    problems = []
    size = _sent_size(request, capabilities)
    if capabilities.known and size is not None and size not in JSON_EDIT_SIZES:
        problems.append(
            Problem(
                "size",
                str(request.size),
                f"is sent as {size}, which JSON edits (an http(s) URL among the images) do not"
                " take; upload the images as files for other sizes",
                JSON_EDIT_SIZES,
            )
        )
    named = [(f"images[{i}]", item) for i, item in enumerate(request.reference_images)]
    if request.mask is not None:
        named.append(("mask", request.mask))
    for name, item in named:
        if item.is_remote:
            continue
        length = (
            len(str(item.value)) if item.kind == "data_url" else InlineImage(item).encoded_length()
        )
        if length > MAX_IMAGE_URL_CHARS:
            problems.append(
                Problem(
                    name,
                    item.describe(),
                    f"in a JSON edit (an http(s) URL among the images) a file travels as a data"
                    f" URL of at most {MAX_IMAGE_URL_CHARS} characters; this one makes {length}",
                )
            )
    return problems


def _sent_size(request: ImageRequest, capabilities: Capabilities) -> str | None:
    """The pixel size (or ``auto``) pre-flight will send for this request, when known."""
    size = request.size
    if size is None or capabilities.native_ratio:
        return None
    if size.kind == "pixels":
        return str(size)
    if size.kind == "auto" and request.resolution is None:
        return "auto"
    key = str(size) if str(size) in capabilities.size_presets else size.ratio_key
    row = capabilities.size_presets.get(key)
    return None if row is None else row.get(request.resolution or "1k")


def _mask_problems(request: ImageRequest) -> list[Problem]:
    """CreateImageEditRequest.mask: a PNG under 4 MB, the size of the (first) image."""
    mask = request.mask
    if mask is None or mask.is_remote:
        return []
    if mask.media_type() != "image/png":
        reason = "a mask must be a PNG file (its transparent pixels mark what to edit)"
        return [Problem("mask", mask.describe(), reason)]
    problems = []
    size = mask.size_bytes()
    if size is not None and size > MAX_MASK_BYTES:
        problems.append(
            Problem("mask", mask.describe(), f"is {size} bytes; a mask is at most {MAX_MASK_BYTES}")
        )
    images = request.reference_images
    if images and not images[0].is_remote:
        mask_px, image_px = mask.pixel_size(), images[0].pixel_size()
        if mask_px is not None and image_px is not None and mask_px != image_px:
            problems.append(
                Problem(
                    "mask",
                    mask.describe(),
                    f"is {mask_px[0]}x{mask_px[1]}; a mask must have the size of the first image,"
                    f" {image_px[0]}x{image_px[1]}",
                )
            )
    return problems


def input_names(request: ImageRequest, operation: Operation) -> list[tuple[str, ImageInput]]:
    """The input images of an edit (``images[i]``) or a variation (``image``), by the name
    a problem with them is reported under."""
    images = request.reference_images
    if operation == "vary":
        return [("image", image) for image in images[:1]]
    return [(f"images[{index}]", image) for index, image in enumerate(images)]


def input_format_problems(
    named: list[tuple[str, ImageInput]], allowed: tuple[str, ...], who: str
) -> list[Problem]:
    """Each local input image whose format (sniffed from its bytes) is not one of
    ``allowed`` (media types); URLs are not fetched, so not checked."""
    names = ", ".join(extension_of(media).replace("jpg", "jpeg") for media in allowed)
    problems = []
    for name, item in named:
        media_type = None if item.is_remote else item.media_type()
        if media_type is None or media_type in allowed:
            continue
        shown = "a GIF" if media_type == "image/gif" else "not a PNG, JPEG or WebP image"
        problems.append(Problem(name, item.describe(), f"is {shown}; {who} takes {names}"))
    return problems


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
