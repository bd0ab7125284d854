"""The discharge case as a JSON document (msgspec converts the domain dataclasses both ways)."""

from __future__ import annotations

from typing import Any

import msgspec

from domain.discharge_case import DischargeCase


def to_document(case: DischargeCase) -> dict[str, Any]:
    document: dict[str, Any] = msgspec.to_builtins(case)
    document.pop("version", None)  # the row's column is the one truth
    return document


def from_document(document: dict[str, Any], version: int) -> DischargeCase:
    return msgspec.convert({**document, "version": version}, DischargeCase, strict=False)
