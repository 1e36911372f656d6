"""POST /match: rank the live solutions for a free-text need, storing nothing."""

from flask import g

from matchmaker.api import bp
from matchmaker.api.present import match_item
from matchmaker.api.registry import operation, service_error
from matchmaker.api.schemas import MatchRequest, MatchResponse
from matchmaker.plumbing.db import engine, get_session
from matchmaker.plumbing.extensions import search_index
from matchmaker.services import catalogue
from matchmaker.services.errors import ServiceError
from models import ApiKey

EXAMPLE = {
    "text": "我们是家具厂，开料机和封边机都是单机，想做设备联网，在手机上看到每台机器的开机率和产量。",
    "industry": "furniture",
    "size": "small",
    "top_n": 5,
}


@operation(
    bp,
    "POST",
    "/match",
    tag="匹配",
    summary="一段话匹配服务方案（不保存）",
    body=MatchRequest,
    response=MatchResponse,
    example=EXAMPLE,
    read_only=True,
)
def match(key: ApiKey, body: MatchRequest) -> dict:
    """用与平台相同的排序（语义、关键词、行业、规模、能力标签、服务领域）对已入库服务商的已发布方案排序，
    每个结果附得分构成和匹配理由。响应中的 suggestion 是从描述中识别出的服务领域、能力标签和行业，
    供调用方确认后作为 industry 再次提交；未给出 industry 时不按行业加权。不保存任何内容。"""
    try:
        found = catalogue.match_text(
            get_session(), engine(), search_index(), body.text, body.industry, body.size, body.top_n
        )
    except ServiceError as error:
        raise service_error(error) from None
    g.embedding_cache = "hit" if found.cached else "miss"  # in the request's log line
    suggestion = found.suggestion
    return {
        "items": [
            match_item(
                m.match.rank, m.match.score, m.match.parts, m.match.explanation.as_dict(), m.solution, m.provider
            )
            for m in found.matches
        ],
        "suggestion": {
            "domains": list(suggestion.domains),
            "tags": list(suggestion.tags),
            "industry": suggestion.industry,
        },
    }
