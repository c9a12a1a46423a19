"""The CDS Hooks 2.0 response shapes (discovery, service response, cards), as pydantic
models written from the specification (HL7 CDS Hooks 2.0, "Discovery", "CDS Service
Response", "Card Attributes"), for tests to hold the service's answers to. Unknown fields
are refused except ``extension`` (reserved by the specification for agreed content), and
no JSON value may be null or empty where the specification says so."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    extension: dict[str, Any] | None = None


class Service(_Strict):
    hook: str = Field(min_length=1)
    title: str | None = None
    description: str = Field(min_length=1)
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._~-]+$")
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None


class Discovery(_Strict):
    services: list[Service]


class Coding(_Strict):
    system: str | None = None
    code: str = Field(min_length=1)
    display: str | None = None


class OverrideReason(Coding):
    display: str = Field(min_length=1)  # "the CDS Service MUST populate a display value"


class Source(_Strict):
    label: str = Field(min_length=1)
    url: HttpUrl | None = None
    icon: HttpUrl | None = None
    topic: Coding | None = None


class Link(_Strict):
    label: str = Field(min_length=1)
    url: HttpUrl
    type: Literal["absolute", "smart"]
    appContext: str | None = None
    autolaunchable: bool | None = None


class Action(_Strict):
    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None
    resourceId: str | None = None


class Suggestion(_Strict):
    label: str = Field(min_length=1)
    uuid: str | None = None
    isRecommended: bool | None = None
    actions: list[Action] | None = None


class Card(_Strict):
    uuid: str | None = Field(default=None, pattern=r"^[0-9a-f-]{36}$")
    summary: str = Field(min_length=1, max_length=139)  # "<140-character"
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[OverrideReason] | None = None
    links: list[Link] | None = None


class CdsResponse(_Strict):
    cards: list[Card]
    systemActions: list[Action] | None = None


def no_null_or_empty(value: Any, path: str = "$") -> None:
    """The specification: "JSON elements SHALL NOT be null … or empty" (an empty ``cards``
    array excepted); an extension's agreed content is its own business."""
    if isinstance(value, dict):
        assert value, f"{path} is empty"
        for key, item in value.items():
            if key != "extension":
                no_null_or_empty(item, f"{path}.{key}")
    elif isinstance(value, list):
        assert value or path == "$.cards", f"{path} is empty"
        for i, item in enumerate(value):
            no_null_or_empty(item, f"{path}[{i}]")
    else:
        assert value is not None and value != "", f"{path} is null or empty"


def check_response(document: dict) -> CdsResponse:
    no_null_or_empty(document)
    return CdsResponse.model_validate(document)


def check_discovery(document: dict) -> Discovery:
    no_null_or_empty(document)
    return Discovery.model_validate(document)
