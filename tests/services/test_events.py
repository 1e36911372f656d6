"""Matchmaking events, the admin's part: create, publish, close registration by hand and at the
deadline; every change audited; bad input refused with a Chinese message and nothing written; the
pages and the `flask event-sweep` command."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

from matchmaker.services import events
from matchmaker.services.errors import ServiceError
from models import AuditLog, Event, EventStatus, EventWrite, User
from tests.conftest import post

DAY = date.today() + timedelta(days=30)


def event_data(**overrides) -> dict:
    return {
        "title": "链上坪山·新能源汽车专场",
        "industries": ["furniture"],
        "domains": ["data_collection"],
        "event_date": DAY,
        "venue": "坪山会展中心二楼",
        "start_time": time(14, 0),
        "slot_minutes": 20,
        "slot_count": 9,
        "tables": 12,
        "registration_deadline": datetime.combine(DAY - timedelta(days=3), time(18, 0)),
        "meeting_cap": 5,
    } | overrides


def admin_id(db) -> int:
    return db.exec(select(User.id).where(User.email == "admin@example.com")).one()


def audit_actions(db, event_id: int) -> list[tuple[str, int | None, str]]:
    rows = db.exec(select(AuditLog).where(AuditLog.target_type == "event", AuditLog.target_id == event_id))
    return [(row.action, row.actor_id, row.reason) for row in rows]


def test_lifecycle_is_audited_with_who_and_why(admin_client, db):
    actor = admin_id(db)
    event = events.create(db, actor, EventWrite.model_validate(event_data()), "年度计划第 12 场")
    assert event.status == EventStatus.draft
    # typed in Beijing time, stored in UTC
    assert events.as_local(event.registration_deadline).hour == 18
    assert event.registration_deadline.replace(tzinfo=UTC).hour == 10
    assert [end - start for start, end in event.slot_times()] == [timedelta(minutes=20)] * 9
    events.publish(db, event.id, actor, "已确认场地")
    with pytest.raises(ServiceError, match="只有草稿"):
        events.publish(db, event.id, actor, "再次发布")
    with pytest.raises(ServiceError, match="理由"):
        events.close_registration(db, event.id, actor, "  ")
    events.close_registration(db, event.id, actor, "报名已满")
    with pytest.raises(ServiceError, match="只有报名中"):
        events.close_registration(db, event.id, actor, "再次截止")
    assert db.get(Event, event.id).status == EventStatus.closed
    assert audit_actions(db, event.id) == [
        ("event.create", actor, "年度计划第 12 场"),
        ("event.publish", actor, "已确认场地"),
        ("event.close", actor, "报名已满"),
    ]


def test_the_deadline_sweep_closes_only_published_events_past_their_deadline(admin_client, app, db):
    actor = admin_id(db)
    due = events.create(db, actor, EventWrite.model_validate(event_data()))
    later = events.create(db, actor, EventWrite.model_validate(event_data(title="下一场")))
    draft = events.create(db, actor, EventWrite.model_validate(event_data(title="草稿场")))
    events.publish(db, due.id, actor)
    events.publish(db, later.id, actor)
    past = datetime.now(UTC) - timedelta(hours=1)
    db.get(Event, due.id).registration_deadline = past
    db.commit()

    result = app.test_cli_runner().invoke(args=["event-sweep"])
    assert result.exit_code == 0, result.output
    assert "1 个" in result.output
    db.expire_all()
    assert [db.get(Event, i).status for i in (due.id, later.id, draft.id)] == ["closed", "published", "draft"]
    assert audit_actions(db, due.id)[-1] == ("event.close", None, "报名截止时间已到")
    assert events.close_due(db) == []  # a second sweep changes nothing


def test_an_event_past_its_deadline_cannot_be_published(admin_client, db):
    actor = admin_id(db)
    event = events.create(db, actor, EventWrite.model_validate(event_data()))
    with pytest.raises(ServiceError, match="截止时间已过"):
        events.publish(db, event.id, actor, now=datetime.now(UTC) + timedelta(days=40))
    assert db.get(Event, event.id).status == EventStatus.draft


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"slot_count": 0}, "slot_count"),
        ({"tables": 10**9}, "tables"),
        ({"meeting_cap": 12}, "会谈上限不能超过时段数"),
        ({"start_time": time(23, 0)}, "午夜"),
        ({"registration_deadline": datetime.combine(DAY, time(15, 0))}, "报名截止时间应早于"),
        ({"title": "x"}, "title"),
    ],
)
def test_bad_shapes_are_refused_by_the_schema(overrides, message):
    with pytest.raises(ValueError, match=message):
        EventWrite.model_validate(event_data(**overrides))


def test_unknown_theme_codes_are_refused_and_nothing_is_written(admin_client, db):
    with pytest.raises(ServiceError, match="未知的主题分类：nowhere"):
        events.create(db, admin_id(db), EventWrite.model_validate(event_data(domains=["nowhere"])))
    db.rollback()
    assert db.exec(select(func.count()).select_from(Event)).one() == 0


def form(**overrides) -> dict:
    data = event_data()
    values = {
        "title": data["title"],
        "industries": data["industries"],
        "domains": data["domains"],
        "event_date": DAY.isoformat(),
        "venue": data["venue"],
        "start_time": "14:00",
        "slot_minutes": "20",
        "slot_count": "9",
        "tables": "12",
        "registration_deadline": data["registration_deadline"].strftime("%Y-%m-%dT%H:%M"),
        "meeting_cap": "5",
        "reason": "年度计划",
    }
    return values | overrides


def test_admin_pages_create_publish_and_close(admin_client, db):
    assert admin_client.get("/admin/events/new").status_code == 200
    response = post(admin_client, "/admin/events/new", form(), page="/admin/events/new")
    assert response.status_code == 302
    event = db.exec(select(Event)).one()
    page = admin_client.get(f"/admin/events/{event.id}").get_data(as_text=True)
    assert (
        "家具" in page and "草稿" in page and "14:00–17:00" in page and "12 张" in page and "18:00（北京时间）" in page
    )
    assert "链上坪山" in admin_client.get("/admin/events").get_data(as_text=True)

    refused = post(admin_client, f"/admin/events/{event.id}/publish", {"reason": ""}, page="/admin/events")
    assert refused.status_code == 400 and "请填写理由" in refused.get_data(as_text=True)
    assert (
        post(
            admin_client, f"/admin/events/{event.id}/publish", {"reason": "场地已定"}, page="/admin/events"
        ).status_code
        == 302
    )
    assert (
        post(admin_client, f"/admin/events/{event.id}/close", {"reason": "名额已满"}, page="/admin/events").status_code
        == 302
    )
    again = post(admin_client, f"/admin/events/{event.id}/close", {"reason": "再次"}, page="/admin/events")
    assert again.status_code == 400 and "只有报名中的活动可以截止报名" in again.get_data(as_text=True)
    db.expire_all()
    assert db.get(Event, event.id).status == EventStatus.closed


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"slot_count": "-1"}, "slot_count"),
        ({"slot_count": "99999999999999999999"}, ""),
        ({"title": "链上\x00坪山"}, "控制字符"),
        ({"meeting_cap": "20"}, "会谈上限不能超过时段数"),
        ({"domains": ["nowhere"]}, ""),
    ],
)
def test_bad_forms_get_a_400_in_chinese_and_write_nothing(admin_client, db, overrides, message):
    response = post(admin_client, "/admin/events/new", form(**overrides), page="/admin/events/new")
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "提交的内容有误" in body or "会谈上限" in body
    assert db.exec(select(func.count()).select_from(Event)).one() == 0


def test_other_roles_cannot_reach_the_event_pages(enterprise_client):
    assert enterprise_client.get("/admin/events").status_code == 403
    assert enterprise_client.get("/admin/events/new").status_code == 403
