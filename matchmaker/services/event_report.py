"""What an event achieved (活动成效): registrations, meetings requested, accepted, held and no-shows,
the dockings that followed and the contracts later signed from them, per event, with the sheets that
export every figure (through `services.exports`, formula-safe) and the rows the dashboard shows."""

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from matchmaker.services import event_day, events
from matchmaker.services.dockings import STATUS_LABELS as DOCKING_LABELS
from matchmaker.services.exports import Sheet
from models import (
    Attendance,
    Docking,
    DockingStatus,
    Enterprise,
    Event,
    EventMeeting,
    EventStatus,
    MeetingStatus,
    Need,
    Outcome,
    Provider,
    Solution,
)

SIGNED = (DockingStatus.contracted, DockingStatus.completed)
MEETING_LABELS = {MeetingStatus.requested: "待答复", MeetingStatus.accepted: "已接受", MeetingStatus.declined: "已婉拒"}
DASHBOARD_EVENTS = 10  # the latest events the dashboard lists


@dataclass(frozen=True)
class Figures:
    enterprises: int
    providers: int
    checked_in: int
    requested: int  # every meeting request, whatever became of it
    accepted: int
    scheduled: int
    held: int
    no_shows: int
    interested: int  # held meetings where at least one side recorded 有合作意向
    dockings: int  # dockings with the event as origin
    contracts: int  # of those, signed (contracted or completed)
    amount: float  # their contract value, 万元

    def rows(self) -> list[tuple[str, int | float]]:
        return [
            ("报名企业", self.enterprises),
            ("报名服务商", self.providers),
            ("现场签到", self.checked_in),
            ("会谈请求", self.requested),
            ("已接受会谈", self.accepted),
            ("已排定会谈", self.scheduled),
            ("已举行会谈", self.held),
            ("未到场会谈", self.no_shows),
            ("有合作意向的会谈", self.interested),
            ("发起对接", self.dockings),
            ("后续签约", self.contracts),
            ("签约金额（万元）", round(self.amount, 2)),
        ]


def figures(session: Session, event_id: int) -> Figures:
    registrations = events.registrations(session, event_id)
    meetings = list(session.exec(select(EventMeeting).where(EventMeeting.event_id == event_id)))
    accepted = [m for m in meetings if m.status == MeetingStatus.accepted]
    held = [m for m in accepted if m.attendance == Attendance.held]
    docked = session.exec(
        select(func.count(), func.coalesce(func.sum(Docking.contract_amount), 0.0)).where(
            Docking.origin_event_id == event_id, col(Docking.status).in_(SIGNED)
        )
    ).one()
    return Figures(
        enterprises=sum(1 for r in registrations if r.enterprise_id),
        providers=sum(1 for r in registrations if r.provider_id),
        checked_in=sum(1 for r in registrations if r.checked_in_at is not None),
        requested=len(meetings),
        accepted=len(accepted),
        scheduled=sum(1 for m in accepted if m.slot is not None),
        held=len(held),
        no_shows=sum(1 for m in accepted if m.attendance == Attendance.no_show),
        interested=sum(1 for m in held if Outcome.interested in (m.enterprise_outcome, m.provider_outcome)),
        dockings=session.exec(
            select(func.count()).select_from(Docking).where(Docking.origin_event_id == event_id)
        ).one(),
        contracts=int(docked[0]),
        amount=float(docked[1] or 0.0),
    )


def summary_sheet(session: Session, event: Event) -> Sheet:
    rows = ([label, value] for label, value in figures(session, event.id).rows())
    return Sheet(f"活动成效-{event.id}", ("指标", "数值"), (24, 12), rows)


def meetings_sheet(session: Session, event: Event) -> Sheet:
    """One row per meeting request: the figures of the summary, meeting by meeting."""
    times = event.slot_times()

    def rows():
        query = (
            select(EventMeeting, Enterprise.name, Provider.name, Need.title, Solution.title)
            .join(Enterprise, col(Enterprise.id) == EventMeeting.enterprise_id)
            .join(Provider, col(Provider.id) == EventMeeting.provider_id)
            .join(Need, col(Need.id) == EventMeeting.need_id)
            .join(Solution, col(Solution.id) == EventMeeting.solution_id)
            .where(EventMeeting.event_id == event.id)
            .order_by(col(EventMeeting.id))
        )
        for meeting, enterprise, provider, need, solution in session.exec(query):
            docking = event_day.docking_of(session, meeting)
            ours = docking is not None and docking.origin_event_id == event.id
            yield [
                enterprise,
                provider,
                need,
                solution,
                MEETING_LABELS.get(meeting.status, meeting.status),
                f"{times[meeting.slot][0]:%H:%M}" if meeting.slot is not None else "",
                meeting.table_no or "",
                event_day.ATTENDANCE_LABELS.get(meeting.attendance, ""),
                event_day.OUTCOME_LABELS.get(meeting.enterprise_outcome, ""),
                event_day.OUTCOME_LABELS.get(meeting.provider_outcome, ""),
                DOCKING_LABELS[docking.status] if ours else "",
                docking.contract_amount if ours and docking.contract_amount is not None else "",
            ]

    headers = ("企业", "服务商", "需求", "方案", "会谈状态", "时段", "洽谈桌", "到场", "企业结果", "服务商结果")
    headers += ("对接状态", "签约金额（万元）")
    return Sheet(f"活动会谈-{event.id}", headers, (24, 24, 30, 30, 10, 8, 8, 8, 12, 12, 12, 14), rows())


SHEETS = {"summary": summary_sheet, "meetings": meetings_sheet}


@dataclass(frozen=True)
class DashboardRow:
    event: Event
    figures: Figures


def dashboard_rows(session: Session) -> list[DashboardRow]:
    """The latest published or closed events, newest first, with their figures."""
    shown = events.listing(session, (EventStatus.published, EventStatus.closed))[:DASHBOARD_EVENTS]
    return [DashboardRow(event, figures(session, event.id)) for event in shown]
