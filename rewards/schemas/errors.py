"""The API's error body, and the translation of a schema's complaints into a domain error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, fields

from rewards.errors import AmountInvalid, DomainError, ValidationFailed

AMOUNT_FIELD = "amount"


class ErrorBodySchema(Schema):
    """What went wrong: a stable code for the POS and a message for the cashier."""

    code = fields.String(
        required=True,
        metadata={
            "description": "稳定的错误码，POS 据此处理，例如 token_expired、tier_none。",
            "example": "token_expired",
        },
    )
    message = fields.String(
        required=True,
        metadata={"description": "给收银员看的中文说明，可直接显示；措辞可能调整，勿解析。"},
    )
    details = fields.Dict(metadata={"description": "可选的补充信息，例如各字段的问题。"})


class ErrorSchema(Schema):
    """Every error of the API: ``{"error": {"code", "message"}}``."""

    error = fields.Nested(ErrorBodySchema, required=True)


def _messages_of(errors: Any) -> list[str]:
    if isinstance(errors, Mapping):
        return [m for value in errors.values() for m in _messages_of(value)]
    if isinstance(errors, list | tuple):
        return [m for value in errors for m in _messages_of(value)]
    return [str(errors)]


def validation_error(messages: Mapping[str, Any]) -> DomainError:
    """The domain error for a request a schema refused: ``amount_invalid`` when only the amount
    is wrong, else ``invalid`` naming each field and its problem.

    ``messages`` is webargs' shape, keyed by location: ``{"json": {"amount": ["…"]}}``.
    """
    problems: dict[str, list[str]] = {}
    for location_errors in messages.values():
        if isinstance(location_errors, Mapping):
            for name, errors in location_errors.items():
                problems.setdefault(str(name), []).extend(_messages_of(errors))
        else:
            problems.setdefault("_schema", []).extend(_messages_of(location_errors))
    if set(problems) == {AMOUNT_FIELD}:
        return AmountInvalid(problems[AMOUNT_FIELD][0])
    summary = "；".join(
        (errors[0] if name == "_schema" else f"{name}：{errors[0]}").rstrip("。")
        for name, errors in sorted(problems.items())
    )
    return ValidationFailed(f"请求内容有误：{summary}。", fields=problems)
