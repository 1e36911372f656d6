"""The contract, machine- and human-readable: /api/v1/openapi.json and /api/v1/docs (no key needed).

The docs page is rendered on the server from the very document served as JSON: no CDN, no script.
"""

import json
import re
from typing import Any

from flask import render_template, request
from markupsafe import Markup, escape

from matchmaker.api import bp
from matchmaker.api.errors import json_response
from matchmaker.api.openapi import TAGS, document

_CONSTRAINTS = (
    ("minLength", "至少 {} 个字符"),
    ("maxLength", "至多 {} 个字符"),
    ("minimum", "≥ {}"),
    ("maximum", "≤ {}"),
    ("minItems", "至少 {} 项"),
    ("maxItems", "至多 {} 项"),
)
_FORMATS = {"date-time": "日期时间（ISO 8601，UTC）", "date": "日期（YYYY-MM-DD）", "email": "邮箱"}


@bp.route("/openapi.json")
def openapi_json():
    return json_response(document())


def type_of(schema: dict[str, Any]) -> Markup:
    """A schema's type in a few words, with links to the named schemas it refers to."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return Markup('<a href="#schema-{0}">{0}</a>').format(name)
    if "anyOf" in schema:
        return Markup(" | ").join(type_of(option) for option in schema["anyOf"])
    if schema.get("type") == "array":
        return type_of(schema.get("items", {})) + Markup("[]")
    if schema.get("type") == "object" and "additionalProperties" in schema:
        return Markup("object&lt;string, ") + type_of(schema["additionalProperties"]) + Markup("&gt;")
    return escape(schema.get("type", "any"))


def constraints_of(schema: dict[str, Any]) -> str:
    parts = [template.format(schema[key]) for key, template in _CONSTRAINTS if key in schema]
    if "enum" in schema:
        parts.append("取值：" + " / ".join(str(v) for v in schema["enum"]))
    if "format" in schema:
        parts.append(_FORMATS.get(schema["format"], schema["format"]))
    if "default" in schema and schema["default"] not in (None, "", []):
        parts.append(f"默认 {schema['default']}")
    for option in schema.get("anyOf", []):
        nested = constraints_of(option)
        if nested:
            parts.append(nested)
    return "；".join(parts)


def _fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "type": type_of(prop),
            "required": name in required,
            "constraints": constraints_of(prop),
            "description": prop.get("description", ""),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def _prose(text: str) -> Markup:
    """The document's Markdown subset (paragraphs, **bold**, `code`) as HTML."""
    html = str(escape(text))
    html = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html)
    html = re.sub(r"`(.+?)`", r"<code>\1</code>", html)
    return Markup("".join(f"<p>{part.strip()}</p>" for part in html.split("\n\n") if part.strip()))


def _operations(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in TAGS}
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            grouped.setdefault(op["tags"][0], []).append(
                {
                    "id": op["operationId"],
                    "method": method.upper(),
                    "path": path,
                    "summary": op["summary"],
                    "description": op["description"],
                    "parameters": [
                        {
                            "name": p["name"],
                            "where": {"path": "路径", "query": "查询"}[p["in"]],
                            "type": type_of(p["schema"]),
                            "required": p.get("required", False),
                            "constraints": constraints_of(p["schema"]),
                            "description": p.get("description", ""),
                        }
                        for p in op.get("parameters", [])
                    ],
                    "body": type_of(body["schema"]) if body else None,
                    "example": json.dumps(body["example"], ensure_ascii=False, indent=2)
                    if body and "example" in body
                    else None,
                    "responses": [
                        {
                            "status": status,
                            "description": response["description"],
                            "type": type_of(response["content"]["application/json"]["schema"]),
                            "headers": ", ".join(response.get("headers", {})),
                        }
                        for status, response in op["responses"].items()
                    ],
                }
            )
    return grouped


def _quickstart(doc: dict[str, Any]) -> str:
    """A first call to copy: the match operation with its documented example."""
    example = doc["paths"]["/match"]["post"]["requestBody"]["content"]["application/json"]["example"]
    body = json.dumps(example, ensure_ascii=False)
    return (
        f"curl -X POST {request.host_url.rstrip('/')}{doc['servers'][0]['url']}/match \\\n"
        "  -H 'Authorization: Bearer <密钥>' -H 'Content-Type: application/json' \\\n"
        f"  -d '{body}'"
    )


@bp.route("/docs")
def docs():
    doc = document()
    schemas = {
        name: {
            "description": schema.get("description", ""),
            "fields": _fields(schema),
            "enum": schema.get("enum"),
        }
        for name, schema in sorted(doc["components"]["schemas"].items())
    }
    return render_template(
        "api/docs.html",
        doc=doc,
        intro=_prose(doc["info"]["description"]),
        quickstart=_quickstart(doc),
        tags=dict(TAGS),
        operations=_operations(doc),
        schemas=schemas,
    )
