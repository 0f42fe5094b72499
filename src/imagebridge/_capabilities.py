"""What a provider's model supports, declared once by its adapter.

The same declaration drives pre-flight validation (:mod:`imagebridge._preflight`), the
``imagebridge providers`` listing, the generated provider documentation and the conformance
kit's skips and negative tests. ``None`` for an option means "not supported": a request that
sets it is rejected before any HTTP request.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from ._sizes import RESOLUTIONS, SizeTable

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._prices import PerImage, PerToken

__all__ = ["ANY", "Capabilities", "CapabilityChanges", "takes"]

#: An option value list containing ANY accepts every value and passes it through unchanged
#: (e.g. a gateway that forwards ``style`` to whichever upstream serves the model).
ANY = "*"


def takes(allowed: object) -> bool:
    """Whether a capability value lets a model take its option at all: None, False and 0
    (a count of none) do not; a tuple lists the values, a number is the most."""
    return allowed is not None and allowed is not False and allowed != 0


@dataclass(frozen=True, kw_only=True)
class Capabilities:
    """The declared abilities of one model served by one provider.

    Sizes are accepted in three ways, checked in this order:

    * ``sizes``: an explicit list of ``"WxH"`` sizes (dall-e-3), or empty for any size
      that fits the pixel rule (``size_multiple_of``, ``aspect_range``, ``max_pixels``,
      ``max_edge``, ``min_edge``);
    * ``size_presets``: ratio -> tier -> pixels, for canonical ``W:H`` + ``resolution``;
    * ``native_ratio``: the wire itself takes ``W:H`` and a resolution tier (then presets
      give the pixel size to expect, and ``resolutions`` lists the tiers).
    """

    model: str = ""
    # sizes
    sizes: tuple[str, ...] = ()
    size_multiple_of: int | None = None
    aspect_range: tuple[float, float] | None = None
    max_pixels: int | None = None
    max_edge: int | None = None
    min_edge: int | None = None
    size_presets: SizeTable = field(default_factory=dict)
    size_auto: bool = False
    native_ratio: bool = False
    resolutions: tuple[str, ...] = RESOLUTIONS
    # how many images
    max_n: int = 10
    max_images_per_call: int = 1
    # options; None = not supported
    qualities: tuple[str, ...] | None = None
    styles: tuple[str, ...] | None = None
    output_formats: tuple[str, ...] | None = None
    output_compression: bool = False
    backgrounds: tuple[str, ...] | None = None
    moderations: tuple[str, ...] | None = None
    user: bool = True
    #: Whether the model takes a ``seed`` (the same seed and request make the same image).
    seed: bool = False
    #: Whether the model takes a ``negative_prompt`` (what the image should not show).
    negative_prompt: bool = False
    #: The longest prompt, in characters (code points), as the provider documents it; a
    #: longer one is refused before sending. None: no limit known, nothing checked.
    max_prompt_chars: int | None = None
    #: Whether ``generate()`` makes images from a prompt; False for a model that only edits
    #: (an inpainting or fill model), which pre-flight then refuses for generate().
    generate: bool = True
    # input images
    max_reference_images: int = 0
    max_input_image_bytes: int | None = None
    edits: bool = False
    max_edit_images: int = 0
    mask: bool = False
    #: Whether edits take http(s) URL references (sent by reference, not uploaded).
    edit_image_urls: bool = False
    #: Whether ``vary()`` makes variations of one image (no prompt).
    variations: bool = False
    #: Whether generate() takes a mask (with reference images), not only edit().
    generate_mask: bool = False
    # flow
    async_tasks: bool = False
    #: Whether an accepted task can be cancelled (``cancel()``, ``imagebridge task ID
    #: --cancel``).
    cancel: bool = False
    #: Whether ``stream()`` gets the reply as it is made (server-sent events) rather than at
    #: once; task dialects stream progress from their polls whatever this says.
    streaming: bool = False
    #: How many partial images a streamed call can send before each final image (the
    #: ``partial_images`` field); 0: none.
    max_partial_images: int = 0
    #: False when the model is not in the adapter's list and nothing was checked for it.
    known: bool = True
    #: What the model costs on this provider (:mod:`imagebridge._prices`), from a page of the
    #: provider's own; None: not known (costs are then ``unknown``, never 0).
    price: PerImage | PerToken | None = None

    @classmethod
    def unchecked(cls, model: str, /, **changes: Unpack[CapabilityChanges]) -> Capabilities:
        """For a model the adapter does not know: every option is passed through unchecked
        (``known=False``, which adds a warning to the result)."""
        values: dict[str, Any] = {
            "model": model,
            "size_multiple_of": 1,
            "size_auto": True,
            "max_images_per_call": 10,
            "qualities": (ANY,),
            "styles": (ANY,),
            "output_formats": (ANY,),
            "output_compression": True,
            "backgrounds": (ANY,),
            "moderations": (ANY,),
            "known": False,
        }
        values.update(changes)
        return cls(**values)

    def replace(self, **changes: Unpack[CapabilityChanges]) -> Capabilities:
        """A copy with some fields changed (for plugins refining a model's declaration)."""
        return dataclasses.replace(self, **changes)

    @property
    def free_pixels(self) -> bool:
        """True when any ``WxH`` that fits the pixel rule is accepted."""
        return not self.sizes and self.size_multiple_of is not None

    def pixel_rule(self) -> str | None:
        """The free-pixel rule in words, or None when only listed sizes are accepted."""
        if not self.free_pixels:
            return None
        rule = f"any WxH with sides divisible by {self.size_multiple_of}"
        if self.max_edge:
            rule += f", edges up to {self.max_edge}"
        if self.min_edge:
            rule += f", edges at least {self.min_edge}"
        if self.aspect_range:
            low, high = self.aspect_range
            rule += f", aspect between {low:.3g} and {high:.3g}"
        if self.max_pixels:
            rule += f", at most {self.max_pixels:,} pixels"
        return rule

    def pixel_problem(self, width: int, height: int) -> str | None:
        """Why the pixel size ``WxH`` is not accepted, or None when it is (the rule that
        pre-flight applies, and that the conformance kit builds its sizes from)."""
        if self.sizes:
            return None if f"{width}x{height}" in self.sizes else "not a size this model accepts"
        if not self.free_pixels:
            return "pixel sizes are not accepted"
        m = self.size_multiple_of or 1
        if width % m or height % m:
            return f"both sides must be divisible by {m}"
        if self.max_edge and max(width, height) > self.max_edge:
            return f"an edge is longer than {self.max_edge}"
        if self.min_edge and min(width, height) < self.min_edge:
            return f"an edge is shorter than {self.min_edge}"
        if self.aspect_range:
            lo, hi = self.aspect_range
            if not lo <= width / height <= hi:
                return f"the aspect ratio is outside {lo:.3g}..{hi:.3g}"
        if self.max_pixels and width * height > self.max_pixels:
            return f"more than {self.max_pixels} pixels"
        return None

    def size_forms(self) -> list[str]:
        """Every accepted size form in words (for errors, listings and the docs)."""
        forms = list(self.sizes)
        rule = self.pixel_rule()
        if rule:
            forms.append(rule)
        ratios = [ratio for ratio in self.size_presets if ratio != "auto"]
        if ratios:
            forms.append("ratios " + ", ".join(ratios))
        if self.size_auto or "auto" in self.size_presets:
            forms.append("auto")
        return forms

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly description (for ``imagebridge providers --json`` and the docs)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Mapping):
                value = {k: dict(v) if isinstance(v, Mapping) else v for k, v in value.items()}
            elif isinstance(value, tuple):
                value = list(value)
            elif f.name == "price" and value is not None:
                value = value.summary()
            out[f.name] = value
        return out


class CapabilityChanges(TypedDict, total=False):
    """The fields of :class:`Capabilities`, as keyword arguments of :meth:`~Capabilities.replace`
    and :meth:`~Capabilities.unchecked`, so that a type checker checks every name and value
    (a test keeps it field for field equal to the dataclass)."""

    model: str
    sizes: tuple[str, ...]
    size_multiple_of: int | None
    aspect_range: tuple[float, float] | None
    max_pixels: int | None
    max_edge: int | None
    min_edge: int | None
    size_presets: SizeTable
    size_auto: bool
    native_ratio: bool
    resolutions: tuple[str, ...]
    max_n: int
    max_images_per_call: int
    qualities: tuple[str, ...] | None
    styles: tuple[str, ...] | None
    output_formats: tuple[str, ...] | None
    output_compression: bool
    backgrounds: tuple[str, ...] | None
    moderations: tuple[str, ...] | None
    user: bool
    seed: bool
    negative_prompt: bool
    max_prompt_chars: int | None
    generate: bool
    max_reference_images: int
    max_input_image_bytes: int | None
    edits: bool
    max_edit_images: int
    mask: bool
    edit_image_urls: bool
    variations: bool
    generate_mask: bool
    async_tasks: bool
    cancel: bool
    streaming: bool
    max_partial_images: int
    known: bool
    price: PerImage | PerToken | None
