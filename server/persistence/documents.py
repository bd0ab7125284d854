"""Aggregates (discharge cases, SIP plans) as JSON documents: msgspec converts the domain dataclasses both ways."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

T = TypeVar("T")


def to_document(aggregate: Any) -> dict[str, Any]:
    document: dict[str, Any] = msgspec.to_builtins(aggregate)
    document.pop("version", None)  # the row's column is the one truth
    return document


def from_document(document: dict[str, Any], version: int, kind: type[T]) -> T:
    return msgspec.convert({**document, "version": version}, kind, strict=False)
