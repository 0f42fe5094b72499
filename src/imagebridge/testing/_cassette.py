"""The cassette format: versioned JSON holding one scenario's call, HTTP exchanges and outcome.

A cassette is ``<name>.json`` with, beside it, an optional ``<name>.assets/`` folder for image
bytes (response images, those inside server-sent events included, are stored as files there,
not as base64, to keep cassettes small and diffable). The pydantic models below (and the
bodies of :mod:`._bodies`) are the format's definition; :func:`cassette_schema` derives the
JSON Schema shipped beside this module (``cassette.schema.json``) from them.

Layout of a cassette::

    {"format": "imagebridge-cassette", "version": 2,
     "name": "text_to_image", "provider": "openai", "description": "...",
     "scenario": {"name", "requires": [capability names], "expect": "success" | error class},
     "call": {"method": "generate|edit|vary|submit|wait", "stream", "prompt", "fields",
              "images", "reference_images", "mask", "task_id",
              "client": {"base_url", "invalid_key"}},
     "match": {"ignore_json_paths": [...], "headers": [...]},
     "interactions": [{"request": {...}, "response": {...}}, ...],
     "expected": {"result": {...}} | {"error": {...}}, "events"?: [...]}

Version 2 added event streams: a response body of kind ``event_stream`` (its events one by
one, with the time each arrived), calls made through ``stream()`` (``call.stream``) and what
they are checked for (``expected.events``, the result's ``usage`` and ``sha256``, the error's
``last_partial``). Everything of version 1 means the same in version 2, so a version 1 file
is upgraded as it is loaded (:func:`load_cassette`), and written as version 2 when saved.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, JsonValue, PrivateAttr, model_validator

from ._bodies import (
    AssetBody,
    Base64Body,
    Body,
    EmbeddedAsset,
    EventStreamBody,
    FormatModel,
    JsonBody,
    MultipartBody,
    Part,
    RecordedEvent,
    TextBody,
)

__all__ = [
    "FORMAT",
    "VERSION",
    "AssetBody",
    "Base64Body",
    "Body",
    "Call",
    "Cassette",
    "ClientOptions",
    "EmbeddedAsset",
    "ErrorExpectation",
    "EventExpectation",
    "EventStreamBody",
    "Expected",
    "InputImage",
    "Interaction",
    "JsonBody",
    "MatchRules",
    "MultipartBody",
    "Part",
    "RecordedEvent",
    "RecordedRequest",
    "RecordedResponse",
    "ResultExpectation",
    "ScenarioInfo",
    "TextBody",
    "UsageExpectation",
    "cassette_schema",
    "load_cassette",
    "save_cassette",
]

FORMAT: Literal["imagebridge-cassette"] = "imagebridge-cassette"
VERSION: Literal[2] = 2
#: The versions :func:`load_cassette` reads (older ones are upgraded as they are loaded).
READS = (1, 2)
SCHEMA_ID = "https://imagebridge.invalid/schemas/cassette-v2.json"


# -- exchanges --------------------------------------------------------------------------------
class RecordedRequest(FormatModel):
    """A request as recorded: scrubbed, with only the headers that matter."""

    method: str
    url: str
    #: Only headers on the recording allow-list; credentials hold a placeholder.
    headers: dict[str, str] = Field(default_factory=dict)
    body: Body | None = None


class RecordedResponse(FormatModel):
    """The response replayed for the matching request."""

    status: int
    headers: dict[str, str] = Field(default_factory=dict)
    body: Body | None = None


class Interaction(FormatModel):
    """One exchange; interactions are played once each, identical requests in order."""

    request: RecordedRequest
    response: RecordedResponse


class MatchRules(FormatModel):
    """How replayed requests are compared with recorded ones, beyond method, URL and body."""

    #: Dotted paths (``*`` for any key or index) removed from JSON bodies before comparing.
    ignore_json_paths: list[str] = Field(default_factory=list)
    #: Request headers that must be equal (lower-case names).
    headers: list[str] = Field(default_factory=list)


# -- the canonical call and its outcome ---------------------------------------------------------
class InputImage(FormatModel):
    """An input image of the call: inline bytes (base64), a URL, or a file of the assets folder."""

    base64: str | None = None
    url: str | None = None
    file: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> InputImage:
        if sum(value is not None for value in (self.base64, self.url, self.file)) != 1:
            raise ValueError("an input image is exactly one of base64, url or file")
        return self


class ClientOptions(FormatModel):
    """How the client was made (the base URL is the placeholder origin plus the API path)."""

    base_url: str
    #: The call was made with a deliberately wrong API key (the 401 scenario).
    invalid_key: bool = False


class Call(FormatModel):
    """The canonical call that produced the exchanges: a client method and its arguments."""

    omit_false = ("stream",)
    method: Literal["generate", "edit", "vary", "submit", "wait"] = "generate"
    #: Made through ``stream()`` (``method`` is its operation, ``generate`` or ``edit``), every
    #: event iterated.
    stream: bool = False
    prompt: str | None = None
    #: Other :class:`imagebridge.ImageRequest` fields (``size``, ``n``, ``provider_options``...).
    fields: dict[str, JsonValue] = Field(default_factory=dict)
    #: The images of ``edit``.
    images: list[InputImage] = Field(default_factory=list)
    #: ``reference_images`` of ``generate`` and ``submit``.
    reference_images: list[InputImage] = Field(default_factory=list)
    mask: InputImage | None = None
    #: The task id ``wait`` resumes.
    task_id: str | None = None
    client: ClientOptions


class UsageExpectation(FormatModel):
    """The token usage of a result (as :class:`imagebridge.Usage` has it)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None


class EventExpectation(FormatModel):
    """One event ``stream()`` yielded. A partial image was read: its media type, pixel size
    and sha256 come from its bytes."""

    type: Literal["accepted", "progress", "partial_image", "completed"]
    #: ``progress``: the stage, the provider's status and percent.
    stage: str | None = None
    status: str | None = None
    percent: float | None = None
    #: ``accepted`` and ``progress``: the task.
    task_id: str | None = None
    #: ``partial_image``: the provider's partial index and the result image it previews.
    index: int | None = None
    image_index: int | None = None
    media_type: str | None = None
    size: str | None = None
    sha256: str | None = None


class ResultExpectation(FormatModel):
    """What the call returned: every image was read (URLs downloaded) before this was taken."""

    images: int
    media_types: list[str | None]
    sizes: list[str | None]
    sources: list[Literal["url", "inline"]]
    task_id: str | None = None
    warnings: list[str] = Field(default_factory=list)
    #: Provider statuses reported while polling, in order (scenarios that check them).
    progress: list[str] | None = None
    #: Streamed calls: the result's usage, and each image's sha256 (of the bytes as the
    #: assets folder stores them: the completed result is the recorded one).
    usage: UsageExpectation | None = None
    sha256: list[str] | None = None


class ErrorExpectation(FormatModel):
    """The error the call raised."""

    type: str
    code: str | None = None
    status: int | None = None
    retry_after: float | None = None
    request_id: str | None = None
    task_id: str | None = None
    #: The problem fields of an :class:`~imagebridge.InvalidRequestError`.
    problems: list[str] | None = None
    #: The provider's message (scenarios that check it).
    message: str | None = None
    #: Streamed calls: the partial image the error kept (``error.last_partial``).
    last_partial: EventExpectation | None = None


class Expected(FormatModel):
    """The expected outcome: a result or an error (and, for a streamed call, its events)."""

    result: ResultExpectation | None = None
    error: ErrorExpectation | None = None
    #: Streamed calls: every event ``stream()`` yielded, in order.
    events: list[EventExpectation] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Expected:
        if (self.result is None) == (self.error is None):
            raise ValueError("expected is either a result or an error")
        return self


class ScenarioInfo(FormatModel):
    """Which scenario a cassette records, what it needs and what it is about."""

    name: str
    #: Capability requirements (see ``imagebridge.testing.REQUIREMENTS``); unmet -> skipped.
    requires: list[str] = Field(default_factory=list)
    #: ``success`` or the name of the error class the scenario is about.
    expect: str = "success"


class Cassette(FormatModel):
    """One recorded scenario of one provider."""

    format: Literal["imagebridge-cassette"] = FORMAT
    #: The format version; files of an older one are upgraded as they are loaded.
    version: Literal[2] = VERSION
    name: str
    provider: str
    description: str = ""
    recorded_from: str | None = None
    scenario: ScenarioInfo
    #: Set instead of a recording when the scenario cannot happen with this provider.
    not_applicable: str | None = None
    call: Call | None = None
    match: MatchRules = Field(default_factory=MatchRules)
    interactions: list[Interaction] = Field(default_factory=list)
    expected: Expected | None = None

    _source: Path | None = PrivateAttr(default=None)
    _assets: dict[str, bytes] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        """A version 1 cassette is a version 2 one (version 2 only added fields and a body
        kind); a version this kit does not know is refused by name."""
        if not isinstance(data, dict) or data.get("format") not in (None, FORMAT):
            return data
        version = data.get("version", VERSION)
        if version == VERSION:
            return data
        if version in READS:
            return {**data, "version": VERSION}
        raise ValueError(
            f"cassette format version {version!r}: this kit reads versions"
            f" {', '.join(map(str, READS))} (a newer imagebridge may read it)"
        )

    @model_validator(mode="after")
    def _complete(self) -> Cassette:
        if self.not_applicable is None and (self.call is None or self.expected is None):
            raise ValueError("a cassette needs a call and an expected outcome")
        return self

    @property
    def source(self) -> Path | None:
        """The file this cassette was loaded from."""
        return self._source

    def asset(self, name: str) -> bytes:
        """The bytes of a file of the assets folder (in memory for unsaved cassettes)."""
        if name in self._assets:
            return self._assets[name]
        if self._source is None:
            raise FileNotFoundError(f"asset {name!r}: the cassette has no file")
        path = assets_dir(self._source) / name
        if path.parent != assets_dir(self._source):
            raise ValueError(f"asset name {name!r} is not a plain file name")
        data = path.read_bytes()
        self._assets[name] = data
        return data

    def add_asset(self, name: str, data: bytes) -> None:
        """Hold a file of the assets folder in memory (written by :func:`save_cassette`)."""
        self._assets[name] = data

    @property
    def assets(self) -> dict[str, bytes]:
        """The assets held in memory (all of them for a cassette being recorded)."""
        return dict(self._assets)

    def to_json(self) -> str:
        """The cassette file's text (empty default lists and mappings left out)."""
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def assets_dir(path: Path) -> Path:
    """``<name>.assets`` beside ``<name>.json``."""
    return path.with_name(path.stem + ".assets")


def load_cassette(path: str | Path) -> Cassette:
    """Read and validate a cassette file (a version 1 file is upgraded in memory; the file
    is left as it is until it is saved, or re-recorded)."""
    path = Path(path)
    data: Any = json.loads(path.read_text(encoding="utf-8"))
    cassette = Cassette.model_validate(data)
    cassette._source = path
    return cassette


def save_cassette(cassette: Cassette, path: str | Path) -> Path:
    """Write the cassette and exactly its in-memory assets (an old assets folder is replaced)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = assets_dir(path)
    if folder.exists():
        shutil.rmtree(folder)
    assets = cassette.assets
    if assets:
        folder.mkdir()
        for name, data in sorted(assets.items()):
            (folder / name).write_bytes(data)
    path.write_text(cassette.to_json(), encoding="utf-8")
    cassette._source = path
    return path


def cassette_schema() -> dict[str, Any]:
    """The JSON Schema of the cassette format (what ``testing/cassette.schema.json`` holds)."""
    schema = Cassette.model_json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"imagebridge cassette, version {VERSION}",
        "description": (
            "One recorded conformance scenario of one provider: the canonical call, the HTTP"
            " exchanges it made and the outcome it produced. Generated from"
            " imagebridge.testing's pydantic models; do not edit by hand."
        ),
        **{key: value for key, value in schema.items() if key not in ("title", "description")},
    }
