"""One decorator declares an API operation: its route, who may call it, what it reads and returns.

The same declaration drives the request handling (token check, role check, rate limit, body and
query validation, response serialisation) and the OpenAPI document, so the contract cannot drift
from what the code does.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Blueprint, current_app, g, request
from pydantic import BaseModel, ValidationError

from matchmaker.api.errors import ApiError, json_response, validation_fields
from matchmaker.plumbing import db
from matchmaker.plumbing.extensions import search_index
from matchmaker.plumbing.ratelimit import limiter
from matchmaker.services.errors import ServiceError
from models import ApiKey, Role
from models.validation import CONTROL_CHARACTERS

# A path id: a positive 32-bit integer; anything else misses the route (404) before reaching a query.
ID = "int(min=1, max=2147483647)"


@dataclass(frozen=True)
class Operation:
    endpoint: str
    method: str
    rule: str  # Flask rule, relative to the blueprint
    tag: str
    summary: str
    description: str
    response: type[BaseModel]
    status: int
    roles: frozenset[Role] | None  # None: any valid key
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    example: dict | None = None
    errors: tuple[int, ...] = field(default=())  # statuses the view itself may answer with
    read_only: bool = False  # the view only reads: its session is on an autocommit connection


OPERATIONS: list[Operation] = []


def operation(
    bp: Blueprint,
    method: str,
    rule: str,
    *,
    tag: str,
    summary: str,
    response: type[BaseModel],
    description: str = "",
    roles: tuple[Role, ...] | None = None,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    status: int = 200,
    example: dict | None = None,
    errors: tuple[int, ...] = (),
    read_only: bool = False,
) -> Callable:
    """Register `view` under `rule`; it is called with the path values, `key`, and `body` / `query`
    when declared, and returns a `response` instance (or `(instance, headers)`), or the same as plain
    data: a hot path's view skips building and validating models on every call, and the tests check
    its answers against `response` instead (tests/api/test_api_contract.py)."""

    def decorate(view: Callable) -> Callable:
        op = Operation(
            endpoint=f"{bp.name}.{view.__name__}",
            method=method,
            rule=rule,
            tag=tag,
            summary=summary,
            description=description or _paragraphs(view.__doc__ or ""),
            response=response,
            status=status,
            roles=frozenset(roles) if roles is not None else None,
            body=body,
            query=query,
            example=example,
            errors=errors,
            read_only=read_only,
        )

        def handle(**path_values):
            if op.read_only:
                db.read_only()
            key = _authenticate(op)
            kwargs = dict(path_values, key=key)
            if query is not None:
                kwargs["query"] = _parse(query, request.args.to_dict(flat=True), strict=False)
            if body is not None:
                kwargs["body"] = _parse(body, _json_object(), strict=True)
            result = view(**kwargs)
            result, headers = result if isinstance(result, tuple) else (result, {})
            if isinstance(result, response):
                result = result.model_dump(mode="json")
            elif not isinstance(result, dict):
                raise TypeError(f"{op.endpoint} returned {type(result).__name__}, declared {response.__name__}")
            return json_response(result, status, headers)

        handle.__name__ = view.__name__
        bp.add_url_rule(rule, view.__name__, handle, methods=[method])
        OPERATIONS.append(op)
        return view

    return decorate


def _paragraphs(docstring: str) -> str:
    """A docstring's paragraphs with their hard line breaks removed (the text is Chinese: no spaces)."""
    blocks = "\n".join(line.strip() for line in docstring.strip().splitlines()).split("\n\n")
    return "\n\n".join(block.replace("\n", "") for block in blocks)


def _authenticate(op: Operation) -> ApiKey:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "缺少 API 密钥：请在请求头中携带 Authorization: Bearer <密钥>")
    key = current_app.extensions["api_keys"].authenticate(
        current_app.extensions["db_reader"], search_index(), token.strip()
    )
    if key is None:
        raise ApiError(401, "API 密钥无效或已被吊销")
    g.api_key_id = key.id
    if op.roles is not None and key.role not in op.roles:
        raise ApiError(403, "该 API 密钥的角色无权调用此接口")
    limit, window = current_app.config["MATCHMAKER_API_RATE_LIMIT"], current_app.config["MATCHMAKER_API_RATE_WINDOW"]
    decision = limiter().hit(f"key:{key.id}", limit, window)
    g.rate_limit = decision
    if not decision.allowed:
        wait = decision.retry_after
        raise ApiError(429, f"请求过于频繁，请 {wait} 秒后再试", headers={"Retry-After": str(wait)})
    return key


def _json_object() -> dict:
    if not request.is_json:
        raise ApiError(415)
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, "请求体不是有效的 JSON") from None
    if not isinstance(data, dict):
        raise ApiError(422, "请求体须为 JSON 对象")
    return data


BAD_TEXT = "含有不允许的字符（控制字符或无效的 Unicode）"


def _bad_text(value: object) -> bool:
    """A string no field may hold: control characters (NUL, ESC, …) or lone surrogates (valid JSON
    escapes both). Line breaks pass here; the schemas refuse them where a field holds one line."""
    if isinstance(value, str):
        if CONTROL_CHARACTERS.search(value):
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_bad_text(k) or _bad_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_bad_text(v) for v in value)
    return False


def _parse(model: type[BaseModel], data: dict, strict: bool) -> BaseModel:
    bad = {name: BAD_TEXT for name, value in data.items() if _bad_text(value)}
    if bad or _bad_text(list(data)):
        raise ApiError(422, fields=bad or {"__all__": BAD_TEXT})
    try:
        return model.model_validate(data, strict=strict)
    except ValidationError as exc:
        raise ApiError(422, fields=validation_fields(exc)) from None


def service_error(error: ServiceError, status: int = 422) -> ApiError:
    """A domain rule broken by the request: 422 naming the field when the service says which."""
    return ApiError(status, error.message, {error.field: error.message} if error.field else None)


def not_found(error: ServiceError) -> ApiError:
    return ApiError(404, error.message)
