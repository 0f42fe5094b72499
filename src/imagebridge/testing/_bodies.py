"""The bodies of recorded requests and responses, part of the cassette format (:mod:`._cassette`).

A body is JSON (strings that are images stored as asset files), text, inline base64, an
asset file (an image download), multipart parts (files by hash and size), or, for a
``text/event-stream`` response, the server-sent events one by one: each event's data is a
JSON or a text body (so images inside events are asset files too, never base64 in the
cassette), with the time it arrived when it was recorded, and whether the connection broke
after the last one.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SerializerFunctionWrapHandler,
    model_serializer,
)

__all__ = [
    "AssetBody",
    "Base64Body",
    "Body",
    "EmbeddedAsset",
    "EventData",
    "EventStreamBody",
    "FormatModel",
    "JsonBody",
    "MultipartBody",
    "Part",
    "RecordedEvent",
    "TextBody",
]


class FormatModel(BaseModel):
    """The base of every model of the cassette format: no unknown keys, and empty default
    lists and mappings left out of the file (``interactions`` stays), as are the flags named
    in ``omit_false`` while they are false (flags version 1 files did not have)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    omit_false: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _drop_empty(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            for name, info in type(self).model_fields.items():
                key = info.alias or name
                empty = info.default_factory is not None and data.get(key) in ([], {})
                if (key != "interactions" and empty) or (
                    name in self.omit_false and data.get(key) is False
                ):
                    del data[key]
        return data


class EmbeddedAsset(FormatModel):
    """A string inside a JSON body whose value is an image file of the assets folder."""

    #: Keys and list indices from the body's root to the string.
    path: list[str | int]
    file: str
    #: ``base64``: the string is the file's base64; ``data_url``: a ``data:`` URL of it.
    encoding: Literal["base64", "data_url"] = "base64"
    media_type: str = "application/octet-stream"


class JsonBody(FormatModel):
    """A JSON body, parsed. Strings listed in ``assets`` are stored as files."""

    kind: Literal["json"] = "json"
    value: JsonValue = Field(alias="json")
    assets: list[EmbeddedAsset] = Field(default_factory=list)


class TextBody(FormatModel):
    """A text body (an HTML error page, plain text)."""

    kind: Literal["text"] = "text"
    text: str


class Base64Body(FormatModel):
    """A binary body, inline."""

    kind: Literal["base64"] = "base64"
    base64: str
    media_type: str | None = None


class AssetBody(FormatModel):
    """A binary body (an image download) stored as a file of the assets folder."""

    kind: Literal["asset"] = "asset"
    file: str
    media_type: str | None = None


class Part(FormatModel):
    """One multipart/form-data part: a text value, or a file known by its hash and size."""

    name: str
    filename: str | None = None
    content_type: str | None = None
    text: str | None = None
    sha256: str | None = None
    size: int | None = None


class MultipartBody(FormatModel):
    """A multipart/form-data body, part by part (never the random boundary)."""

    kind: Literal["multipart"] = "multipart"
    parts: list[Part]


#: The data of one server-sent event: JSON (images in it as asset files) or text.
EventData = Annotated[JsonBody | TextBody, Field(discriminator="kind")]


class RecordedEvent(FormatModel):
    """One server-sent event, as the client's parser saw it (``event``, ``data``, ``id``,
    ``retry``), and when it arrived."""

    event: str = "message"
    data: EventData
    id: str | None = None
    retry: int | None = None
    #: Seconds from the response's headers to this event (kept when recorded with timing;
    #: replayed as delays when asked).
    at: float | None = Field(default=None, ge=0)


class EventStreamBody(FormatModel):
    """A ``text/event-stream`` response body, event by event: replayed as a real event
    stream, one chunk per event, so the client parses each as it comes."""

    omit_false = ("broken",)
    kind: Literal["event_stream"] = "event_stream"
    events: list[RecordedEvent]
    #: The connection broke after the last event (replayed as a transport error there).
    broken: bool = False


Body = Annotated[
    JsonBody | TextBody | Base64Body | AssetBody | MultipartBody | EventStreamBody,
    Field(discriminator="kind"),
]
