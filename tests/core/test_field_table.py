"""The canonical fields are declared once, beside ImageRequest, and everything reads them:
the typed keyword arguments stay in step with the model, every option names a capability
that exists, and the CLI offers exactly the fields that declare a flag."""

from __future__ import annotations

import dataclasses
import typing

from click.testing import CliRunner

from imagebridge import Capabilities, ImageRequest
from imagebridge._cli._app import cli
from imagebridge._fields import FieldSpec
from imagebridge._request import FIELDS, OPTION_FIELDS, GenerateFields, ImageOptions, VaryFields

IMAGES = {"reference_images", "mask"}


def _literals(annotation: object) -> set[str]:
    return set(FieldSpec("x", FIELDS[0].canonical, annotation).values())


def test_the_table_is_the_model_in_declaration_order() -> None:
    assert [spec.name for spec in FIELDS] == list(ImageRequest.model_fields)


def test_the_typed_keyword_arguments_match_the_model() -> None:
    generate = typing.get_type_hints(GenerateFields)
    options = typing.get_type_hints(ImageOptions)
    assert set(generate) == set(ImageRequest.model_fields) - {"prompt"}
    assert set(options) == set(generate) - IMAGES
    vary = typing.get_type_hints(VaryFields)
    assert set(vary) < set(options)
    assert all(vary[name] == options[name] for name in vary)
    for spec in FIELDS:
        if spec.name in generate and spec.values():
            # The same literal values: a typo'd or missing one would pass mypy and fail here.
            assert _literals(generate[spec.name]) == set(spec.values()), spec.name


def test_every_option_names_a_capability_that_exists() -> None:
    names = {f.name for f in dataclasses.fields(Capabilities)}
    assert OPTION_FIELDS
    for spec in OPTION_FIELDS:
        assert spec.capability in names, spec.name
        assert spec.canonical.probe is not None, f"the kit needs a value to try for {spec.name}"


def test_the_cli_offers_exactly_the_fields_with_a_flag() -> None:
    flags = [flag for spec in FIELDS for flag in spec.canonical.flags]
    assert len(flags) == len(set(flags))
    text = CliRunner().invoke(cli, ["generate", "--help"], terminal_width=200).output
    for spec in FIELDS:
        for flag in spec.canonical.flags:
            assert f"{flag} " in text or f"{flag}," in text, flag
