"""The requests imagebridge sends to Stability AI, against the API reference's documented shapes.

Stability has no maintained Python SDK, so the oracle is the v2beta API reference,
https://platform.stability.ai/docs/api-reference: its pages "Stable Image Ultra"
(``#tag/Generate/paths/~1v2beta~1stable-image~1generate~1ultra/post``), "Stable Image Core"
(``.../generate~1core/post``), "Stable Diffusion 3.5" (``.../generate~1sd3/post``) and
"Inpaint" (``#tag/Edit/paths/~1v2beta~1stable-image~1edit~1inpaint/post``). Each page's
example sends ``POST https://api.stability.ai/v2beta/stable-image/...`` with
``authorization: Bearer sk-MYAPIKEY``, an ``accept`` of ``image/*`` or ``application/json``,
and every parameter as a multipart/form-data part (the Python example forces multipart with a
dummy ``files={"none": ''}`` part; imagebridge sends the fields themselves as parts, which is
the same form without the dummy part: a documented adaptation). The expected requests below
are written by hand from those pages, part by part: name, value, filename and content type.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from helpers import form_parts
from imagebridge import ImageClient

KEY = "sk-MYAPIKEY"
BASE = "https://api.stability.ai/v2beta"


def _png(width: int, height: int, alpha: bool = False) -> bytes:
    out = io.BytesIO()
    if alpha:
        image = Image.new("RGBA", (width, height), (0, 0, 0, 255))
        image.paste((0, 0, 0, 0), (0, 0, width // 2, height))  # left half: edit here
    else:
        image = Image.new("RGB", (width, height), (40, 90, 200))
    image.save(out, format="PNG")
    return out.getvalue()


PHOTO = _png(512, 512)
MASK = _png(512, 512, alpha=True)


def _expected_mask() -> bytes:
    """Stability's black-and-white form of MASK: white (edit) on the left, black on the right."""
    image = Image.new("L", (512, 512), 0)
    image.paste(255, (0, 0, 256, 512))
    return image.tobytes()


@dataclass
class Case:
    name: str
    #: The canonical call: (method, prompt, fields).
    call: tuple[str, str, dict[str, Any]]
    #: The documented request: path under the base URL, accept header, text parts in order.
    path: str
    accept: str
    text: list[tuple[str, str]]
    #: File parts: (name, filename, content type, bytes or None for the converted mask).
    files: list[tuple[str, str, str, bytes | None]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


JSON, IMAGE = "application/json", "image/*"
OPTS = "provider_options"
CASES = [
    Case(
        "ultra_prompt_only",
        ("generate", "Lighthouse on a cliff overlooking the ocean", {}),
        "/stable-image/generate/ultra",
        JSON,
        [("prompt", "Lighthouse on a cliff overlooking the ocean")],
    ),
    Case(
        "ultra_webp_as_bytes",
        # The reference's own example: output_format webp, accept image/*.
        (
            "generate",
            "Lighthouse on a cliff overlooking the ocean",
            {"output_format": "webp", OPTS: {"stability": {"accept": "image"}}},
        ),
        "/stable-image/generate/ultra",
        IMAGE,
        [("prompt", "Lighthouse on a cliff overlooking the ocean"), ("output_format", "webp")],
    ),
    Case(
        "ultra_all_text_fields",
        (
            "generate",
            "a dog",
            {"size": "16:9", "negative_prompt": "cats", "seed": 123, "output_format": "jpeg"},
        ),
        "/stable-image/generate/ultra",
        JSON,
        [
            ("prompt", "a dog"),
            ("aspect_ratio", "16:9"),
            ("negative_prompt", "cats"),
            ("seed", "123"),
            ("output_format", "jpeg"),
        ],
    ),
    Case(
        "ultra_ratio_in_lowest_terms",
        ("generate", "a dog", {"size": "32:18"}),
        "/stable-image/generate/ultra",
        JSON,
        [("prompt", "a dog"), ("aspect_ratio", "16:9")],
    ),
    Case(
        "ultra_image_to_image",
        (
            "generate",
            "a dog",
            {"reference_images": ["photo.png"], OPTS: {"stability": {"strength": 0.4}}},
        ),
        "/stable-image/generate/ultra",
        JSON,
        [("prompt", "a dog"), ("strength", "0.4")],
        [("image", "photo.png", "image/png", PHOTO)],
    ),
    Case(
        "core_style_preset",
        (
            "generate",
            "a castle",
            {"model": "stable-image-core", "style": "fantasy-art", "size": "21:9"},
        ),
        "/stable-image/generate/core",
        JSON,
        [("prompt", "a castle"), ("aspect_ratio", "21:9"), ("style_preset", "fantasy-art")],
    ),
    Case(
        "sd35_large_text_to_image",
        ("generate", "a fox", {"model": "sd3.5-large", "output_format": "jpeg"}),
        "/stable-image/generate/sd3",
        JSON,
        [("prompt", "a fox"), ("model", "sd3.5-large"), ("output_format", "jpeg")],
    ),
    Case(
        "sd35_medium_cfg_and_negative",
        (
            "generate",
            "a fox",
            {
                "model": "sd3.5-medium",
                "negative_prompt": "blur",
                "size": "9:21",
                OPTS: {"stability": {"cfg_scale": 4.5}},
            },
        ),
        "/stable-image/generate/sd3",
        JSON,
        [
            ("prompt", "a fox"),
            ("model", "sd3.5-medium"),
            ("aspect_ratio", "9:21"),
            ("negative_prompt", "blur"),
            ("cfg_scale", "4.5"),
        ],
    ),
    Case(
        "sd35_turbo_image_to_image",
        (
            "generate",
            "a fox in snow",
            {
                "model": "sd3.5-large-turbo",
                "reference_images": ["photo.png"],
                OPTS: {"stability": {"strength": 1.0, "accept": "image"}},
            },
        ),
        "/stable-image/generate/sd3",
        IMAGE,
        [
            ("prompt", "a fox in snow"),
            ("model", "sd3.5-large-turbo"),
            ("mode", "image-to-image"),
            ("strength", "1"),
        ],
        [("image", "photo.png", "image/png", PHOTO)],
    ),
    Case(
        "inpaint_with_alpha_mask",
        ("edit", "a red hat", {"images": ["photo.png"], "mask": "mask.png", "model": "inpaint"}),
        "/stable-image/edit/inpaint",
        JSON,
        [("prompt", "a red hat")],
        [("image", "photo.png", "image/png", PHOTO), ("mask", "mask.png", "image/png", None)],
    ),
    Case(
        "inpaint_luminance_mask_grow_seed",
        (
            "edit",
            "a red hat",
            {
                "images": ["photo.png"],
                "mask": "mask.png",
                "model": "inpaint",
                "seed": 7,
                "output_format": "webp",
                "negative_prompt": "text",
                OPTS: {"stability": {"mask_mode": "luminance", "grow_mask": 10}},
            },
        ),
        "/stable-image/edit/inpaint",
        JSON,
        [
            ("prompt", "a red hat"),
            ("negative_prompt", "text"),
            ("seed", "7"),
            ("output_format", "webp"),
            ("grow_mask", "10"),
        ],
        [("image", "photo.png", "image/png", PHOTO), ("mask", "mask.png", "image/png", MASK)],
    ),
    Case(
        "inpaint_without_mask_client_headers",
        # No mask: Stability reads the image's own alpha channel.
        (
            "edit",
            "a red hat",
            {
                "images": ["photo.png"],
                "model": "inpaint",
                OPTS: {"stability": {"client_id": "my-awesome-app", "client_version": "1.2.1"}},
            },
        ),
        "/stable-image/edit/inpaint",
        JSON,
        [("prompt", "a red hat")],
        [("image", "photo.png", "image/png", PHOTO)],
        {"stability-client-id": "my-awesome-app", "stability-client-version": "1.2.1"},
    ),
]


def _answer(sent: list[httpx.Request]) -> Any:
    def handle(request: httpx.Request) -> httpx.Response:
        request.read()
        # The client takes the key off the request once it is sent: copy it now.
        sent.append(
            httpx.Request(
                request.method, request.url, headers=request.headers, content=request.content
            )
        )
        if request.headers["accept"] == IMAGE:
            return httpx.Response(
                200,
                content=PHOTO,
                headers={"content-type": "image/png", "finish-reason": "SUCCESS", "seed": "1"},
            )
        import base64

        image = base64.b64encode(PHOTO).decode()
        return httpx.Response(200, json={"image": image, "finish_reason": "SUCCESS", "seed": 1})

    return handle


def _send(case: Case, tmp_path: Path) -> httpx.Request:
    (tmp_path / "photo.png").write_bytes(PHOTO)
    (tmp_path / "mask.png").write_bytes(MASK)
    method, prompt, given = case.call
    fields = dict(given)
    for key in ("reference_images", "images"):
        if key in fields:
            fields[key] = [tmp_path / name for name in fields[key]]
    if "mask" in fields:
        fields["mask"] = tmp_path / fields["mask"]
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(_answer(sent))
    with ImageClient("stability", api_key=KEY, transport=transport, journal=False) as client:
        if method == "edit":
            images = fields.pop("images")
            client.edit(prompt, images, **fields)
        else:
            client.generate(prompt, **fields)
    [request] = sent
    return request


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_request_is_the_documented_one(case: Case, tmp_path: Path) -> None:
    request = _send(case, tmp_path)
    assert request.method == "POST"
    assert str(request.url) == BASE + case.path
    assert request.url.query == b""
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["accept"] == case.accept
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    for name, value in case.headers.items():
        assert request.headers[name] == value
    assert not [name for name in request.headers if name.startswith("stability-")] or case.headers
    parts = form_parts(request)
    text = [(p.name, p.text) for p in parts if p.filename is None]
    files = [p for p in parts if p.filename is not None]
    assert text == case.text
    assert [(p.name, p.filename, p.content_type) for p in files] == [
        (name, filename, media) for name, filename, media, _ in case.files
    ]
    for part, (name, _, _, data) in zip(files, case.files, strict=True):
        if data is not None:
            assert part.data == data, name
        else:  # the canonical alpha mask, converted: inverse of its alpha as greyscale
            with Image.open(io.BytesIO(part.data)) as mask:
                assert mask.mode == "L"
                assert mask.tobytes() == _expected_mask()


def test_the_table_is_wide_enough() -> None:
    assert len(CASES) >= 10
    paths = {case.path for case in CASES}
    assert len(paths) == 4  # ultra, core, sd3, inpaint
    assert {case.accept for case in CASES} == {JSON, IMAGE}
