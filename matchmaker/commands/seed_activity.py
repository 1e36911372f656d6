"""Half a year of use on top of the demo data: what `flask seed` adds after `seed.load_demo`.

Everything goes through the services a user's click would call (matching, precise push, dockings,
feedback, whitelist decisions and appeals), with the clock set back, so every row is as consistent
as the real thing and every dashboard figure is computed from them. Idempotent: a step is skipped
where its result is already there (a stored ranking, a docking on the need, an open warning, an appeal).

Other seeds hook in with `ACTIVITY_STEPS` (one function per concern, called in order with the same
`Activity`), so adding one is a new function and a line, not an edit of this one.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from matchmaker.commands import seed_projects
from matchmaker.commands.seed import DEMO_ADMIN_EMAIL, SeedReport
from matchmaker.commands.seed_events import past_event
from matchmaker.matching.search_index import SearchIndex
from matchmaker.plumbing.config import DEFAULTS
from matchmaker.services import dockings, matching, push, ratings, whitelist
from matchmaker.services.dockings import MoveDetails, Party
from models import (
    Appeal,
    Docking,
    DockingStatus,
    Enterprise,
    MailStatus,
    Need,
    NeedStatus,
    Notification,
    OutboxMail,
    Provider,
    ProviderStatus,
    User,
    utcnow,
)

D = DockingStatus
DEMO_REASON = "演示数据：模拟半年运行"
EXPIRING_APPROVALS = (timedelta(days=345), timedelta(days=352))  # listed for 12 months: 20 and 13 days left
DOCKING_SCORE = 0.35  # a docking is asked only for a result this good (an enterprise would)
# The stories the seeded dockings tell, cycled over the needs that have good matches: the moves
# after the request, each (target, party, days after the previous move, details).
STORIES: tuple[tuple[tuple[DockingStatus, Party, int, MoveDetails], ...], ...] = (
    (),  # still waiting for the provider
    ((D.accepted, Party.provider, 2, MoveDetails()),),
    ((D.declined, Party.provider, 3, MoveDetails(note="该需求涉及的产线改造超出我们目前的交付范围")),),
    (
        (D.accepted, Party.provider, 1, MoveDetails()),
        (D.negotiating, Party.enterprise, 4, MoveDetails(note="约定到厂调研，确认设备清单")),
    ),
    (
        (D.accepted, Party.provider, 1, MoveDetails()),
        (D.negotiating, Party.provider, 5, MoveDetails(note="已提交初步方案和报价")),
        (D.contracted, Party.enterprise, 12, MoveDetails(amount="36.8")),
    ),
    (
        (D.accepted, Party.provider, 2, MoveDetails()),
        (D.negotiating, Party.enterprise, 5, MoveDetails()),
        (D.contracted, Party.enterprise, 10, MoveDetails(amount="58")),
        (D.completed, Party.enterprise, 40, MoveDetails(note="系统按期上线，车间每天在用", satisfaction=5)),
    ),
    ((D.cancelled, Party.enterprise, 6, MoveDetails(note="预算调整，本年度暂缓实施")),),
    (
        (D.accepted, Party.provider, 1, MoveDetails()),
        (D.negotiating, Party.provider, 3, MoveDetails()),
        (D.contracted, Party.enterprise, 14, MoveDetails(amount="22.5")),
        (D.completed, Party.enterprise, 30, MoveDetails(note="功能基本满足，报表还需优化", satisfaction=4)),
    ),
    (
        (D.accepted, Party.provider, 2, MoveDetails()),
        (D.negotiating, Party.enterprise, 6, MoveDetails()),
        (D.cancelled, Party.provider, 9, MoveDetails(note="双方对交付周期未能达成一致")),
    ),
    (
        (D.accepted, Party.provider, 1, MoveDetails()),
        (D.negotiating, Party.enterprise, 2, MoveDetails()),
        (D.contracted, Party.enterprise, 8, MoveDetails(amount="12")),
        (D.completed, Party.enterprise, 25, MoveDetails(note="实施延期两周，最终通过验收", satisfaction=3)),
    ),
)


@dataclass
class Activity:
    """What each step gets: the session, the index to rank with, the admin, the clock, the report."""

    session: Session
    engine: Engine
    index: SearchIndex
    admin: User
    now: datetime
    caps: push.PushCaps
    report: SeedReport
    tiers: tuple[ratings.Tier, ...]

    @property
    def today(self) -> date:
        return self.now.date()


def match_and_push(act: Activity) -> None:
    """Every open demo need ranked (its stored snapshot) and pushed to providers when it was posted."""
    session = act.session
    needs = session.exec(select(Need).where(Need.status == NeedStatus.open).order_by(col(Need.created_at))).all()
    for need in needs:
        if matching.has_snapshot(session, need.id):
            continue
        results = matching.match_need(session, act.engine, act.index, need)
        act.report.count("rankings")
        for record in push.push_need(session, need, results, need.created_at, act.caps):
            _backdate_notices(session, push.pushed_need_link(record.id), record.created_at)
            act.report.count("pushes")
        session.commit()


def dockings_in_every_state(act: Activity) -> None:
    """One docking story per need with a good match, cycling through STORIES, with feedback beside it."""
    session = act.session
    if session.exec(select(Docking.id).limit(1)).first() is not None:
        return  # the demo's dockings are there (or real ones: leave them alone)
    cap = 5
    candidates = []
    for need in session.exec(select(Need).where(Need.status == NeedStatus.open).order_by(col(Need.id))):
        shown = matching.stored_matches(session, need.id)
        if shown and shown[0].result.score >= DOCKING_SCORE:
            candidates.append((need, shown))
    for position, (need, shown) in enumerate(candidates):
        if position % 3 == 2:
            continue  # a third of the needs nobody has asked about yet
        story = STORIES[(position // 3 * 2 + position % 3) % len(STORIES)]
        enterprise = session.get(Enterprise, need.enterprise_id)
        start = need.created_at + timedelta(days=1, hours=position % 7)
        elapsed = sum(days for _, _, days, _ in story) + 1
        if start + timedelta(days=elapsed) > act.now:
            story = story[:1]  # too recent for the whole story: only its first move has happened
        best = shown[0]
        docking = dockings.request_docking(
            session, enterprise.id, enterprise.user_id, need.id, best.solution.id, "想约时间到厂里看看。", cap, start
        )
        act.report.count("dockings")
        when = start
        for target, party, days, details in story:
            when += timedelta(days=days)
            if target == D.contracted:
                details = MoveDetails(amount=details.amount, contract_date=(when + dockings.LOCAL_OFFSET).date())
            org = enterprise.id if party == Party.enterprise else best.provider.id
            user = enterprise.user_id if party == Party.enterprise else best.provider.user_id
            dockings.move(session, docking.id, party, org, user, target, details, when)
        _backdate_notices(session, dockings.link(docking.id), when)
        dockings.set_feedback(session, enterprise.id, enterprise.user_id, need.id, best.solution.id, "useful")
        if len(shown) >= 5 and position % 2:
            last = shown[4]
            dockings.set_feedback(session, enterprise.id, enterprise.user_id, need.id, last.solution.id, "irrelevant")
        act.report.count("feedback")


def whitelist_standing(act: Activity) -> None:
    """Two applicants approved almost a year ago (so their listing expires within 30 days), a warned
    provider with a rectification deadline, and a pending appeal of the suspended one."""
    session = act.session
    applicants = session.exec(
        select(Provider).where(Provider.status == ProviderStatus.applied).order_by(col(Provider.id))
    ).all()
    for days_ago, provider in zip(EXPIRING_APPROVALS, applicants[:-1], strict=False):
        whitelist.decide(session, provider.id, "approve", act.admin.id, DEMO_REASON, today=act.today - days_ago)
        act.report.count("approvals")
    approved = session.exec(
        select(Provider).where(Provider.status == ProviderStatus.approved).order_by(col(Provider.id))
    ).all()
    if approved and not any(p.rectify_by for p in approved):
        warned = approved[-1]
        whitelist.decide(
            session,
            warned.id,
            "warn",
            act.admin.id,
            "企业反映交付延期且未按合同提供培训（演示）",
            today=act.today - timedelta(days=10),
            rectify_by=act.today + timedelta(days=20),
        )
        act.report.count("warnings")
    for provider in session.exec(select(Provider).where(Provider.status == ProviderStatus.suspended)):
        if session.exec(select(Appeal.id).where(Appeal.provider_id == provider.id)).first() is None:
            reason = "已完成整改并补充了客户验收报告，请复核（演示）"
            whitelist.file_appeal(session, provider.id, provider.user_id, reason)
            act.report.count("appeals")


def quiet_outbox(act: Activity) -> None:
    """The demo's emails count as sent long ago: a mail server configured later must not mail them."""
    act.session.exec(
        update(OutboxMail)
        .where(col(OutboxMail.status) == MailStatus.pending, col(OutboxMail.to_address).like("%.example"))
        .values(status=MailStatus.sent, sent_at=act.now)
    )
    act.session.commit()


def _backdate_notices(session: Session, link: str, when: datetime) -> None:
    """The notifications about one object carry the time of the event they report, not the seed's."""
    session.exec(update(Notification).where(col(Notification.link) == link).values(created_at=when))
    session.commit()


def last_quarter(today: date) -> str:
    """The quarter before the one `today` is in, e.g. "2026Q3" for 2026-12-04."""
    quarter = (today.month - 1) // 3  # the current one, 0-based
    return f"{today.year - 1}Q4" if quarter == 0 else f"{today.year}Q{quarter}"


def published_ratings(act: Activity) -> None:
    """The last finished quarter rated from the seeded dockings and published, as the admin would."""
    session, period = act.session, last_quarter(act.today)
    report = ratings.rate(session, period, act.tiers, act.today)
    if report.created or report.updated or report.unchanged:
        ratings.publish(session, period, act.admin.id, f"{period} 季度评星评级（演示数据）")
        act.report.count("ratings")


def retrofit_projects(act: Activity) -> None:
    """The 数字化技改项目白名单 at every review stage, some from the contracted dockings above."""
    added = seed_projects.load(act.session, act.admin, act.today)
    for _ in range(added):
        act.report.count("retrofit_projects")


ACTIVITY_STEPS: list[Callable[[Activity], None]] = [
    whitelist_standing,  # first: the providers it approves are matched too
    match_and_push,
    dockings_in_every_state,
    past_event,  # after the dockings: its own follow the meetings, on pairs with none yet
    published_ratings,
    retrofit_projects,  # after the dockings it starts from
    quiet_outbox,
]


def load_activity(
    session: Session,
    engine: Engine,
    index: SearchIndex,
    caps: push.PushCaps,
    now: datetime | None = None,
    tiers: str = DEFAULTS["MATCHMAKER_TIERS"],
) -> SeedReport:
    """Run every step of ACTIVITY_STEPS over the loaded demo data (see the module docstring); `tiers`:
    MATCHMAKER_TIERS, for the seeded ratings."""
    admin = session.exec(select(User).where(User.email == DEMO_ADMIN_EMAIL)).one()
    act = Activity(session, engine, index, admin, now or utcnow(), caps, SeedReport(), ratings.parse_tiers(tiers))
    for step in ACTIVITY_STEPS:
        step(act)
    return act.report
