"""JSON error bodies for everything under /api/v1, also for the errors Flask raises by itself.

Every error answer is `{"error": {"code", "message", "fields"}}` with a Chinese message; `fields`
maps an input field to what is wrong with it (empty when the error is not about one field).
"""

import json
from collections.abc import Callable

from flask import Flask, Response, current_app
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from matchmaker.plumbing.errors import LOST_RACE, end_lost_race, is_api_request
from models.schemas import error_messages

CODES = {
    400: ("bad_request", "请求无效，无法处理"),
    401: ("unauthorized", "缺少或无效的 API 密钥"),
    403: ("forbidden", "该 API 密钥无权调用此接口"),
    404: ("not_found", "资源不存在"),
    405: ("method_not_allowed", "该接口不支持此请求方法"),
    409: ("conflict", "请求与当前状态冲突"),
    413: ("payload_too_large", "请求体过大"),
    415: ("unsupported_media_type", "请求体须为 JSON（Content-Type: application/json）"),
    422: ("validation_failed", "提交的内容未通过校验"),
    429: ("rate_limited", "请求过于频繁，请稍后再试"),
    500: ("internal_error", "服务器处理请求时出错，请稍后再试"),
}

# pydantic error types the shared messages do not cover; an API client sends JSON of any shape.
_TYPE_MESSAGES = {
    "string_type": "须为字符串",
    "int_type": "须为整数",
    "float_type": "须为数字",
    "bool_type": "须为布尔值",
    "list_type": "须为数组",
    "dict_type": "须为对象",
    "model_type": "须为 JSON 对象",
    "model_attributes_type": "须为 JSON 对象",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
    "int_from_float": "须为整数",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str | None = None,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or CODES[status][1])
        self.status = status
        self.message = message or CODES[status][1]
        self.fields = fields or {}
        self.headers = headers or {}


def validation_fields(exc: ValidationError) -> dict[str, str]:
    """Field -> Chinese message, as the web forms show them, plus the JSON-only type errors."""
    fields = error_messages(exc)
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "__all__"
        if error["type"] in _TYPE_MESSAGES:
            fields[field] = _TYPE_MESSAGES[error["type"]]
    return fields


def json_response(payload: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """JSON with Chinese left readable (no \\u escapes)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return current_app.response_class(body, status=status, mimetype="application/json", headers=headers)


def error_response(
    status: int,
    message: str | None = None,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    code: str | None = None,
) -> Response:
    known_code, default = CODES.get(status, ("error", f"请求无法处理（HTTP {status}）"))
    code = code or known_code
    body = {"error": {"code": code, "message": message or default, "fields": fields or {}}}
    headers = dict(headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="api"')
    return json_response(body, status, headers)


def _from_http(exc: HTTPException) -> Response:
    status = exc.code or 500
    headers = {}
    valid_methods = getattr(exc, "valid_methods", None)
    if status == 405 and valid_methods:
        headers["Allow"] = ", ".join(valid_methods)
    code = None if status in CODES else exc.name.lower().replace(" ", "_")
    return error_response(status, headers=headers, code=code)


def init_app(app: Flask) -> None:
    """Answer in JSON under /api/v1 and leave every other path to the HTML error pages.

    Routing errors (unknown path, wrong method) happen before a blueprint is chosen, so a blueprint
    error handler never sees them: the app's handlers are wrapped instead, keeping the page handler
    already registered for each code as the fallback outside the API.
    """
    app.register_error_handler(ApiError, lambda exc: error_response(exc.status, exc.message, exc.fields, exc.headers))
    existing = app.error_handler_spec.get(None, {})
    for status in CODES:
        app.register_error_handler(status, _wrapped(dict(existing.get(status, {}))))
    app.register_error_handler(HTTPException, _wrapped(dict(existing.get(None, {}))))  # any other code
    page = existing.get(None, {}).get(IntegrityError)

    def lost_race(exc: IntegrityError):
        if not is_api_request():
            return page(exc) if page else exc
        end_lost_race()
        return error_response(409, LOST_RACE)

    app.register_error_handler(IntegrityError, lost_race)


def _wrapped(pages: dict[type, Callable]) -> Callable:
    def handle(exc: HTTPException):
        if is_api_request():
            return _from_http(exc)
        for cls in type(exc).__mro__:
            if cls in pages:
                return pages[cls](exc)
        return exc

    return handle
