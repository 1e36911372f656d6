"""Periodic star ratings (评星评级) and tiers (梯队) of whitelisted providers.

    flask rate-providers --period 2027Q1   -> a `computed` rating per approved provider (idempotent)
    admin: review, adjust one (stars + reason, audited) -> publish the period (audited, each provider told)
    provider: one appeal (申诉) per published rating, through the whitelist's Appeal rows
    admin: uphold (new stars) or dismiss the appeal, with a reason

The formula is pure (`components`, `score_of`, `stars_of`): its inputs are what the platform saw in the
quarter (`gather`), its weights and cut-offs are the constants below, shown as they are on the public
page. Every component is in [0, 1] and 0.5 when the quarter gave no evidence for it, so a provider with
no history scores 0.5: three stars, the average, never below it. The published stars are a small
ranking prior (`matching.signals.rating_prior`, `matching.fusion.RATING_PRIOR`): three stars and no
rating weigh nothing.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from matchmaker.services import audit, changes
from matchmaker.services.errors import ServiceError
from matchmaker.services.notifications import notify
from models import (
    Appeal,
    AppealStatus,
    Docking,
    DockingEvent,
    DockingStatus,
    ProjectStatus,
    Provider,
    ProviderRating,
    ProviderStatus,
    RatingStatus,
    RetrofitProject,
    SuccessCase,
    WhitelistEvent,
    begin_write,
    utcnow,
)

# --- the formula: the one place its weights and cut-offs live -----------------------------------------

NEUTRAL = 0.5  # a component without evidence in the quarter
WEIGHTS: dict[str, float] = {
    "completed": 0.15,  # 验收 completed in the quarter
    "satisfaction": 0.20,  # their average satisfaction
    "acceptance": 0.10,  # docking requests accepted among those answered
    "response": 0.10,  # hours from a docking request to the answer
    "contract": 0.10,  # contract value signed in the quarter (万元)
    "retrofit": 0.10,  # projects on the 数字化技改项目白名单
    "conduct": 0.15,  # warnings and complaints (suspensions) in the quarter
    "ai_cases": 0.10,  # success cases marked as AI-enabled
}
CAPS = {"completed": 4, "contract": 200.0, "retrofit": 2, "ai_cases": 2}  # a count reaching its cap scores 1
RESPONSE_HOURS = (24.0, 168.0)  # answered within a day scores 1, after a week 0, linear between
CONDUCT_STEP = 0.25  # each warning or complaint takes this off the neutral 0.5
STAR_CUTOFFS = ((5, 0.80), (4, 0.60), (3, 0.45), (2, 0.30))  # lowest score for each star count; below: 1

COMPONENT_LABELS = {
    "completed": ("已验收项目", f"本季度完成验收的对接项目数；0 个为 0.5，达到 {CAPS['completed']} 个为 1"),
    "satisfaction": ("验收满意度", "本季度验收的平均满意度（1-5 分）折算为 0-1；无验收为 0.5"),
    "acceptance": ("对接接受率", "本季度答复的对接申请中接受的比例；无申请为 0.5"),
    "response": (
        "响应时长",
        f"从对接申请到答复的平均小时数：{RESPONSE_HOURS[0]:.0f} 小时内为 1，超过 {RESPONSE_HOURS[1]:.0f} 小时为 0，"
        "其间线性；无申请为 0.5",
    ),
    "contract": ("签约金额", f"本季度签约金额（万元）；0 为 0.5，达到 {CAPS['contract']:.0f} 万元为 1"),
    "retrofit": ("技改白名单项目", f"参与的数字化技改白名单入选项目数；0 个为 0.5，达到 {CAPS['retrofit']} 个为 1"),
    "conduct": ("警告与投诉", f"本季度无警告、暂停为 0.5，每次警告或因投诉暂停减 {CONDUCT_STEP}，最低 0"),
    "ai_cases": (
        "人工智能赋能案例",
        f"标注了人工智能赋能场景的成功案例数；0 个为 0.5，达到 {CAPS['ai_cases']} 个为 1",
    ),
}


@dataclass(frozen=True)
class Inputs:
    """What the platform saw of one provider in one quarter."""

    completed: int = 0
    satisfaction: float | None = None  # average over `completed`
    accepted: int = 0
    declined: int = 0
    response_hours: float | None = None  # average over the answered requests
    contract: float = 0.0  # 万元
    retrofit: int = 0
    warnings: int = 0  # warnings and complaint suspensions
    ai_cases: int = 0
    completed_total: int = 0  # 验收 to the end of the quarter: the track record the tier asks for


def _grows(count: float, cap: float) -> float:
    """0 -> NEUTRAL, `cap` or more -> 1: more of a good thing raises the score, none is not held against."""
    return NEUTRAL + (1 - NEUTRAL) * min(max(count, 0) / cap, 1.0)


def components(inputs: Inputs) -> dict[str, float]:
    """Each component of the formula in [0, 1], NEUTRAL where the quarter gave no evidence."""
    answered = inputs.accepted + inputs.declined
    if inputs.response_hours is None:
        response = NEUTRAL
    else:
        best, worst = RESPONSE_HOURS
        response = min(1.0, max(0.0, (worst - inputs.response_hours) / (worst - best)))
    return {
        "completed": _grows(inputs.completed, CAPS["completed"]),
        "satisfaction": NEUTRAL if inputs.satisfaction is None else (inputs.satisfaction - 1) / 4,
        "acceptance": NEUTRAL if answered == 0 else inputs.accepted / answered,
        "response": response,
        "contract": _grows(inputs.contract, CAPS["contract"]),
        "retrofit": _grows(inputs.retrofit, CAPS["retrofit"]),
        "conduct": max(0.0, NEUTRAL - CONDUCT_STEP * inputs.warnings),
        "ai_cases": _grows(inputs.ai_cases, CAPS["ai_cases"]),
    }


def score_of(inputs: Inputs) -> float:
    parts = components(inputs)
    return round(sum(WEIGHTS[name] * parts[name] for name in WEIGHTS), 6)


def stars_of(score: float) -> int:
    return next((stars for stars, lowest in STAR_CUTOFFS if score >= lowest), 1)


# --- tiers (梯队): names and cut-offs from MATCHMAKER_TIERS ---------------------------------------------


@dataclass(frozen=True)
class Tier:
    name: str
    min_stars: int
    min_completed: int  # 验收 on the platform to the end of the rated quarter


def parse_tiers(text: str) -> tuple[Tier, ...]:
    """`名称:最低星级:最少验收项目数` separated by commas, best tier first; the last must take everyone
    (1 star, 0 projects). Raises ValueError with a Chinese message on anything else."""
    tiers = []
    for item in text.split(","):
        match = re.fullmatch(r"([^:,\s][^:,]{0,19}):([1-5]):(\d{1,4})", item.strip())
        if match is None:
            raise ValueError(f"梯队配置格式应为“名称:最低星级:最少验收项目数”，用逗号分隔：{item.strip()!r}")
        tiers.append(Tier(match[1].strip(), int(match[2]), int(match[3])))
    if tiers[-1].min_stars != 1 or tiers[-1].min_completed != 0:
        raise ValueError("梯队配置的最后一个梯队须为“名称:1:0”，使每个在库服务商都有梯队")
    return tuple(tiers)


def tier_of(stars: int, completed_total: int, tiers: Sequence[Tier]) -> str:
    return next(t.name for t in tiers if stars >= t.min_stars and completed_total >= t.min_completed)


# --- periods -----------------------------------------------------------------------------------------

LOCAL_OFFSET = timedelta(hours=8)  # quarters are Beijing calendar quarters


@dataclass(frozen=True)
class Period:
    name: str  # "2027Q1"
    start: date
    end: date  # the day after the quarter

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """The quarter as UTC instants, to compare with the stored timestamps."""
        return tuple(datetime(d.year, d.month, d.day, tzinfo=UTC) - LOCAL_OFFSET for d in (self.start, self.end))


def parse_period(text: str | None) -> Period:
    """ "2027Q1" (year, Q, quarter 1-4) and nothing else: no spaces, no lower-case q, no other shapes."""
    match = re.fullmatch(r"(20\d\d)Q([1-4])", text or "")
    if match is None:
        raise ServiceError("评级周期格式应为“2027Q1”：四位年份加 Q 和季度 1-4", field="period")
    year, quarter = int(match[1]), int(match[2])
    start = date(year, 3 * quarter - 2, 1)
    end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return Period(match[0], start, end)


# --- what the platform saw ---------------------------------------------------------------------------


def retrofit_projects(session: Session, provider_id: int, period: Period) -> int:
    """Projects on the 数字化技改项目白名单 the provider takes part in, selected before the quarter ended.
    The providers of a project are a JSON list, so the (few) selected projects are filtered here."""
    named = session.exec(
        select(RetrofitProject.provider_ids).where(
            col(RetrofitProject.status).in_([ProjectStatus.selected, ProjectStatus.completed]),
            col(RetrofitProject.selected_on) < period.end,
        )
    )
    return sum(provider_id in providers for providers in named)


def gather(session: Session, provider_id: int, period: Period) -> Inputs:
    start, end = period.bounds
    moves = session.exec(
        select(Docking, DockingEvent)
        .join(DockingEvent, col(DockingEvent.docking_id) == Docking.id)
        .where(Docking.provider_id == provider_id, DockingEvent.created_at >= start, DockingEvent.created_at < end)
    ).all()
    completed = [d for d, e in moves if e.to_status == DockingStatus.completed]
    answers = [(d, e) for d, e in moves if e.from_status == DockingStatus.requested and e.to_status in _ANSWERS]
    scores = [d.satisfaction for d in completed if d.satisfaction is not None]
    hours = [max(0.0, (_aware(e.created_at) - _aware(d.created_at)).total_seconds() / 3600) for d, e in answers]
    contract = sum(d.contract_amount or 0.0 for d, e in moves if e.to_status == DockingStatus.contracted)
    completed_total = session.exec(
        select(func.count())
        .select_from(DockingEvent)
        .join(Docking, col(Docking.id) == DockingEvent.docking_id)
        .where(
            Docking.provider_id == provider_id,
            DockingEvent.to_status == DockingStatus.completed,
            DockingEvent.created_at < end,
        )
    ).one()
    warnings = session.exec(
        select(func.count()).where(
            WhitelistEvent.provider_id == provider_id,
            col(WhitelistEvent.action).in_(("warn", "suspend")),
            WhitelistEvent.created_at >= start,
            WhitelistEvent.created_at < end,
        )
    ).one()
    cases = session.exec(select(SuccessCase.ai_scenarios).where(SuccessCase.provider_id == provider_id)).all()
    return Inputs(
        completed=len(completed),
        satisfaction=round(sum(scores) / len(scores), 3) if scores else None,
        accepted=sum(1 for _, e in answers if e.to_status == DockingStatus.accepted),
        declined=sum(1 for _, e in answers if e.to_status == DockingStatus.declined),
        response_hours=round(sum(hours) / len(hours), 2) if hours else None,
        contract=round(contract, 2),
        retrofit=retrofit_projects(session, provider_id, period),
        warnings=warnings,
        ai_cases=sum(1 for scenarios in cases if scenarios),
        completed_total=completed_total,
    )


_ANSWERS = frozenset({DockingStatus.accepted, DockingStatus.declined})


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- computing, reviewing, publishing ----------------------------------------------------------------


@dataclass
class RunReport:
    created: list[int] = field(default_factory=list)  # provider ids
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    published: list[int] = field(default_factory=list)  # already published: left as they are


def rate(session: Session, period_text: str, tiers: Sequence[Tier], today: date | None = None) -> RunReport:
    """Rate every approved provider for the quarter. Run again, it recomputes the ratings not yet
    published (keeping an admin's adjusted stars) and leaves published ones alone."""
    period = parse_period(period_text)
    today = today or date.today()
    if period.end > today:
        raise ServiceError(f"{period.name} 尚未结束（{period.end} 起才能评级）", field="period")
    report = RunReport()
    begin_write(session)
    rows = session.exec(select(ProviderRating).where(ProviderRating.period == period.name))
    existing = {rating.provider_id: rating for rating in rows}
    approved = session.exec(select(Provider.id).where(Provider.status == ProviderStatus.approved).order_by(Provider.id))
    for provider_id in list(approved):
        inputs = gather(session, provider_id, period)
        score = score_of(inputs)
        computed = stars_of(score)
        values = {"score": score, "computed_stars": computed, "inputs": _inputs_dict(inputs)}
        rating = existing.get(provider_id)
        if rating is None:
            tier = tier_of(computed, inputs.completed_total, tiers)
            rating = ProviderRating(provider_id=provider_id, period=period.name, stars=computed, tier=tier, **values)
            session.add(rating)
            report.created.append(provider_id)
            continue
        if rating.status == RatingStatus.published:
            report.published.append(provider_id)
            continue
        stars = rating.stars if rating.adjusted_by is not None else computed
        values |= {"stars": stars, "tier": tier_of(stars, inputs.completed_total, tiers)}
        if all(getattr(rating, name) == value for name, value in values.items()):
            report.unchanged.append(provider_id)
            continue
        for name, value in values.items():
            setattr(rating, name, value)
        rating.computed_at = utcnow()
        session.add(rating)
        report.updated.append(provider_id)
    session.commit()
    return report


def _inputs_dict(inputs: Inputs) -> dict:
    return {name: getattr(inputs, name) for name in Inputs.__dataclass_fields__}


def _reason(reason: str | None, message: str = "请填写理由") -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(message, field="reason")
    if len(reason) > 2000:
        raise ServiceError("理由不能超过2000字", field="reason")
    return reason


def _stars(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
        raise ServiceError("星级须为 1-5 的整数", field="stars")
    return value


def _locked(session: Session, rating_id: int) -> ProviderRating:
    begin_write(session)
    rating = session.get(ProviderRating, rating_id, with_for_update=True, populate_existing=True)
    if rating is None:
        raise ServiceError("评级不存在")
    return rating


def adjust(
    session: Session, rating_id: int, stars: object, actor_id: int | None, reason: str | None, tiers: Sequence[Tier]
) -> ProviderRating:
    """The admin sets a computed rating's stars, with a reason (audited); published ones change only by appeal."""
    reason = _reason(reason, "调整评级须填写理由")
    stars = _stars(stars)
    rating = _locked(session, rating_id)
    if rating.status != RatingStatus.computed:
        raise ServiceError("评级已公布，只能通过服务商的申诉更改")
    if stars == rating.stars:
        raise ServiceError(f"评级已是 {stars} 星，无需调整", field="stars")
    before = rating.stars
    _set_stars(rating, stars, actor_id, reason, tiers)
    audit.record(session, actor_id, "rating.adjust", "provider_rating", rating.id, reason, before=before, after=stars)
    session.commit()
    return rating


def _set_stars(rating: ProviderRating, stars: int, actor_id: int | None, reason: str, tiers: Sequence[Tier]) -> None:
    rating.stars = stars
    rating.tier = tier_of(stars, int(rating.inputs.get("completed_total", 0)), tiers)
    rating.adjusted_by, rating.adjust_reason, rating.adjusted_at = actor_id, reason, utcnow()


def publish(session: Session, period_text: str, actor_id: int | None, reason: str | None) -> list[ProviderRating]:
    """Publish every computed rating of the period: each provider gets a history entry (the decision
    it may appeal against) and a notification; its solutions are stamped so every worker's ranking
    prior follows; one audit entry for the publication."""
    reason = _reason(reason, "公布评级须填写说明")
    period = parse_period(period_text)
    begin_write(session)
    ratings = list(
        session.exec(
            select(ProviderRating)
            .where(ProviderRating.period == period.name, ProviderRating.status == RatingStatus.computed)
            .order_by(ProviderRating.provider_id)
            .with_for_update()
        )
    )
    if not ratings:
        raise ServiceError(f"{period.name} 没有待公布的评级")
    now = utcnow()
    for rating in ratings:
        provider = session.get(Provider, rating.provider_id)
        event = WhitelistEvent(
            provider_id=provider.id,
            action=RATING_ACTION,
            from_status=provider.status,
            to_status=provider.status,
            actor_id=actor_id,
            reason=f"{period.name} 评星 {rating.stars} 星（{rating.tier}）",
        )
        session.add(event)
        session.flush()
        rating.status, rating.published_at, rating.whitelist_event_id = RatingStatus.published, now, event.id
        session.add(rating)
        changes.mark_provider(session, provider.id)
        if provider.user_id is not None:
            notify(
                session,
                provider.user_id,
                "whitelist",
                f"{period.name} 评星结果：{rating.stars} 星（{rating.tier}）",
                f"对接服务中心已公布 {period.name} 的服务商评星评级。评分公式见平台“评星评级”公开页面。"
                "如对结果有异议，可在工作台对本次评级提出一次申诉。",
                PROVIDER_RATINGS,
            )
    audit.record(
        session, actor_id, "rating.publish", "rating_period", None, reason, period=period.name, count=len(ratings)
    )
    session.commit()
    return ratings


RATING_ACTION = "rating"  # the WhitelistEvent of a publication: what a rating appeal refers to
PROVIDER_RATINGS = "/provider/ratings"


# --- appeals ------------------------------------------------------------------------------------------


def file_appeal(session: Session, rating_id: int, provider_id: int, actor_id: int | None, reason: str) -> Appeal:
    """The provider's one appeal against a published rating of its own."""
    reason = _reason(reason, "请填写申诉理由")
    rating = _locked(session, rating_id)
    if rating.provider_id != provider_id:
        raise ServiceError("评级不存在")
    if rating.status != RatingStatus.published or rating.whitelist_event_id is None:
        raise ServiceError("评级公布后才能申诉")
    if session.exec(select(Appeal.id).where(Appeal.whitelist_event_id == rating.whitelist_event_id)).first():
        raise ServiceError("对这次评级已经申诉过，每次评级只能申诉一次")
    appeal = Appeal(provider_id=provider_id, whitelist_event_id=rating.whitelist_event_id, reason=reason)
    session.add(appeal)
    provider = session.get(Provider, provider_id)
    session.add(
        WhitelistEvent(
            provider_id=provider_id,
            action="appeal",
            from_status=provider.status,
            to_status=provider.status,
            actor_id=actor_id,
            reason=f"对 {rating.period} 评级申诉：{reason}",
        )
    )
    session.commit()
    return appeal


def rating_of_appeal(session: Session, appeal: Appeal) -> ProviderRating | None:
    """The published rating an appeal is against; None for an appeal against a whitelist decision."""
    return session.exec(
        select(ProviderRating).where(ProviderRating.whitelist_event_id == appeal.whitelist_event_id)
    ).first()


def decide_appeal(
    session: Session,
    appeal_id: int,
    upheld: bool,
    stars: object,
    actor_id: int | None,
    reason: str | None,
    tiers: Sequence[Tier],
) -> Appeal:
    """Uphold a rating appeal (the rating takes the given stars) or dismiss it, with a reason; audited,
    the provider told, its solutions stamped so the ranking prior follows."""
    reason = _reason(reason, "请填写处理理由")
    begin_write(session)
    appeal = session.get(Appeal, appeal_id, with_for_update=True, populate_existing=True)
    rating = rating_of_appeal(session, appeal) if appeal is not None else None
    if appeal is None or rating is None:
        raise ServiceError("评级申诉不存在")
    if appeal.status != AppealStatus.pending:
        raise ServiceError("该申诉已经处理")
    rating = _locked(session, rating.id)
    before = rating.stars
    if upheld:
        stars = _stars(stars)
        if stars == rating.stars:
            raise ServiceError("申诉成立时须给出与原评级不同的星级", field="stars")
        _set_stars(rating, stars, actor_id, reason, tiers)
        session.add(rating)
        changes.mark_provider(session, rating.provider_id)
    appeal.status = AppealStatus.upheld if upheld else AppealStatus.dismissed
    appeal.decided_by, appeal.decision_reason, appeal.decided_at = actor_id, reason, utcnow()
    session.add(appeal)
    provider = session.get(Provider, rating.provider_id)
    action = "appeal_upheld" if upheld else "appeal_dismissed"
    session.add(
        WhitelistEvent(
            provider_id=provider.id,
            action=action,
            from_status=provider.status,
            to_status=provider.status,
            actor_id=actor_id,
            reason=f"{rating.period} 评级：{reason}",
        )
    )
    audit.record(
        session, actor_id, f"rating.{action}", "provider_rating", rating.id, reason, before=before, after=rating.stars
    )
    if provider.user_id is not None:
        title = (
            f"评级申诉成立：{rating.period} 改为 {rating.stars} 星（{rating.tier}）"
            if upheld
            else f"评级申诉未获支持：{rating.period} 维持 {rating.stars} 星"
        )
        notify(session, provider.user_id, "whitelist", title, f"理由：{reason}", PROVIDER_RATINGS)
    session.commit()
    return appeal


# --- reading -----------------------------------------------------------------------------------------


def periods(session: Session) -> list[str]:
    """The rated quarters, newest first."""
    rows = session.exec(select(ProviderRating.period).distinct())
    return sorted(rows, reverse=True)


def period_ratings(session: Session, period: str) -> list[tuple[ProviderRating, Provider]]:
    rows = session.exec(
        select(ProviderRating, Provider)
        .join(Provider, col(Provider.id) == ProviderRating.provider_id)
        .where(ProviderRating.period == period)
        .order_by(col(ProviderRating.stars).desc(), col(ProviderRating.score).desc(), Provider.id)
    )
    return list(rows)


def standing(session: Session, provider_ids: Sequence[int]) -> dict[int, ProviderRating]:
    """provider id -> its newest published rating (providers never published are left out)."""
    if not provider_ids:
        return {}
    newest = (
        select(ProviderRating.provider_id, func.max(ProviderRating.period).label("period"))
        .where(ProviderRating.status == RatingStatus.published, col(ProviderRating.provider_id).in_(provider_ids))
        .group_by(ProviderRating.provider_id)
        .subquery()
    )
    rows = session.exec(
        select(ProviderRating).join(
            newest,
            (newest.c.provider_id == ProviderRating.provider_id) & (newest.c.period == ProviderRating.period),
        )
    )
    return {rating.provider_id: rating for rating in rows}


def provider_ratings(session: Session, provider_id: int) -> list[tuple[ProviderRating, Appeal | None]]:
    """The provider's published ratings, newest first, each with its appeal if one was filed."""
    rows = session.exec(
        select(ProviderRating, Appeal)
        .join(Appeal, col(Appeal.whitelist_event_id) == ProviderRating.whitelist_event_id, isouter=True)
        .where(ProviderRating.provider_id == provider_id, ProviderRating.status == RatingStatus.published)
        .order_by(col(ProviderRating.period).desc())
    )
    return list(rows)


def pending_rating_appeals(session: Session, period: str) -> dict[int, Appeal]:
    """rating id -> its pending appeal, for the period's review page."""
    rows = session.exec(
        select(ProviderRating.id, Appeal)
        .join(Appeal, col(Appeal.whitelist_event_id) == ProviderRating.whitelist_event_id)
        .where(ProviderRating.period == period, Appeal.status == AppealStatus.pending)
    )
    return dict(rows.all())
