"""The SIP plan as a JSON document (msgspec converts the domain dataclasses both ways), like a case's."""

from __future__ import annotations

from typing import Any

import msgspec

from domain.sip import SipPlan


def to_document(plan: SipPlan) -> dict[str, Any]:
    document: dict[str, Any] = msgspec.to_builtins(plan)
    document.pop("version", None)  # the row's column is the one truth
    return document


def from_document(document: dict[str, Any], version: int) -> SipPlan:
    return msgspec.convert({**document, "version": version}, SipPlan, strict=False)
