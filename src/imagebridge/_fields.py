"""The canonical request fields, declared once: what each needs and how it travels.

Every field of :class:`~imagebridge.ImageRequest` carries a :class:`Canonical` in its
``Annotated`` metadata; :data:`imagebridge._request.FIELDS` reads them back, in declaration
order, as :class:`FieldSpec` rows. Pre-flight (which capability a field needs), the CLI (its
flag), the built-in adapters (which fields go on the wire under their own name), the
generated provider pages and the conformance kit's negative tests all read that one table,
so adding a canonical field is one line in ``ImageRequest`` (and its twin in the typed
keyword arguments, :class:`imagebridge._request.GenerateFields`, which a test keeps in step),
plus the capability it needs and the adapters that send it.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Canonical", "FieldKind", "FieldSpec"]

#: ``core``: prompt, model and n, which every adapter handles itself; ``size``: size and
#: resolution, which pre-flight turns into the wire size; ``option``: a plain value checked
#: against one capability and sent under its own name when set (JSON as is, multipart as
#: text); ``image``: input images; ``namespaced``: ``provider_options``.
FieldKind = Literal["core", "size", "option", "image", "namespaced"]


@dataclass(frozen=True, slots=True)
class Canonical:
    """How one canonical field is checked, offered on the command line and sent."""

    kind: FieldKind
    #: One line for ``--help`` and the docs.
    help: str
    #: For options: the :class:`~imagebridge.Capabilities` attribute that says whether the
    #: model takes the field (``None``/``False``: not at all) and, for a tuple, which values.
    capability: str | None = None
    #: The reason given when the capability says the model does not take the field.
    unsupported: str = "does not support {field}"
    #: Its command-line flags (none: not a flag of its own, e.g. ``--image`` for edits).
    flags: tuple[str, ...] = ()
    metavar: str | None = None
    #: Whether the CLI offers the field's literal values as a fixed choice.
    choice: bool = False
    #: Values the conformance kit tries (default: the literal values of the field's type).
    samples: tuple[str, ...] = ()
    #: The value the conformance kit tries where the model does not take the field at all.
    probe: Any = None
    #: Only ``stream()`` takes the field (pre-flight refuses it elsewhere; the kit tries
    #: its rejections through ``stream()``).
    stream_only: bool = False


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One row of the table: a field's name, its declaration and its type."""

    name: str
    canonical: Canonical
    annotation: Any

    @property
    def kind(self) -> FieldKind:
        return self.canonical.kind

    @property
    def capability(self) -> str | None:
        return self.canonical.capability

    def values(self) -> tuple[str, ...]:
        """The values the field's type allows, when it is a literal (else empty)."""
        return tuple(str(v) for v in _literal_values(self.annotation))

    def samples(self) -> tuple[str, ...]:
        return self.canonical.samples or self.values()

    def unsupported(self, model: str) -> str:
        return f"{model} {self.canonical.unsupported.format(field=self.name)}"


def _literal_values(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) is Literal:
        return list(typing.get_args(annotation))
    values: list[Any] = []
    for argument in typing.get_args(annotation):
        values += _literal_values(argument)
    return values
