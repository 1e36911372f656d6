"""The OpenAPI 3.1 document, generated from the declared operations and their pydantic models.

Schemas come from `pydantic.json_schema.models_json_schema` (JSON Schema 2020-12, which OpenAPI 3.1
uses as is): request models in validation mode, responses in serialisation mode. Error answers are
documented per operation from what can actually produce them (token check, role check, path ids,
validation, the rate limit), so a client can rely on the list being complete.
"""

import re
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from matchmaker.api.errors import CODES
from matchmaker.api.registry import OPERATIONS, Operation
from matchmaker.api.schemas import MAX_ID, ErrorBody

REF = "#/components/schemas/{model}"
_PATH_VALUE = re.compile(r"<(?:[^:<>]+:)?(\w+)>")

TAGS = [
    ("匹配", "用一段话匹配服务方案，不保存任何内容"),
    ("需求", "企业密钥：发布、查看、关闭本企业的需求及其推荐方案"),
    ("服务方案", "已入库服务商的已发布方案"),
    ("服务商", "服务商名录（仅已入库）"),
    ("对接", "企业向服务商申请对接，双方查看对接进展"),
    ("分类", "服务领域、行业和能力标签代码"),
]

DESCRIPTION = """\
坪山区数字服务供需对接平台的开放接口，供区数字化转型公共服务平台等系统集成。

**认证**：每个请求在请求头中携带管理员签发的 API 密钥：`Authorization: Bearer <密钥>`。\
密钥有角色（企业、服务商、管理员）和所属单位；企业密钥只能看到本企业的需求和对接。\
缺少或无效的密钥返回 401，角色不符返回 403，其他单位的对象与不存在的对象一样返回 404。

**错误**：所有错误的响应体都是 `{"error": {"code", "message", "fields"}}`，`message` 为中文说明，\
`fields` 给出每个出错字段的说明。

**分页**：列表接口接受 `page`（从 1 开始）和 `per_page`（最多 100），响应含 `items`、`page`、`per_page`、`total`。

**限流**：每个密钥在一个时间窗口内的请求数有上限，超出时返回 429，`Retry-After` 头给出需等待的秒数。
"""


def openapi_path(rule: str) -> str:
    """A Flask rule's OpenAPI path: `/needs/<int(min=1):need_id>` -> `/needs/{need_id}`."""
    return _PATH_VALUE.sub(r"{\1}", rule)


def _path_names(rule: str) -> list[str]:
    return _PATH_VALUE.findall(rule)


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent rather than null: drop the null branch of an optional value."""
    schema = {k: v for k, v in schema.items() if k not in ("title", "description")}
    options = schema.pop("anyOf", None)
    if options is not None:
        kept = [option for option in options if option != {"type": "null"}]
        if len(kept) == 1:
            schema = kept[0] | schema
        else:
            schema["anyOf"] = kept
    if schema.get("default", 0) is None:
        del schema["default"]
    return schema


def _error_statuses(op: Operation) -> list[int]:
    statuses = {401, 429, 500, *op.errors}
    if op.roles is not None:
        statuses.add(403)
    if _path_names(op.rule):
        statuses.add(404)
    if op.query is not None or op.body is not None:
        statuses.add(422)
    if op.body is not None:
        statuses.update({400, 413, 415})
    return sorted(statuses)


def _error_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": CODES[status][1],
        "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorBody")}}},
    }
    if status == 429:
        response["headers"] = {
            "Retry-After": {"description": "需等待的秒数", "schema": {"type": "integer", "minimum": 1}}
        }
    if status == 401:
        response["headers"] = {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}
    return response


def _roles_note(op: Operation) -> str:
    labels = {"enterprise": "企业", "provider": "服务商", "admin": "管理员"}
    if op.roles is None:
        return "任何有效密钥均可调用。"
    return "需要" + "或".join(labels[r] for r in sorted(op.roles)) + "密钥。"


def _operation(op: Operation, components: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": op.endpoint.split(".", 1)[1],
        "tags": [op.tag],
        "summary": op.summary,
        "description": f"{op.description}\n\n{_roles_note(op)}".strip(),
        "security": [{"bearerAuth": []}],
        "x-roles": sorted(op.roles) if op.roles is not None else ["enterprise", "provider", "admin"],
    }
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": "编号",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        }
        for name in _path_names(op.rule)
    ]
    if op.query is not None:
        query_schema = components[op.query.__name__]
        required = set(query_schema.get("required", []))
        for name, prop in query_schema["properties"].items():
            parameter = {"name": name, "in": "query", "required": name in required, "schema": _without_null(prop)}
            if prop.get("description"):
                parameter["description"] = prop["description"]
            parameters.append(parameter)
    if parameters:
        doc["parameters"] = parameters
    if op.body is not None:
        media: dict[str, Any] = {"schema": {"$ref": REF.format(model=op.body.__name__)}}
        if op.example is not None:
            media["example"] = op.example
        doc["requestBody"] = {"required": True, "content": {"application/json": media}}
    success: dict[str, Any] = {
        "description": "已创建" if op.status == 201 else "成功",
        "content": {"application/json": {"schema": {"$ref": REF.format(model=op.response.__name__)}}},
    }
    if op.status == 201:
        success["headers"] = {"Location": {"description": "新资源的地址", "schema": {"type": "string"}}}
    doc["responses"] = {str(op.status): success} | {str(s): _error_response(s) for s in _error_statuses(op)}
    return doc


def _components(operations: list[Operation]) -> dict[str, Any]:
    pairs: list[tuple[type[BaseModel], str]] = [(ErrorBody, "serialization")]
    for op in operations:
        pairs.append((op.response, "serialization"))
        pairs.extend((model, "validation") for model in (op.body, op.query) if model is not None)
    _, defs = models_json_schema(list(dict.fromkeys(pairs)), ref_template=REF)
    return defs.get("$defs", {})


@cache
def _document() -> dict[str, Any]:
    components = _components(OPERATIONS)
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(openapi_path(op.rule), {})[op.method.lower()] = _operation(op, components)
    query_models = {op.query.__name__ for op in OPERATIONS if op.query is not None}
    return {
        "openapi": "3.1.0",
        "info": {"title": "坪山区数字服务供需对接平台 开放接口", "version": "1.0.0", "description": DESCRIPTION},
        "servers": [{"url": "/api/v1"}],
        "tags": [{"name": name, "description": text} for name, text in TAGS],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "管理员在“对接服务中心 → API 密钥”签发的密钥，签发时只显示一次",
                }
            },
            "schemas": {name: schema for name, schema in components.items() if name not in query_models},
        },
    }


def document() -> dict[str, Any]:
    """The document (built once per process: operations are declared at import time)."""
    return _document()
