"""The OpenAI Images model table: which model does what, with the rules the spec states.

Every rule comes from the descriptions of the official OpenAPI document
(<https://github.com/openai/openai-openapi>: ``CreateImageRequest``, ``CreateImageEditRequest``,
``EditImageBodyJsonParam``, ``CreateImageVariationRequest``, ``InputFidelity``,
``ImagesResponse``):

- ``dall-e-2``: sizes ``256x256``, ``512x512``, ``1024x1024``; quality ``standard`` (``auto``
  resolves to it); prompts up to 1,000 characters; edits (multipart only) of one square PNG
  under 4 MB; the only model of ``/images/variations``.
- ``dall-e-3``: sizes ``1024x1024``, ``1792x1024``, ``1024x1792``; quality ``standard`` or
  ``hd``; ``n`` 1; ``style`` ``vivid`` (the default) or ``natural``; prompts up to 4,000
  characters; no edits.
- the GPT image models (``gpt-image-1``, ``gpt-image-1-mini``, ``gpt-image-1.5``,
  ``gpt-image-2``, its snapshot ``gpt-image-2-2026-04-21``, ``chatgpt-image-latest``): quality
  ``low``, ``medium``, ``high`` or ``auto``; prompts up to 32,000 characters; edits of up to 16
  PNG/WebP/JPEG images under 50 MB each, multipart or JSON; always base64 (no
  ``response_format``); ``output_format``, ``output_compression``, ``background`` and
  ``moderation``. The standard sizes ``1024x1024``, ``1536x1024``, ``1024x1536`` and ``auto``;
  ``gpt-image-2`` and its snapshot also any ``WIDTHxHEIGHT`` with both sides divisible by 16,
  an aspect ratio within 1:3..3:1 and at most 3840x2160. ``input_fidelity`` (edits, ``high``
  or ``low``) is "only supported for gpt-image-1 and gpt-image-1.5 and later models,
  unsupported for gpt-image-1-mini": the emulator counts ``gpt-image-2``, its snapshot and
  ``chatgpt-image-latest`` (which "follows the same input constraints as GPT image models")
  as later models.

``chatgpt-image-latest`` is listed for edits; the generation request's model list leaves it
out, but its ``model`` field takes any string and the model is a GPT image model, so the
emulator serves it for generations too.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The operations: a generation, a multipart edit, a JSON edit, a variation.
GENERATE, EDIT, EDIT_JSON, VARY = "generate", "edit", "edit-json", "vary"

DALLE2_SIZES: tuple[str, ...] = ("256x256", "512x512", "1024x1024")
DALLE3_SIZES: tuple[str, ...] = ("1024x1024", "1792x1024", "1024x1792")
#: The sizes every GPT image model takes (``EditImageBodyJsonParam.size`` allows only these).
GPT_SIZES: tuple[str, ...] = ("auto", "1024x1024", "1536x1024", "1024x1536")
GPT_QUALITIES: tuple[str, ...] = ("low", "medium", "high", "auto")
#: Generation and edit parameters "only supported for the GPT image models"; using one without
#: a ``model`` makes a generation default to a GPT image model rather than ``dall-e-2``.
GPT_ONLY_FIELDS: tuple[str, ...] = (
    "output_format",
    "output_compression",
    "background",
    "moderation",
    "stream",
    "partial_images",
    "input_fidelity",
)
#: The default model of each operation, as the spec states it. A generation without a model
#: is ``dall-e-2`` "unless a parameter specific to the GPT image models is used"; the spec
#: names no model for that case, so the emulator takes ``gpt-image-1.5``, the spec's default
#: GPT image model for edits.
DEFAULT_MODEL = {
    GENERATE: "dall-e-2",
    EDIT: "gpt-image-1.5",
    EDIT_JSON: "gpt-image-1.5",
    VARY: "dall-e-2",
}
DEFAULT_GPT_MODEL = "gpt-image-1.5"

#: Input images: edits of dall-e-2 take one square PNG under 4 MB (variations too), the GPT
#: image models up to 16 PNG/WebP/JPEG images under 50 MB each; a mask is a PNG under 4 MB of
#: the first image's size.
DALLE2_MAX_BYTES = 4 * 1024 * 1024
GPT_MAX_BYTES = 50 * 1024 * 1024
MASK_MAX_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class ModelRules:
    """What one model accepts."""

    name: str
    #: ``dall-e-2``, ``dall-e-3`` or ``gpt-image``.
    kind: str
    #: The named sizes it takes (``auto`` included where it is allowed).
    sizes: tuple[str, ...]
    qualities: tuple[str, ...]
    max_n: int
    prompt_limit: int
    #: How many images an edit takes (0: the model cannot edit).
    max_edit_images: int
    #: Any ``WIDTHxHEIGHT`` within the gpt-image-2 limits, besides ``sizes``.
    flexible_sizes: bool = False
    input_fidelity: bool = False
    variations: bool = False

    @property
    def gpt_image(self) -> bool:
        return self.kind == "gpt-image"


def _gpt(name: str, *, flexible: bool = False, fidelity: bool = True) -> ModelRules:
    return ModelRules(
        name=name,
        kind="gpt-image",
        sizes=GPT_SIZES,
        qualities=GPT_QUALITIES,
        max_n=10,
        prompt_limit=32000,
        max_edit_images=16,
        flexible_sizes=flexible,
        input_fidelity=fidelity,
    )


MODELS: dict[str, ModelRules] = {
    rules.name: rules
    for rules in (
        _gpt("gpt-image-1"),
        _gpt("gpt-image-1-mini", fidelity=False),
        _gpt("gpt-image-1.5"),
        _gpt("gpt-image-2", flexible=True),
        _gpt("gpt-image-2-2026-04-21", flexible=True),
        _gpt("chatgpt-image-latest"),
        ModelRules(
            name="dall-e-2",
            kind="dall-e-2",
            sizes=DALLE2_SIZES,
            qualities=("standard", "auto"),
            max_n=10,
            prompt_limit=1000,
            max_edit_images=1,
            variations=True,
        ),
        ModelRules(
            name="dall-e-3",
            kind="dall-e-3",
            sizes=DALLE3_SIZES,
            qualities=("standard", "hd", "auto"),
            max_n=1,
            prompt_limit=4000,
            max_edit_images=0,
        ),
    )
}


def supported(names: tuple[str, ...] | list[str]) -> str:
    """``'a', 'b' and 'c'``: the allowed values of a message."""
    quoted = [f"'{name}'" for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
