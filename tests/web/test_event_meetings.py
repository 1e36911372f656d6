"""Meeting requests at an event: either side asks, the other accepts or declines; the caps, the
duplicates, unregistered partners and long messages are refused in Chinese with nothing written;
contact details appear only once a meeting is accepted; both sides are notified."""

from datetime import timedelta, timezone

import pytest
from icalendar import Calendar
from sqlmodel import select

from matchmaker.plumbing.db import engine
from matchmaker.plumbing.extensions import search_index
from matchmaker.services import events
from matchmaker.services.errors import ServiceError
from models import AuditLog, Event, EventMeeting, MeetingStatus, Notification, User
from tests.conftest import csrf_token
from tests.web.test_authz import CONTACT, build, snapshot


@pytest.fixture
def world(app, db):
    return build(app, db, docking=False)


def send(w, actor: str, url: str, data: dict | None = None):
    client = w.clients[actor]
    return client.post(url, data=(data or {}) | {"csrf_token": csrf_token(client, f"/events/{w.ids['event_open']}")})


def user_id(db, email: str) -> int:
    return db.exec(select(User.id).where(User.email == email)).one()


def test_accepting_shows_contacts_to_both_sides_and_notifies_the_requester(world, db):
    event_url = f"/events/{world.ids['event_open']}"
    provider_page = world.clients["prov_a"].get(event_url).get_data(as_text=True)
    assert "待答复" in provider_page and "接受" in provider_page
    assert CONTACT["phone"] not in provider_page  # gated until accepted

    response = send(world, "prov_a", f"/events/meetings/{world.ids['meeting']}/accept")
    assert response.status_code == 302
    db.expire_all()
    meeting = db.get(EventMeeting, world.ids["meeting"])
    assert meeting.status == MeetingStatus.accepted and meeting.decided_at is not None
    assert CONTACT["phone"] in world.clients["prov_a"].get(event_url).get_data(as_text=True)
    assert "13900139000" in world.clients["ent_a"].get(event_url).get_data(as_text=True)  # provider A's phone
    titles = list(db.exec(select(Notification.title).where(Notification.user_id == user_id(db, "api11@example.com"))))
    assert any("已接受您的会谈请求" in title for title in titles)
    actions = list(db.exec(select(AuditLog.action).where(AuditLog.target_type == "eventmeeting")))
    assert actions == ["event.meeting_request", "event.meeting_accepted"]

    again = send(world, "prov_a", f"/events/meetings/{world.ids['meeting']}/decline")
    assert again.status_code == 302
    assert "该会谈请求已答复" in world.clients["prov_a"].get(event_url).get_data(as_text=True)
    db.expire_all()
    assert db.get(EventMeeting, world.ids["meeting"]).status == MeetingStatus.accepted


def test_declining_notifies_and_keeps_contacts_hidden(world, db):
    assert send(world, "prov_a", f"/events/meetings/{world.ids['meeting']}/decline").status_code == 302
    db.expire_all()
    assert db.get(EventMeeting, world.ids["meeting"]).status == MeetingStatus.declined
    page = world.clients["prov_a"].get(f"/events/{world.ids['event_open']}").get_data(as_text=True)
    assert "已婉拒" in page and CONTACT["phone"] not in page


def test_a_provider_requests_and_the_enterprise_is_asked(world, db):
    url = f"/events/{world.ids['event_open']}/meetings/provider"
    data = {"need_id": str(world.ids["need_b"]), "solution_id": str(world.ids["iot"]), "message": "可现场演示"}
    assert send(world, "prov_a", url, data).status_code == 302
    db.expire_all()
    meeting = db.exec(select(EventMeeting).where(EventMeeting.need_id == world.ids["need_b"])).one()
    assert (meeting.requested_by, meeting.status, meeting.message) == ("provider", "requested", "可现场演示")
    assert meeting.score > 0  # the match score, the schedule's weight
    # the provider cannot answer its own request; the enterprise can
    assert send(world, "prov_a", f"/events/meetings/{meeting.id}/accept").status_code == 404
    assert send(world, "ent_b", f"/events/meetings/{meeting.id}/accept").status_code == 302


@pytest.mark.parametrize(
    "data, message",
    [
        ({"solution_id": "IOT"}, "已有会谈请求"),
        ({"solution_id": "HIDDEN"}, "双方都需报名本场活动"),
        ({"solution_id": "MES", "message": "长" * 201}, "留言不能超过 200 个字"),
        ({"solution_id": "MES", "cap": 1}, "您的会谈已达本场上限"),
    ],
)
def test_refused_requests_say_why_and_write_nothing(world, db, data, message):
    ids = world.ids
    if "cap" in data:
        event = db.get(Event, ids["event_open"])
        event.meeting_cap = data.pop("cap")
        db.commit()
    solution = {"IOT": ids["iot"], "HIDDEN": ids["hidden"], "MES": ids["mes"]}[data.pop("solution_id")]
    before = snapshot(world.bound)
    form = {"need_id": str(ids["need"]), "solution_id": str(solution)} | data
    assert send(world, "ent_a", f"/events/{ids['event_open']}/meetings/enterprise", form).status_code == 302
    assert message in world.clients["ent_a"].get(f"/events/{ids['event_open']}").get_data(as_text=True)
    assert snapshot(world.bound) == before


def test_garbage_ids_and_draft_events_are_not_found(world):
    url = f"/events/{world.ids['event_open']}/meetings/enterprise"
    assert send(world, "ent_a", url, {"need_id": "9" * 30, "solution_id": "1"}).status_code == 404
    assert send(world, "ent_a", url, {"need_id": "x", "solution_id": "1"}).status_code == 404
    draft = f"/events/{world.ids['event']}/meetings/enterprise"
    data = {"need_id": str(world.ids["need"]), "solution_id": str(world.ids["mes"])}
    assert send(world, "ent_a", draft, data).status_code == 404


def ask(app, db, ids: dict, enterprise: str, need: str, solution: str):
    """The enterprise asks for a meeting on its need with a registered solution, as the web does."""
    email = {"ent_a": "api11@example.com", "ent_b": "api12@example.com"}[enterprise]
    with app.app_context():
        return events.request_meeting(
            db,
            engine(),
            search_index(),
            ids["event_open"],
            "enterprise",
            ids[enterprise],
            user_id(db, email),
            ids[need],
            ids[solution],
            "",
        )


def test_accepting_beyond_the_cap_is_refused(world, db, app):
    ids = world.ids
    event = db.get(Event, ids["event_open"])
    prov_a = user_id(db, "vendor500@example.com")
    second = ask(app, db, ids, "ent_b", "need_b", "iot")
    events.respond_meeting(db, ids["meeting"], "provider", ids["provider_a"], prov_a, True)
    event.meeting_cap = 1
    db.commit()
    with pytest.raises(ServiceError, match="达到本场上限"):
        events.respond_meeting(db, second.id, "provider", ids["provider_a"], prov_a, True)


def test_scheduling_respects_availability_and_a_rerun_moves_nothing(world, db, app):
    ids, admin = world.ids, world.clients["admin"]
    event_id = ids["event_open"]
    prov_a = user_id(db, "vendor500@example.com")
    second = ask(app, db, ids, "ent_b", "need_b", "iot")
    late = ask(app, db, ids, "ent_a", "need", "mes")
    events.respond_meeting(db, ids["meeting"], "provider", ids["provider_a"], prov_a, True)
    events.respond_meeting(db, second.id, "provider", ids["provider_a"], prov_a, True)
    url = f"/admin/events/{event_id}/schedule"
    page = f"/admin/events/{event_id}"

    def post(reason: str):
        return admin.post(url, data={"reason": reason, "csrf_token": csrf_token(admin, page)})

    refused = post("太早")
    assert refused.status_code == 400 and "请先截止报名" in refused.get_data(as_text=True)
    events.close_registration(db, event_id, user_id(db, "authz-admin@example.com"), "截止")
    assert post("首次排期").status_code == 302
    db.expire_all()
    first = {m.id: (m.slot, m.table_no) for m in db.exec(select(EventMeeting).where(EventMeeting.status == "accepted"))}
    # provider A is free in slots 0 and 1 only, so are enterprise B; two meetings, two slots
    assert sorted(slot for slot, _ in first.values()) == [0, 1]
    grid = admin.get(page).get_data(as_text=True)
    assert "会谈日程" in grid and "越权测试企业11 ↔ 越权测试数字科技500" in grid

    # a late acceptance: enterprise A with provider B (free in 1 and 2); the others stay put
    provider_b = db.exec(select(EventMeeting.provider_id).where(EventMeeting.id == late.id)).one()
    events.respond_meeting(db, late.id, "provider", provider_b, user_id(db, "vendor501@example.com"), True)
    assert post("补排").status_code == 302
    db.expire_all()
    again = {m.id: (m.slot, m.table_no) for m in db.exec(select(EventMeeting).where(EventMeeting.status == "accepted"))}
    assert {k: again[k] for k in first} == first
    a_busy = first[ids["meeting"]][0]
    assert again[late.id][0] in {1, 2} - {a_busy}  # provider B is free in 1 and 2; enterprise A is busy once
    audit = list(db.exec(select(AuditLog.detail).where(AuditLog.action == "event.schedule").order_by(AuditLog.id)))
    assert [d["moved"] for d in audit] == [0, 0] and [d["placed"] for d in audit] == [2, 3]


def test_the_agenda_calendar_file_parses_back_with_the_scheduled_meeting(world, db):
    ids = world.ids
    prov_a = user_id(db, "vendor500@example.com")
    events.respond_meeting(db, ids["meeting"], "provider", ids["provider_a"], prov_a, True)
    admin = user_id(db, "authz-admin@example.com")
    events.close_registration(db, ids["event_open"], admin, "截止")
    events.schedule(db, ids["event_open"], admin, time_limit=5)
    meeting = db.get(EventMeeting, ids["meeting"])
    registration = events.registration_of(db, ids["event_open"], enterprise_id=ids["ent_a"])

    page = world.clients["ent_a"].get(f"/events/{ids['event_open']}").get_data(as_text=True)
    assert "下载我的会谈日程" in page and f"{meeting.table_no} 号桌" in page
    response = world.clients["ent_a"].get(f"/events/registrations/{registration.id}/agenda.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.data)
    (entry,) = calendar.walk("VEVENT")
    event = db.get(Event, ids["event_open"])
    start, end = event.slot_times()[meeting.slot]
    beijing = timezone(timedelta(hours=8))
    assert entry.decoded("dtstart") == start.replace(tzinfo=beijing)
    assert entry.decoded("dtend") - entry.decoded("dtstart") == timedelta(minutes=event.slot_minutes)
    assert str(entry["summary"]) == "一对一洽谈：越权测试数字科技500"
    assert f"{meeting.table_no} 号桌" in str(entry["location"])
    # another participant's registration is not found; an admin has no agenda
    assert world.clients["ent_b"].get(f"/events/registrations/{registration.id}/agenda.ics").status_code == 404
    assert world.clients["admin"].get(f"/events/registrations/{registration.id}/agenda.ics").status_code == 403
