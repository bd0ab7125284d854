"""OpenAPI document settings and the problem responses every route may give."""

from __future__ import annotations

from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from server.schemas.cases import Problem

PROBLEMS: dict[int, ResponseSpec] = {
    status: ResponseSpec(data_container=Problem, description=description, media_type="application/problem+json")
    for status, description in (
        (400, "The request is malformed, a field has the wrong type, a time lies outside its plausible window "
              "(`time_out_of_range`) or the JSON nests too deep (problem details name the field)."),
        (401, "Missing, expired or invalid bearer token."),
        (403, "Your units or roles do not allow this."),
        (404, "No such resource, or not visible to you."),
        (409, "The case changed since you read it (the current state is included), or a duplicate."),
        (413, "The body is larger than the API accepts (SAMPLAN_MAX_BODY_BYTES)."),
        (422, "The request breaks a rule of the process (problem details name the field)."),
    )
}


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Samplan API", version="1.0.0",
        description="Coordinated discharge from inpatient care and coordinated individual plans (SIP). "
                    "Every route under /api/v1 needs a bearer token.",
        path="/schema", render_plugins=[SwaggerRenderPlugin(path="/")],
        components=Components(security_schemes={"BearerAuth": SecurityScheme(
            type="http", scheme="bearer", bearer_format="JWT", description="Access token from the OIDC provider.")}),
        use_handler_docstrings=False,
    )
