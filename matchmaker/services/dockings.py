"""Docking (对接): an enterprise asks a provider about one solution for one need, through to acceptance.

    requested -> accepted | declined (provider; a decline needs a reason)
    accepted -> negotiating (either party)
    negotiating -> contracted (enterprise: amount in 万元 and the contract date)
    contracted -> completed (enterprise: 验收 with satisfaction 1-5 and a comment)
    requested -> cancelled (enterprise); accepted | negotiating -> cancelled (either; with a reason)

`TRANSITIONS` is the whole rule book: a move not in it, or made by a party it does not name, raises
ServiceError and writes nothing. Every move writes a DockingEvent (the timeline both sides see) and
tells the other party in-app and by email, in the same transaction.

Contact details cross both ways only while the docking is accepted or further along
(`CONTACT_VISIBLE`): the provider's reach the enterprise, the enterprise's reach the provider, and a
provider suspended or revoked sees none, not even those it saw before. `view` leaves them out
otherwise, so a page cannot show them by mistake.
Timeline actors are named by organisation, never by user: an enterprise user's display name is its
contact person.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from sqlalchemy import func
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from matchmaker.services.errors import Conflict, ServiceError
from matchmaker.services.notifications import notify
from models import (
    Attendance,
    Docking,
    DockingEvent,
    DockingStatus,
    Enterprise,
    EventMeeting,
    MatchFeedback,
    MatchResult,
    Need,
    NeedStatus,
    Outcome,
    Provider,
    ProviderStatus,
    PushRecord,
    Solution,
    SolutionStatus,
    begin_write,
    utcnow,
)


class Party(StrEnum):
    enterprise = "enterprise"
    provider = "provider"


D = DockingStatus
E, P = Party.enterprise, Party.provider

# (from, to) -> the parties that may make the move
TRANSITIONS: dict[tuple[DockingStatus, DockingStatus], frozenset[Party]] = {
    (D.requested, D.accepted): frozenset({P}),
    (D.requested, D.declined): frozenset({P}),
    (D.accepted, D.negotiating): frozenset({E, P}),
    (D.negotiating, D.contracted): frozenset({E}),
    (D.contracted, D.completed): frozenset({E}),
    (D.requested, D.cancelled): frozenset({E}),
    (D.accepted, D.cancelled): frozenset({E, P}),
    (D.negotiating, D.cancelled): frozenset({E, P}),
}
NEEDS_REASON = frozenset({D.declined, D.cancelled})
CONTACT_VISIBLE = frozenset({D.accepted, D.negotiating, D.contracted, D.completed})
CONTACT_BARRED = frozenset({ProviderStatus.suspended, ProviderStatus.revoked})  # providers that see none
OPEN_STATUSES = frozenset({D.requested, D.accepted, D.negotiating, D.contracted})

STATUS_LABELS = {
    D.requested: "待服务商答复",
    D.accepted: "服务商已接受",
    D.declined: "服务商已婉拒",
    D.negotiating: "洽谈中",
    D.contracted: "已签约",
    D.completed: "已验收",
    D.cancelled: "已取消",
}
MOVE_LABELS = {
    D.requested: "提交对接申请",
    D.accepted: "接受对接",
    D.declined: "婉拒对接",
    D.negotiating: "进入洽谈",
    D.contracted: "登记签约",
    D.completed: "验收交付",
    D.cancelled: "取消对接",
}
PARTY_LABELS = {E: "企业", P: "服务商"}
VERDICTS = {"useful": "有用", "irrelevant": "不相关"}

MAX_MESSAGE = 500
MAX_NOTE = 1000
MAX_AMOUNT = Decimal(1_000_000)  # 万元 (100 亿元): anything larger is a typing error
LOCAL_OFFSET = timedelta(hours=8)  # contract dates are Beijing calendar days


def link(docking_id: int) -> str:
    return f"/dockings/{docking_id}"


def _local_today(now: datetime) -> date:
    return (now + LOCAL_OFFSET).date()


def _clean(text: str | None, limit: int, field: str, label: str, required: bool = False) -> str:
    text = (text or "").strip()
    if required and not text:
        raise ServiceError(f"请填写{label}", field=field)
    if len(text) > limit:
        raise ServiceError(f"{label}不能超过{limit}字", field=field)
    return text


def _users(session: Session, docking: Docking) -> dict[Party, int | None]:
    enterprise = session.get(Enterprise, docking.enterprise_id)
    provider = session.get(Provider, docking.provider_id)
    return {E: enterprise.user_id if enterprise else None, P: provider.user_id if provider else None}


# --- asking for a docking ----------------------------------------------------------------------


def _locked_own_need(session: Session, enterprise_id: int, need_id: int) -> Need:
    """The need, locked until commit (the row on PostgreSQL, the database on SQLite) so two requests
    cannot both pass the cap or the one-per-provider rule."""
    begin_write(session)
    need = session.get(Need, need_id, with_for_update=True, populate_existing=True)
    if need is None or need.enterprise_id != enterprise_id:
        raise ServiceError("需求不存在")
    return need


def _offered_for(session: Session, need_id: int, solution_id: int) -> bool:
    """The solution is in the need's stored ranking, or was pushed to the enterprise for this need."""
    ranked = select(MatchResult.id).where(MatchResult.need_id == need_id, MatchResult.solution_id == solution_id)
    pushed = select(PushRecord.id).where(PushRecord.need_id == need_id, PushRecord.solution_id == solution_id)
    return session.exec(ranked.limit(1)).first() is not None or session.exec(pushed.limit(1)).first() is not None


def _met_with_interest(session: Session, event_id: int, need_id: int, solution_id: int) -> bool:
    """The need and solution met at the event (held) and the enterprise recorded 有合作意向."""
    meeting = select(EventMeeting.id).where(
        EventMeeting.event_id == event_id,
        EventMeeting.need_id == need_id,
        EventMeeting.solution_id == solution_id,
        EventMeeting.attendance == Attendance.held,
        EventMeeting.enterprise_outcome == Outcome.interested,
    )
    return session.exec(meeting.limit(1)).first() is not None


def count_for_need(session: Session, need_id: int) -> int:
    """Every docking of the need counts against the cap, whatever became of it: each one reached a provider."""
    return session.exec(select(func.count()).select_from(Docking).where(Docking.need_id == need_id)).one()


def request_docking(
    session: Session,
    enterprise_id: int,
    user_id: int | None,
    need_id: int,
    solution_id: int,
    message: str,
    cap: int,
    now: datetime | None = None,
    origin_event_id: int | None = None,
) -> Docking:
    """Ask the provider of `solution_id` to get in touch about the enterprise's own open need.

    With `origin_event_id` the docking follows a meeting at that event: the solution need not be in
    the need's ranking, as long as the two met there (held) and the enterprise saw 有合作意向."""
    message = _clean(message, MAX_MESSAGE, "message", "留言")
    now = now or utcnow()
    need = _locked_own_need(session, enterprise_id, need_id)
    if need.status != NeedStatus.open:
        raise ServiceError("需求已关闭，不能申请对接；如仍需服务，请先重新开放需求")
    found = session.exec(
        select(Solution, Provider)
        .join(Provider, col(Provider.id) == Solution.provider_id)
        .where(Solution.id == solution_id)
    ).first()
    if found is None or found[0].status != SolutionStatus.published or found[1].status != ProviderStatus.approved:
        raise ServiceError("该服务方案当前不可对接：方案已下架或服务商不在信息库中")
    solution, provider = found
    if origin_event_id is not None:
        if not _met_with_interest(session, origin_event_id, need.id, solution.id):
            raise ServiceError("只能对在本场活动中已举行、且您表示有合作意向的会谈发起对接")
    elif not _offered_for(session, need.id, solution.id):
        raise ServiceError("只能对本需求推荐结果中的服务方案申请对接，请先重新匹配")
    same_provider = session.exec(
        select(Docking).where(Docking.need_id == need.id, Docking.provider_id == provider.id)
    ).first()
    if same_provider is not None:
        if same_provider.solution_id == solution.id:
            raise Conflict(f"已对该方案提交过对接申请（{STATUS_LABELS[same_provider.status]}）")
        raise Conflict(f"本需求已向“{provider.name}”申请过对接，同一服务商只需申请一次")
    if count_for_need(session, need.id) >= cap:
        raise Conflict(f"每个需求最多向 {cap} 家服务商申请对接，本需求已达上限")
    docking = Docking(
        need_id=need.id,
        solution_id=solution.id,
        enterprise_id=enterprise_id,
        provider_id=provider.id,
        message=message,
        origin_event_id=origin_event_id,
        created_at=now,
        updated_at=now,
    )
    session.add(docking)
    session.flush()
    session.add(
        DockingEvent(docking_id=docking.id, to_status=D.requested, actor_id=user_id, note=message, created_at=now)
    )
    if provider.user_id is not None:
        enterprise = session.get(Enterprise, enterprise_id)
        body = f"{enterprise.name}希望就方案“{solution.title}”与贵单位对接。需求：{need.title}。"
        if message:
            body += f"留言：{message}。"
        body += "请在平台上接受或婉拒；接受后可查看企业联系方式。"
        notify(session, provider.user_id, "docking", f"新的对接申请：{need.title}", body, link(docking.id))
    session.commit()
    return docking


# --- moving a docking on -----------------------------------------------------------------------


@dataclass(frozen=True)
class MoveDetails:
    """What a move carries: a reason (decline, cancel), the 验收 comment, or an optional remark;
    the contract's amount (万元) and date; the satisfaction (1-5) given on acceptance."""

    note: str = ""
    amount: Decimal | float | str | None = None
    contract_date: date | None = None
    satisfaction: int | None = None


def allowed_moves(status: DockingStatus, party: Party) -> list[DockingStatus]:
    """The statuses `party` may move a docking in `status` to, in the table's order."""
    return [target for (source, target), parties in TRANSITIONS.items() if source == status and party in parties]


def _locked_own(session: Session, party: Party, org_id: int, docking_id: int) -> Docking:
    begin_write(session)  # two moves at once: the second sees the first's status
    docking = session.get(Docking, docking_id, with_for_update=True, populate_existing=True)
    if docking is None or _org_of(docking, party) != org_id:
        raise ServiceError("对接记录不存在")
    return docking


def _org_of(docking: Docking, party: Party) -> int:
    return docking.enterprise_id if party == E else docking.provider_id


def _amount(value: Decimal | float | str | None) -> Decimal:
    if value is None or value == "":
        raise ServiceError("请填写合同金额", field="amount")
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ServiceError("合同金额须为数字（单位：万元）", field="amount") from None
    if not amount.is_finite() or amount <= 0:
        raise ServiceError("合同金额须大于 0（单位：万元）", field="amount")
    if amount > MAX_AMOUNT:
        raise ServiceError("合同金额过大，请确认单位为万元", field="amount")
    return amount


def _check_and_apply(docking: Docking, target: DockingStatus, details: MoveDetails, now: datetime) -> str:
    """Validate the details the move needs, set them on the docking, and return the timeline note."""
    if target in NEEDS_REASON:
        return _clean(details.note, MAX_NOTE, "note", "理由", required=True)
    if target == D.contracted:
        amount = _amount(details.amount)
        if details.contract_date is None:
            raise ServiceError("请填写签约日期", field="contract_date")
        if details.contract_date > _local_today(now):
            raise ServiceError("签约日期不能晚于今天", field="contract_date")
        remark = _clean(details.note, MAX_NOTE, "note", "备注")
        docking.contract_amount = float(amount)
        docking.contract_date = details.contract_date
        return f"合同金额 {amount} 万元，签约日期 {details.contract_date.isoformat()}" + (
            f"。{remark}" if remark else ""
        )
    if target == D.completed:
        if details.satisfaction is None or not 1 <= details.satisfaction <= 5:
            raise ServiceError("请选择满意度（1-5 分）", field="satisfaction")
        comment = _clean(details.note, MAX_NOTE, "note", "验收意见", required=True)
        docking.satisfaction = details.satisfaction
        docking.acceptance_comment = comment
        return f"满意度 {details.satisfaction}/5。{comment}"
    return _clean(details.note, MAX_NOTE, "note", "备注")


def move(
    session: Session,
    docking_id: int,
    party: Party,
    org_id: int,
    user_id: int | None,
    target: DockingStatus,
    details: MoveDetails | None = None,
    now: datetime | None = None,
) -> Docking:
    """Move the party's own docking to `target` if the table allows it; tell the other party."""
    now = now or utcnow()
    docking = _locked_own(session, Party(party), org_id, docking_id)
    source = docking.status
    parties = TRANSITIONS.get((source, target))
    if parties is None:
        raise ServiceError(f"当前状态为“{STATUS_LABELS[source]}”，不能{MOVE_LABELS.get(target, '执行此操作')}")
    if party not in parties:
        raise ServiceError(f"“{MOVE_LABELS[target]}”只能由{PARTY_LABELS[next(iter(parties))]}操作")
    provider = session.get(Provider, docking.provider_id)
    if target == D.accepted and provider.status != ProviderStatus.approved:
        raise ServiceError("贵单位当前不在服务商信息库中，不能接受新的对接申请")
    note = _check_and_apply(docking, target, details or MoveDetails(), now)
    docking.status = target
    docking.updated_at = now
    session.add(docking)
    session.add(
        DockingEvent(
            docking_id=docking.id, from_status=source, to_status=target, actor_id=user_id, note=note, created_at=now
        )
    )
    _tell_other_side(session, docking, party, target, note)
    session.commit()
    return docking


def _tell_other_side(session: Session, docking: Docking, party: Party, target: DockingStatus, note: str) -> None:
    other = P if party == E else E
    user_id = _users(session, docking)[other]
    if user_id is None:
        return
    need = session.get(Need, docking.need_id)
    solution = session.get(Solution, docking.solution_id)
    actor = (
        session.get(Enterprise, docking.enterprise_id).name
        if party == E
        else session.get(Provider, docking.provider_id).name
    )
    title = f"对接进展：{actor}{MOVE_LABELS[target]}"
    body = f"需求：{need.title}；方案：{solution.title}；当前状态：{STATUS_LABELS[target]}。"
    if note:
        body += f"说明：{note}"
    if target == D.accepted:
        body += "您现在可以在对接详情中看到服务商的联系方式，服务商也能看到贵企业的联系方式。"
    notify(session, user_id, "docking", title, body, link(docking.id))


# --- reading dockings --------------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    name: str
    phone: str
    email: str
    address: str = ""


@dataclass(frozen=True)
class Row:
    docking: Docking
    need_title: str
    solution_title: str
    enterprise_name: str
    provider_name: str


def _rows(*conditions) -> Select:
    return (
        select(Docking, Need.title, Solution.title, Enterprise.name, Provider.name)
        .join(Need, col(Need.id) == Docking.need_id)
        .join(Solution, col(Solution.id) == Docking.solution_id)
        .join(Enterprise, col(Enterprise.id) == Docking.enterprise_id)
        .join(Provider, col(Provider.id) == Docking.provider_id)
        .where(*conditions)
    )


def page_for(
    session: Session, party: Party, org_id: int, status: DockingStatus | None, page: int, per_page: int
) -> tuple[list[Row], int]:
    """The party's own dockings, most recently moved first, optionally of one status."""
    conditions = [(Docking.enterprise_id if party == E else Docking.provider_id) == org_id]
    if status is not None:
        conditions.append(Docking.status == status)
    total = session.exec(select(func.count()).select_from(Docking).where(*conditions)).one()
    newest_first = _rows(*conditions).order_by(col(Docking.updated_at).desc(), col(Docking.id).desc())
    rows = session.exec(newest_first.offset((page - 1) * per_page).limit(per_page))
    return [Row(*row) for row in rows], total


@dataclass(frozen=True)
class TimelineEntry:
    event: DockingEvent
    actor: str  # "企业 · 名称", "服务商 · 名称" or "系统"


@dataclass(frozen=True)
class EnterpriseCard:
    """What a docking shows of the enterprise; `contact` only where the viewer may see it."""

    name: str
    industry: str
    size_class: str
    street: str
    contact: Contact | None


@dataclass(frozen=True)
class DockingView:
    docking: Docking
    party: Party
    need: Need
    solution: Solution
    provider: Provider
    enterprise: EnterpriseCard
    provider_contact: Contact | None  # only where the viewer may see it
    timeline: list[TimelineEntry]
    moves: list[DockingStatus]


def contact_visible(docking: Docking, party: Party, provider: Provider) -> bool:
    """Whether `party` may see the other side's contact details on `docking` (see the module's doc)."""
    if docking.status not in CONTACT_VISIBLE:
        return False
    return party == E or provider.status not in CONTACT_BARRED


def view(session: Session, party: Party, org_id: int, docking_id: int) -> DockingView:
    """One of the party's own dockings with its timeline and the moves the party may make now."""
    party = Party(party)
    docking = session.get(Docking, docking_id)
    if docking is None or _org_of(docking, party) != org_id:
        raise ServiceError("对接记录不存在")
    enterprise = session.get(Enterprise, docking.enterprise_id)
    provider = session.get(Provider, docking.provider_id)
    shared = contact_visible(docking, party, provider)  # each side always sees its own
    contact = provider_contact = None
    if shared or party == E:
        contact = Contact(enterprise.contact_name, enterprise.phone, enterprise.email, enterprise.full_address)
    if shared or party == P:
        provider_contact = Contact(provider.contact_name, provider.phone, provider.email)
    card = EnterpriseCard(enterprise.name, enterprise.industry, enterprise.size_class, enterprise.street, contact)
    names = {enterprise.user_id: f"企业 · {enterprise.name}", provider.user_id: f"服务商 · {provider.name}"}
    events = session.exec(
        select(DockingEvent)
        .where(DockingEvent.docking_id == docking.id)
        .order_by(col(DockingEvent.created_at), col(DockingEvent.id))
    )
    timeline = [
        TimelineEntry(event, names.get(event.actor_id, "系统") if event.actor_id else "系统") for event in events
    ]
    return DockingView(
        docking=docking,
        party=party,
        need=session.get(Need, docking.need_id),
        solution=session.get(Solution, docking.solution_id),
        provider=provider,
        enterprise=card,
        provider_contact=provider_contact,
        timeline=timeline,
        moves=allowed_moves(docking.status, party),
    )


def for_need(session: Session, enterprise_id: int, need_id: int) -> list[Row]:
    """The dockings of one of the enterprise's needs (at most the cap), oldest first."""
    query = _rows(Docking.need_id == need_id, Docking.enterprise_id == enterprise_id)
    return [Row(*row) for row in session.exec(query.order_by(col(Docking.created_at), col(Docking.id)))]


# --- feedback and the providers' record ---------------------------------------------------------


def set_feedback(
    session: Session, enterprise_id: int, user_id: int | None, need_id: int, solution_id: int, verdict: str
) -> MatchFeedback:
    """Record (or change) the enterprise's verdict on one recommended solution: useful | irrelevant."""
    if verdict not in VERDICTS:
        raise ServiceError("评价只能是“有用”或“不相关”", field="verdict")
    need = _locked_own_need(session, enterprise_id, need_id)
    if not _offered_for(session, need.id, solution_id):
        raise ServiceError("该方案不在本需求的推荐结果中")
    feedback = session.exec(
        select(MatchFeedback).where(MatchFeedback.need_id == need.id, MatchFeedback.solution_id == solution_id)
    ).first()
    if feedback is None:
        feedback = MatchFeedback(need_id=need.id, solution_id=solution_id, user_id=user_id, verdict=verdict)
    else:
        feedback.verdict = verdict
        feedback.user_id = user_id
        feedback.created_at = utcnow()
    session.add(feedback)
    session.commit()
    return feedback


def feedback_for(session: Session, need_id: int) -> dict[int, str]:
    """solution id -> verdict for one need."""
    rows = session.exec(
        select(MatchFeedback.solution_id, MatchFeedback.verdict).where(MatchFeedback.need_id == need_id)
    )
    return dict(rows.all())


def track_record(session: Session, provider_ids: Iterable[int]) -> dict[int, tuple[int, float | None]]:
    """provider id -> (dockings delivered and accepted, their average satisfaction or None)."""
    ids = sorted(set(provider_ids))
    record: dict[int, tuple[int, float | None]] = {pid: (0, None) for pid in ids}
    if not ids:
        return record
    rows = session.exec(
        select(Docking.provider_id, func.count(), func.avg(Docking.satisfaction))
        .where(col(Docking.provider_id).in_(ids), Docking.status == D.completed)
        .group_by(Docking.provider_id)
    )
    for provider_id, completed, average in rows:
        record[provider_id] = (completed, round(float(average), 2) if average is not None else None)
    return record


@dataclass(frozen=True)
class NeedPanel:
    """What the enterprise's need page shows beside its matches: dockings, verdicts, track records."""

    cap: int
    rows: list[Row]
    feedback: dict[int, str]  # solution id -> verdict
    track: dict[int, tuple[int, float | None]]  # provider id -> track_record

    @property
    def by_solution(self) -> dict[int, Docking]:
        return {row.docking.solution_id: row.docking for row in self.rows}

    @property
    def by_provider(self) -> dict[int, Docking]:
        return {row.docking.provider_id: row.docking for row in self.rows}

    @property
    def full(self) -> bool:
        return len(self.rows) >= self.cap


def need_panel(session: Session, enterprise_id: int, need_id: int, provider_ids: Iterable[int], cap: int) -> NeedPanel:
    return NeedPanel(
        cap=cap,
        rows=for_need(session, enterprise_id, need_id),
        feedback=feedback_for(session, need_id),
        track=track_record(session, provider_ids),
    )
