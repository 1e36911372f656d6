"""Provider star ratings (评星评级): the quarter, the formula, the tiers, `rate` (idempotent), the
admin's adjustment (only with a reason, audited), publication (each provider told, the index's
prior follows), and the provider's one appeal through the whitelist's Appeal rows."""

from datetime import date

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from matchmaker import create_app
from matchmaker.matching.search_index import published_priors
from matchmaker.services import ratings, whitelist
from matchmaker.services.dockings import MoveDetails
from matchmaker.services.errors import ServiceError
from models import (
    Appeal,
    AppealStatus,
    AuditLog,
    Notification,
    ProviderRating,
    RetrofitProject,
    Role,
    Solution,
    SuccessCase,
    User,
    WhitelistEvent,
)
from tests.services.test_dockings import D, P, ask, do, drive, make_world

TIERS = ratings.parse_tiers("第一梯队:4:3,第二梯队:3:1,第三梯队:1:0")
PERIOD = "2026Q2"  # the dockings tests' clock: 2026-05-01
AFTER = date(2026, 7, 1)


def count(db: Session, table) -> int:
    return db.exec(select(func.count()).select_from(table)).one()


# --- pure parts ---------------------------------------------------------------------------------------


def test_a_quarter_is_parsed_strictly():
    period = ratings.parse_period("2027Q1")
    assert (period.name, period.start, period.end) == ("2027Q1", date(2027, 1, 1), date(2027, 4, 1))
    assert ratings.parse_period("2026Q4").end == date(2027, 1, 1)
    for bad in ("2027q1", "2027Q5", "2027Q0", " 2027Q1", "2027Q1 ", "2027-Q1", "27Q1", "2027", "", None, "２０２７Q1"):
        with pytest.raises(ServiceError, match="评级周期格式应为"):
            ratings.parse_period(bad)


def test_no_history_scores_the_middle_three_stars():
    assert sum(ratings.WEIGHTS.values()) == pytest.approx(1.0)
    assert set(ratings.WEIGHTS) == set(ratings.COMPONENT_LABELS)
    empty = ratings.Inputs()
    assert set(ratings.components(empty).values()) == {ratings.NEUTRAL}
    assert ratings.score_of(empty) == pytest.approx(0.5)
    assert ratings.stars_of(ratings.score_of(empty)) == 3


def test_a_strong_quarter_earns_five_stars_and_warnings_cost():
    strong = ratings.Inputs(
        completed=4, satisfaction=5, accepted=5, response_hours=4, contract=300, retrofit=2, ai_cases=2
    )
    assert ratings.score_of(strong) == pytest.approx(1.0 - ratings.WEIGHTS["conduct"] * 0.5)
    assert ratings.stars_of(ratings.score_of(strong)) == 5
    warned = ratings.Inputs(warnings=2, declined=3, response_hours=200, completed=1, satisfaction=1)
    assert ratings.components(warned)["conduct"] == 0.0
    assert ratings.stars_of(ratings.score_of(warned)) <= 2
    assert [ratings.stars_of(s) for s in (0.0, 0.3, 0.45, 0.6, 0.8, 1.0)] == [1, 2, 3, 4, 5, 5]


def test_tiers_follow_stars_and_track_record_and_bad_configuration_is_refused():
    assert ratings.tier_of(5, 3, TIERS) == "第一梯队"
    assert ratings.tier_of(5, 2, TIERS) == "第二梯队"  # stars alone are not enough
    assert ratings.tier_of(3, 0, TIERS) == "第三梯队"
    assert ratings.tier_of(1, 99, TIERS) == "第三梯队"
    for bad in ("第一梯队:6:1,其他:1:0", "第一梯队:4:3", "第一梯队-4-3,其他:1:0", ":4:3,其他:1:0"):
        with pytest.raises(ValueError, match="梯队配置"):
            ratings.parse_tiers(bad)


# --- rating a quarter ---------------------------------------------------------------------------------


def rated_world(db: Session):
    """Two approved providers: the first delivered (验收 with satisfaction 5, 12.5 万元) and has an
    AI-enabled case; the second declined its request."""
    w = make_world(db, vendors=2)
    done = drive(db, w, ask(db, w, 0), D.completed)
    do(db, w, ask(db, w, 1), D.declined, P, MoveDetails(note="排期已满"))
    db.add(SuccessCase(provider_id=w.providers[0].id, title="视觉质检", ai_scenarios=["视觉质检"]))
    db.commit()
    assert done.satisfaction == 4
    return w


def test_rate_rates_every_approved_provider_from_the_quarter_and_is_idempotent(db):
    w = rated_world(db)
    report = ratings.rate(db, PERIOD, TIERS, AFTER)
    assert sorted(report.created) == sorted(p.id for p in w.providers)
    first, second = (
        db.exec(select(ProviderRating).where(ProviderRating.provider_id == p.id)).one() for p in w.providers
    )
    assert (first.inputs["completed"], first.inputs["satisfaction"], first.inputs["contract"]) == (1, 4, 12.5)
    assert (first.inputs["accepted"], first.inputs["ai_cases"], first.inputs["retrofit"]) == (1, 1, 0)
    assert (second.inputs["declined"], second.inputs["completed"]) == (1, 0)
    assert first.score > ratings.NEUTRAL
    # declined its one request (acceptance 0) but answered at once (response 1): even
    assert second.score == pytest.approx(ratings.NEUTRAL)
    assert first.status == second.status == "computed"
    assert first.tier == ratings.tier_of(first.stars, 1, TIERS)
    before = [(r.id, r.score, r.stars, r.tier, r.inputs) for r in db.exec(select(ProviderRating))]
    again = ratings.rate(db, PERIOD, TIERS, AFTER)
    assert sorted(again.unchanged) == sorted(report.created) and not again.created and not again.updated
    assert [(r.id, r.score, r.stars, r.tier, r.inputs) for r in db.exec(select(ProviderRating))] == before
    # a quarter with nothing in it rates everyone three stars (the average)
    ratings.rate(db, "2026Q1", TIERS, AFTER)
    assert {r.stars for r in db.exec(select(ProviderRating).where(ProviderRating.period == "2026Q1"))} == {3}


def test_projects_on_the_retrofit_whitelist_count_for_the_providers_they_name(db):
    """Selected or completed projects selected before the quarter ended count; others do not."""
    w = rated_world(db)
    first, second = (p.id for p in w.providers)
    for status, selected_on, providers in [
        ("selected", date(2026, 5, 10), [first, second]),
        ("completed", date(2026, 4, 1), [first]),
        ("selected", AFTER, [first]),  # selected after the quarter
        ("publicity", None, [first]),  # still on notice
    ]:
        project = RetrofitProject(
            enterprise_id=w.enterprise.id,
            name="技改项目",
            content="产线数字化改造",
            total_investment=100,
            digital_investment=60,
            start_on=date(2026, 1, 1),
            end_on=date(2026, 12, 31),
            provider_ids=providers,
            expected_result="效率提升",
            status=status,
            selected_on=selected_on,
        )
        db.add(project)
    db.commit()
    quarter = ratings.parse_period(PERIOD)
    assert (ratings.retrofit_projects(db, first, quarter), ratings.retrofit_projects(db, second, quarter)) == (2, 1)
    ratings.rate(db, PERIOD, TIERS, AFTER)
    counted = db.exec(select(ProviderRating).where(ProviderRating.provider_id == first)).one()
    assert counted.inputs["retrofit"] == 2


@pytest.mark.parametrize(
    ("period", "message"), [("2026q2", "评级周期格式应为"), ("2026Q3", "尚未结束"), ("2027Q1", "尚未结束")]
)
def test_a_bad_or_unfinished_quarter_is_refused_and_writes_nothing(db, period, message):
    rated_world(db)
    with pytest.raises(ServiceError, match=message):
        ratings.rate(db, period, TIERS, AFTER)
    db.rollback()
    assert count(db, ProviderRating) == 0


def test_the_command_rates_and_refuses_in_chinese(app, db):
    rated_world(db)
    runner = app.test_cli_runner()
    bad = runner.invoke(args=["rate-providers", "--period", "2026-2"])
    assert bad.exit_code != 0 and "评级周期格式应为" in bad.output
    assert count(db, ProviderRating) == 0
    for _ in range(2):
        result = runner.invoke(args=["rate-providers", "--period", PERIOD, "--today", "2026-07-01"])
        assert result.exit_code == 0, result.output
    assert "未变 2 家" in result.output
    assert count(db, ProviderRating) == 2


# --- adjusting, publishing ----------------------------------------------------------------------------


def admin(db: Session) -> User:
    user = User(email="rating-admin@example.com", password_hash="-", role=Role.admin, display_name="评级管理员")
    db.add(user)
    db.commit()
    return user


def rating_of(db: Session, provider_id: int, period: str = PERIOD) -> ProviderRating:
    return db.exec(
        select(ProviderRating).where(ProviderRating.provider_id == provider_id, ProviderRating.period == period)
    ).one()


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_an_adjustment_without_a_reason_is_refused_and_changes_nothing(db, reason):
    w = rated_world(db)
    ratings.rate(db, PERIOD, TIERS, AFTER)
    rating = rating_of(db, w.providers[1].id)
    before = rating.stars
    with pytest.raises(ServiceError, match="调整评级须填写理由"):
        ratings.adjust(db, rating.id, 5, admin(db).id, reason, TIERS)
    db.rollback()
    assert rating_of(db, w.providers[1].id).stars == before
    assert count(db, AuditLog) == 0


@pytest.mark.parametrize("stars", [0, 6, "4", None, True])
def test_an_adjustment_to_no_star_count_is_refused(db, stars):
    w = rated_world(db)
    ratings.rate(db, PERIOD, TIERS, AFTER)
    with pytest.raises(ServiceError, match="星级须为 1-5"):
        ratings.adjust(db, rating_of(db, w.providers[1].id).id, stars, admin(db).id, "核实", TIERS)


def test_an_adjustment_with_a_reason_is_audited_and_survives_a_rerun(db):
    w = rated_world(db)
    ratings.rate(db, PERIOD, TIERS, AFTER)
    boss = admin(db)
    rating = rating_of(db, w.providers[1].id)
    computed = rating.computed_stars
    ratings.adjust(db, rating.id, 5, boss.id, "线下核实交付质量优秀", TIERS)
    rating = rating_of(db, w.providers[1].id)
    assert (rating.stars, rating.computed_stars, rating.adjusted_by) == (5, computed, boss.id)
    assert rating.adjust_reason == "线下核实交付质量优秀" and rating.adjusted_at is not None
    entry = db.exec(select(AuditLog).where(AuditLog.action == "rating.adjust")).one()
    assert (entry.actor_id, entry.target_id, entry.reason) == (boss.id, rating.id, "线下核实交付质量优秀")
    assert entry.detail == {"before": computed, "after": 5}
    ratings.rate(db, PERIOD, TIERS, AFTER)
    assert rating_of(db, w.providers[1].id).stars == 5


def test_publishing_tells_each_provider_stamps_its_solutions_and_freezes_the_ratings(db):
    w = rated_world(db)
    ratings.rate(db, PERIOD, TIERS, AFTER)
    boss = admin(db)
    with pytest.raises(ServiceError, match="公布评级须填写说明"):
        ratings.publish(db, PERIOD, boss.id, "")
    db.rollback()
    seqs = {s.id: s.change_seq for s in db.exec(select(Solution))}
    published = ratings.publish(db, PERIOD, boss.id, "2026年第二季度评级")
    assert len(published) == 2
    for provider in w.providers:
        rating = rating_of(db, provider.id)
        assert rating.status == "published" and rating.published_at is not None
        event = db.get(WhitelistEvent, rating.whitelist_event_id)
        assert (event.action, event.actor_id, event.provider_id) == ("rating", boss.id, provider.id)
        note = db.exec(select(Notification).where(Notification.user_id == provider.user_id)).all()[-1]
        assert note.title == f"{PERIOD} 评星结果：{rating.stars} 星（{rating.tier}）"
        assert note.link == "/provider/ratings"
    assert all(s.change_seq > seqs[s.id] for s in db.exec(select(Solution)))  # every worker's prior follows
    audit = db.exec(select(AuditLog).where(AuditLog.action == "rating.publish")).one()
    assert (audit.actor_id, audit.reason, audit.detail) == (
        boss.id,
        "2026年第二季度评级",
        {"period": PERIOD, "count": 2},
    )
    priors = published_priors(db)
    assert priors[w.providers[0].id] == (rating_of(db, w.providers[0].id).stars - 1) / 4
    with pytest.raises(ServiceError, match="没有待公布的评级"):
        ratings.publish(db, PERIOD, boss.id, "再公布一次")
    db.rollback()
    with pytest.raises(ServiceError, match="只能通过服务商的申诉"):
        ratings.adjust(db, rating_of(db, w.providers[1].id).id, 5, boss.id, "改一下", TIERS)
    db.rollback()
    report = ratings.rate(db, PERIOD, TIERS, AFTER)  # published ratings stay as they are
    assert sorted(report.published) == sorted(p.id for p in w.providers)


# --- appeals ------------------------------------------------------------------------------------------


def published(db: Session):
    w = rated_world(db)
    ratings.rate(db, PERIOD, TIERS, AFTER)
    boss = admin(db)
    ratings.publish(db, PERIOD, boss.id, "公布")
    return w, boss


def test_a_provider_appeals_its_published_rating_once(db):
    w, _ = published(db)
    provider = w.providers[1]
    rating = rating_of(db, provider.id)
    with pytest.raises(ServiceError, match="请填写申诉理由"):
        ratings.file_appeal(db, rating.id, provider.id, provider.user_id, " ")
    db.rollback()
    with pytest.raises(ServiceError, match="评级不存在"):  # another provider's rating
        ratings.file_appeal(db, rating.id, w.providers[0].id, w.providers[0].user_id, "不服")
    db.rollback()
    appeal = ratings.file_appeal(db, rating.id, provider.id, provider.user_id, "婉拒是因为需求超出服务范围")
    assert (appeal.whitelist_event_id, appeal.status) == (rating.whitelist_event_id, AppealStatus.pending)
    with pytest.raises(ServiceError, match="每次评级只能申诉一次"):
        ratings.file_appeal(db, rating.id, provider.id, provider.user_id, "再申诉一次")
    db.rollback()
    assert count(db, Appeal) == 1
    assert ratings.provider_ratings(db, provider.id)[0][1].id == appeal.id


def test_an_unpublished_rating_cannot_be_appealed(db):
    w = rated_world(db)
    ratings.rate(db, PERIOD, TIERS, AFTER)
    provider = w.providers[1]
    with pytest.raises(ServiceError, match="评级公布后才能申诉"):
        ratings.file_appeal(db, rating_of(db, provider.id).id, provider.id, provider.user_id, "不服")


def test_an_upheld_appeal_sets_new_stars_and_a_dismissed_one_keeps_them(db):
    w, boss = published(db)
    first, second = (rating_of(db, p.id) for p in w.providers)
    up = ratings.file_appeal(db, second.id, w.providers[1].id, w.providers[1].user_id, "婉拒有正当理由")
    down = ratings.file_appeal(db, first.id, w.providers[0].id, w.providers[0].user_id, "应为五星")
    with pytest.raises(ServiceError, match="这是对评星结果的申诉"):  # not the whitelist's decision
        whitelist.decide_appeal(db, up.id, True, boss.id, "成立")
    db.rollback()
    with pytest.raises(ServiceError, match="须给出与原评级不同的星级"):
        ratings.decide_appeal(db, up.id, True, second.stars, boss.id, "成立", TIERS)
    db.rollback()
    with pytest.raises(ServiceError, match="请填写处理理由"):
        ratings.decide_appeal(db, up.id, False, None, boss.id, "", TIERS)
    db.rollback()
    old = second.stars
    ratings.decide_appeal(db, up.id, True, 4, boss.id, "核实婉拒理由成立", TIERS)
    second = rating_of(db, w.providers[1].id)
    assert (second.stars, db.get(Appeal, up.id).status) == (4, AppealStatus.upheld)
    assert published_priors(db)[w.providers[1].id] == 0.75
    entry = db.exec(select(AuditLog).where(AuditLog.action == "rating.appeal_upheld")).one()
    assert (entry.actor_id, entry.reason, entry.detail) == (boss.id, "核实婉拒理由成立", {"before": old, "after": 4})
    ratings.decide_appeal(db, down.id, False, None, boss.id, "依据充分，维持", TIERS)
    assert rating_of(db, w.providers[0].id).stars == first.stars
    assert db.get(Appeal, down.id).status == AppealStatus.dismissed
    with pytest.raises(ServiceError, match="该申诉已经处理"):
        ratings.decide_appeal(db, down.id, True, 5, boss.id, "改判", TIERS)
    db.rollback()
    titles = [n.title for n in db.exec(select(Notification).where(Notification.user_id == w.providers[1].user_id))]
    assert f"评级申诉成立：{PERIOD} 改为 4 星（{second.tier}）" in titles


def test_a_whitelist_appeal_is_not_a_rating_appeal(db):
    w, boss = published(db)
    provider = w.providers[0]
    whitelist.decide(db, provider.id, "suspend", boss.id, "投诉核查中", today=AFTER)
    appeal = whitelist.file_appeal(db, provider.id, provider.user_id, "投诉不实")
    with pytest.raises(ServiceError, match="评级申诉不存在"):
        ratings.decide_appeal(db, appeal.id, True, 5, boss.id, "成立", TIERS)


def test_the_prior_follows_the_newest_published_quarter(db):
    w, boss = published(db)
    provider = w.providers[0]
    ratings.rate(db, "2026Q1", TIERS, AFTER)  # an older quarter, published later
    ratings.publish(db, "2026Q1", boss.id, "补评")
    assert published_priors(db)[provider.id] == (rating_of(db, provider.id).stars - 1) / 4
    assert ratings.standing(db, [provider.id])[provider.id].period == PERIOD


def test_a_malformed_tier_setting_stops_the_app_from_starting(tmp_path):
    with pytest.raises(ValueError, match="梯队配置"):
        create_app(
            {"MATCHMAKER_TIERS": "第一梯队:9:1", "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite", "SECRET_KEY": "t"}
        )
