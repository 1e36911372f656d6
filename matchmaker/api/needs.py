"""An enterprise's own needs: publish (as the web form does), list, read, close, and the stored ranking.

Every operation takes an enterprise key and only ever reaches that enterprise's needs: another
enterprise's need answers 404, the same as one that does not exist.
"""

from flask import url_for

from matchmaker.api import bp
from matchmaker.api.errors import ApiError
from matchmaker.api.present import match_item
from matchmaker.api.registry import ID, operation, service_error
from matchmaker.api.schemas import NeedMatches, NeedOut, NeedPage, PageQuery
from matchmaker.plumbing.db import engine, get_session
from matchmaker.plumbing.extensions import search_index
from matchmaker.services import enterprises, matching, publishing
from matchmaker.services.errors import ServiceError
from models import ApiKey, Need, NeedStatus, Role
from models.schemas import NeedCreate

ENTERPRISE = (Role.enterprise,)
EXAMPLE = {
    "description": "注塑车间有 20 台注塑机，想做设备联网和数据采集，在看板上看到每台机器的开机率、产量和故障。",
    "industry": "C29",
    "domains": [],
    "tags": [],
    "budget_range": "10-30 万元",
    "expected_start": "2027-03",
}


def _own(key: ApiKey, need_id: int) -> Need:
    try:
        return enterprises.own_need(get_session(), key.enterprise_id, need_id)
    except ServiceError as error:
        raise ApiError(404, error.message) from None


@operation(
    bp,
    "POST",
    "/needs",
    tag="需求",
    summary="发布需求（一键发布）",
    body=NeedCreate,
    response=NeedOut,
    status=201,
    roles=ENTERPRISE,
    example=EXAMPLE,
)
def create_need(key: ApiKey, body: NeedCreate):
    """与网页“一键发布”相同的校验与自动标注：标题留空时取描述的第一句；服务领域和能力标签留空时，
    按描述自动识别。发布后立即匹配，结果见 GET /needs/{need_id}/matches。企业规模取企业当前的规模。"""
    session = get_session()
    suggestion = search_index().suggest(engine(), f"{body.title}\n{body.description}")
    try:
        need = publishing.publish_need(session, engine(), search_index(), key.enterprise_id, body, suggestion).need
    except ServiceError as error:
        session.rollback()
        raise service_error(error) from None
    return NeedOut.model_validate(need), {"Location": url_for("api.read_need", need_id=need.id)}


@operation(
    bp, "GET", "/needs", tag="需求", summary="本企业的需求列表", query=PageQuery, response=NeedPage, roles=ENTERPRISE
)
def list_needs(key: ApiKey, query: PageQuery) -> NeedPage:
    """最新发布的在前。"""
    items, total = enterprises.needs_page(get_session(), key.enterprise_id, query.page, query.per_page)
    return NeedPage(
        items=[NeedOut.model_validate(need) for need in items], page=query.page, per_page=query.per_page, total=total
    )


@operation(bp, "GET", f"/needs/<{ID}:need_id>", tag="需求", summary="读取一条需求", response=NeedOut, roles=ENTERPRISE)
def read_need(key: ApiKey, need_id: int) -> NeedOut:
    """只能读取本企业的需求；其他企业的需求与不存在的需求一样返回 404。"""
    return NeedOut.model_validate(_own(key, need_id))


@operation(
    bp, "POST", f"/needs/<{ID}:need_id>/close", tag="需求", summary="关闭需求", response=NeedOut, roles=ENTERPRISE
)
def close_need(key: ApiKey, need_id: int) -> NeedOut:
    """关闭后不再接受对接申请，也不再推送。已关闭的需求再次关闭不报错。"""
    _own(key, need_id)
    need = enterprises.set_need_status(get_session(), key.enterprise_id, need_id, NeedStatus.closed)
    return NeedOut.model_validate(need)


@operation(
    bp,
    "GET",
    f"/needs/<{ID}:need_id>/matches",
    tag="需求",
    summary="需求的推荐方案",
    response=NeedMatches,
    roles=ENTERPRISE,
)
def need_matches(key: ApiKey, need_id: int) -> NeedMatches:
    """发布（或在平台上重新匹配）时保存的排名，去掉此后下架的方案和不再在库的服务商。"""
    need = _own(key, need_id)
    session = get_session()
    if need.status == NeedStatus.open and not matching.has_snapshot(session, need.id):
        matching.match_need(session, engine(), search_index(), need)  # e.g. a need imported or seeded
    return NeedMatches(
        need_id=need.id,
        items=[
            match_item(m.result.rank, m.result.score, m.result.parts, m.result.explanation, m.solution, m.provider)
            for m in matching.stored_matches(session, need.id)
        ],
    )
