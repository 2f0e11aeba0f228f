"""What every /api/v1 blueprint shares (the POS API and the people API): the contract's error
body for webargs' refusals, ids in URLs, and each operation's operationId and errors in the
OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import flask_smorest
from flask import jsonify, request
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from rewards import web
from rewards.errors import DomainError, ValidationFailed
from rewards.schemas import ErrorSchema, validation_error

F = TypeVar("F", bound=Callable[..., Any])

# Ids are 32-bit integers in every database; a larger one in a URL is simply not found.
MAX_ID = 2**31 - 1


class Blueprint(flask_smorest.Blueprint):
    """An /api/v1 blueprint. Its schemas decide what is unknown: a request schema refuses any
    field it does not declare, in the body and in the query string alike (webargs would
    otherwise drop unknown query parameters silently, against the documented contract)."""

    ARGUMENTS_PARSER = FlaskParser(unknown=None)


def error_body(error: DomainError, status: int | None = None) -> tuple[Response, int]:
    """``{"error": {"code", "message"}}`` with the error's status (or ``status``)."""
    return jsonify(error.to_dict()), status or error.status


def request_refused(error: HTTPException) -> Response | tuple[Response, int]:
    """webargs' refusals (bad JSON, schema errors) in the contract's shape; others as usual.

    Register it on each API blueprint: ``blp.errorhandler(HTTPException)(request_refused)``.
    """
    messages = (getattr(error, "data", None) or {}).get("messages")
    if messages is None:
        return web.handle_http_error(error)
    if error.code == 400:
        return error_body(ValidationFailed("请求体不是有效的 JSON，请检查格式和 UTF-8 编码。"), 400)
    if "json" in messages and request.method == "POST" and not request.is_json:
        return error_body(
            ValidationFailed("请求体必须是 JSON，并带上请求头 Content-Type: application/json。")
        )
    return error_body(validation_error(messages))


def document_operation(
    blueprint: Blueprint,
    statuses: tuple[int, ...],
    descriptions: dict[int, str],
    security_scheme: str | None,
    *,
    operation_id: str,
    **doc: Any,
) -> Callable[[F], F]:
    """Document an operation: its ``operationId``, the contract's error body for each of
    ``statuses`` (described by ``descriptions``), the credential it needs, and any other OpenAPI
    fields (``summary`` …).

    ``operation_id`` is camelCase verb and noun (``previewCheckout``), unique in the document:
    generated clients name their functions after it (``preview_checkout``), so it is part of the
    contract and never changes in v1."""
    doc["operationId"] = operation_id
    doc["security"] = [{security_scheme: []}] if security_scheme else []

    def decorate(view: F) -> F:
        for status in statuses:
            view = blueprint.alt_response(
                status, schema=ErrorSchema, description=descriptions[status]
            )(view)
        return blueprint.doc(**doc)(view)

    return decorate
