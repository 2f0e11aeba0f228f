"""Building blocks of the request schemas: strict objects and fields with Chinese messages."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields


class RequestSchema(Schema):
    """A request body: a JSON object with exactly the declared fields; unknown ones are refused."""

    class Meta:
        unknown = RAISE

    error_messages = {
        "type": "请求体必须是 JSON 对象。",
        "unknown": "不认识的字段，本接口不接受它。",
    }


class Text(fields.String):
    """A text field whose errors read in Chinese."""

    default_error_messages = {
        "required": "缺少此字段。",
        "null": "不能为 null。",
        "invalid": "必须是文本（JSON 字符串）。",
    }


class WholeNumber(fields.Integer):
    """An integer field whose errors read in Chinese."""

    default_error_messages = {
        "required": "缺少此字段。",
        "null": "不能为 null。",
        "invalid": "必须是整数。",
        "too_large": "数字太大。",
    }


class BusinessDate(fields.Date):
    """A calendar date (YYYY-MM-DD) in the district's time zone, with Chinese errors."""

    default_error_messages = {
        "required": "缺少此字段。",
        "null": "不能为 null。",
        "invalid": "日期格式应为 YYYY-MM-DD，例如 2024-05-01。",
        "format": "日期格式应为 YYYY-MM-DD，例如 2024-05-01。",
    }
