"""OpenAPI post-processing: every operation documents its error responses and the error body.

drf-spectacular documents only the success responses a view declares. Every API error has
one shape (``{"error": {"code", "message", "fields"}}``, :mod:`api.exceptions`), and which
statuses an operation can answer follows from what every endpoint shares (authentication,
roles, throttling, the query and body guards of :mod:`api.middleware`), so they are added here
for all operations at once (``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``).

The schema also says what the server enforces on strings and numbers, so that a client (or a
fuzzer) that keeps to the schema is never refused: no string may hold a NUL character
(PostgreSQL cannot store or compare one), a required text must hold more than whitespace (it is
trimmed), and a filter's bounds (``p_planet_min`` from 0 to 1, ids from 1) are its schema's.
"""
from __future__ import annotations

from drf_spectacular.contrib.django_filters import DjangoFilterExtension

#: No NUL character anywhere in the string.
NO_NUL = r"^[^\x00]*$"
#: No NUL, and something besides whitespace (text fields are trimmed, then must not be blank).
NOT_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"
#: A pagination cursor: what the server issues (base64).
CURSOR = r"^[A-Za-z0-9+/]{0,200}={0,2}$"

ERROR_COMPONENT = "Error"

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every API error: a machine-readable code, a message for people, and per-field messages.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "e.g. invalid, not_found, permission_denied, throttled"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "description": "field or parameter name -> list of messages (nested for nested fields)",
                    "additionalProperties": True,
                },
            },
            "required": ["code", "message", "fields"],
        },
    },
    "required": ["error"],
}

#: Statuses every operation may answer, and why.
COMMON_ERRORS = {
    "400": "Invalid input: a query parameter, cursor position or body field (named in `fields`).",
    "401": "No or invalid credentials (`Authorization: Token <key>`).",
    "403": "Your role does not allow this (or a missing CSRF token with session authentication).",
    "404": "No such object, an id in the body that does not exist, or a cursor this list did not issue.",
    "405": "Method not allowed on this path.",
    "406": "The Accept header asks for a format this endpoint does not produce.",
    "429": "Too many requests; retry after `Retry-After` seconds.",
}
#: Statuses of operations that take a request body.
BODY_ERRORS = {
    "409": "The object's state does not allow this (a superseded label, a dispute already resolved).",
    "411": "A chunked body this server cannot read to its end: send Content-Length.",
    "413": "The body is over the size limit.",
    "415": "Unsupported Content-Type.",
}


def add_error_responses(result, generator, request, public):
    """drf-spectacular hook: add the error component and the error responses to every operation
    (keeping any response an operation documents itself)."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "put", "post", "patch", "delete", "head", "options"}:
                continue
            errors = dict(COMMON_ERRORS)
            if "requestBody" in operation:
                errors.update(BODY_ERRORS)
            responses = operation.setdefault("responses", {})
            for code, description in errors.items():
                responses.setdefault(code, {"description": description, "content": content})
            for code, response in responses.items():  # errors a view documents itself, same shape
                if str(code)[0] in "45" and "content" not in response:
                    response["content"] = content
    return result


def _constrain_string(schema: dict, *, required_text: bool = False) -> None:
    if schema.get("type") == "string" and not {"enum", "format", "pattern"} & set(schema):
        schema["pattern"] = NOT_BLANK if required_text and schema.get("minLength", 0) >= 1 else NO_NUL


def add_string_constraints(result, generator, request, public):
    """drf-spectacular hook: the NUL and blank rules on every string parameter and request field."""
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter.get("name") == "cursor":
                    schema.setdefault("pattern", CURSOR)
                _constrain_string(schema)
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if not name.endswith("Request"):  # COMPONENT_SPLIT_REQUEST: request bodies only
            continue
        for prop in component.get("properties", {}).values():
            _constrain_string(prop, required_text=True)
    return result


class BoundedFilterExtension(DjangoFilterExtension):
    """django-filter parameters with the bounds their filters enforce (``min_value``,
    ``max_value``, ``max_length``): a value the schema allows is a value the filter accepts."""

    priority = 1  # over drf-spectacular's own extension for DjangoFilterBackend

    def resolve_filter_field(self, auto_schema, model, filterset_class, field_name, filter_field):
        parameters = super().resolve_filter_field(auto_schema, model, filterset_class, field_name, filter_field)
        field = filter_field.field  # the form field, with every validator the filter applies
        lower, upper = _bounds(field)
        for parameter in parameters:
            schema = parameter.get("schema", {})
            if schema.get("type") in ("number", "integer"):
                cast = int if schema["type"] == "integer" else float
                if lower is not None:
                    schema.setdefault("minimum", cast(lower))
                if upper is not None:
                    schema.setdefault("maximum", cast(upper))
            elif schema.get("type") == "string" and getattr(field, "max_length", None) and "enum" not in schema:
                schema.setdefault("maxLength", int(field.max_length))
        return parameters


def _bounds(field) -> tuple:
    """The tightest (lower, upper) bounds of a form field's validators (None: unbounded)."""
    from django.core.validators import MaxValueValidator, MinValueValidator

    lows = [v.limit_value for v in field.validators if isinstance(v, MinValueValidator)]
    highs = [v.limit_value for v in field.validators if isinstance(v, MaxValueValidator)]
    return (max(lows) if lows else None), (min(highs) if highs else None)
