"""Dockings (对接): an enterprise key asks a provider about a recommended solution and follows the
status; a provider key reads the dockings addressed to it. Another party's docking answers 404."""

from flask import current_app, url_for
from sqlmodel import select

from matchmaker.api import bp
from matchmaker.api.errors import ApiError
from matchmaker.api.registry import ID, operation, service_error
from matchmaker.api.schemas import DockingCreate, DockingDetail, DockingEventOut, DockingOut, DockingPage, DockingQuery
from matchmaker.plumbing.db import get_session
from matchmaker.services import api_keys, dockings, enterprises
from matchmaker.services.dockings import Party
from matchmaker.services.errors import Conflict, ServiceError
from models import ApiKey, Docking, NeedStatus, Role

PARTIES = (Role.enterprise, Role.provider)


def _party(key: ApiKey) -> tuple[Party, int]:
    if key.role == Role.enterprise:
        return Party.enterprise, key.enterprise_id
    return Party.provider, key.provider_id


def _detail(key: ApiKey, docking_id: int) -> DockingDetail:
    party, org_id = _party(key)
    try:
        shown = dockings.view(get_session(), party, org_id, docking_id)
    except ServiceError as error:
        raise ApiError(404, error.message) from None
    timeline = [DockingEventOut.model_validate(entry.event) for entry in shown.timeline]
    return DockingDetail.model_validate(shown.docking.model_dump() | {"timeline": timeline})


@operation(
    bp,
    "POST",
    "/dockings",
    tag="对接",
    summary="对推荐方案申请对接",
    body=DockingCreate,
    response=DockingDetail,
    status=201,
    roles=(Role.enterprise,),
    errors=(404, 409),
    example={"need_id": 1, "solution_id": 1, "message": "希望下周安排现场沟通。"},
)
def create_docking(key: ApiKey, body: DockingCreate):
    """只能对本企业未关闭需求的推荐结果中的方案申请；同一服务商每个需求只需申请一次，每个需求申请数有上限。
    需求不属于本企业时返回 404；需求已关闭或已申请过该方案时返回 409。"""
    session = get_session()
    try:
        need = enterprises.own_need(session, key.enterprise_id, body.need_id)
    except ServiceError as error:
        raise ApiError(404, error.message, {"need_id": error.message}) from None
    if need.status != NeedStatus.open:
        raise ApiError(409, "需求已关闭，不能申请对接")
    asked = select(Docking.id).where(Docking.need_id == need.id, Docking.solution_id == body.solution_id)
    if session.exec(asked).first() is not None:
        raise ApiError(409, "已对该方案提交过对接申请")
    try:
        docking = dockings.request_docking(
            session,
            key.enterprise_id,
            api_keys.acting_user_id(session, key),
            need.id,
            body.solution_id,
            body.message,
            int(current_app.config["MATCHMAKER_DOCKING_CAP"]),
        )
    except ServiceError as error:  # a cap reached or asked already (maybe by a concurrent request): 409
        session.rollback()
        raise service_error(error, 409 if isinstance(error, Conflict) else 422) from None
    return _detail(key, docking.id), {"Location": url_for("api.read_docking", docking_id=docking.id)}


@operation(
    bp,
    "GET",
    "/dockings",
    tag="对接",
    summary="本单位的对接列表",
    query=DockingQuery,
    response=DockingPage,
    roles=PARTIES,
    read_only=True,
)
def list_dockings(key: ApiKey, query: DockingQuery) -> DockingPage:
    """企业密钥看到本企业发出的申请，服务商密钥看到发给本服务商的申请；最近有进展的在前。"""
    party, org_id = _party(key)
    rows, total = dockings.page_for(get_session(), party, org_id, query.status, query.page, query.per_page)
    return DockingPage(
        items=[DockingOut.model_validate(row.docking) for row in rows],
        page=query.page,
        per_page=query.per_page,
        total=total,
    )


@operation(
    bp,
    "GET",
    f"/dockings/<{ID}:docking_id>",
    tag="对接",
    summary="读取对接状态与进展",
    response=DockingDetail,
    roles=PARTIES,
    read_only=True,
)
def read_docking(key: ApiKey, docking_id: int) -> DockingDetail:
    """当前状态和时间线；其他单位的对接返回 404。"""
    return _detail(key, docking_id)
